"""Infobip SMS adapter: ``POST {base_url}/sms/2/text/advanced`` with ``Authorization: App``."""

from __future__ import annotations

from typing import Any

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import PermanentError, excerpt
from providers.http import HttpProvider, HttpRequest, HttpResponse
from providers.sms._common import phone, sender, text


class InfobipSettings(pydantic.BaseModel):
    """Credentials of one Infobip account."""

    model_config = pydantic.ConfigDict(frozen=True)

    api_key: pydantic.SecretStr
    #: the account's own API base, ``https://<subdomain>.api.infobip.com`` (portal, API page)
    base_url: str
    #: default ``from`` when the event names no senderId (else the account default)
    sender: str | None = None
    #: delivery report URL (``notifyUrl``)
    notify_url: str | None = None
    #: India DLT principal entity id (``regional.indiaDlt.principalEntityId``)
    dlt_entity_id: str | None = None


class Infobip(HttpProvider[InfobipSettings]):
    """Infobip fully featured text message API (SMS).

    API: https://dev-old.infobip.com/send-sms/fully-featured-text-message (request fields),
    https://dev.infobip.com/send-sms/sms-api-response (answer), the Infobip SDK example of
    ``regional.indiaDlt``, wp-sms ``InfobipProvider.php`` (status groups, ``requestError`` bodies).
    The newer ``/sms/3/messages`` exists (infobip.com/docs/sms/sms-over-api) but is not used. Not
    confirmed: a body length limit, and whether a send answer ever carries group 4 (EXPIRED).
    """

    name = "infobip"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = InfobipSettings
    max_body_length = None  # not documented in the catalog; Infobip concatenates
    supports_unicode = True
    rate_per_second = None  # per-account
    # status group names of the answer and of delivery reports
    error_codes = {
        "UNDELIVERABLE": "permanent",  # group 2
        "EXPIRED": "transient",  # group 4: may be sent again
        "REJECTED": "permanent",  # group 5: opt-out, blacklist, no credit, bad sender
    }

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        message: dict[str, Any] = {
            "destinations": [{"to": phone(job).intl_digits}],
            "text": text(job),
        }
        src = sender(job, settings.sender)
        if src:
            message["from"] = src
        if settings.notify_url:
            message.update(notifyUrl=settings.notify_url, notifyContentType="application/json")
            message["callbackData"] = job.job_id
        dlt_template = (job.payload.get("config") or {}).get("dlt_template_id")
        if settings.dlt_entity_id and dlt_template:
            message["regional"] = {
                "indiaDlt": {
                    "principalEntityId": settings.dlt_entity_id,
                    "contentTemplateId": str(dlt_template),
                }
            }
        return HttpRequest(
            "POST",
            f"{settings.base_url.rstrip('/')}/sms/2/text/advanced",
            json={"messages": [message]},
            headers={
                "Authorization": f"App {settings.api_key.get_secret_value()}",
                "Accept": "application/json",
            },
        )

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        data = response.json()
        messages = data.get("messages") if isinstance(data, dict) else None
        first = messages[0] if isinstance(messages, list) and messages else None
        if not isinstance(first, dict) or not first.get("messageId"):
            raise self.http_error(response, PermanentError, "no messageId in the response")
        status: dict[str, Any] = first["status"] if isinstance(first.get("status"), dict) else {}
        group = str(status.get("groupName") or "")
        if group in self.error_codes:
            raise self.code_error(
                group,
                f"{response.endpoint}: message {status.get('name')}: {status.get('description')}",
                status=response.status,
                body=response.text,
            )
        return SendResult(
            provider=self.name,
            message_id=str(first["messageId"]),
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
            details={"status": status.get("name")},
        )
