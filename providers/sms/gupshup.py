"""Gupshup Enterprise SMS adapter: form ``POST {base_url}/GatewayAPI/rest``, ``SendMessage``."""

from __future__ import annotations

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import PermanentError, excerpt
from fusion_stream.sms.segments import analyse
from providers.http import HttpProvider, HttpRequest, HttpResponse
from providers.sms._common import phone, sender, text


class GupshupSettings(pydantic.BaseModel):
    """Credentials of one Gupshup Enterprise account."""

    model_config = pydantic.ConfigDict(frozen=True)

    #: numeric account id
    userid: str
    password: pydantic.SecretStr
    base_url: str = "https://enterprise.smsgupshup.com"
    #: default ``mask`` (sender id / DLT header)
    sender: str | None = None
    #: India DLT principal entity id (``principalEntityId``)
    dlt_entity_id: str | None = None


class Gupshup(HttpProvider[GupshupSettings]):
    """Gupshup Enterprise SMS GatewayAPI (``method=SendMessage``).

    API: docs.gupshup.io (enterprise SMS, real-time delivery reports), wp-sms
    ``GupshupProvider.php`` (form fields, ``msg_type`` text/unicode_text/flash, answers
    ``{"response": {"status", "id", "code", "details"}}``). Auth is ``userid`` + ``password`` +
    ``auth_scheme=plain`` in the form. Errors come back as HTTP 200 with ``status: error``. Not
    confirmed: the catalog's "1008 = opted out" (docs.gupshup.io lists 1008 as a WhatsApp code);
    error 175 (service disabled) is from a third-party page; no transient error code is known, so
    only 429/5xx/timeouts are retried.
    """

    name = "gupshup"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = GupshupSettings
    max_body_length = None  # DLT template bound; not documented in the catalog
    supports_unicode = True  # as msg_type=unicode_text
    rate_per_second = None
    error_codes = {
        "175": "permanent",  # service (e.g. INTERNATIONAL_PHONE) disabled for the account
        "1008": "permanent",  # opted out (catalog; unconfirmed for SMS)
    }

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        body = text(job)
        form = {
            "method": "SendMessage",
            "userid": settings.userid,
            "password": settings.password.get_secret_value(),
            "auth_scheme": "plain",
            "v": "1.1",
            "format": "json",
            "send_to": phone(job).intl_digits,
            "msg": body,
            "msg_type": "unicode_text" if analyse(body).encoding == "UCS-2" else "text",
        }
        mask = sender(job, settings.sender)
        if mask:
            form["mask"] = mask
        dlt_template = (job.payload.get("config") or {}).get("dlt_template_id")
        if dlt_template:
            form["dltTemplateId"] = str(dlt_template)
        if settings.dlt_entity_id:
            form["principalEntityId"] = settings.dlt_entity_id
        return HttpRequest("POST", f"{settings.base_url.rstrip('/')}/GatewayAPI/rest", data=form)

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        data = response.json()
        answer = data.get("response") if isinstance(data, dict) else None
        if not isinstance(answer, dict):
            raise self.http_error(response, PermanentError, "no 'response' in the answer")
        if str(answer.get("status") or "").lower() != "success":
            raise self.code_error(
                answer.get("code") or answer.get("status") or "?",
                f"{response.endpoint}: {answer.get('details') or 'rejected'}",
                status=response.status,
                body=response.text,
            )
        if not answer.get("id"):
            raise self.http_error(response, PermanentError, "no message id in the answer")
        return SendResult(
            provider=self.name,
            message_id=str(answer["id"]),
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
        )
