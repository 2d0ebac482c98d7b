"""2Factor.in SMS adapter: form ``POST {base_url}/API/R1/`` with ``module=TRANS_SMS``."""

from __future__ import annotations

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import ConfigurationError, PermanentError, RejectedError, excerpt
from providers.http import HttpProvider, HttpRequest, HttpResponse
from providers.sms._common import phone, sender, text


class TwoFactorSettings(pydantic.BaseModel):
    """Credentials of one 2Factor.in account."""

    model_config = pydantic.ConfigDict(frozen=True)

    api_key: pydantic.SecretStr
    base_url: str = "https://2factor.in"
    #: default ``from`` (6-character DLT header)
    sender: str | None = None
    #: India DLT principal entity id (``peid``)
    dlt_entity_id: str | None = None


class TwoFactor(HttpProvider[TwoFactorSettings]):
    """2Factor.in transactional SMS (India only).

    API: 2factor.in "Send Single SMS" (R1 ``module=TRANS_SMS``: ``apikey``, ``to``, ``from`` = DLT
    header, ``msg`` = DLT-approved text; ``peid``/``ctid`` = DLT entity/template ids), npm
    ``2factor`` README. Answers are ``{"Status": "Success"|"Error", "Details": ...}``, HTTP 200 even
    on error. Every message (OTPs too) goes as transactional SMS with the event's full text: the V1
    OTP API (``/API/V1/{key}/SMS/...``) needs a provider template and may fall back to a voice call.
    Not confirmed: that ``msg`` alone is accepted (one public integration reports "Missing
    templatename value" without ``templatename``), that POST reads the fields from a form body
    (public code does so; the catalog shows them in the query string), ``peid``/``ctid`` (public
    code only), error ``Details`` texts (no codes; every error is permanent), delivery reports.
    """

    name = "2factor"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = TwoFactorSettings
    max_body_length = None  # DLT template bound; not documented in the catalog
    supports_unicode = True
    rate_per_second = None
    error_codes = {}  # errors carry a text, no code: all permanent

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        number = phone(job)
        if number.country_code != "91":
            raise RejectedError("2Factor.in transactional SMS reaches Indian numbers only")
        header = sender(job, settings.sender)
        if not header:
            raise ConfigurationError(
                f"provider {self.name!r}: no senderId on the event and no 'sender' configured"
            )
        form = {
            "module": "TRANS_SMS",
            "apikey": settings.api_key.get_secret_value(),
            "to": number.national,  # 10 digits
            "from": header,
            "msg": text(job),
        }
        dlt_template = (job.payload.get("config") or {}).get("dlt_template_id")
        if settings.dlt_entity_id and dlt_template:
            form.update(peid=settings.dlt_entity_id, ctid=str(dlt_template))
        return HttpRequest("POST", f"{settings.base_url.rstrip('/')}/API/R1/", data=form)

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        data = response.json()
        if not isinstance(data, dict) or data.get("Status") != "Success":
            details = data.get("Details") if isinstance(data, dict) else None
            raise self.code_error(
                "Error",
                f"{response.endpoint}: {details or 'rejected'}",
                status=response.status,
                body=response.text,
            )
        if not data.get("Details"):
            raise self.http_error(response, PermanentError, "no message id in the answer")
        return SendResult(
            provider=self.name,
            message_id=str(data["Details"]),
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
        )
