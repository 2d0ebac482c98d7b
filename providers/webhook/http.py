"""Webhook adapter: calls a tenant's HTTP endpoint as the old worker's ``POST`` task did."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import FusionError, RejectedError, TransientError, excerpt
from providers.http import HttpProvider, HttpRequest, HttpResponse

log = logging.getLogger(__name__)

METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH"})


class HttpWebhook(HttpProvider):
    """POSTs (or GETs, PUTs, ...) an event's ``args`` to its ``url``; optionally reports back.

    Payload: ``url``, ``method`` (default POST), ``data`` (GET query), ``args`` (body),
    ``isBody`` (1 = JSON body, else form-encoded), ``headers``, ``timeout`` (seconds),
    ``callback`` + ``callback_url`` + ``body.callback_headers`` / ``body.callback_payload``,
    ``integration_payload``. The old worker retried 499-598: 499 and 5xx stay transient.
    """

    name = "http"
    channels = ("webhook",)
    task = "POST"
    #: a tenant's timeout is clamped to this, so one slow endpoint cannot pin a slot for long
    max_timeout: ClassVar[float] = 120.0

    def check_url(self, url: object) -> str:
        """The one place a target URL is vetted; the SSRF guard extends this."""
        text = url.strip() if isinstance(url, str) else ""
        parts = urlsplit(text)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            shown = f"{parts.scheme}://{parts.hostname or ''}" if parts.scheme else repr(text[:40])
            raise RejectedError(f"webhook URL must be http(s) with a host, got {shown}")
        return text

    def destination(self, job: Job) -> str:
        """Host and port of the target: the unit of the per-destination in-flight cap."""
        parts = urlsplit(str(job.payload.get("url") or ""))
        return f"{parts.hostname}:{parts.port or ''}"

    def build_request(self, job: Job) -> HttpRequest:
        payload = job.payload
        url = self.check_url(payload.get("url"))
        method = str(payload.get("method") or "POST").strip().upper()
        if method not in METHODS:
            raise RejectedError(
                f"webhook method {method!r} not one of {', '.join(sorted(METHODS))}"
            )
        common: dict[str, Any] = {
            "headers": _headers(payload.get("headers")),
            "timeout": self._timeout(payload.get("timeout")),
        }
        if method == "GET":  # the old worker sent ``data`` as the query string of a GET
            return HttpRequest(method, url, params=_query(payload.get("data")), **common)
        args = payload.get("args")
        if _flag(payload.get("isBody")):
            return HttpRequest(method, url, json=args, **common)
        return HttpRequest(method, url, data=_form(args), **common)

    def classify_error(self, response: HttpResponse) -> FusionError | None:
        if response.status == 499:  # client closed request (nginx): the old worker retried it
            return self.http_error(response, TransientError)
        return None

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        args = job.payload.get("args")
        integration = job.payload.get("integration_payload")
        if integration is None and isinstance(args, Mapping):
            integration = args.get("integration_payload")
        return SendResult(
            provider=self.name,
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
            details={"latency_ms": response.latency_ms, "integration_payload": integration},
        )

    async def send(self, job: Job) -> SendResult:
        response = await self.call(job)
        error = self.check_response(response)
        if isinstance(error, TransientError):  # will be retried: no callback yet
            raise error
        callback = await self.post_callback(job, response)
        if error is not None:
            log.info("webhook job %s failed (%s); callback: %s", job.job_id, error, callback)
            raise error
        result = self.parse_response(job, response)
        return dataclasses.replace(result, details={**result.details, "callback": callback})

    async def post_callback(self, job: Job, response: HttpResponse) -> dict[str, Any] | None:
        """POST the final response to ``callback_url``; a failure is recorded, never raised."""
        payload = job.payload
        if not _flag(payload.get("callback")) or not payload.get("callback_url"):
            return None
        body = payload.get("body")
        extra: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
        try:
            resp: Any = response.json()
        except FusionError:
            resp = response.text
        document = {"resp": resp, "status_code": response.status}
        callback_payload = extra.get("callback_payload")
        if isinstance(callback_payload, Mapping):
            document.update(callback_payload)
        try:
            request = HttpRequest(
                "POST",
                self.check_url(payload.get("callback_url")),
                json=document,
                headers=_headers(extra.get("callback_headers")),
                timeout=self.context.settings.webhook_timeout,
            )
            answer = await self.fetch(request)
        except FusionError as exc:
            log.warning("webhook callback of job %s failed: %s", job.job_id, exc)
            return {"status": None, "error": exc.one_line()}
        outcome: dict[str, Any] = {"status": answer.status, "latency_ms": answer.latency_ms}
        if not answer.ok:
            outcome["error"] = f"HTTP {answer.status} {answer.reason}".rstrip()
            log.warning("webhook callback of job %s: %s", job.job_id, outcome["error"])
        return outcome

    def _timeout(self, value: Any) -> float:
        if value in (None, ""):
            return self.context.settings.webhook_timeout
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            raise RejectedError(f"webhook timeout {value!r} is not a number") from None
        if not seconds > 0:
            raise RejectedError(f"webhook timeout {value!r} must be positive")
        return min(seconds, self.max_timeout)


def _flag(value: Any) -> bool:
    """The old payloads' 1/0 flags, also as "1", true, "true"."""
    return str(value).strip().lower() in {"1", "true", "yes"}


def _headers(value: Any) -> dict[str, str]:
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping):
        raise RejectedError("webhook headers must be an object")
    headers = {str(k): str(v) for k, v in value.items() if v is not None}
    if any("\r" in k or "\n" in k or "\r" in v or "\n" in v for k, v in headers.items()):
        raise RejectedError("webhook header names and values must be single lines")
    return headers


def _pairs(value: Mapping[Any, Any]) -> list[tuple[str, str]]:
    """Form/query pairs: lists repeat the key (as requests did), objects become JSON text."""
    pairs = []
    for key, item in value.items():
        for one in item if isinstance(item, list | tuple) else [item]:
            if one is None:
                continue
            text = json.dumps(one) if isinstance(one, Mapping) else str(one)
            pairs.append((str(key), text))
    return pairs


def _query(value: Any) -> list[tuple[str, str]] | str | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return _pairs(value)
    raise RejectedError("webhook data (GET query) must be an object or a query string")


def _form(value: Any) -> list[tuple[str, str]] | str | bytes | None:
    if value in (None, ""):
        return None
    if isinstance(value, str | bytes):
        return value
    if isinstance(value, Mapping):
        return _pairs(value)
    raise RejectedError("webhook args must be an object when isBody is 0")
