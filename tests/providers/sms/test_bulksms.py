"""BulkSMS adapter (``providers/sms/bulksms.py``) against a recording loopback server."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import PermanentError, TransientError
from providers.sms.bulksms import BulkSms


def message(status_id: str = "ACCEPTED.null", subtype: str | None = None) -> dict[str, Any]:
    """One message object of the 201 answer, as the BulkSMS OpenAPI document describes it."""
    status_type = status_id.split(".")[0]
    return {
        "id": "1386447437",
        "type": "SENT",
        "from": "CLINIC",
        "to": "+27821234567",
        "body": "Your code is 482913",
        "encoding": "TEXT",
        "protocolId": 0,
        "messageClass": 2,
        "submission": {"id": "2-00000000002286548014", "date": "2024-05-02T10:15:00Z"},
        "status": {"id": status_id, "type": status_type, "subtype": subtype},
        "relatedSentMessageId": None,
        "userSuppliedId": None,
        "numberOfParts": None,
        "creditCost": None,
    }


def problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {
        "type": "https://developer.bulksms.com/json/v1/errors#" + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
    }


def sms_job(channel: str = "sms", **payload: Any) -> Job:
    base = {"contact": "0821234567", "countryCode": "27", "message": "Your code is 482913"}
    return Job(job_id="job-1", channel=channel, payload={**base, **payload})


class CONTRACT:
    """Drives this adapter through the shared suite in tests/providers/test_contract.py."""

    provider = BulkSms
    reply = {"status": 201, "json_body": [message()]}
    message_id = "1386447437"

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return {"username": "clinic", "password": "s3cret-pass", "base_url": base_url}


@pytest.fixture
def provider(context, provider_config, server) -> BulkSms:
    provider_config["bulksms"] = CONTRACT.config(server.url)
    return BulkSms(context)


@pytest.mark.parametrize("channel", ["sms", "sms.otp"])
async def test_request_is_the_documented_one(provider, server, channel) -> None:
    server.reply(status=201, json_body=[message()])
    result = await provider.send(sms_job(channel))
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/v1/messages")
    assert dict(request.query) == {"auto-unicode": "true"}
    basic = base64.b64encode(b"clinic:s3cret-pass").decode()
    assert request.headers["Authorization"] == f"Basic {basic}"
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.json() == {
        "to": "+27821234567",
        "body": "Your code is 482913",
        "longMessageMaxParts": 1,
    }
    assert result.message_id == "1386447437"
    assert result.details["submission"]["id"] == "2-00000000002286548014"


async def test_sender_and_long_text(provider, server, provider_config) -> None:
    provider_config["bulksms"] = {**provider_config["bulksms"], "sender_id": "CLINIC"}
    server.reply(status=201, json_body=[message()])
    await provider.send(sms_job(message="x" * 200))
    body = server.requests[0].json()
    assert (body["from"], body["longMessageMaxParts"]) == ("CLINIC", 2)
    await provider.send(sms_job(senderId="+27821111111"))
    assert server.requests[1].json()["from"] == "+27821111111"


@pytest.mark.parametrize(
    "status_id",
    ["FAILED.BLOCKED", "FAILED.NOT_SENT", "FAILED.EXPIRED", "FAILED.HANDSET_ERROR"],
)
async def test_failed_message_in_a_201_is_permanent(provider, server, status_id) -> None:
    server.reply(status=201, json_body=[message(status_id, status_id.split(".")[1])])
    with pytest.raises(PermanentError, match=status_id) as info:
        await provider.send(sms_job())
    assert not isinstance(info.value, TransientError)


@pytest.mark.parametrize(
    ("status", "title", "kind"),
    [
        (400, "Bad Request", PermanentError),
        (401, "Authentication Failed", PermanentError),
        (403, "Insufficient Credits", PermanentError),
        (429, "Too Many Requests", TransientError),
        (500, "Internal Server Error", TransientError),
    ],
)
async def test_problem_answers_are_typed(provider, server, status, title, kind) -> None:
    body = problem(status, title, "see detail")
    server.reply(
        status=status, json_body=body, headers={"Content-Type": "application/problem+json"}
    )
    with pytest.raises(kind) as info:
        await provider.send(sms_job())
    assert kind is TransientError or not isinstance(info.value, TransientError)
    assert f"status={status}" in str(info.value) and title in str(info.value)


async def test_answer_without_id_is_permanent(provider, server) -> None:
    server.reply(status=201, json_body=[])
    with pytest.raises(PermanentError, match="no message id"):
        await provider.send(sms_job())
