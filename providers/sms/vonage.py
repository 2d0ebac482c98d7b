"""Vonage (Nexmo) SMS API: one SMS through ``/sms/json``."""

from __future__ import annotations

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import ConfigurationError, excerpt
from fusion_stream.sms.segments import analyse
from providers.http import HttpProvider, HttpRequest, HttpResponse
from providers.sms._common import phone, sender, text


class VonageSettings(pydantic.BaseModel):
    """Credentials and defaults of the Vonage adapter."""

    model_config = pydantic.ConfigDict(frozen=True)

    api_key: str
    api_secret: pydantic.SecretStr
    #: default ``from`` (alphanumeric or number) when the event has no senderId
    sender: str | None = None
    #: DLR webhook URL for this adapter's messages (the account default when unset)
    callback: str | None = None
    base_url: str = "https://rest.nexmo.com"


class Vonage(HttpProvider[VonageSettings]):
    """Sends an SMS with ``POST /sms/json`` (form), ``api_key`` + ``api_secret`` in the body.

    References: https://developer.vonage.com/messaging/sms/guides/troubleshooting-sms,
    https://developer.vonage.com/api-errors/sms. Fields ``from``, ``to`` (international
    digits), ``text``, ``type`` (``unicode`` for non-GSM text), ``client-ref`` (the job id),
    ``callback``. Answer, HTTP 200 even on error: ``{"message-count", "messages": [{"to",
    "message-id", "status", "error-text"?, ...}]}``, one entry per part of a long text; any
    non-zero ``status`` fails the send, and the first part's ``message-id`` is the id.
    Status 1/5/10 are transient; codes past 10 come from the official SDK's ``SmsStatusCode``
    (vonage-dotnet), all permanent.
    Not confirmed (⚠): the 30 messages/s default account throughput (Vonage support FAQ
    quoted by secondary sources only); ``message-class``, ``ttl`` and ``status-report-req``
    (not sent).
    """

    name = "vonage"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = VonageSettings
    supports_unicode = True
    rate_per_second = 30.0
    error_codes = {
        "1": "transient",  # throttled
        "5": "transient",  # internal error
        "10": "transient",  # too many existing binds
        "2": "permanent",  # missing parameters
        "3": "permanent",  # invalid parameters
        "4": "permanent",  # invalid credentials
        "6": "permanent",  # invalid message (e.g. unknown prefix)
        "7": "permanent",  # number barred
        "8": "permanent",  # partner account barred
        "9": "permanent",  # partner quota violation (no credit, until top-up)
        "11": "permanent",  # account not enabled for HTTP
        "12": "permanent",  # message too long
        "14": "permanent",  # invalid signature
        "15": "permanent",  # invalid (illegal) sender address
        "22": "permanent",  # invalid network code
        "23": "permanent",  # invalid callback URL
        "29": "permanent",  # non-whitelisted destination (demo account)
        "32": "permanent",  # signature and api secret disallowed
        "33": "permanent",  # number deactivated
    }

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        origin = sender(job, settings.sender)
        if not origin:
            raise ConfigurationError(f"provider {self.name!r}: no senderId and no 'sender' set")
        message = text(job)
        form = {
            "api_key": settings.api_key,
            "api_secret": settings.api_secret.get_secret_value(),
            "from": origin,
            "to": phone(job).intl_digits,
            "text": message,
            "type": "unicode" if analyse(message).encoding == "UCS-2" else "text",
            "client-ref": job.job_id,
        }
        if settings.callback:
            form["callback"] = settings.callback
        return HttpRequest("POST", f"{settings.base_url.rstrip('/')}/sms/json", data=form)

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        body = response.json()
        parts = body.get("messages") if isinstance(body, dict) else None
        parts = [p for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []
        failed = next((p for p in parts if str(p.get("status")) != "0"), None)
        if failed is not None or not parts:
            part = failed or {}
            raise self.code_error(
                part.get("status", "none"),
                f"{response.endpoint}: {part.get('error-text') or 'no message accepted'}",
                status=response.status,
                body=response.text,
            )
        return SendResult(
            provider=self.name,
            message_id=str(parts[0].get("message-id")),
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
            details={"parts": [p.get("message-id") for p in parts]},
        )
