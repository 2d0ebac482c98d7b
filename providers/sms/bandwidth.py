"""Bandwidth (US) adapter: Messaging API v2 ``POST /api/v2/users/{accountId}/messages``."""

from __future__ import annotations

from typing import Any

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import FusionError, PermanentError, TransientError, excerpt
from providers.http import HttpProvider, HttpRequest, HttpResponse
from providers.sms._common import phone, text


class BandwidthSettings(pydantic.BaseModel):
    """Messaging credentials of the Bandwidth account."""

    model_config = pydantic.ConfigDict(frozen=True)

    #: Bandwidth account id (part of the URL)
    account_id: str
    #: API token (Basic auth user)
    username: str
    #: API secret (Basic auth password)
    password: pydantic.SecretStr
    #: messaging Application id the ``from`` number belongs to
    application_id: str
    #: Bandwidth number messages come from, E.164 (``+14155550100``)
    from_number: str
    #: API host
    base_url: str = "https://messaging.bandwidth.com"


class Bandwidth(HttpProvider[BandwidthSettings]):
    """Sends one SMS through Bandwidth's Messaging API v2.

    API: https://dev.bandwidth.com/apis/messaging/ — ``POST {base_url}/api/v2/users/
    {account_id}/messages`` JSON ``{applicationId, to: [E.164], from, text, tag}``, HTTP Basic
    (API token:secret); success 202 ``{id, owner, applicationId, time, segmentCount,
    direction, to, from, text, tag}``, id ``id``. ``tag`` carries the job id, so delivery
    callbacks (``message-delivered``/``message-failed``) can be matched to the job; it holds
    no personal data, as Bandwidth asks. Errors are ``{type, description, fieldErrors}``.
    Text is at most 2048 characters (Bandwidth docs). The sender is always ``from_number``:
    an event's ``senderId`` is not a Bandwidth number.
    Not confirmed (⚠): ``priority``/``expiration`` (not sent), the error ``type`` values (so
    errors are classified by HTTP status: 429/5xx transient, other 4xx permanent), a
    documented send rate.
    """

    name = "bandwidth"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = BandwidthSettings
    max_body_length = 2048
    supports_unicode = True
    #: the send call has no provider codes of its own: HTTP statuses decide (see above)
    error_codes = {}

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        body: dict[str, Any] = {
            "applicationId": settings.application_id,
            "to": [phone(job).e164],
            "from": settings.from_number,
            "text": text(job, max_length=self.max_body_length),
            "tag": job.job_id,
        }
        url = f"{settings.base_url.rstrip('/')}/api/v2/users/{settings.account_id}/messages"
        auth = (settings.username, settings.password.get_secret_value())
        return HttpRequest("POST", url, json=body, auth=auth)

    def classify_error(self, response: HttpResponse) -> FusionError | None:
        # keep the default classes, but say what Bandwidth said (type: description)
        try:
            body = response.json()
        except FusionError:
            return None
        if not isinstance(body, dict) or not body.get("description"):
            return None
        kind = (
            TransientError if response.status == 429 or response.status >= 500 else PermanentError
        )
        reason = f"HTTP {response.status} {body.get('type') or ''}: {body['description']}"
        return self.http_error(response, kind, reason)

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        body = response.json()
        if not isinstance(body, dict) or not body.get("id"):
            raise self.http_error(response, message="no message id in the answer")
        return SendResult(
            provider=self.name,
            message_id=str(body["id"]),
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
            details={"segments": body.get("segmentCount"), "tag": body.get("tag")},
        )
