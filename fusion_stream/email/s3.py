"""Email attachments on S3: parse their URLs, stream them to disk with a cap, delete them.

The functions that call S3 block (boto3): run them in an executor, never on the event loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from fusion_stream.errors import (
    ConfigurationError,
    DeliveryError,
    FusionError,
    PermanentError,
    RejectedError,
    TransientError,
)

CHUNK = 1 << 16
# bucket.s3.amazonaws.com, bucket.s3.<region>.amazonaws.com, bucket.s3-<region>.amazonaws.com,
# s3.<region>.amazonaws.com (path style), s3.dualstack.<region>..., and the .cn partition.
_HOST = re.compile(
    r"^(?:(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.)?s3(?:[.-](?P<rest>[a-z0-9.-]+?))?"
    r"\.amazonaws\.com(?:\.cn)?$"
)
_REGION = re.compile(r"(?:^|\.)(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)$")
#: S3 codes botocore retries too (its _retry.json s3 section), plus 5xx and expired tokens
_TRANSIENT = frozenset(
    {
        "SlowDown",
        "InternalError",
        "ServiceUnavailable",
        "RequestTimeout",
        "BadDigest",
        "RequestTimeTooSkewed",
        "ExpiredToken",
        "Throttling",
    }
)


@dataclass(frozen=True, slots=True)
class S3Object:
    """One object: bucket, key, and the region its URL named (``None`` = not named)."""

    bucket: str
    key: str
    region: str | None = None
    version_id: str | None = None

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def filename(self) -> str:
        return self.key.rsplit("/", 1)[-1] or "attachment"

    def params(self) -> dict[str, str]:
        params = {"Bucket": self.bucket, "Key": self.key}
        if self.version_id:
            params["VersionId"] = self.version_id
        return params


@dataclass(frozen=True, slots=True)
class Downloaded:
    path: Path
    size: int
    content_type: str | None


def parse_s3_url(url: str) -> S3Object:
    """The object an attachment URL names; RejectedError when it names none.

    ``s3://bucket/key`` keys are taken as written; ``https://`` paths are percent-decoded
    (``+`` stays ``+``). A ``versionId`` query parameter selects a version; other query
    parameters (a presigned URL's) are ignored: the worker reads with its own credentials.
    """
    text = str(url or "").strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "s3":
        bucket, key = parts.netloc, parts.path.lstrip("/")
        region = None
    elif scheme in ("http", "https"):
        match = _HOST.match(parts.hostname or "")
        if match is None:
            raise RejectedError(f"attachment URL is not an S3 URL: {_shown(text)}")
        path = unquote(parts.path).lstrip("/")
        bucket = match["bucket"] or ""
        if not bucket:  # path style: /bucket/key
            bucket, _, path = path.partition("/")
        key = path
        found = _REGION.search(match["rest"] or "")
        region = found["region"] if found else None
    else:
        raise RejectedError(f"attachment URL must be s3:// or https://, got {_shown(text)}")
    if not bucket or not key:
        raise RejectedError(f"attachment URL names no bucket and key: {_shown(text)}")
    version = parse_qs(parts.query).get("versionId", [None])[0]
    return S3Object(bucket, key, region, version)


def download(client: Any, obj: S3Object, dest: Path, limit: int) -> Downloaded:
    """Stream ``obj`` to ``dest``; RejectedError as soon as it is over ``limit`` bytes."""
    try:
        response = client.get_object(**obj.params())
    except (BotoCoreError, ClientError) as exc:
        raise s3_error(obj, "GetObject", exc) from None
    body = response["Body"]
    size = 0
    try:
        declared = response.get("ContentLength")
        if declared is not None and declared > limit:
            raise _too_large(obj, declared, limit)
        with dest.open("wb") as fh:
            for chunk in body.iter_chunks(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise _too_large(obj, None, limit)
                fh.write(chunk)
    except (BotoCoreError, OSError) as exc:  # the stream broke off, or the disk is full
        raise s3_error(obj, "GetObject", exc) from None
    finally:
        body.close()
    return Downloaded(dest, size, response.get("ContentType"))


def delete(client: Any, obj: S3Object) -> None:
    """Delete ``obj`` (S3 answers 204 whether or not it still exists)."""
    try:
        client.delete_object(**obj.params())
    except (BotoCoreError, ClientError) as exc:
        raise s3_error(obj, "DeleteObject", exc) from None


def error_parts(exc: ClientError) -> tuple[str, int | None, str]:
    """(code, HTTP status, message) of a botocore ClientError."""
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(error.get("Code") or "Unknown"), status, str(error.get("Message") or "")


def s3_error(obj: S3Object, operation: str, exc: BaseException) -> FusionError:
    """The typed error of a failed S3 call; the message names the object."""
    where = f"S3 {operation} {obj}"
    if isinstance(exc, NoCredentialsError):
        return ConfigurationError(f"{where}: no AWS credentials")
    if isinstance(exc, ClientError):
        code, status, message = error_parts(exc)
        kind: type[DeliveryError] = PermanentError
        if code in ("NoSuchKey", "404", "NotFound"):
            text = f"{where}: attachment not found, key {obj.key!r} ({code})"
        elif code == "AccessDenied":
            # S3 answers 403 for a missing key when the caller may not list the bucket.
            text = f"{where}: access denied (also S3's answer for a missing key without ListBucket)"
        else:
            text = f"{where}: {code} {message}".rstrip()
            if code in _TRANSIENT or (status or 0) >= 500:
                kind = TransientError
        return kind(text, provider="s3", status=status)
    # connection failed, timed out, stream cut short (BotoCoreError), or the disk (OSError)
    return TransientError(f"{where}: {type(exc).__name__}", provider="s3")


def _too_large(obj: S3Object, size: int | None, limit: int) -> RejectedError:
    what = f"is {size} bytes" if size is not None else f"is over {limit} bytes"
    return RejectedError(f"attachment {obj} {what}; at most {limit} bytes fit this email")


def _shown(url: str) -> str:
    return repr(url.split("?", 1)[0][:200])
