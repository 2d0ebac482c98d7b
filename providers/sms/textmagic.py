"""Textmagic adapter: REST API v2 ``POST /api/v2/messages`` with ``X-TM-Username``/``X-TM-Key``."""

from __future__ import annotations

from typing import Any

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import FusionError, TransientError, excerpt
from providers.http import HttpProvider, HttpRequest, HttpResponse
from providers.sms._common import phone, sender, text


class TextmagicSettings(pydantic.BaseModel):
    """API credentials of the Textmagic account."""

    model_config = pydantic.ConfigDict(frozen=True)

    #: account username (``X-TM-Username``)
    username: str
    #: API key (``X-TM-Key``)
    api_key: pydantic.SecretStr
    #: allowed sender id or number when an event carries no ``senderId``; optional
    sender_id: str | None = None
    #: API host
    base_url: str = "https://rest.textmagic.com"


class Textmagic(HttpProvider[TextmagicSettings]):
    """Sends one SMS through Textmagic's REST API v2.

    API: https://docs.textmagic.com/ — ``POST {base_url}/api/v2/messages`` JSON ``{text, phones
    (E.164 digits, comma list), from}`` with headers ``X-TM-Username`` and ``X-TM-Key``; success
    is 201 ``{id, href, type: "message", sessionId, bulkId, messageId, scheduleId, chatId}``
    (official textmagic-rest-python-v2 ``SendMessageResponse``), id ``messageId`` (else
    ``id``). Errors are ``{code, message, errors}`` with HTTP-like codes, mapped by
    ``error_codes``. Texts may take 1 to 6 parts (``partsCount``), so 918 GSM-7 characters.
    Not confirmed (⚠): the send rate, and whether Textmagic ever answers 2xx with a refusal.
    """

    name = "textmagic"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = TextmagicSettings
    max_body_length = 918  # 6 parts x 153 GSM-7 characters
    supports_unicode = True
    #: ``code`` of an error body (the meanings follow HTTP statuses)
    error_codes = {
        "400": "permanent",  # validation (bad number, empty text, unknown sender)
        "401": "permanent",  # bad username / key
        "403": "permanent",  # not allowed (sender, country, suspended account)
        "404": "permanent",
        "429": "transient",  # rate limited
    }

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        body: dict[str, Any] = {
            "text": text(job, max_length=self.max_body_length),
            "phones": phone(job).intl_digits,
        }
        from_ = sender(job, settings.sender_id)
        if from_:
            body["from"] = from_
        headers = {
            "X-TM-Username": settings.username,
            "X-TM-Key": settings.api_key.get_secret_value(),
        }
        url = f"{settings.base_url.rstrip('/')}/api/v2/messages"
        return HttpRequest("POST", url, json=body, headers=headers)

    def classify_error(self, response: HttpResponse) -> FusionError | None:
        if response.status >= 500:
            return None  # 5xx: the default (transient)
        try:
            body = response.json()
        except FusionError:
            return None
        code = body.get("code") if isinstance(body, dict) else None
        if code is None or str(code) not in self.error_codes:
            return None
        if self.error_codes[str(code)] == "transient":
            return self.http_error(response, TransientError, f"{body.get('message')} (code {code})")
        return self.code_error(
            code, str(body.get("message")), status=response.status, body=response.text
        )

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        body = response.json()
        if not isinstance(body, dict):
            body = {}
        message_id = body.get("messageId") or body.get("id")
        if message_id in (None, ""):
            raise self.http_error(response, message="no message id in the answer")
        return SendResult(
            provider=self.name,
            message_id=str(message_id),
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
            details={"session_id": body.get("sessionId"), "type": body.get("type")},
        )
