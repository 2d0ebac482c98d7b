"""Africa's Talking adapter (``providers/sms/africastalking.py``) against a loopback server."""

from __future__ import annotations

from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import PermanentError, TransientError
from providers.sms.africastalking import AfricasTalking


def answer(status_code: int, status: str, message_id: str = "None", cost: str = "0") -> dict:
    """An Africa's Talking send answer with one recipient."""
    sent = 1 if status_code in (100, 101, 102) else 0
    return {
        "SMSMessageData": {
            "Message": f"Sent to {sent}/1 Total Cost: KES {cost}",
            "Recipients": [
                {
                    "statusCode": status_code,
                    "number": "+254712345678",
                    "status": status,
                    "cost": f"KES {cost}",
                    "messageId": message_id,
                }
            ],
        }
    }


SENT = answer(101, "Success", "ATXid_0b8c1f1f1f4b5d0c9a2e7e8d3c6f4a21", "0.8000")


def sms_job(channel: str = "sms", **payload: Any) -> Job:
    base = {"contact": "0712345678", "countryCode": "254", "message": "Your code is 482913"}
    return Job(job_id="job-1", channel=channel, payload={**base, **payload})


class CONTRACT:
    """Drives this adapter through the shared suite in tests/providers/test_contract.py."""

    provider = AfricasTalking
    reply = {"status": 201, "json_body": SENT}
    message_id = "ATXid_0b8c1f1f1f4b5d0c9a2e7e8d3c6f4a21"

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return {"username": "clinicapp", "api_key": "atsk_test", "base_url": base_url}


@pytest.fixture
def provider(context, provider_config, server) -> AfricasTalking:
    provider_config["africastalking"] = CONTRACT.config(server.url)
    return AfricasTalking(context)


@pytest.mark.parametrize("channel", ["sms", "sms.otp"])
async def test_request_is_the_documented_one(provider, server, channel) -> None:
    server.reply(status=201, json_body=SENT)
    result = await provider.send(sms_job(channel))
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/version1/messaging")
    assert request.headers["apiKey"] == "atsk_test"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form() == [
        ("username", "clinicapp"),
        ("to", "+254712345678"),
        ("message", "Your code is 482913"),
        ("bulkSMSMode", "1"),
    ]
    assert result.message_id == CONTRACT.message_id
    assert result.details == {"cost": "KES 0.8000", "status": "Success"}


async def test_sender_and_enqueue(provider, server, provider_config) -> None:
    provider_config["africastalking"] = {
        **provider_config["africastalking"],
        "sender_id": "CLINIC",
        "enqueue": "true",
    }
    server.reply(status=201, json_body=SENT)
    await provider.send(sms_job())
    form = dict(server.requests[0].form())
    assert (form["from"], form["enqueue"]) == ("CLINIC", "1")
    await provider.send(sms_job(senderId="22384"))
    assert dict(server.requests[1].form())["from"] == "22384"


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        (401, "RiskHold", TransientError),
        (402, "InvalidSenderId", PermanentError),
        (403, "InvalidPhoneNumber", PermanentError),
        (404, "UnsupportedNumberType", PermanentError),
        (405, "InsufficientBalance", PermanentError),
        (406, "UserInBlacklist", PermanentError),
        (407, "CouldNotRoute", PermanentError),
        (409, "DoNotDisturbRejection", PermanentError),
        (500, "InternalServerError", TransientError),
        (501, "GatewayError", TransientError),
        (502, "RejectedByGateway", PermanentError),
    ],
)
async def test_refused_recipient_in_a_201_is_typed(provider, server, code, status, kind) -> None:
    server.reply(status=201, json_body=answer(code, status))
    with pytest.raises(kind) as info:
        await provider.send(sms_job())
    assert kind is TransientError or not isinstance(info.value, TransientError)
    assert f"{status} (code {code})" in str(info.value)


@pytest.mark.parametrize("code", [100, 102])
async def test_processed_and_queued_are_accepted(provider, server, code) -> None:
    server.reply(status=201, json_body=answer(code, "Queued", "ATXid_q1"))
    assert (await provider.send(sms_job())).message_id == "ATXid_q1"


async def test_dnd_rejection_comes_as_http_409(provider, server) -> None:
    # documented: a promotional sender at night in Nigeria answers 409 with the recipient
    server.reply(status=409, json_body=answer(409, "DoNotDisturbRejection"))
    with pytest.raises(PermanentError, match="DoNotDisturbRejection") as info:
        await provider.send(sms_job())
    assert "status=409" in str(info.value)


async def test_answer_without_recipients_is_permanent(provider, server) -> None:
    body = {"SMSMessageData": {"Message": "InvalidSenderId", "Recipients": []}}
    server.reply(status=201, json_body=body)
    with pytest.raises(PermanentError, match="InvalidSenderId"):
        await provider.send(sms_job())


async def test_bad_credentials_are_permanent(provider, server) -> None:
    server.reply(status=401, body="The supplied authentication is invalid")
    with pytest.raises(PermanentError) as info:
        await provider.send(sms_job())
    assert not isinstance(info.value, TransientError)
    assert "atsk_test" not in info.value.one_line()
