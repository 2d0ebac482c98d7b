"""Kaleyra adapter (``providers/sms/kaleyra.py``) against the recording loopback server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import PermanentError, TransientError
from providers.sms.kaleyra import Kaleyra

SID = "HXIN1700000000IN"
# the answer's shape is not confirmed in a primary source (see the adapter's docstring)
ACCEPTED = {
    "id": "c4b54e4e-3a9f-4b7c-9d55-6a5b5b0f8b1d",
    "sender": "CLINIC",
    "type": "OTP",
    "body": "Your OTP is 123456",
    "totalCount": 1,
    "data": [{"message_id": "c4b54e4e-3a9f-4b7c-9d55-6a5b5b0f8b1d:1", "recipient": "919876543210"}],
    "createdDateTime": "2024-06-06 09:22:14+00:00",
}


def sms_job(channel: str = "sms.otp", **payload: Any) -> Job:
    base = {"contact": "9876543210", "countryCode": "91", "message": "Your OTP is 123456"}
    return Job(job_id="job-1", channel=channel, payload={**base, **payload})


class CONTRACT:
    provider = Kaleyra
    reply = {"status": 202, "json_body": ACCEPTED}
    message_id = "c4b54e4e-3a9f-4b7c-9d55-6a5b5b0f8b1d:1"

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return {"sid": SID, "api_key": "Afakekey", "base_url": base_url, "sender": "CLINIC"}


@pytest.fixture
def kaleyra(context, provider_config, server) -> Kaleyra:
    provider_config["kaleyra"] = CONTRACT.config(server.url)
    return Kaleyra(context)


async def test_request_is_the_messages_call(kaleyra, server) -> None:
    server.reply(**CONTRACT.reply)
    job = sms_job()
    job.payload["config"] = {"dlt_template_id": "1107000000000002"}
    result = await kaleyra.send(job)
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", f"/v1/{SID}/messages")
    assert request.headers["api-key"] == "Afakekey"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert dict(request.form()) == {
        "to": "+919876543210",
        "type": "OTP",
        "body": "Your OTP is 123456",
        "sender": "CLINIC",
        "template_id": "1107000000000002",
    }
    assert result.message_id == CONTRACT.message_id


async def test_ordinary_sms_uses_the_configured_route(kaleyra, server, provider_config) -> None:
    provider_config["kaleyra"] |= {
        "sms_type": "MKT",
        "entity_id": "1101000000000001",
        "callback_url": "https://x/dlr",
    }
    server.reply(**CONTRACT.reply)
    await kaleyra.send(sms_job("sms", senderId="HOSPTL"))
    form = dict(server.requests[0].form())
    assert (form["type"], form["sender"], form["entity_id"]) == (
        "MKT",
        "HOSPTL",
        "1101000000000001",
    )
    assert json.loads(form["callback"]) == {"url": "https://x/dlr", "method": "POST"}


async def test_top_level_id_when_there_is_no_data(kaleyra, server) -> None:
    server.reply(json_body={"id": "batch-9", "totalCount": 1})
    assert (await kaleyra.send(sms_job())).message_id == "batch-9"


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (
            200,
            {"code": "NO-CREDITS", "message": "Insufficient credits", "data": []},
            PermanentError,
        ),
        (200, {"code": "BLACKLIST", "message": "Number blacklisted", "error": {}}, PermanentError),
        (200, {"code": "CON-DND", "message": "DND number"}, PermanentError),
        (400, {"code": "NOTALLOWED", "message": "Country not enabled"}, PermanentError),
        # codes outside error_codes (illustrative: Kaleyra's API codes are not confirmed)
        (
            400,
            {"code": "E413", "message": "Invalid sender", "error": {"sender": "x"}},
            PermanentError,
        ),
        (401, {"code": "E001", "message": "Invalid API key"}, PermanentError),
        (200, {"totalCount": 0, "data": []}, PermanentError),
        (429, {"message": "Too many requests"}, TransientError),
        (502, {"message": "Bad gateway"}, TransientError),
    ],
)
async def test_error_answers(kaleyra, server, status, body, kind) -> None:
    server.reply(status=status, json_body=body)
    with pytest.raises(kind) as info:
        await kaleyra.send(sms_job())
    assert type(info.value) is kind and f"status={status}" in str(info.value)
    if body.get("code"):
        assert f"code {body['code']}" in str(info.value)
