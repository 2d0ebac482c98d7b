"""2Factor.in adapter (``providers/sms/two_factor.py``) against the recording loopback server."""

from __future__ import annotations

from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import ConfigurationError, PermanentError, RejectedError, TransientError
from providers.sms.two_factor import TwoFactor

MESSAGE_ID = "7c4e1a2b-23d1-11ef-8b60-0200cd936042"


def sms_job(**payload: Any) -> Job:
    base = {"contact": "9876543210", "countryCode": "91", "message": "Your OTP is 123456"}
    return Job(job_id="job-1", channel="sms.otp", payload={**base, **payload})


class CONTRACT:
    provider = TwoFactor
    reply = {"status": 200, "json_body": {"Status": "Success", "Details": MESSAGE_ID}}
    message_id = MESSAGE_ID

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return {"api_key": "fake-key", "base_url": base_url, "sender": "CLINIC"}


@pytest.fixture
def two_factor(context, provider_config, server) -> TwoFactor:
    provider_config["2factor"] = CONTRACT.config(server.url)
    return TwoFactor(context)


async def test_request_is_the_trans_sms_call(two_factor, server) -> None:
    server.reply(**CONTRACT.reply)
    result = await two_factor.send(sms_job())
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/API/R1/")
    assert dict(request.form()) == {
        "module": "TRANS_SMS",
        "apikey": "fake-key",
        "to": "9876543210",  # 10-digit Indian number
        "from": "CLINIC",
        "msg": "Your OTP is 123456",
    }
    assert result.message_id == MESSAGE_ID


async def test_dlt_ids_and_event_sender(two_factor, server, provider_config) -> None:
    provider_config["2factor"] |= {"dlt_entity_id": "1101000000000001"}
    server.reply(**CONTRACT.reply)
    job = sms_job(senderId="HOSPTL")
    job.payload["config"] = {"dlt_template_id": "1107000000000002"}
    await two_factor.send(job)
    form = dict(server.requests[0].form())
    assert (form["from"], form["peid"], form["ctid"]) == (
        "HOSPTL",
        "1101000000000001",
        "1107000000000002",
    )


async def test_non_indian_number_is_rejected(two_factor, server) -> None:
    with pytest.raises(RejectedError, match="Indian"):
        await two_factor.send(sms_job(contact="+14155552671", countryCode=""))
    assert server.requests == []


async def test_missing_header_is_a_configuration_error(two_factor, server, provider_config) -> None:
    del provider_config["2factor"]["sender"]
    with pytest.raises(ConfigurationError, match="sender"):
        await two_factor.send(sms_job())


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (200, {"Status": "Error", "Details": "Invalid API Key"}, PermanentError),
        (200, {"Status": "Error", "Details": "Invalid Phone Number"}, PermanentError),
        (200, {"Status": "Error", "Details": "Missing templatename value"}, PermanentError),
        (200, {"Status": "Error", "Details": "Incorrect sender id"}, PermanentError),
        (200, {"Status": "Success"}, PermanentError),
        (400, {"Status": "Error", "Details": "Bad request"}, PermanentError),
        (429, {"Status": "Error", "Details": "Too many requests"}, TransientError),
        (503, {"Status": "Error", "Details": "Service unavailable"}, TransientError),
    ],
)
async def test_error_answers(two_factor, server, status, body, kind) -> None:
    server.reply(status=status, json_body=body)
    with pytest.raises(kind) as info:
        await two_factor.send(sms_job())
    assert type(info.value) is kind and f"status={status}" in str(info.value)
    assert "provider=2factor" in str(info.value)
