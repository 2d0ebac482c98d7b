"""Exotel SMS adapter: form ``POST {base_url}/v1/Accounts/{sid}/Sms/send.json``, HTTP Basic."""

from __future__ import annotations

from urllib.parse import quote

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import ConfigurationError, PermanentError, excerpt
from fusion_stream.sms.segments import analyse
from providers.http import HttpProvider, HttpRequest, HttpResponse, basic_auth
from providers.sms._common import phone, sender, text


class ExotelSettings(pydantic.BaseModel):
    """Credentials of one Exotel account."""

    model_config = pydantic.ConfigDict(frozen=True)

    account_sid: str
    api_key: str
    api_token: pydantic.SecretStr
    #: the account's cluster: ``https://api.exotel.com`` or ``https://api.in.exotel.com``
    base_url: str = "https://api.exotel.com"
    #: default ``From``: an ExoPhone or the DLT header linked to it
    sender: str | None = None
    #: India DLT entity id (mandatory for Indian traffic)
    dlt_entity_id: str | None = None
    #: delivery report URL (``StatusCallback``)
    status_callback: str | None = None


class Exotel(HttpProvider[ExotelSettings]):
    """Exotel SMS API v1.

    API: https://developer.exotel.com/api/sms (fields ``From``/``To``/``Body``/``EncodingType``/
    ``DltEntityId``/``DltTemplateId``/``StatusCallback``; hosts ``api.exotel.com`` (Singapore) and
    ``api.in.exotel.com`` (Mumbai); ``.json`` for a JSON answer), developer.exotel.com status codes,
    support.exotel.com "Sending an SMS" (errors: 400 bad parameters, 403 inactive account or no
    balance, 429, 500). Not confirmed: the send answer's shape (taken from the SMS details API:
    ``{"SMSMessage": {"Sid", "Status", "DetailedStatusCode"}}``), and that a send answer can already
    carry a 230xx failure code.
    """

    name = "exotel"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = ExotelSettings
    max_body_length = 2000
    supports_unicode = True  # EncodingType=unicode
    rate_per_second = None
    # DetailedStatusCode failures (all need data, consent or DLT fixes)
    error_codes = {
        "23005": "permanent",  # DND
        "23010": "permanent",  # invalid number
        "23015": "permanent",  # spam
        "23020": "permanent",  # blacklisted
        "23072": "permanent",  # invalid sender
        "23080": "permanent",  # DLT scrubbing
        "23081": "permanent",  # DLT entity
        "23082": "permanent",  # DLT template
        "23083": "permanent",  # DLT consent
    }

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        src = sender(job, settings.sender)
        if not src:
            raise ConfigurationError(
                f"provider {self.name!r}: no senderId on the event and no 'sender' configured"
            )
        body = text(job, max_length=self.max_body_length)
        form = {"From": src, "To": phone(job).e164, "Body": body}
        if analyse(body).encoding == "UCS-2":
            form["EncodingType"] = "unicode"
        dlt_template = (job.payload.get("config") or {}).get("dlt_template_id")
        if settings.dlt_entity_id:
            form["DltEntityId"] = settings.dlt_entity_id
        if dlt_template:
            form["DltTemplateId"] = str(dlt_template)
        if settings.status_callback:
            form["StatusCallback"] = settings.status_callback
        sid = quote(settings.account_sid, safe="")
        return HttpRequest(
            "POST",
            f"{settings.base_url.rstrip('/')}/v1/Accounts/{sid}/Sms/send.json",
            data=form,
            headers={
                "Authorization": basic_auth(settings.api_key, settings.api_token.get_secret_value())
            },
        )

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        data = response.json()
        message = data.get("SMSMessage") if isinstance(data, dict) else None
        if not isinstance(message, dict) or not message.get("Sid"):
            raise self.http_error(response, PermanentError, "no SMSMessage.Sid in the answer")
        code = str(message.get("DetailedStatusCode") or "")
        state = message.get("DetailedStatus") or message.get("Status")
        if str(message.get("Status")).lower() == "failed" or code.startswith("23"):
            raise self.code_error(
                code or "failed",
                f"{response.endpoint}: SMS {state}",
                status=response.status,
                body=response.text,
            )
        return SendResult(
            provider=self.name,
            message_id=str(message["Sid"]),
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
            details={"status": state},
        )
