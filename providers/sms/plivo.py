"""Plivo SMS adapter: ``POST /v1/Account/{auth_id}/Message/`` with HTTP Basic auth."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import ConfigurationError, PermanentError, RejectedError, excerpt
from providers.http import HttpProvider, HttpRequest, HttpResponse, basic_auth
from providers.sms._common import phone, sender, text


class PlivoSettings(pydantic.BaseModel):
    """Credentials of one Plivo account."""

    model_config = pydantic.ConfigDict(frozen=True)

    auth_id: str
    auth_token: pydantic.SecretStr
    base_url: str = "https://api.plivo.com"
    #: default ``src`` (number, short code or sender id) when the event names no senderId
    sender: str | None = None
    #: send through a Powerpack (number pool) instead of a fixed ``src``
    powerpack_uuid: str | None = None
    #: delivery report callback (Plivo's ``url``)
    status_url: str | None = None
    #: India DLT principal entity id
    dlt_entity_id: str | None = None


class Plivo(HttpProvider[PlivoSettings]):
    """Plivo Message API (SMS).

    API: https://www.plivo.com/docs/sms/api/message/send-a-message/ (202 with ``message_uuid``),
    https://plivo.com/docs/messaging/troubleshooting/error-codes (delivery error codes),
    plivo-python ``resources/messages.py`` (the ``dlt_*`` parameters). Confirmed: 202 status, error
    body ``{"api_id", "error"}`` (no code), DLT parameters, delivery codes 10-50 and 900
    (insufficient credit). Not confirmed: delivery codes 60-420 and 910/1000 (catalog, from memory),
    and whether 80/300 are really temporary.
    """

    name = "plivo"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = PlivoSettings
    max_body_length = 1600  # GSM-7; Plivo splits longer texts itself
    supports_unicode = True
    rate_per_second = None  # per-account, not documented in the catalog
    # delivery (MDR / callback) error codes; the send call itself carries no code
    error_codes = {
        "10": "permanent",  # invalid message (carrier reject)
        "20": "transient",  # network error: "temporary, retry later"
        "30": "permanent",  # spam detected
        "40": "permanent",  # invalid source number
        "50": "permanent",  # invalid destination number
        "60": "permanent",  # loop detected
        "70": "permanent",  # destination permanently unavailable
        "80": "transient",  # destination temporarily unavailable
        "90": "permanent",  # no route
        "100": "permanent",  # prohibited by carrier
        "110": "permanent",  # message too long
        "200": "permanent",  # recipient opted out (STOP)
        "300": "transient",  # failed to dispatch
        "420": "permanent",  # expired
        "900": "permanent",  # insufficient credit (operator must top up)
        "910": "permanent",  # account disabled
        "1000": "permanent",  # unknown
    }

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        dst = phone(job).intl_digits
        body: dict[str, Any] = {
            "dst": dst,
            "text": text(job, max_length=self.max_body_length),
            "type": "sms",
        }
        src = sender(job, None if settings.powerpack_uuid else settings.sender)
        if src:
            if src.lstrip("+") == dst:
                raise RejectedError("Plivo refuses a message whose src and dst are the same")
            body["src"] = src
        elif settings.powerpack_uuid:
            body["powerpack_uuid"] = settings.powerpack_uuid
        else:
            raise ConfigurationError(
                f"provider {self.name!r}: no senderId on the event and neither 'sender' "
                "nor 'powerpack_uuid' configured"
            )
        if settings.status_url:
            body.update(url=settings.status_url, method="POST")
        dlt_template = (job.payload.get("config") or {}).get("dlt_template_id")
        if settings.dlt_entity_id and dlt_template:
            body.update(dlt_entity_id=settings.dlt_entity_id, dlt_template_id=str(dlt_template))
        account = quote(settings.auth_id, safe="")
        return HttpRequest(
            "POST",
            f"{settings.base_url.rstrip('/')}/v1/Account/{account}/Message/",  # trailing / matters
            json=body,
            headers={
                "Authorization": basic_auth(
                    settings.auth_id, settings.auth_token.get_secret_value()
                )
            },
        )

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        data = response.json()
        uuids = data.get("message_uuid") if isinstance(data, dict) else None
        if not isinstance(uuids, list) or not uuids:
            reason = data.get("error") if isinstance(data, dict) else None
            raise self.http_error(
                response, PermanentError, f"message not queued: {reason or 'no message_uuid'}"
            )
        return SendResult(
            provider=self.name,
            message_id=str(uuids[0]),
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
        )
