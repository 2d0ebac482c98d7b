"""S3 attachments: URL shapes, capped streaming download, delete, error classes (moto, loopback)."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from fusion_stream.email.s3 import S3Object, delete, download, parse_s3_url, s3_error
from fusion_stream.errors import (
    ConfigurationError,
    PermanentError,
    RejectedError,
    TransientError,
)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def client(moto_url: str) -> Any:
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"))
    s3 = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=moto_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket="docs")
    return s3


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://docs.s3.us-east-1.amazonaws.com/reports/a.pdf",
            S3Object("docs", "reports/a.pdf", "us-east-1"),
        ),
        ("https://docs.s3.amazonaws.com/a.pdf", S3Object("docs", "a.pdf")),
        (
            "https://docs.s3-eu-west-1.amazonaws.com/a.pdf",  # legacy dash form
            S3Object("docs", "a.pdf", "eu-west-1"),
        ),
        (
            "https://s3.ap-south-1.amazonaws.com/docs/x/y.pdf",  # path style
            S3Object("docs", "x/y.pdf", "ap-south-1"),
        ),
        ("https://s3.amazonaws.com/docs/y.pdf", S3Object("docs", "y.pdf")),
        ("s3://docs/reports/a b+c.pdf", S3Object("docs", "reports/a b+c.pdf")),
        (
            "https://my.docs.s3.us-west-2.amazonaws.com/r%C3%A9sum%C3%A9%201+2.pdf",
            S3Object("my.docs", "résumé 1+2.pdf", "us-west-2"),  # decoded; + stays +
        ),
        (
            "https://docs.s3.dualstack.eu-central-1.amazonaws.com/a.pdf",
            S3Object("docs", "a.pdf", "eu-central-1"),
        ),
        (
            "https://docs.s3.amazonaws.com/a.pdf?versionId=v1&X-Amz-Signature=abc",
            S3Object("docs", "a.pdf", None, "v1"),
        ),
        (
            "https://docs.s3.cn-north-1.amazonaws.com.cn/a.pdf",
            S3Object("docs", "a.pdf", "cn-north-1"),
        ),
        ("  HTTPS://Docs.S3.amazonaws.com/a.pdf ", S3Object("docs", "a.pdf")),
    ],
)
def test_parse_s3_urls(url: str, expected: S3Object) -> None:
    assert parse_s3_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/docs/a.pdf",
        "https://docs.s3.amazonaws.com.evil.io/a.pdf",
        "ftp://docs/a.pdf",
        "s3://docs",
        "s3://docs/",
        "https://s3.amazonaws.com/docs",
        "https://docs.s3.amazonaws.com/",
        "",
        "not a url",
    ],
)
def test_non_s3_urls_are_rejected(url: str) -> None:
    with pytest.raises(RejectedError):
        parse_s3_url(url)


def test_object_filename_and_str() -> None:
    obj = parse_s3_url("s3://docs/a/b/report.pdf")
    assert obj.filename == "report.pdf" and str(obj) == "s3://docs/a/b/report.pdf"


def test_download_streams_the_bytes_and_the_type(client: Any, tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000
    client.put_object(Bucket="docs", Key="a/b.pdf", Body=data, ContentType="application/pdf")
    got = download(client, S3Object("docs", "a/b.pdf"), tmp_path / "f", limit=len(data))
    assert got.size == len(data) and got.content_type == "application/pdf"
    assert (tmp_path / "f").read_bytes() == data


def test_download_over_the_limit_is_rejected_before_reading(client: Any, tmp_path: Path) -> None:
    client.put_object(Bucket="docs", Key="big.bin", Body=b"x" * 2048)
    with pytest.raises(RejectedError, match=r"s3://docs/big.bin is 2048 bytes; at most 1000"):
        download(client, S3Object("docs", "big.bin"), tmp_path / "f", limit=1000)
    assert not (tmp_path / "f").exists()


class _Body:
    """A GetObject body without a declared length (S3 chunked / unknown size)."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks, self.closed = chunks, False

    def iter_chunks(self, size: int) -> Iterator[bytes]:
        yield from self.chunks

    def close(self) -> None:
        self.closed = True


class _UnsizedS3:
    def __init__(self, body: _Body) -> None:
        self.body = body

    def get_object(self, **params: Any) -> dict[str, Any]:
        return {"Body": self.body, "ContentType": "binary/octet-stream"}


def test_download_without_length_stops_at_the_cap(tmp_path: Path) -> None:
    body = _Body([b"x" * 600, b"y" * 600, b"z" * 10_000])
    with pytest.raises(RejectedError, match="is over 1000 bytes"):
        download(_UnsizedS3(body), S3Object("b", "k"), tmp_path / "f", limit=1000)
    assert body.closed
    assert (tmp_path / "f").stat().st_size <= 1000


def test_missing_object_is_permanent_and_names_the_key(client: Any, tmp_path: Path) -> None:
    with pytest.raises(PermanentError) as info:
        download(client, S3Object("docs", "reports/gone.pdf"), tmp_path / "f", limit=100)
    assert not isinstance(info.value, RejectedError)
    assert "'reports/gone.pdf'" in str(info.value) and "NoSuchKey" in str(info.value)


def test_missing_bucket_is_permanent(client: Any, tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="NoSuchBucket"):
        download(client, S3Object("nobucket", "k"), tmp_path / "f", limit=100)


def test_delete_removes_the_object_and_is_idempotent(client: Any) -> None:
    client.put_object(Bucket="docs", Key="k.txt", Body=b"x")
    delete(client, S3Object("docs", "k.txt"))
    assert client.list_objects_v2(Bucket="docs").get("KeyCount") == 0
    delete(client, S3Object("docs", "k.txt"))  # S3 answers 204 for a missing key


def test_unreachable_s3_is_transient(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    refused = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2),
    )
    with pytest.raises(TransientError, match="EndpointConnectionError"):
        download(refused, S3Object("docs", "k"), tmp_path / "f", limit=100)


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "GetObject",
    )


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("NoSuchKey", 404, PermanentError),
        ("AccessDenied", 403, PermanentError),
        ("InvalidObjectState", 403, PermanentError),
        ("NoSuchBucket", 404, PermanentError),
        ("SlowDown", 503, TransientError),
        ("InternalError", 500, TransientError),
        ("RequestTimeout", 400, TransientError),
        ("ExpiredToken", 400, TransientError),
        ("SomethingNew", 502, TransientError),
        ("SomethingElse", 400, PermanentError),
    ],
)
def test_s3_error_classes(code: str, status: int, kind: type[Exception]) -> None:
    error = s3_error(S3Object("b", "k"), "GetObject", _client_error(code, status))
    assert type(error) is kind
    assert "s3://b/k" in str(error)


def test_no_credentials_is_a_configuration_error() -> None:
    from botocore.exceptions import NoCredentialsError

    error = s3_error(S3Object("b", "k"), "GetObject", NoCredentialsError())
    assert isinstance(error, ConfigurationError)
