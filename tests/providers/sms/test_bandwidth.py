"""Bandwidth adapter (``providers/sms/bandwidth.py``) against a recording loopback server."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import PermanentError, RejectedError, TransientError
from providers.sms.bandwidth import Bandwidth

APP_ID = "93de2206-9669-4e07-948d-329f4b722ee2"

#: the documented 202 answer
ACCEPTED = {
    "id": "14762070468292kw2fuqty55yp2b2",
    "owner": "+14155550100",
    "applicationId": APP_ID,
    "time": "2024-05-02T18:20:16Z",
    "segmentCount": 1,
    "direction": "out",
    "to": ["+14155552671"],
    "from": "+14155550100",
    "text": "Your code is 482913",
    "tag": "job-1",
}


def sms_job(channel: str = "sms", **payload: Any) -> Job:
    base = {"contact": "4155552671", "countryCode": "1", "message": "Your code is 482913"}
    return Job(job_id="job-1", channel=channel, payload={**base, **payload})


class CONTRACT:
    """Drives this adapter through the shared suite in tests/providers/test_contract.py."""

    provider = Bandwidth
    reply = {"status": 202, "json_body": ACCEPTED}
    message_id = "14762070468292kw2fuqty55yp2b2"

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return {
            "account_id": "9900123",
            "username": "apiToken",
            "password": "apiSecret",
            "application_id": APP_ID,
            "from_number": "+14155550100",
            "base_url": base_url,
        }


@pytest.fixture
def provider(context, provider_config, server) -> Bandwidth:
    provider_config["bandwidth"] = CONTRACT.config(server.url)
    return Bandwidth(context)


@pytest.mark.parametrize("channel", ["sms", "sms.otp"])
async def test_request_is_the_documented_one(provider, server, channel) -> None:
    server.reply(status=202, json_body=ACCEPTED)
    result = await provider.send(sms_job(channel, senderId="CLINIC"))
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/api/v2/users/9900123/messages")
    basic = base64.b64encode(b"apiToken:apiSecret").decode()
    assert request.headers["Authorization"] == f"Basic {basic}"
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.json() == {
        "applicationId": APP_ID,
        "to": ["+14155552671"],
        "from": "+14155550100",  # never the event's alphanumeric senderId
        "text": "Your code is 482913",
        "tag": "job-1",
    }
    assert (result.message_id, result.status) == ("14762070468292kw2fuqty55yp2b2", 202)
    assert result.details == {"segments": 1, "tag": "job-1"}


@pytest.mark.parametrize(
    ("status", "error_type", "kind"),
    [
        (400, "request-validation", PermanentError),
        (401, "authentication-failed", PermanentError),
        (403, "forbidden", PermanentError),
        (429, "too-many-requests", TransientError),
        (500, "internal-server-error", TransientError),
    ],
)
async def test_error_bodies_are_typed(provider, server, status, error_type, kind) -> None:
    body = {
        "type": error_type,
        "description": "Your request could not be accepted",
        "fieldErrors": [{"fieldName": "to", "description": "'+1invalid' must be E164"}],
    }
    server.reply(status=status, json_body=body, headers={"Retry-After": "2"})
    with pytest.raises(kind) as info:
        await provider.send(sms_job())
    assert kind is TransientError or not isinstance(info.value, TransientError)
    line = str(info.value)
    assert f"status={status}" in line and error_type in line and "could not be accepted" in line
    if kind is TransientError:
        assert info.value.retry_after == 2


async def test_text_over_2048_characters_is_rejected(provider, server) -> None:
    with pytest.raises(RejectedError, match="2048"):
        await provider.send(sms_job(message="x" * 2049))
    assert server.requests == []


async def test_answer_without_id_is_permanent(provider, server) -> None:
    server.reply(status=202, json_body={"owner": "+14155550100"})
    with pytest.raises(PermanentError, match="no message id"):
        await provider.send(sms_job())
