"""The unit of work (Job) and what a provider returns (SendResult)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fusion_stream.sms.phone import PhoneNumber


@dataclass(slots=True)
class Job:
    """One decoded event of a channel topic.

    :param channel: channel name as in topics.yaml (``webhook``, ``sms``, ``sms.otp``, ...)
    :param payload: the decoded Avro record (JSON-text fields already parsed)
    :param headers: Kafka headers of the record, decoded as UTF-8 where possible
    """

    job_id: str
    channel: str
    payload: dict[str, Any]
    topic: str = ""
    partition: int = -1
    offset: int = -1
    timestamp_ms: int | None = None
    headers: Mapping[str, bytes] = field(default_factory=dict)
    raw: bytes = b""
    #: the validated destination number of SMS/WhatsApp jobs (set by the SMS router)
    phone: PhoneNumber | None = None

    @property
    def task_type(self) -> str:
        return str(self.payload.get("task_type") or "")

    @property
    def tenant(self) -> str | None:
        return self.payload.get("tenant")

    @property
    def callback_url(self) -> str | None:
        return self.payload.get("callback_url")

    @property
    def provider_name(self) -> str | None:
        """``config.provider`` of the payload, if the event names one."""
        config = self.payload.get("config") or {}
        return config.get("provider") if isinstance(config, Mapping) else None


@dataclass(frozen=True, slots=True)
class SendResult:
    """What a provider adapter returns when a message was accepted.

    :param message_id: the provider's id of the message, when it gives one
    :param status: HTTP status (or provider status code) of the accepting response
    :param response: bounded excerpt of the provider's response body
    :param details: extra facts for the outcome (segments, callback result, ...)
    """

    provider: str
    message_id: str | None = None
    status: int | None = None
    response: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
