"""Gupshup adapter (``providers/sms/gupshup.py``) against the recording loopback server."""

from __future__ import annotations

from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import PermanentError, TransientError
from providers.sms.gupshup import Gupshup

MESSAGE_ID = "3850812384785632185-461232348726359423"
SUCCESS = {
    "response": {
        "id": MESSAGE_ID,
        "phone": "919876543210",
        "details": "",
        "status": "success",
    }
}


def sms_job(**payload: Any) -> Job:
    base = {"contact": "9876543210", "countryCode": "91", "message": "Your visit is at 10:00"}
    return Job(job_id="job-1", channel="sms", payload={**base, **payload})


class CONTRACT:
    provider = Gupshup
    reply = {"status": 200, "json_body": SUCCESS}
    message_id = MESSAGE_ID

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return {"userid": "2000123456", "password": "fake-pass", "base_url": base_url}


@pytest.fixture
def gupshup(context, provider_config, server) -> Gupshup:
    provider_config["gupshup"] = CONTRACT.config(server.url) | {
        "sender": "CLINIC",
        "dlt_entity_id": "1101000000000001",
    }
    return Gupshup(context)


async def test_request_is_the_send_message_call(gupshup, server) -> None:
    server.reply(**CONTRACT.reply)
    job = sms_job()
    job.payload["config"] = {"dlt_template_id": "1107000000000002"}
    result = await gupshup.send(job)
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/GatewayAPI/rest")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert dict(request.form()) == {
        "method": "SendMessage",
        "userid": "2000123456",
        "password": "fake-pass",
        "auth_scheme": "plain",
        "v": "1.1",
        "format": "json",
        "send_to": "919876543210",
        "msg": "Your visit is at 10:00",
        "msg_type": "text",
        "mask": "CLINIC",
        "dltTemplateId": "1107000000000002",
        "principalEntityId": "1101000000000001",
    }
    assert result.message_id == MESSAGE_ID


async def test_unicode_text_is_flagged(gupshup, server) -> None:
    server.reply(**CONTRACT.reply)
    await gupshup.send(sms_job(message="आपका अपॉइंटमेंट 10:00 बजे है", senderId="HOSPTL"))
    form = dict(server.requests[0].form())
    assert (form["msg_type"], form["mask"]) == ("unicode_text", "HOSPTL")


def error(code: str, details: str) -> dict[str, Any]:
    return {
        "response": {"id": "", "phone": "", "details": details, "status": "error", "code": code}
    }


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (200, error("175", "The INTERNATIONAL_PHONE service is disabled for you"), PermanentError),
        (200, error("1008", "The phone number is opted out"), PermanentError),
        (200, error("105", "Authentication failed"), PermanentError),  # not in error_codes
        (200, {"response": {"status": "success", "details": ""}}, PermanentError),
        (200, {"unexpected": True}, PermanentError),
        (401, {}, PermanentError),
        (429, {}, TransientError),
        (500, {}, TransientError),
    ],
)
async def test_error_answers(gupshup, server, status, body, kind) -> None:
    server.reply(status=status, json_body=body)
    with pytest.raises(kind) as info:
        await gupshup.send(sms_job())
    assert type(info.value) is kind and f"status={status}" in str(info.value)
    code = body.get("response", {}).get("code")
    if code:
        assert f"code {code}" in str(info.value)
