"""MessageBird (Bird legacy REST) SMS adapter: ``POST {base_url}/messages`` with ``AccessKey``."""

from __future__ import annotations

from typing import Any

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import ConfigurationError, FusionError, PermanentError, excerpt
from providers.http import HttpProvider, HttpRequest, HttpResponse
from providers.sms._common import phone, sender, text


class MessageBirdSettings(pydantic.BaseModel):
    """Credentials of one MessageBird account."""

    model_config = pydantic.ConfigDict(frozen=True)

    access_key: pydantic.SecretStr
    base_url: str = "https://rest.messagebird.com"
    #: default ``originator`` (number with country code, or alphanumeric up to 11)
    sender: str | None = None
    #: status report URL (``reportUrl``); reports are matched on ``reference`` = job id
    report_url: str | None = None


class MessageBird(HttpProvider[MessageBirdSettings]):
    """MessageBird SMS Messaging API (legacy REST).

    API: legacy SMS REST (docs.bird.com troubleshooting pages), messagebird go-rest-api
    ``sms/message.go`` (request fields incl. ``datacoding``, ``reference``) and ``error.go``
    (``{"errors": [{"code", "description", "parameter"}]}``). Answer: 201 message object, id =
    ``id``. Not confirmed: the error code meanings (2, 9, 10, 20, 21, 25, 98, 99) come from the
    catalog and a third-party client, not the official docs; the 1377-character body limit (9 parts)
    comes from a third-party schema; accounts moved to Bird's Connectivity Platform use other APIs.
    """

    name = "messagebird"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = MessageBirdSettings
    max_body_length = 1377
    supports_unicode = True
    rate_per_second = None  # not documented in the catalog
    error_codes = {
        "2": "permanent",  # request not allowed (bad access key)
        "9": "permanent",  # missing parameters
        "10": "permanent",  # invalid parameters
        "20": "permanent",  # not found
        "21": "permanent",  # bad request
        "25": "permanent",  # not enough balance (until a top-up)
        "98": "permanent",  # API not found
        "99": "transient",  # internal error
    }

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        originator = sender(job, settings.sender)
        if not originator:
            raise ConfigurationError(
                f"provider {self.name!r}: no senderId on the event and no 'sender' configured"
            )
        body: dict[str, Any] = {
            "originator": originator,
            "recipients": [phone(job).intl_digits],
            "body": text(job, max_length=self.max_body_length),
            "reference": job.job_id,
            "datacoding": "auto",  # unicode only when the text needs it
        }
        if settings.report_url:
            body["reportUrl"] = settings.report_url
        return HttpRequest(
            "POST",
            f"{settings.base_url.rstrip('/')}/messages",
            json=body,
            headers={"Authorization": f"AccessKey {settings.access_key.get_secret_value()}"},
        )

    def classify_error(self, response: HttpResponse) -> FusionError | None:
        if response.status == 429 or response.status >= 500:
            return None  # the default: transient, with Retry-After
        try:
            return self._first_error(response, response.json())
        except FusionError:
            return None

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        data = response.json()
        error = self._first_error(response, data)
        if error is not None:
            raise error
        if not isinstance(data, dict) or not data.get("id"):
            raise self.http_error(response, PermanentError, "no message id in the response")
        return SendResult(
            provider=self.name,
            message_id=str(data["id"]),
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
        )

    def _first_error(self, response: HttpResponse, data: Any) -> FusionError | None:
        errors = data.get("errors") if isinstance(data, dict) else None
        first = errors[0] if isinstance(errors, list) and errors else None
        if not isinstance(first, dict) or first.get("code") is None:
            return None
        parameter = f" ({first['parameter']})" if first.get("parameter") else ""
        return self.code_error(
            first["code"],
            f"{response.endpoint}: {first.get('description') or 'error'}{parameter}",
            status=response.status,
            body=response.text,
        )
