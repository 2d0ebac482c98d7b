"""Routee adapter: OAuth2 client-credentials token, then ``POST /sms`` with a Bearer token."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import ConfigurationError, PermanentError, excerpt
from providers.base import ProviderContext
from providers.http import HttpProvider, HttpRequest, HttpResponse
from providers.sms._common import phone, sender, text

#: a token is renewed this many seconds before Routee says it expires
EXPIRY_MARGIN = 60.0


class RouteeSettings(pydantic.BaseModel):
    """Credentials of the Routee application."""

    model_config = pydantic.ConfigDict(frozen=True)

    #: application id (OAuth2 client id)
    application_id: str
    #: application secret (OAuth2 client secret)
    application_secret: pydantic.SecretStr
    #: sender id (``from``) when an event carries no ``senderId``
    sender_id: str
    #: API host of ``/sms``
    base_url: str = "https://connect.routee.net"
    #: host of the token endpoint ``/oauth/token``
    auth_url: str = "https://auth.routee.net"


class Routee(HttpProvider[RouteeSettings]):
    """Sends one SMS through Routee, with a cached OAuth2 access token.

    API: https://docs.routee.net/ — token ``POST {auth_url}/oauth/token`` form
    ``grant_type=client_credentials``, Basic ``application_id:application_secret`` →
    ``{access_token, expires_in}`` (cached until ``EXPIRY_MARGIN`` before it expires; a 401
    there is a ConfigurationError). Send ``POST {base_url}/sms`` JSON ``{body, to (E.164),
    from}`` with ``Authorization: Bearer``; id ``trackingId``. A 401 on the send drops the
    token and tries once more with a new one; a second 401 is permanent.
    Not confirmed (⚠): the success body beyond ``trackingId`` (``status`` ``Queued``;
    ``Failed``/``Undelivered`` are assumed to be refusals), optional ``callback``/``flash``/
    ``ttl``, the error body, a body length limit and a documented send rate.
    """

    name = "routee"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = RouteeSettings
    supports_unicode = True
    #: ``status`` of a 2xx send answer meaning the message will not go out (⚠ assumed)
    error_codes = {"Failed": "permanent", "Undelivered": "permanent"}

    def __init__(
        self, context: ProviderContext, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(context)
        self._clock = clock
        self._token: tuple[str, float] | None = None  # (access token, renew after)
        self._lock = asyncio.Lock()

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        body = {
            "body": text(job, max_length=self.max_body_length),
            "to": phone(job).e164,
            "from": sender(job, settings.sender_id),
        }
        return HttpRequest("POST", f"{settings.base_url.rstrip('/')}/sms", json=body)

    async def prepare(self, request: HttpRequest) -> HttpRequest:
        token = await self.access_token()
        headers = {**request.headers, "Authorization": f"Bearer {token}"}
        return dataclasses.replace(request, headers=headers)

    async def access_token(self) -> str:
        """The cached token, or a new one when there is none or it is about to expire."""
        async with self._lock:  # many sends in flight fetch one token, not one each
            if self._token is not None and self._clock() < self._token[1]:
                return self._token[0]
            settings = self.settings
            response = await self.fetch(
                HttpRequest(
                    "POST",
                    f"{settings.auth_url.rstrip('/')}/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(settings.application_id, settings.application_secret.get_secret_value()),
                )
            )
            if response.status == 401:
                raise ConfigurationError(
                    f"provider {self.name!r}: token request refused (HTTP 401): "
                    "check application_id / application_secret"
                )
            error = self.check_response(response)
            if error is not None:
                raise error
            body = response.json()
            token = body.get("access_token") if isinstance(body, dict) else None
            if not token:
                raise PermanentError(
                    "token answer has no access_token", provider=self.name, body=response.text
                )
            try:
                lifetime = float(body.get("expires_in") or 0)
            except (TypeError, ValueError):
                lifetime = 0.0  # unknown lifetime: use the token for this call only
            self._token = (str(token), self._clock() + max(lifetime - EXPIRY_MARGIN, 0.0))
            return self._token[0]

    async def send(self, job: Job) -> SendResult:
        response = await self.call(job)
        if response.status == 401:  # token revoked or expired early: renew once
            self._token = None
            response = await self.call(job)
        error = self.check_response(response)
        if error is not None:
            raise error
        return self.parse_response(job, response)

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        body = response.json()
        if not isinstance(body, dict) or not body.get("trackingId"):
            raise self.http_error(response, message="no trackingId in the answer")
        status = str(body.get("status") or "")
        if status in self.error_codes:
            raise self.code_error(
                status, "message refused", status=response.status, body=response.text
            )
        return SendResult(
            provider=self.name,
            message_id=str(body["trackingId"]),
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
            details={"status": status or None},
        )
