"""Telnyx SMS adapter: ``POST {base_url}/v2/messages`` with ``Authorization: Bearer``."""

from __future__ import annotations

from typing import Any

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import ConfigurationError, FusionError, PermanentError, excerpt
from providers.http import HttpProvider, HttpRequest, HttpResponse, parse_retry_after
from providers.sms._common import phone, sender, text


class TelnyxSettings(pydantic.BaseModel):
    """Credentials of one Telnyx account."""

    model_config = pydantic.ConfigDict(frozen=True)

    api_key: pydantic.SecretStr
    base_url: str = "https://api.telnyx.com"
    #: default ``from``: a Telnyx number (E.164) or an alphanumeric sender with a profile
    sender: str | None = None
    #: messaging profile: its number pool sends when there is no ``from``
    messaging_profile_id: str | None = None
    #: per-message delivery webhook (else the profile's)
    webhook_url: str | None = None


class Telnyx(HttpProvider[TelnyxSettings]):
    """Telnyx Messaging API v2 (SMS).

    API: https://developers.telnyx.com/docs/messaging/messages/send-message (request, 200 answer
    ``{"data": {"id", "to": [{"status"}], "errors": []}}``),
    https://developers.telnyx.com/docs/messaging/messages/error-codes/index (codes below). Errors
    are ``{"errors": [{"code", "title", "detail"}]}``; 429 asks for backoff with Retry-After. Not
    confirmed: the request field ``type`` (third-party docs only; not sent here), and whether the
    delivery codes below can also come back synchronously on a 4xx.
    """

    name = "telnyx"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = TelnyxSettings
    max_body_length = None  # not documented in the catalog
    supports_unicode = True
    rate_per_second = None  # per number type and profile
    error_codes = {
        "40001": "permanent",  # not routable (landline)
        "40002": "transient",  # spam block, temporary
        "40003": "permanent",  # spam block, permanent
        "40004": "transient",  # rejected by destination: retry after a delay
        "40005": "permanent",  # expired
        "40006": "transient",  # recipient carrier down
        "40008": "permanent",  # undeliverable
        "40009": "permanent",  # invalid body
        "40011": "transient",  # rate limit
    }

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        body: dict[str, Any] = {"to": phone(job).e164, "text": text(job)}  # '+' required
        src = sender(job, settings.sender)
        if src:
            body["from"] = src
        if settings.messaging_profile_id:
            body["messaging_profile_id"] = settings.messaging_profile_id
        if not src and not settings.messaging_profile_id:
            raise ConfigurationError(
                f"provider {self.name!r}: no senderId on the event and neither 'sender' "
                "nor 'messaging_profile_id' configured"
            )
        if settings.webhook_url:
            body["webhook_url"] = settings.webhook_url
        return HttpRequest(
            "POST",
            f"{settings.base_url.rstrip('/')}/v2/messages",
            json=body,
            headers={"Authorization": f"Bearer {settings.api_key.get_secret_value()}"},
        )

    def classify_error(self, response: HttpResponse) -> FusionError | None:
        if response.status == 429 or response.status >= 500:
            return None  # the default: transient, with Retry-After
        try:
            return self._first_error(response, response.json())
        except FusionError:
            return None

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        document = response.json()
        data = document.get("data") if isinstance(document, dict) else None
        if not isinstance(data, dict) or not data.get("id"):
            raise self.http_error(response, PermanentError, "no message id in the response")
        error = self._first_error(response, data)
        if error is not None:
            raise error
        return SendResult(
            provider=self.name,
            message_id=str(data["id"]),
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
        )

    def _first_error(self, response: HttpResponse, data: Any) -> FusionError | None:
        errors = data.get("errors") if isinstance(data, dict) else None
        first = errors[0] if isinstance(errors, list) and errors else None
        if not isinstance(first, dict) or not first.get("code"):
            return None
        return self.code_error(
            first["code"],
            f"{response.endpoint}: "
            + " ".join(str(first.get(k) or "") for k in ("title", "detail")),
            status=response.status,
            body=response.text,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
