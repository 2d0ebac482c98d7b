"""Console provider: logs a one-line summary of what would be sent, on every channel."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from fusion_stream.envelope import Job, SendResult
from providers.base import CHANNELS, BaseProvider

log = logging.getLogger(__name__)

#: longest piece of message text shown
TEXT_LIMIT = 80
_RECIPIENT_FIELDS = ("contact", "to", "registration_ids", "phone", "email")
_TEXT_FIELDS = ("message", "text", "subject", "title", "template_name", "body")


class ConsoleProvider(BaseProvider):
    """Sends nothing: the default provider of a fresh checkout, so events visibly flow.

    Recipients are masked and OTP text is never shown; webhooks show method and origin only.
    """

    name = "console"
    channels = CHANNELS
    task = "console"

    async def send(self, job: Job) -> SendResult:
        line = summarize(job)
        log.info("%s", line)
        return SendResult(
            provider=self.name, message_id=f"console-{job.job_id}", details={"summary": line}
        )


def summarize(job: Job) -> str:
    payload = job.payload
    parts = [f"console {job.channel} job={job.job_id}"]
    if job.channel == "webhook":
        url = urlsplit(str(payload.get("url") or ""))
        method = str(payload.get("method") or "POST").upper()
        parts.append(f"{method} {url.scheme}://{url.hostname or '?'}")
        return " ".join(parts)
    recipient = next((payload[f] for f in _RECIPIENT_FIELDS if payload.get(f)), None)
    if recipient is not None:
        parts.append(f"to={_mask_recipients(recipient)}")
    if job.channel == "sms.otp" or _truthy(payload.get("isOTP")):
        parts.append("text=<otp hidden>")
        return " ".join(parts)
    text = next((payload[f] for f in _TEXT_FIELDS if isinstance(payload.get(f), str)), None)
    if text:
        parts.append(f"text={clip(text)!r}")
    return " ".join(parts)


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mask_recipients(value: Any) -> str:
    if isinstance(value, list | tuple):
        shown = [_mask(v) for v in value[:3]]
        more = f" +{len(value) - 3} more" if len(value) > 3 else ""
        return ",".join(shown) + more
    if isinstance(value, Mapping):
        return _mask(value.get("email") or value.get("address") or "?")
    return ",".join(_mask(v) for v in str(value).split(",")[:3])


def _mask(value: Any) -> str:
    """Recipients are personal data: keep the domain of an address, the last digits of a number."""
    text = str(value).strip()
    if "@" in text:
        local, _, domain = text.rpartition("@")
        return f"{local[:1]}***@{domain}"
    return "***" + text[-4:] if len(text) > 6 else "***"


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes"}
