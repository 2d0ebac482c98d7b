"""MessageBird adapter (``providers/sms/messagebird.py``) against the recording loopback server."""

from __future__ import annotations

from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import ConfigurationError, PermanentError, TransientError
from providers.sms.messagebird import MessageBird

MESSAGE_ID = "e8077d803532c0b5937c639b60216938"
# 201 Created: the message object
CREATED = {
    "id": MESSAGE_ID,
    "href": f"https://rest.messagebird.com/messages/{MESSAGE_ID}",
    "direction": "mt",
    "type": "sms",
    "originator": "Clinic",
    "body": "Your visit is at 10:00",
    "reference": "job-1",
    "validity": None,
    "gateway": 10,
    "typeDetails": {},
    "datacoding": "plain",
    "mclass": 1,
    "scheduledDatetime": None,
    "createdDatetime": "2024-06-06T09:22:14+00:00",
    "recipients": {
        "totalCount": 1,
        "totalSentCount": 1,
        "totalDeliveredCount": 0,
        "totalDeliveryFailedCount": 0,
        "items": [
            {
                "recipient": 4915123456789,
                "status": "sent",
                "statusDatetime": "2024-06-06T09:22:14+00:00",
            }
        ],
    },
}


def sms_job(**payload: Any) -> Job:
    base = {"contact": "015123456789", "countryCode": "49", "message": "Your visit is at 10:00"}
    return Job(job_id="job-1", channel="sms", payload={**base, **payload})


class CONTRACT:
    provider = MessageBird
    reply = {"status": 201, "json_body": CREATED}
    message_id = MESSAGE_ID

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return {"access_key": "test_fakekey", "base_url": base_url, "sender": "Clinic"}


@pytest.fixture
def messagebird(context, provider_config, server) -> MessageBird:
    provider_config["messagebird"] = CONTRACT.config(server.url)
    return MessageBird(context)


async def test_request_is_the_create_message_call(messagebird, server) -> None:
    server.reply(**CONTRACT.reply)
    result = await messagebird.send(sms_job())
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/messages")
    assert request.headers["Authorization"] == "AccessKey test_fakekey"
    assert request.json() == {
        "originator": "Clinic",
        "recipients": ["4915123456789"],  # MSISDN, no '+'
        "body": "Your visit is at 10:00",
        "reference": "job-1",
        "datacoding": "auto",
    }
    assert (result.message_id, result.status) == (MESSAGE_ID, 201)


async def test_report_url_and_event_sender(messagebird, server, provider_config) -> None:
    provider_config["messagebird"] |= {"report_url": "https://x/dlr"}
    server.reply(**CONTRACT.reply)
    await messagebird.send(sms_job(senderId="Hospital"))
    body = server.requests[0].json()
    assert (body["originator"], body["reportUrl"]) == ("Hospital", "https://x/dlr")


async def test_no_originator_is_a_configuration_error(messagebird, server, provider_config) -> None:
    del provider_config["messagebird"]["sender"]
    with pytest.raises(ConfigurationError, match="sender"):
        await messagebird.send(sms_job())
    assert server.requests == []


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (401, 2, PermanentError),
        (422, 9, PermanentError),
        (422, 10, PermanentError),
        (404, 20, PermanentError),
        (400, 21, PermanentError),
        (402, 25, PermanentError),
        (404, 98, PermanentError),
        (422, 99, TransientError),
        (500, 99, TransientError),
        (503, None, TransientError),
        (429, None, TransientError),
    ],
)
async def test_error_answers(messagebird, server, status, code, kind) -> None:
    errors = [{"code": code, "description": "failed", "parameter": "recipients"}] if code else []
    server.reply(status=status, json_body={"errors": errors})
    with pytest.raises(kind) as info:
        await messagebird.send(sms_job())
    assert type(info.value) is kind and f"status={status}" in str(info.value)


async def test_errors_in_a_2xx_answer_are_raised(messagebird, server) -> None:
    server.reply(status=200, json_body={"errors": [{"code": 25, "description": "no balance"}]})
    with pytest.raises(PermanentError, match="code 25"):
        await messagebird.send(sms_job())
