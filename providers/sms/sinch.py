"""Sinch SMS adapter: ``POST {base_url}/xms/v1/{service_plan_id}/batches`` with a Bearer token."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import PermanentError, excerpt
from providers.http import HttpProvider, HttpRequest, HttpResponse
from providers.sms._common import phone, sender, text


class SinchSettings(pydantic.BaseModel):
    """Credentials of one Sinch service plan."""

    model_config = pydantic.ConfigDict(frozen=True)

    service_plan_id: str
    api_token: pydantic.SecretStr
    #: regional host of the plan: ``https://{us,eu,au,br,ca}.sms.api.sinch.com``
    base_url: str = "https://us.sms.api.sinch.com"
    #: default ``from``; without it the plan's Automatic Default Originator is used
    sender: str | None = None
    #: delivery report callback; when set, reports are asked per recipient
    callback_url: str | None = None


class Sinch(HttpProvider[SinchSettings]):
    """Sinch SMS REST API (xms batches).

    API: https://developers.sinch.com/docs/sms/api-reference/sms/overview (batches),
    https://developers.sinch.com/docs/sms/api-reference/status-codes (201 answer; 400/403 bodies
    ``{"code", "text"}`` with the codes below, per the Sinch SMS REST docs' "HTTP Errors" page).
    Confirmed: every request and answer field used here, ``flash_message`` (Sinch SDKs). Not
    confirmed: the 2000-character body limit (older docs say 1600).
    """

    name = "sinch"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = SinchSettings
    max_body_length = 2000
    supports_unicode = True
    rate_per_second = None  # batches are queued at the account's rate limit (FIFO)
    error_codes = {
        "syntax_invalid_json": "permanent",
        "syntax_invalid_parameter_format": "permanent",
        "syntax_constraint_violation": "permanent",
        "unknown_group": "permanent",
        "unknown_campaign": "permanent",
        "missing_callback_url": "permanent",
    }

    error_body_fields = ("code", "text")

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        body: dict[str, Any] = {
            "to": [phone(job).e164],
            "body": text(job, max_length=self.max_body_length),
            "type": "mt_text",
            "client_reference": job.job_id,  # comes back in delivery reports
        }
        src = sender(job, settings.sender)
        if src:
            body["from"] = src
        if settings.callback_url:
            body.update(delivery_report="per_recipient", callback_url=settings.callback_url)
        plan = quote(settings.service_plan_id, safe="")
        return HttpRequest(
            "POST",
            f"{settings.base_url.rstrip('/')}/xms/v1/{plan}/batches",
            json=body,
            headers={"Authorization": f"Bearer {settings.api_token.get_secret_value()}"},
        )

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        data = response.json()
        batch_id = data.get("id") if isinstance(data, dict) else None
        if not batch_id:
            raise self.http_error(response, PermanentError, "no batch id in the response")
        return SendResult(
            provider=self.name,
            message_id=str(batch_id),
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
        )
