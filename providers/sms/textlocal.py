"""Textlocal (UK and India): one SMS through the ``/send/`` API of the region's host."""

from __future__ import annotations

from typing import Literal

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import FusionError, PermanentError, excerpt
from fusion_stream.sms.segments import analyse
from providers.http import HttpProvider, HttpRequest, HttpResponse
from providers.sms._common import phone, sender, text


class TextlocalSettings(pydantic.BaseModel):
    """Credentials and defaults of the Textlocal adapter."""

    model_config = pydantic.ConfigDict(frozen=True)

    #: API key of the Textlocal application (UK and India accounts have separate keys)
    apikey: pydantic.SecretStr
    #: default sender when the event has no senderId (India: the DLT-approved 6-letter header)
    sender: str | None = None
    #: ``uk`` or ``in``; unset = India for +91 numbers, UK otherwise
    region: Literal["uk", "in"] | None = None
    #: per-message delivery-receipt URL
    receipt_url: str | None = None
    uk_base_url: str = "https://api.txtlocal.com"
    in_base_url: str = "https://api.textlocal.in"


class Textlocal(HttpProvider[TextlocalSettings]):
    """Sends an SMS with ``POST /send/`` (form) on api.txtlocal.com or api.textlocal.in.

    References: https://api.txtlocal.com/docs/sendsms, https://api.textlocal.in/docs/sendsms.
    Fields ``apikey``, ``numbers`` (international digits), ``message`` (≤ 766 characters;
    India: must match the DLT template), ``sender``, ``receipt_url``; ``custom`` is not sent
    (its length limit is unknown and job ids are long). Success: ``{"status": "success",
    "batch_id", "messages": [{"id", "recipient"}]}``; the message id is the recipient's
    ``id``. Failure: HTTP 200 ``{"status": "failure", "errors": [{"code", "message"}]}``.
    Not confirmed (⚠): Textlocal's numeric error-code table, so every failure is permanent (no
    code is known to be worth a retry; timeouts and 5xx stay transient), and the ``unicode``
    parameter (sent as ``true`` for non-GSM text).
    """

    name = "textlocal"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = TextlocalSettings
    max_body_length = 766
    supports_unicode = True
    error_codes = {}  # code table not confirmed: unknown codes are permanent

    def base_url(self, job: Job) -> str:
        settings = self.settings
        region = settings.region or ("in" if phone(job).country_code == "91" else "uk")
        return (settings.in_base_url if region == "in" else settings.uk_base_url).rstrip("/")

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        message = text(job, max_length=self.max_body_length)
        form = {
            "apikey": settings.apikey.get_secret_value(),
            "numbers": phone(job).intl_digits,
            "message": message,
        }
        origin = sender(job, settings.sender)
        if origin:
            form["sender"] = origin
        if settings.receipt_url:
            form["receipt_url"] = settings.receipt_url
        if analyse(message).encoding == "UCS-2":
            form["unicode"] = "true"
        return HttpRequest("POST", f"{self.base_url(job)}/send/", data=form)

    def classify_error(self, response: HttpResponse) -> FusionError | None:
        if response.status == 429 or response.status >= 500:
            return None  # the base's transient mapping (with Retry-After)
        try:
            return self._failure(response, response.json())
        except PermanentError:
            return None

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        body = response.json()
        if not isinstance(body, dict) or body.get("status") != "success":
            raise self._failure(response, body) or self.http_error(
                response, PermanentError, "answer without status success"
            )
        messages = body.get("messages") or [{}]
        first = messages[0] if isinstance(messages[0], dict) else {}
        message_id = first.get("id") or body.get("batch_id")
        return SendResult(
            provider=self.name,
            message_id=str(message_id) if message_id else None,
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
            details={"batch_id": body.get("batch_id"), "cost": body.get("cost")},
        )

    def _failure(self, response: HttpResponse, body: object) -> FusionError | None:
        """The typed error of a ``{"status": "failure", "errors": [...]}`` answer."""
        errors = body.get("errors") if isinstance(body, dict) else None
        if not errors or not isinstance(errors, list) or not isinstance(errors[0], dict):
            return None
        first = errors[0]
        message = f"{response.endpoint}: {first.get('message') or 'failure'}"
        return self.code_error(
            first.get("code"), message, status=response.status, body=response.text
        )
