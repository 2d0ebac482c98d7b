"""ClickSend adapter (``providers/sms/clicksend.py``) against a recording loopback server."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import PermanentError, TransientError
from providers.sms.clicksend import ClickSend

MESSAGE_ID = "BF7AD270-0DE2-418B-B606-71D527D9C1AE"

#: a ``POST /v3/sms/send`` answer (developers.clicksend.com/docs/messaging/sms)
QUEUED = {
    "http_code": 200,
    "response_code": "SUCCESS",
    "response_msg": "Messages queued for delivery.",
    "data": {
        "total_price": 0.077,
        "total_count": 1,
        "queued_count": 1,
        "messages": [
            {
                "direction": "out",
                "date": 1767268800,
                "to": "+61412345678",
                "body": "Your appointment is confirmed",
                "from": "ACMEHC",
                "schedule": 1767268800,
                "message_id": MESSAGE_ID,
                "message_parts": 1,
                "message_price": "0.0770",
                "custom_string": "job-1",
                "country": "AU",
                "status": "SUCCESS",
            }
        ],
        "_currency": {"currency_name_short": "AUD", "currency_prefix_d": "$"},
    },
}


def sms_job(**payload: Any) -> Job:
    base = {
        "contact": "0412345678",
        "countryCode": "61",
        "message": "Your appointment is confirmed",
    }
    return Job(job_id="job-1", channel="sms", payload={**base, **payload})


def settings(base_url: str, **extra: str) -> dict[str, str]:
    return {
        "username": "clinic",
        "api_key": "K3Y-123",
        "sender": "ACMEHC",
        "base_url": base_url,
        **extra,
    }


class CONTRACT:
    """Drives this adapter through the shared suite in tests/providers/test_contract.py."""

    provider = ClickSend
    reply = {"status": 200, "json_body": QUEUED}
    message_id = MESSAGE_ID

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return settings(base_url)


@pytest.fixture
def clicksend(context, provider_config, server) -> ClickSend:
    provider_config["clicksend"] = settings(server.url)
    return ClickSend(context)


async def test_request_is_v3_sms_send(clicksend, server) -> None:
    server.reply(json_body=QUEUED)
    result = await clicksend.send(sms_job())
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/v3/sms/send")
    expected = "Basic " + base64.b64encode(b"clinic:K3Y-123").decode()
    assert request.headers["Authorization"] == expected
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "messages": [
            {
                "to": "+61412345678",
                "body": "Your appointment is confirmed",
                "from": "ACMEHC",
                "source": "fusion-stream",
                "custom_string": "job-1",
            }
        ]
    }
    assert result.message_id == MESSAGE_ID and result.details["status"] == "SUCCESS"


async def test_without_sender_clicksend_picks_one(context, provider_config, server) -> None:
    provider_config["clicksend"] = {"username": "u", "api_key": "k", "base_url": server.url}
    server.reply(json_body=QUEUED)
    await ClickSend(context).send(sms_job())
    assert "from" not in server.requests[0].json()["messages"][0]


def refused(status: str) -> dict[str, Any]:
    message = {**QUEUED["data"]["messages"][0], "status": status}
    return {**QUEUED, "data": {**QUEUED["data"], "messages": [message]}}


@pytest.mark.parametrize(
    "status", ["INVALID_RECIPIENT", "INVALID_SENDER_ID", "COUNTRY_NOT_ENABLED"]
)
async def test_refused_message_is_permanent(clicksend, server, status) -> None:
    server.reply(json_body=refused(status))
    with pytest.raises(PermanentError, match=f"code {status}") as info:
        await clicksend.send(sms_job())
    assert not isinstance(info.value, TransientError)


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "BAD_REQUEST", PermanentError),
        (401, "UNAUTHORIZED", PermanentError),
        (403, "INSUFFICIENT_CREDIT", PermanentError),
        (200, "INSUFFICIENT_CREDIT", PermanentError),
        (429, "TOO_MANY_REQUESTS", TransientError),
        (500, "INTERNAL_SERVER_ERROR", TransientError),
    ],
)
async def test_response_codes(clicksend, server, status, code, kind) -> None:
    server.reply(
        status=status,
        json_body={"http_code": status, "response_code": code, "response_msg": "no", "data": None},
    )
    with pytest.raises(kind) as info:
        await clicksend.send(sms_job())
    assert type(info.value) is kind and f"status={status}" in str(info.value)
