"""ClickSend: one SMS through the REST v3 ``/v3/sms/send`` API."""

from __future__ import annotations

from typing import Any

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import excerpt
from providers.http import HttpProvider, HttpRequest, HttpResponse, basic_auth
from providers.sms._common import phone, sender, text


class ClickSendSettings(pydantic.BaseModel):
    """Credentials and defaults of the ClickSend adapter."""

    model_config = pydantic.ConfigDict(frozen=True)

    #: ClickSend account username (the Basic-auth user)
    username: str
    #: API key (the Basic-auth password)
    api_key: pydantic.SecretStr
    #: default sender ID / number when the event has no senderId (ClickSend's pool if unset)
    sender: str | None = None
    #: ``source`` reported to ClickSend (your "method of sending")
    source: str = "fusion-stream"
    base_url: str = "https://rest.clicksend.com"


class ClickSend(HttpProvider[ClickSendSettings]):
    """Sends an SMS with ``POST /v3/sms/send`` (JSON), HTTP Basic ``username:api_key``.

    Reference: https://developers.clicksend.com/docs/messaging/sms and the official SDK model
    ``SmsMessage`` (ClickSend/clicksend-python): ``{"messages": [{"to": E.164, "body",
    "from", "source", "custom_string"}]}``; ``custom_string`` carries the job id and comes
    back in delivery receipts. Success: HTTP 200 ``{"response_code": "SUCCESS", "data":
    {"messages": [{"message_id", "status": "SUCCESS"}]}}``; a message whose ``status`` is not
    ``SUCCESS`` was refused and raises with that status as the code.
    Not confirmed (⚠): the list of per-message ``status`` values and the ``INSUFFICIENT_CREDIT``
    response code (both treated as permanent, as every unknown code is).
    """

    name = "clicksend"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = ClickSendSettings
    supports_unicode = True
    error_codes = {
        "BAD_REQUEST": "permanent",
        "UNAUTHORIZED": "permanent",
        "INSUFFICIENT_CREDIT": "permanent",  # until top-up
        "INVALID_RECIPIENT": "permanent",
        "INVALID_SENDER_ID": "permanent",
    }

    error_body_fields = ("response_code", "response_msg")

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        message: dict[str, Any] = {
            "to": phone(job).e164,
            "body": text(job),
            "source": settings.source,
            "custom_string": job.job_id,
        }
        origin = sender(job, settings.sender)
        if origin:
            message["from"] = origin
        return HttpRequest(
            "POST",
            f"{settings.base_url.rstrip('/')}/v3/sms/send",
            json={"messages": [message]},
            headers={
                "Authorization": basic_auth(settings.username, settings.api_key.get_secret_value())
            },
        )

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        body = response.json()
        fields = body if isinstance(body, dict) else {}
        data = fields["data"] if isinstance(fields.get("data"), dict) else {}
        messages = data.get("messages") or [{}]
        first = messages[0] if isinstance(messages[0], dict) else {}
        code = fields.get("response_code") if fields.get("response_code") != "SUCCESS" else None
        code = code or (first.get("status") if first.get("status") != "SUCCESS" else None)
        if code or not first.get("message_id"):
            raise self.code_error(
                code or "none",
                f"{response.endpoint}: {fields.get('response_msg') or 'message not queued'}",
                status=response.status,
                body=response.text,
            )
        return SendResult(
            provider=self.name,
            message_id=str(first["message_id"]),
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
            details={"status": first.get("status")},
        )
