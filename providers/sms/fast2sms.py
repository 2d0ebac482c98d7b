"""Fast2SMS adapter (India): DLT route ``POST /dev/bulkV2`` with the ``authorization`` header."""

from __future__ import annotations

from typing import Any

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import RejectedError, excerpt
from providers.http import HttpProvider, HttpRequest, HttpResponse
from providers.sms._common import phone, sender, text


class Fast2SmsSettings(pydantic.BaseModel):
    """API key and DLT registration of the Fast2SMS account."""

    model_config = pydantic.ConfigDict(frozen=True)

    #: API key (``authorization`` header)
    api_key: pydantic.SecretStr
    #: DLT-approved sender id (header), 3-6 letters, when an event carries no ``senderId``
    sender_id: str
    #: DLT principal entity id; optional when the template is in Fast2SMS's DLT manager
    entity_id: str | None = None
    #: API host
    base_url: str = "https://www.fast2sms.com"


class Fast2Sms(HttpProvider[Fast2SmsSettings]):
    """Sends one DLT-registered SMS to an Indian number through Fast2SMS (route ``dlt_manual``).

    API: https://docs.fast2sms.com/reference/dlt-manual-single — ``POST {base_url}/dev/bulkV2``
    JSON ``{route: "dlt_manual", sender_id, message (the full DLT-approved text),
    template_id, entity_id, numbers (10 digits)}`` with header ``authorization: <key>``; the
    event's ``config.dlt_template_id`` is the DLT content template id. Answer
    ``{"return": true, "request_id": ..., "message": [...]}``, id ``request_id``; ``return:
    false`` (``{status_code, message}``) is a refusal even with HTTP 200. Only Indian numbers.
    Not confirmed (⚠): the answer body and its ``status_code`` values (Fast2SMS publishes no
    code list here, so every refusal is permanent), header vs query key (header used), a
    body length limit and a documented send rate.
    """

    name = "fast2sms"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = Fast2SmsSettings
    supports_unicode = True
    error_codes = {}  # no published codes: a ``return: false`` answer is permanent

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        number = phone(job)
        if number.country_code != "91":
            raise RejectedError(f"Fast2SMS sends to Indian numbers only, not {number}")
        body: dict[str, Any] = {
            "route": "dlt_manual",
            "sender_id": sender(job, settings.sender_id),
            "message": text(job, max_length=self.max_body_length),
            "numbers": number.national,
            "flash": "0",
        }
        config = job.payload.get("config")
        template_id = config.get("dlt_template_id") if isinstance(config, dict) else None
        if template_id:
            body["template_id"] = str(template_id)
        if settings.entity_id:
            body["entity_id"] = settings.entity_id
        headers = {"authorization": settings.api_key.get_secret_value()}
        url = f"{settings.base_url.rstrip('/')}/dev/bulkV2"
        return HttpRequest("POST", url, json=body, headers=headers)

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        body = response.json()
        if not isinstance(body, dict):
            body = {}
        if body.get("return") is not True or not body.get("request_id"):
            code = body.get("status_code", "missing")
            said = body.get("message") or "not sent"
            reason = "; ".join(map(str, said)) if isinstance(said, list) else str(said)
            raise self.code_error(code, reason, status=response.status, body=response.text)
        return SendResult(
            provider=self.name,
            message_id=str(body["request_id"]),
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
        )
