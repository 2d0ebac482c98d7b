"""HTTP provider base: owns the transport once; adapters write build_request and parse_response."""

from __future__ import annotations

import abc
import base64
import io
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any, ClassVar
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDict

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import (
    ConfigurationError,
    DeliveryError,
    FusionError,
    PermanentError,
    TransientError,
)
from providers.base import BaseProvider, SettingsT

try:
    USER_AGENT = f"fusion-stream/{version('fusion-stream')}"
except PackageNotFoundError:  # running from a bare checkout
    USER_AGENT = "fusion-stream/0+unknown"

#: most bytes of a response body ever read; the rest is dropped (and the connection with it)
MAX_RESPONSE_BYTES = 1 << 20

#: larger bodies are streamed (aiohttp warns that one big write can stall the loop)
STREAM_BODY_ABOVE = 1 << 20

Query = Mapping[str, str] | Sequence[tuple[str, str]] | str


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One HTTP call, as an adapter describes it.

    :param json: JSON body (exclusive with ``data``)
    :param data: form fields (urlencoded) or a raw ``str``/``bytes`` body
    :param timeout: whole-call timeout in seconds; ``None`` = the provider's default
    """

    method: str
    url: str
    params: Query | None = None
    json: Any = None
    data: Mapping[str, str] | Sequence[tuple[str, str]] | str | bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: HTTP Basic credentials ``(user, password)``, sent as an Authorization header
    auth: tuple[str, str] | None = None
    timeout: float | None = None
    allow_redirects: bool = True


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A provider's answer: status, headers and at most MAX_RESPONSE_BYTES of body as text."""

    status: int
    headers: Mapping[str, str]
    text: str
    latency_ms: float
    reason: str = ""
    truncated: bool = False
    provider: str | None = None
    #: ``METHOD host`` of the call, for messages (never the path or query: they carry tokens)
    endpoint: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body parsed as JSON; PermanentError when it is not JSON."""
        try:
            return json.loads(self.text)
        except ValueError:
            message = "invalid JSON" + (" (body truncated)" if self.truncated else "")
            raise PermanentError(
                message, provider=self.provider, status=self.status, body=self.text
            ) from None


class HttpProvider(BaseProvider[SettingsT]):
    """Template method: ``send`` = build_request -> prepare -> throttle -> fetch -> check ->
    parse_response.

    The base owns the shared session, timeout, User-Agent, bounded body read and the mapping of
    transport failures and non-2xx statuses onto the error tree. A provider writes only
    ``build_request`` and ``parse_response``; ``classify_error`` maps its own error bodies.
    The config key ``timeout`` (seconds) overrides ``default_timeout`` for every HTTP provider.
    """

    #: seconds for the whole call when neither the request nor the config says
    default_timeout: ClassVar[float] = 30.0

    @abc.abstractmethod
    def build_request(self, job: Job) -> HttpRequest:
        """The request that sends ``job``; raise RejectedError for an invalid event."""

    @abc.abstractmethod
    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        """SendResult of a 2xx response; raise a typed error for a 200-with-error body."""

    #: ``(code field, message field)`` of the provider's JSON error body. When set, a non-2xx
    #: answer other than 429/5xx is mapped by its code through ``error_codes``.
    error_body_fields: ClassVar[tuple[str, str] | None] = None

    def classify_error(self, response: HttpResponse) -> FusionError | None:
        """Hook: the error for a non-2xx response, or ``None`` for the default mapping."""
        if self.error_body_fields is None or response.status == 429 or response.status >= 500:
            return None  # 429 / 5xx: the default (transient, with Retry-After)
        code_field, message_field = self.error_body_fields
        try:
            body = response.json()
        except PermanentError:
            return None
        if not isinstance(body, dict) or body.get(code_field) in (None, ""):
            return None
        message = f"{response.endpoint}: HTTP {response.status}: {body.get(message_field) or ''}"
        return self.code_error(
            body[code_field], message, status=response.status, body=response.text
        )

    async def prepare(self, request: HttpRequest) -> HttpRequest:
        """Hook: async step before the call (fetch an OAuth token, sign the request)."""
        return request

    async def send(self, job: Job) -> SendResult:
        try:
            response = await self.call(job)
            error = self.check_response(response)
            if error is not None:
                raise error
            return self.parse_response(job, response)
        except TransientError as exc:
            # a throttling code in a 2xx body (parse_response) with a retry hint
            self.penalise(exc.retry_after)
            raise

    async def call(self, job: Job) -> HttpResponse:
        """Build, prepare, wait for the rate limit, then perform the request of ``job``;
        any status comes back."""
        request = await self.prepare(self.build_request(job))
        await self.throttle(job)
        return await self.fetch(request)

    def check_response(self, response: HttpResponse) -> FusionError | None:
        """None for 2xx; else ``classify_error``, or default: 429/5xx transient, other permanent.

        A transient error with a retry hint (Retry-After) also penalises the rate limit.
        """
        if response.ok:
            return None
        error = self.classify_error(response)
        if error is None:
            kind = TransientError if response.status == 429 or response.status >= 500 else None
            error = self.http_error(response, kind or PermanentError)
        if isinstance(error, TransientError):
            self.penalise(error.retry_after)  # 429 / 503 with Retry-After: the account waits
        return error

    def http_error(
        self,
        response: HttpResponse,
        kind: type[DeliveryError] = PermanentError,
        message: str | None = None,
    ) -> DeliveryError:
        """A typed error describing ``response`` on one line (status, reason, body excerpt)."""
        text = message or f"HTTP {response.status} {response.reason}".rstrip()
        if response.endpoint:
            text = f"{response.endpoint}: {text}"
        if issubclass(kind, TransientError):
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return kind(
                text,
                retry_after=retry_after,
                provider=self.name,
                status=response.status,
                body=response.text,
            )
        return kind(text, provider=self.name, status=response.status, body=response.text)

    def timeout_for(self, request: HttpRequest) -> float:
        if request.timeout is not None:
            return request.timeout
        configured = self.context.config(self.name).get("timeout")
        if configured in (None, ""):
            return self.default_timeout
        try:
            seconds = float(configured)
        except ValueError:
            seconds = math.nan
        if not seconds > 0:
            raise ConfigurationError(f"provider {self.name!r}: invalid setting 'timeout'")
        return seconds

    async def fetch(self, request: HttpRequest) -> HttpResponse:
        """Perform one call. Transport failures raise; every HTTP status is returned."""
        timeout = self.timeout_for(request)
        where = f"{request.method} {urlsplit(request.url).hostname or '?'}"  # never the query
        headers = CIMultiDict({"User-Agent": USER_AGENT})
        headers.update(request.headers)  # case-insensitive: the request's own values win
        if request.auth is not None:
            headers.setdefault("Authorization", basic_auth(*request.auth))
        data: Any = request.data
        if request.json is not None:
            encoded = json.dumps(request.json).encode()
            data = io.BytesIO(encoded) if len(encoded) > STREAM_BODY_ABOVE else encoded
            headers.setdefault("Content-Type", "application/json")
        started = time.perf_counter()
        try:
            async with self.context.session.request(
                request.method,
                request.url,
                params=request.params,
                data=data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=request.allow_redirects,
            ) as resp:
                body, truncated = await read_bounded(resp.content, MAX_RESPONSE_BYTES)
                return HttpResponse(
                    status=resp.status,
                    headers=resp.headers,
                    text=decode(body, resp.charset),
                    latency_ms=round((time.perf_counter() - started) * 1000, 3),
                    reason=resp.reason or "",
                    truncated=truncated,
                    provider=self.name,
                    endpoint=where,
                )
        # ``from None``: aiohttp errors carry the full URL (tokens in the query) and the error
        # line shows its cause; ``safe_cause`` names the failure without it.
        # ServerTimeoutError is also a ClientConnectionError: keep this clause first.
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise TransientError(
                f"{where}: timed out after {timeout:g}s", provider=self.name
            ) from None
        except aiohttp.InvalidURL:
            raise PermanentError(f"{where}: invalid URL", provider=self.name) from None
        except aiohttp.TooManyRedirects:
            raise PermanentError(f"{where}: too many redirects", provider=self.name) from None
        except aiohttp.ClientConnectionError as exc:
            message = f"{where}: connection failed ({safe_cause(exc)})"
            raise TransientError(message, provider=self.name) from None
        except aiohttp.ClientError as exc:  # payload cut short, malformed response
            raise TransientError(f"{where}: {safe_cause(exc)}", provider=self.name) from None


def safe_cause(exc: BaseException) -> str:
    """The exception's class and OS reason, without the URL aiohttp puts in its message."""
    reason = exc.strerror if isinstance(exc, OSError) else None
    return f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__


async def read_bounded(stream: aiohttp.StreamReader, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of ``stream`` and whether there was more."""
    buf = bytearray()
    while len(buf) <= limit:
        chunk = await stream.read(limit + 1 - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf[:limit]), len(buf) > limit


def basic_auth(user: str, password: str) -> str:
    """HTTP Basic credentials as a header value (aiohttp's ``BasicAuth`` is deprecated)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", "replace")
    except LookupError:  # unknown charset in Content-Type
        return body.decode("utf-8", "replace")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110)."""
    if not value or not value.strip():
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None
