"""SMSGlobal adapter: REST API v2 ``POST /v2/sms`` signed with the ``Authorization: MAC`` scheme."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import excerpt
from providers.base import ProviderContext
from providers.http import HttpProvider, HttpRequest, HttpResponse
from providers.sms._common import phone, sender, text

SMS_PATH = "/v2/sms"


class SmsGlobalSettings(pydantic.BaseModel):
    """REST API credentials of the SMSGlobal account."""

    model_config = pydantic.ConfigDict(frozen=True)

    #: REST API key (the ``id`` of the MAC header)
    api_key: str
    #: REST API secret (HMAC-SHA256 key; never sent)
    api_secret: pydantic.SecretStr
    #: sender id or number (``origin``) when an event carries no ``senderId``; optional
    sender_id: str | None = None
    #: API host; its host name and port are part of the signed string
    base_url: str = "https://api.smsglobal.com"


def mac_header(key: str, secret: str, method: str, url: str, ts: int, nonce: str) -> str:
    """The MAC Authorization value: HMAC-SHA256 over ts, nonce, method, URI, host, port, ''.

    As the official PHP SDK signs it (``Credentials::hashRequest``): each field followed by a
    newline, the last one empty, host and port those of the URL called.
    """
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    uri = parts.path + (f"?{parts.query}" if parts.query else "")
    signed = f"{ts}\n{nonce}\n{method}\n{uri}\n{parts.hostname}\n{port}\n\n"
    digest = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()
    mac = base64.b64encode(digest).decode()
    return f'MAC id="{key}", ts="{ts}", nonce="{nonce}", mac="{mac}"'


class SmsGlobal(HttpProvider[SmsGlobalSettings]):
    """Sends one SMS through SMSGlobal's REST API v2.

    API: https://www.smsglobal.com/rest-api/ — ``POST {base_url}/v2/sms`` JSON ``{destination
    (intl digits), message, origin}`` with ``Authorization: MAC id="…", ts="…", nonce="…",
    mac="…"`` (a fresh ts and nonce per call, so a retry is never refused for clock skew);
    success ``{"messages": [{"id", "outgoing_id", "status", ...}]}``, id ``messages[0].id``
    (official smsglobal-php SDK and its tests). The SDK signs ``/v2/sms`` without the
    catalog's trailing slash; 402 = no credit, 403 = bad MAC (both permanent).
    Not confirmed (⚠): the message ``status`` values that mean refused (``failed``,
    ``rejected``, ``undelivered`` are assumed), optional ``scheduledDateTime``/``notifyUrl``,
    the error body, a body length limit and a documented send rate.
    """

    name = "smsglobal"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = SmsGlobalSettings
    supports_unicode = True
    #: message ``status`` values of a 200 that mean the message will not go out (⚠ assumed)
    error_codes = {"failed": "permanent", "rejected": "permanent", "undelivered": "permanent"}

    def __init__(
        self,
        context: ProviderContext,
        *,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: secrets.token_hex(16),
    ) -> None:
        super().__init__(context)
        self._clock = clock
        self._nonce = nonce

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        body: dict[str, Any] = {
            "destination": phone(job).intl_digits,
            "message": text(job, max_length=self.max_body_length),
        }
        origin = sender(job, settings.sender_id)
        if origin:
            body["origin"] = origin
        url = settings.base_url.rstrip("/") + SMS_PATH
        auth = mac_header(
            settings.api_key,
            settings.api_secret.get_secret_value(),
            "POST",
            url,
            int(self._clock()),
            self._nonce(),
        )
        return HttpRequest("POST", url, json=body, headers={"Authorization": auth})

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        body = response.json()
        messages = body.get("messages") if isinstance(body, dict) else None
        message = messages[0] if isinstance(messages, list) and messages else None
        if not isinstance(message, dict) or message.get("id") in (None, ""):
            raise self.http_error(response, message="no message id in the answer")
        status = str(message.get("status") or "").lower()
        if status in self.error_codes:
            raise self.code_error(
                status, "message refused", status=response.status, body=response.text
            )
        return SendResult(
            provider=self.name,
            message_id=str(message["id"]),
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
            details={"outgoing_id": message.get("outgoing_id"), "status": status or None},
        )
