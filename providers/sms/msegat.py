"""Msegat (Saudi Arabia): one SMS through ``/gw/sendsms.php``."""

from __future__ import annotations

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import ConfigurationError, excerpt
from providers.http import HttpProvider, HttpRequest, HttpResponse
from providers.sms._common import phone, sender, text

#: ``code`` values of an accepted message (number or string)
SUCCESS_CODES = frozenset({"1", "M0000"})


class MsegatSettings(pydantic.BaseModel):
    """Credentials and defaults of the Msegat adapter."""

    model_config = pydantic.ConfigDict(frozen=True)

    #: account username (not the login e-mail)
    username: str
    api_key: pydantic.SecretStr
    #: default approved sender name when the event has no senderId (promotional ones end -AD)
    sender: str | None = None
    base_url: str = "https://www.msegat.com"


class Msegat(HttpProvider[MsegatSettings]):
    """Sends an SMS with ``POST /gw/sendsms.php``; credentials travel in the JSON body.

    Body: ``userName``, ``apiKey``, ``userSender``, ``numbers`` (international digits such as
    ``9665XXXXXXXX``), ``msg``, ``msgEncoding: "UTF8"``. Answer (HTTP 200 also for errors):
    ``{"code", "message", "id"?}``; ``code`` ``1`` or ``M0000`` is success, anything else an
    error code. Every listed code is permanent (``1060`` until top-up; ``1061`` is a duplicate
    and is never resent); only timeouts and 5xx are transient. Reference: Msegat's Apiary
    docs as cited by wp-sms ``MsegatProvider.php``. Not confirmed (⚠): whether a success
    always carries ``id`` (the message id is ``None`` when it does not) and the DLR payload.
    """

    name = "msegat"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = MsegatSettings
    supports_unicode = True
    error_codes = {
        code: "permanent"
        for code in (
            "M0001", "1010",  # variables missing
            "M0002", "1020",  # invalid login
            "1050",  # empty body
            "1060",  # balance not enough
            "1061",  # duplicated message
            "1064",  # free-OTP account content restriction
            "1110",  # sender missing or incorrect
            "1120",  # mobile number incorrect
            "1140",  # message too long
            *(f"M00{n}" for n in range(22, 37)),  # sender-name management (M0029, M0030, ...)
        )
    }  # fmt: skip

    error_body_fields = ("code", "message")

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        origin = sender(job, settings.sender)
        if not origin:
            raise ConfigurationError(f"provider {self.name!r}: no senderId and no 'sender' set")
        body = {
            "userName": settings.username,
            "apiKey": settings.api_key.get_secret_value(),
            "userSender": origin,
            "numbers": phone(job).intl_digits,
            "msg": text(job),
            "msgEncoding": "UTF8",
        }
        return HttpRequest("POST", f"{settings.base_url.rstrip('/')}/gw/sendsms.php", json=body)

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        body = response.json()
        fields = body if isinstance(body, dict) else {}
        if str(fields.get("code")) not in SUCCESS_CODES:
            raise self.code_error(
                fields.get("code", "none"),
                f"{response.endpoint}: {fields.get('message') or 'not sent'}",
                status=response.status,
                body=response.text,
            )
        message_id = fields.get("id")
        return SendResult(
            provider=self.name,
            message_id=str(message_id) if message_id not in (None, "") else None,
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
        )
