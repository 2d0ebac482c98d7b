"""Unifonic (Saudi Arabia / MENA): one SMS through ``/rest/SMS/messages``."""

from __future__ import annotations

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import excerpt
from providers.http import HttpProvider, HttpRequest, HttpResponse
from providers.sms._common import phone, sender, text


class UnifonicSettings(pydantic.BaseModel):
    """Credentials and defaults of the Unifonic adapter."""

    model_config = pydantic.ConfigDict(frozen=True)

    #: application id (``AppSid``) of the Unifonic SMS application
    app_sid: pydantic.SecretStr
    #: default registered SenderID when the event has none (Unifonic's default if unset)
    sender: str | None = None
    base_url: str = "https://el.cloud.unifonic.com"


class Unifonic(HttpProvider[UnifonicSettings]):
    """Sends an SMS with ``POST /rest/SMS/messages`` (form), authenticated by ``AppSid``.

    Reference: https://docs.unifonic.com/reference/sms-api and
    https://docs.unifonic.com/docs/sending-your-first-sms-via-unifonic-api: fields ``AppSid``,
    ``SenderID``, ``Recipient`` (international digits, no ``+``/``00``), ``Body`` (Arabic
    allowed), ``responseType=JSON``, ``CorrelationID`` (the job id). Answer: ``{"success":
    true, "errorCode": "ER-00", "data": {"MessageID", "Status", ...}}`` or ``{"success":
    false, "message", "errorCode": "ER-04", "data": {}}``; ``success`` is a boolean in
    Unifonic's docs and the string ``"true"`` per wp-sms, so both are read. HTTP errors
    (https://docs.unifonic.com/reference/http-status-codes) map by status: 429 and 5xx (599)
    transient, other 4xx permanent; ``ER-01``..``ER-09`` are permanent.
    Not confirmed (⚠): HTTP Basic (account e-mail:password) that APIMATIC SDKs add on top of
    ``AppSid`` (not sent), and the ``statusCallback`` DLR payload (not used).
    """

    name = "unifonic"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = UnifonicSettings
    supports_unicode = True
    error_codes = {
        "ER-01": "permanent",  # no rate / insufficient funds (until top-up)
        "ER-02": "permanent",  # invalid destination number
        "ER-03": "permanent",  # destination too long
        "ER-04": "permanent",  # destination too short
        "ER-05": "permanent",  # no route for the destination
        "ER-06": "permanent",  # empty body
        "ER-07": "permanent",  # filtered
        "ER-08": "permanent",  # invalid sender ID
        "ER-09": "permanent",  # duplicated message: never resent
        # the REST codes also come as errorCode in some answers
        "429": "transient",  # too many requests
        "599": "transient",  # request failed
    }

    error_body_fields = ("errorCode", "message")

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        form = {
            "AppSid": settings.app_sid.get_secret_value(),
            "Recipient": phone(job).intl_digits,
            "Body": text(job),
            "responseType": "JSON",
            "CorrelationID": job.job_id,
        }
        origin = sender(job, settings.sender)
        if origin:
            form["SenderID"] = origin
        return HttpRequest(
            "POST",
            f"{settings.base_url.rstrip('/')}/rest/SMS/messages",
            data=form,
            headers={"Accept": "application/json"},
        )

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        body = response.json()
        fields = body if isinstance(body, dict) else {}
        data = fields["data"] if isinstance(fields.get("data"), dict) else {}
        if str(fields.get("success")).lower() != "true" or not data.get("MessageID"):
            raise self.code_error(
                fields.get("errorCode") or "none",
                f"{response.endpoint}: {fields.get('message') or 'not sent'}",
                status=response.status,
                body=response.text,
            )
        return SendResult(
            provider=self.name,
            message_id=str(data["MessageID"]),
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
            details={"status": data.get("Status")},
        )
