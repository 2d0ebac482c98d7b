"""Kaleyra SMS adapter: form ``POST {base_url}/v1/{sid}/messages`` with an ``api-key`` header."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import FusionError, PermanentError, excerpt
from providers.http import HttpProvider, HttpRequest, HttpResponse
from providers.sms._common import phone, sender, text


class KaleyraSettings(pydantic.BaseModel):
    """Credentials of one Kaleyra account."""

    model_config = pydantic.ConfigDict(frozen=True)

    sid: str
    api_key: pydantic.SecretStr
    #: ``https://api.kaleyra.io`` (regional accounts: e.g. ``https://api.ap.kaleyra.io``)
    base_url: str = "https://api.kaleyra.io"
    #: default ``sender`` (DLT header in India)
    sender: str | None = None
    #: route ``type`` of ordinary messages (``TXN``, ``MKT``, ``DEFAULT``); OTPs go as ``OTP``
    sms_type: str = "TXN"
    #: India DLT principal entity id
    entity_id: str | None = None
    #: delivery report URL, sent as the ``callback`` object
    callback_url: str | None = None


class Kaleyra(HttpProvider[KaleyraSettings]):
    """Kaleyra.io messages API (SMS).

    API: https://developers.kaleyra.io/docs/send-your-first-sms (endpoint, ``api-key``, form fields
    ``to``/``sender``/``type``/``body``/``template_id``/``callback``); status trace codes from
    developers.kaleyra.io/docs/sms-status-and-status-trace-codes (via the catalog). Not confirmed:
    the answer's shape (message id read from ``data[0].message_id``, else ``id``), the error body
    (``{"code", "message", "error"}``), ``entity_id`` (observed usage only); ``unicode`` and
    ``template_params`` are not sent.
    """

    name = "kaleyra"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = KaleyraSettings
    max_body_length = None  # DLT template bound; not documented in the catalog
    supports_unicode = True
    rate_per_second = None
    # status trace codes (delivery reports); all need data or operator action
    error_codes = {
        "NOTALLOWED": "permanent",  # country not enabled
        "NO-CREDITS": "permanent",  # until a top-up
        "BLACKLIST": "permanent",
        "CON-DND": "permanent",  # DND / NDNC
    }

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        otp = job.channel == "sms.otp" or str(job.payload.get("isOTP")).lower() in ("1", "true")
        form = {
            "to": phone(job).e164,
            "type": "OTP" if otp else settings.sms_type,
            "body": text(job),
        }
        src = sender(job, settings.sender)
        if src:
            form["sender"] = src
        config = job.payload.get("config") or {}
        template = config.get("dlt_template_id") or config.get("template_id")
        if template:
            form["template_id"] = str(template)
        if settings.entity_id:
            form["entity_id"] = settings.entity_id
        if settings.callback_url:
            form["callback"] = json.dumps({"url": settings.callback_url, "method": "POST"})
        return HttpRequest(
            "POST",
            f"{settings.base_url.rstrip('/')}/v1/{quote(settings.sid, safe='')}/messages",
            data=form,
            headers={"api-key": settings.api_key.get_secret_value()},
        )

    def classify_error(self, response: HttpResponse) -> FusionError | None:
        if response.status == 429 or response.status >= 500:
            return None  # the default: transient, with Retry-After
        try:
            return self._error(response, response.json(), None)
        except FusionError:
            return None

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        data = response.json()
        items = data.get("data") if isinstance(data, dict) else None
        first = items[0] if isinstance(items, list) and items else {}
        message_id = (first.get("message_id") if isinstance(first, dict) else None) or (
            data.get("id") if isinstance(data, dict) else None
        )
        error = self._error(response, data, message_id)
        if error is not None:
            raise error
        if not message_id:
            raise self.http_error(response, PermanentError, "no message id in the response")
        return SendResult(
            provider=self.name,
            message_id=str(message_id),
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
        )

    def _error(self, response: HttpResponse, data: Any, message_id: Any) -> FusionError | None:
        """The error an answer reports: an ``error`` member, or a ``code`` without an id."""
        if not isinstance(data, dict) or not (
            data.get("error") or (data.get("code") and not message_id)
        ):
            return None
        detail: Any = data.get("message") or data.get("error")
        return self.code_error(
            data.get("code") or "error",
            f"{response.endpoint}: {detail if isinstance(detail, str) else json.dumps(detail)}",
            status=response.status,
            body=response.text,
        )
