"""Textmagic adapter (``providers/sms/textmagic.py``) against a recording loopback server."""

from __future__ import annotations

from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import PermanentError, RejectedError, TransientError
from providers.sms.textmagic import Textmagic

#: a 201 answer with the fields of the official SDK's SendMessageResponse
SENT = {
    "id": 49576009,
    "href": "/api/v2/messages/49576009",
    "type": "message",
    "sessionId": 34436600,
    "bulkId": None,
    "messageId": 49576009,
    "scheduleId": None,
    "chatId": 7201,
}


def sms_job(channel: str = "sms", **payload: Any) -> Job:
    base = {"contact": "4155552671", "countryCode": "1", "message": "Your code is 482913"}
    return Job(job_id="job-1", channel=channel, payload={**base, **payload})


class CONTRACT:
    """Drives this adapter through the shared suite in tests/providers/test_contract.py."""

    provider = Textmagic
    reply = {"status": 201, "json_body": SENT}
    message_id = "49576009"

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return {"username": "clinicus", "api_key": "tmkey123", "base_url": base_url}


@pytest.fixture
def provider(context, provider_config, server) -> Textmagic:
    provider_config["textmagic"] = CONTRACT.config(server.url)
    return Textmagic(context)


@pytest.mark.parametrize("channel", ["sms", "sms.otp"])
async def test_request_is_the_documented_one(provider, server, channel) -> None:
    server.reply(status=201, json_body=SENT)
    result = await provider.send(sms_job(channel))
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/api/v2/messages")
    assert request.headers["X-TM-Username"] == "clinicus"
    assert request.headers["X-TM-Key"] == "tmkey123"
    assert "Authorization" not in request.headers
    assert request.json() == {"text": "Your code is 482913", "phones": "14155552671"}
    assert (result.message_id, result.status) == ("49576009", 201)
    assert result.details == {"session_id": 34436600, "type": "message"}


async def test_sender(provider, server, provider_config) -> None:
    provider_config["textmagic"] = {**provider_config["textmagic"], "sender_id": "+14155550100"}
    server.reply(status=201, json_body=SENT)
    await provider.send(sms_job())
    assert server.requests[0].json()["from"] == "+14155550100"


async def test_id_falls_back_to_id(provider, server) -> None:
    server.reply(status=201, json_body={**SENT, "messageId": None, "id": 49576010})
    assert (await provider.send(sms_job())).message_id == "49576010"


@pytest.mark.parametrize(
    ("status", "code", "message", "kind"),
    [
        (400, 400, "Validation Failed", PermanentError),
        (401, 401, "Unauthorized", PermanentError),
        (403, 403, "Sender ID is not allowed", PermanentError),
        (404, 404, "Not found", PermanentError),
        (429, 429, "Too Many Requests", TransientError),
        (500, 500, "Internal Server Error", TransientError),
        (503, None, None, TransientError),
    ],
)
async def test_error_bodies_are_typed(provider, server, status, code, message, kind) -> None:
    body = {"code": code, "message": message, "errors": {"fields": {"phones": ["invalid"]}}}
    server.reply(status=status, json_body=body, headers={"Retry-After": "3"})
    with pytest.raises(kind) as info:
        await provider.send(sms_job())
    assert kind is TransientError or not isinstance(info.value, TransientError)
    assert f"status={status}" in str(info.value)
    if message:
        assert message in str(info.value)
    if kind is TransientError:
        assert info.value.retry_after == 3


async def test_text_over_six_parts_is_rejected(provider, server) -> None:
    with pytest.raises(RejectedError, match="918"):
        await provider.send(sms_job(message="x" * 919))
    assert server.requests == []
