"""What every SMS adapter reads from a job: the destination number, the text, the sender."""

from __future__ import annotations

from fusion_stream.envelope import Job
from fusion_stream.errors import RejectedError
from fusion_stream.sms.phone import PhoneNumber, normalise


def phone(job: Job) -> PhoneNumber:
    """The validated destination (set by the SMS router; normalised here if it was not)."""
    if job.phone is None:
        job.phone = normalise(str(job.payload.get("contact") or ""), job.payload.get("countryCode"))
    return job.phone


def text(job: Job, *, max_length: int | None = None) -> str:
    """The message body; an empty one is rejected, a too long one too (never truncated)."""
    body = str(job.payload.get("message") or "")
    if not body.strip():
        raise RejectedError("SMS message is empty")
    if max_length is not None and len(body) > max_length:
        raise RejectedError(
            f"SMS message is {len(body)} characters; the provider takes {max_length}"
        )
    return body


def sender(job: Job, default: str | None = None) -> str | None:
    """``senderId`` of the event, else the provider's configured default."""
    value = job.payload.get("senderId")
    return str(value) if value else default
