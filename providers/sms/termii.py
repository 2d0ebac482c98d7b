"""Termii SMS adapter (Nigeria / Africa): ``POST /api/sms/send``, the API key in the JSON body."""

from __future__ import annotations

from typing import Any, Literal

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import excerpt
from providers.http import HttpProvider, HttpRequest, HttpResponse
from providers.sms._common import phone, sender, text


class TermiiSettings(pydantic.BaseModel):
    """Credentials and defaults of the Termii account."""

    model_config = pydantic.ConfigDict(frozen=True)

    #: API key of the Termii dashboard; Termii wants it in the request body
    api_key: pydantic.SecretStr
    #: registered sender id, used when an event carries no ``senderId`` (``from`` is required)
    sender_id: str
    #: ``generic``, or ``dnd`` for DND-registered numbers and transactional traffic
    channel: Literal["generic", "dnd"] = "generic"
    #: API host; newer accounts get their own (``https://v3.api.termii.com``)
    base_url: str = "https://api.ng.termii.com"


class Termii(HttpProvider[TermiiSettings]):
    """Sends one plain SMS through Termii's Messaging API.

    API: https://developers.termii.com/messaging-api — ``POST {base_url}/api/sms/send`` with
    ``{api_key, to (intl digits), from, sms, type: "plain", channel}``; success is
    ``{"code": "ok", "message_id": ..., "balance": ..., "user": ...}`` (``message_id`` may be a
    number). A 200 whose ``code`` is not ``ok`` is refused with its ``message``.
    Not confirmed (⚠): the per-account host (seen only in integrations, hence ``base_url``),
    the error body beyond ``message``, any error-code list (none is published, so every refusal
    is permanent), a body length limit and a documented send rate.
    """

    name = "termii"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = TermiiSettings
    supports_unicode = True
    error_codes = {}  # Termii documents no error codes: 5xx/429/timeouts transient, rest not

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        body = {
            "api_key": settings.api_key.get_secret_value(),
            "to": phone(job).intl_digits,
            "from": sender(job, settings.sender_id),
            "sms": text(job, max_length=self.max_body_length),
            "type": "plain",
            "channel": settings.channel,
        }
        return HttpRequest("POST", f"{settings.base_url.rstrip('/')}/api/sms/send", json=body)

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        body: Any = response.json()
        if not isinstance(body, dict):
            body = {}
        code, message_id = str(body.get("code") or ""), body.get("message_id")
        if code != "ok" or message_id in (None, ""):
            reason = str(body.get("message") or "not sent")
            raise self.code_error(
                code or "missing", reason, status=response.status, body=response.text
            )
        return SendResult(
            provider=self.name,
            message_id=str(message_id),
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
            details={"balance": body.get("balance")},
        )
