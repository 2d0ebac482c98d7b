"""Outcome records: the one terminal result of every event (plus ``retrying`` steps)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import excerpt


class Status(StrEnum):
    """Outcome statuses; all but RETRYING are terminal."""

    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"
    EXPIRED = "expired"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    UNKNOWN = "unknown"
    RETRYING = "retrying"


#: the old worker's task name per channel (the ``task`` of its log structure)
OLD_TASK = {
    "webhook": "POST",
    "sms": "sendSMS",
    "sms.otp": "sendOTPSMS",
    "email": "send_plain_email",
    "push": "sendNotification",
    "whatsapp": "sendWhatsapp",
}


@dataclass(frozen=True, slots=True)
class Source:
    """Where the input record came from."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None


def now_ms() -> int:
    return int(time.time() * 1000)


def build_outcome(
    *,
    job_id: str,
    channel: str,
    status: Status,
    host: str,
    source: Source,
    job: Job | None = None,
    provider: str | None = None,
    result: SendResult | None = None,
    error: BaseException | None = None,
    message: str | None = None,
    attempt: int = 1,
    latency_ms: float | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One outcome record (schema ``outcome``), with the old log structure's fields."""
    payload = job.payload if job else {}
    details = dict(result.details) if result else {}
    details.pop("latency_ms", None)
    if extra:
        details.update(extra)
    if payload.get("context"):  # the old worker logged an SMS's context with its result
        details.setdefault("context", payload["context"])
    record: dict[str, Any] = {
        "job_id": job_id,
        "channel": channel,
        "task": str(details.pop("task", "") or OLD_TASK.get(channel, channel)),
        "task_type": payload.get("task_type") or "",
        "provider": provider or (result.provider if result else None),
        "status": str(status),
        "attempt": attempt,
        "message": message
        or _provider_message(result, error)
        or _default_message(status, result, error),
        "error": _error_line(error),
        "error_class": type(error).__name__ if error else None,
        "response_status": _int_or_none(
            result.status if result else getattr(error, "status", None)
        ),
        "response_excerpt": (result.response if result else getattr(error, "body", None)) or None,
        "provider_message_id": result.message_id if result else None,
        "latency_ms": latency_ms,
        "created_at": int(payload.get("created_at") or source.timestamp_ms or 0),
        "log_time": now_ms(),
        "host": host,
        "tags": [t for t in (channel, payload.get("task_type"), payload.get("tenant")) if t],
        "log_tag": payload.get("log_tag"),
        "tenant": payload.get("tenant"),
        "job_result": details or None,
        "source_topic": source.topic,
        "source_partition": source.partition,
        "source_offset": source.offset,
    }
    for key in ("retry_tier", "due_at", "segments", "encoding", "credit_deducted"):
        if key in details:
            record[key] = details.pop(key)
    if "credit_deducted" not in record and payload.get("credit_deducted") is not None:
        record["credit_deducted"] = payload["credit_deducted"]
    return record


def _provider_message(result: SendResult | None, error: BaseException | None) -> str | None:
    """A provider's own wording (e.g. SES's "Published"), which old dashboards match."""
    if error is not None:
        return getattr(error, "outcome_message", None)
    return str(result.details["message"]) if result and "message" in result.details else None


def _default_message(status: Status, result: SendResult | None, error: BaseException | None) -> str:
    if error is not None:
        return f"{status}: {excerpt(str(error), 200)}"
    if result is not None:
        return f"{status} via {result.provider}" + (f" ({result.status})" if result.status else "")
    return str(status)


def _error_line(error: BaseException | None) -> str | None:
    if error is None:
        return None
    one_line = getattr(error, "one_line", None)
    text = one_line() if callable(one_line) else f"{type(error).__name__}: {error}"
    return excerpt(text, 1000)


def _int_or_none(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
