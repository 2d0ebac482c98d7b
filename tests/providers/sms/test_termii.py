"""Termii adapter (``providers/sms/termii.py``) against a recording loopback server."""

from __future__ import annotations

from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import PermanentError, RejectedError, TransientError
from providers.sms.termii import Termii

#: a success answer as Termii documents it
SENT = {
    "code": "ok",
    "message_id": "9122821270554876574",
    "message": "Successfully Sent",
    "balance": 9,
    "user": "Peter Mcleish",
}


def sms_job(channel: str = "sms", **payload: Any) -> Job:
    base = {"contact": "08031234567", "countryCode": "234", "message": "Your code is 482913"}
    return Job(job_id="job-1", channel=channel, payload={**base, **payload})


class CONTRACT:
    """Drives this adapter through the shared suite in tests/providers/test_contract.py."""

    provider = Termii
    reply = {"status": 200, "json_body": SENT}
    message_id = "9122821270554876574"

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return {"api_key": "TLtestkey123", "sender_id": "Clinic", "base_url": base_url}


@pytest.fixture
def termii(context, provider_config, server) -> Termii:
    provider_config["termii"] = CONTRACT.config(server.url)
    return Termii(context)


@pytest.mark.parametrize("channel", ["sms", "sms.otp"])
async def test_request_is_the_documented_one(termii, server, channel) -> None:
    server.reply(json_body=SENT)
    result = await termii.send(sms_job(channel))
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/api/sms/send")
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.json() == {
        "api_key": "TLtestkey123",
        "to": "2348031234567",
        "from": "Clinic",
        "sms": "Your code is 482913",
        "type": "plain",
        "channel": "generic",
    }
    assert result.message_id == "9122821270554876574"
    assert result.details["balance"] == 9


async def test_event_sender_and_dnd_channel(termii, server, provider_config) -> None:
    provider_config["termii"] = {**provider_config["termii"], "channel": "dnd"}
    server.reply(json_body=SENT)
    await termii.send(sms_job(senderId="N-Alert"))
    body = server.requests[0].json()
    assert (body["from"], body["channel"]) == ("N-Alert", "dnd")


async def test_numeric_message_id_becomes_text(termii, server) -> None:
    server.reply(json_body={**SENT, "message_id": 3017022553355})
    assert (await termii.send(sms_job())).message_id == "3017022553355"


@pytest.mark.parametrize(
    ("answer", "kind", "fragment"),
    [
        # a 200 that is not "ok": refused, whatever it says
        (
            {"status": 200, "json_body": {"code": "error", "message": "Sender ID not found"}},
            PermanentError,
            "Sender ID not found",
        ),
        (
            {"status": 200, "json_body": {"message": "Insufficient balance"}},
            PermanentError,
            "Insufficient balance",
        ),
        (
            {"status": 400, "json_body": {"message": "Invalid sender id"}},
            PermanentError,
            "Invalid sender id",
        ),
        (
            {"status": 401, "json_body": {"message": "Unauthorized: invalid api_key"}},
            PermanentError,
            "invalid api_key",
        ),
        (
            {"status": 503, "json_body": {"message": "Service Unavailable"}},
            TransientError,
            "Service Unavailable",
        ),
    ],
)
async def test_refusals_are_typed(termii, server, answer, kind, fragment) -> None:
    server.reply(**answer)
    with pytest.raises(kind) as info:
        await termii.send(sms_job())
    assert kind is TransientError or not isinstance(info.value, TransientError)
    assert fragment in str(info.value)


async def test_invalid_number_is_rejected_before_sending(termii, server) -> None:
    with pytest.raises(RejectedError):
        await termii.send(sms_job(contact="12", countryCode="234"))
    assert server.requests == []


async def test_api_key_never_in_the_error_line(termii, server) -> None:
    server.reply(status=500, body="upstream down")
    with pytest.raises(TransientError) as info:
        await termii.send(sms_job())
    assert "TLtestkey123" not in info.value.one_line()
