"""Africa's Talking SMS adapter: form POST to ``/version1/messaging``, ``apiKey`` header."""

from __future__ import annotations

from typing import Any

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import DeliveryError, FusionError, excerpt
from providers.http import HttpProvider, HttpRequest, HttpResponse
from providers.sms._common import phone, sender, text

#: per-recipient ``statusCode`` values meaning Processed, Sent, Queued
ACCEPTED = frozenset({100, 101, 102})


class AfricasTalkingSettings(pydantic.BaseModel):
    """Credentials and defaults of the Africa's Talking application."""

    model_config = pydantic.ConfigDict(frozen=True)

    #: application username (``sandbox`` for the sandbox, with the sandbox ``base_url``)
    username: str
    #: API key of the application (``apiKey`` header)
    api_key: pydantic.SecretStr
    #: approved sender id or short code when an event carries no ``senderId``; optional
    sender_id: str | None = None
    #: queue the message at Africa's Talking (``enqueue=1``), for high volumes
    enqueue: bool = False
    #: API host; sandbox: ``https://api.sandbox.africastalking.com``
    base_url: str = "https://api.africastalking.com"


class AfricasTalking(HttpProvider[AfricasTalkingSettings]):
    """Sends one bulk-mode SMS through Africa's Talking.

    API: https://developers.africastalking.com/docs/sms/sending/bulk — ``POST
    {base_url}/version1/messaging`` form ``username, to (E.164), message, bulkSMSMode=1
    [, from, enqueue=1]``, headers ``apiKey`` and ``Accept: application/json`` (as the official
    Python SDK sends it). Id: ``SMSMessageData.Recipients[0].messageId``; the recipient's
    ``statusCode`` 100/101/102 means accepted, anything else is mapped by ``error_codes`` even
    on a 200 (and on the HTTP 409 a DoNotDisturbRejection comes with, as AT documents).
    ``enqueue`` and ``bulkSMSMode`` are confirmed by the official SDK; 409 is
    DoNotDisturbRejection in AT's docs (one code base calls it DuplicateRequest).
    Not confirmed (⚠): 401 RiskHold as transient (taken from the catalog; it is a hold for
    review, so a retry may be refused again), a body length limit and a documented send rate.
    """

    name = "africastalking"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = AfricasTalkingSettings
    supports_unicode = True
    error_codes = {
        "401": "transient",  # RiskHold (⚠ catalog: review, may clear)
        "402": "permanent",  # InvalidSenderId
        "403": "permanent",  # InvalidPhoneNumber
        "404": "permanent",  # UnsupportedNumberType
        "405": "permanent",  # InsufficientBalance: until the operator tops up
        "406": "permanent",  # UserInBlacklist (opted out)
        "407": "permanent",  # CouldNotRoute
        "409": "permanent",  # DoNotDisturbRejection (Nigeria, promotional sender at night)
        "500": "transient",  # InternalServerError
        "501": "transient",  # GatewayError
        "502": "permanent",  # RejectedByGateway
    }

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        form = [
            ("username", settings.username),
            ("to", phone(job).e164),
            ("message", text(job, max_length=self.max_body_length)),
            ("bulkSMSMode", "1"),
        ]
        from_ = sender(job, settings.sender_id)
        if from_:
            form.append(("from", from_))
        if settings.enqueue:
            form.append(("enqueue", "1"))
        headers = {"apiKey": settings.api_key.get_secret_value(), "Accept": "application/json"}
        url = f"{settings.base_url.rstrip('/')}/version1/messaging"
        return HttpRequest("POST", url, data=form, headers=headers)

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        recipient = self._recipient(response.json())
        error = self._refusal(recipient, response)
        if error is not None:
            raise error
        return SendResult(
            provider=self.name,
            message_id=str(recipient["messageId"]),
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
            details={"cost": recipient.get("cost"), "status": recipient.get("status")},
        )

    def classify_error(self, response: HttpResponse) -> FusionError | None:
        # a refused recipient can come with a non-2xx status (409 for DoNotDisturbRejection)
        try:
            recipient = self._recipient(response.json())
        except FusionError:
            return None
        return self._refusal(recipient, response) if recipient else None

    @staticmethod
    def _recipient(body: Any) -> dict[str, Any]:
        data = body.get("SMSMessageData") if isinstance(body, dict) else None
        recipients = data.get("Recipients") if isinstance(data, dict) else None
        first = recipients[0] if isinstance(recipients, list) and recipients else None
        return first if isinstance(first, dict) else {}

    def _refusal(self, recipient: dict[str, Any], response: HttpResponse) -> DeliveryError | None:
        code = recipient.get("statusCode")
        if str(code).isdigit() and int(str(code)) in ACCEPTED and recipient.get("messageId"):
            return None
        if code is None:  # no recipient at all: the summary line says why ("Sent to 0/1")
            return self.http_error(response, message="no recipient in the answer")
        reason = str(recipient.get("status") or "refused")
        return self.code_error(code, reason, status=response.status, body=response.text)
