"""Infobip adapter (``providers/sms/infobip.py``) against the recording loopback server."""

from __future__ import annotations

from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import PermanentError, TransientError
from providers.sms.infobip import Infobip


def answer(group_id: int, group: str, name: str, description: str) -> dict[str, Any]:
    """A send answer as Infobip returns it (one destination)."""
    return {
        "bulkId": "2034072219640523072",
        "messages": [
            {
                "to": "919876543210",
                "messageId": "2250be2d4219-3af1-78856-aabe-1362af1edfd2",
                "status": {
                    "groupId": group_id,
                    "groupName": group,
                    "id": {"PENDING": 26, "REJECTED": 14, "UNDELIVERABLE": 9}.get(group, 15),
                    "name": name,
                    "description": description,
                },
            }
        ],
    }


PENDING = answer(1, "PENDING", "PENDING_ACCEPTED", "Message sent to next instance")


def sms_job(**payload: Any) -> Job:
    base = {"contact": "9876543210", "countryCode": "91", "message": "Your OTP is 123456"}
    return Job(job_id="job-1", channel="sms.otp", payload={**base, **payload})


class CONTRACT:
    provider = Infobip
    reply = {"status": 200, "json_body": PENDING}
    message_id = "2250be2d4219-3af1-78856-aabe-1362af1edfd2"

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return {"api_key": "fake-key", "base_url": base_url, "sender": "CLINIC"}


@pytest.fixture
def infobip(context, provider_config, server) -> Infobip:
    provider_config["infobip"] = CONTRACT.config(server.url)
    return Infobip(context)


async def test_request_is_the_advanced_text_call(infobip, server) -> None:
    server.reply(**CONTRACT.reply)
    result = await infobip.send(sms_job())
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/sms/2/text/advanced")
    assert request.headers["Authorization"] == "App fake-key"
    assert request.json() == {
        "messages": [
            {
                "destinations": [{"to": "919876543210"}],  # international, no '+'
                "from": "CLINIC",
                "text": "Your OTP is 123456",
            }
        ]
    }
    assert result.message_id == CONTRACT.message_id
    assert result.details["status"] == "PENDING_ACCEPTED"


async def test_dlt_and_delivery_report_fields(infobip, server, provider_config) -> None:
    provider_config["infobip"] |= {"dlt_entity_id": "1101000000000001", "notify_url": "https://x/d"}
    server.reply(**CONTRACT.reply)
    job = sms_job(senderId="HOSPTL")
    job.payload["config"] = {"dlt_template_id": "1107000000000002"}
    await infobip.send(job)
    (message,) = server.requests[0].json()["messages"]
    assert message["from"] == "HOSPTL"
    assert message["regional"] == {
        "indiaDlt": {
            "principalEntityId": "1101000000000001",
            "contentTemplateId": "1107000000000002",
        }
    }
    assert message["notifyUrl"] == "https://x/d" and message["callbackData"] == "job-1"


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (200, answer(5, "REJECTED", "REJECTED_DESTINATION", "Destination blocked"), PermanentError),
        (200, answer(2, "UNDELIVERABLE", "UNDELIVERABLE_REJECTED_OPERATOR", "x"), PermanentError),
        (200, answer(4, "EXPIRED", "EXPIRED_EXPIRED", "Message expired"), TransientError),
        (200, {"bulkId": "b", "messages": []}, PermanentError),
        (
            401,
            {"requestError": {"serviceException": {"messageId": "UNAUTHORIZED", "text": "x"}}},
            PermanentError,
        ),
        (
            400,
            {"requestError": {"serviceException": {"messageId": "BAD_REQUEST", "text": "x"}}},
            PermanentError,
        ),
        (429, {"requestError": {"serviceException": {"messageId": "TOO_MANY"}}}, TransientError),
        (
            503,
            {"requestError": {"serviceException": {"messageId": "GENERAL_ERROR"}}},
            TransientError,
        ),
    ],
)
async def test_error_answers(infobip, server, status, body, kind) -> None:
    server.reply(status=status, json_body=body)
    with pytest.raises(kind) as info:
        await infobip.send(sms_job())
    assert type(info.value) is kind
    assert "provider=infobip" in str(info.value)
