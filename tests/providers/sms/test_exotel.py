"""Exotel adapter (``providers/sms/exotel.py``) against the recording loopback server."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import ConfigurationError, PermanentError, TransientError
from providers.sms.exotel import Exotel

SID = "clinic1"
SMS_SID = "0f477d60517e6e6a0f6d9a7e9af8630e"


def sms_message(status: str = "queued", code: int = 21010, detail: str = "PENDING_TO_OPERATOR"):
    """The JSON answer (``.json``), shaped like Exotel's SMS details answer."""
    return {
        "SMSMessage": {
            "Sid": SMS_SID,
            "AccountSid": SID,
            "From": "0XXXXXX4890/CLINIC",
            "To": "+919876543210",
            "DateCreated": "2024-06-06 14:14:20",
            "DateUpdated": "2024-06-06 14:14:20",
            "DateSent": None,
            "Body": "Your visit is at 10:00",
            "Direction": "outbound-api",
            "Uri": f"/v1/Accounts/{SID}/SMS/Messages/{SMS_SID}.json",
            "ApiVersion": None,
            "Price": None,
            "Status": status,
            "DetailedStatusCode": code,
            "DetailedStatus": detail,
            "SmsUnits": None,
        }
    }


def sms_job(**payload: Any) -> Job:
    base = {"contact": "9876543210", "countryCode": "91", "message": "Your visit is at 10:00"}
    return Job(job_id="job-1", channel="sms", payload={**base, **payload})


class CONTRACT:
    provider = Exotel
    reply = {"status": 200, "json_body": sms_message()}
    message_id = SMS_SID

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return {
            "account_sid": SID,
            "api_key": "key-1",
            "api_token": "fake-token",
            "base_url": base_url,
            "sender": "CLINIC",
        }


@pytest.fixture
def exotel(context, provider_config, server) -> Exotel:
    provider_config["exotel"] = CONTRACT.config(server.url)
    return Exotel(context)


async def test_request_is_the_send_sms_call(exotel, server, provider_config) -> None:
    provider_config["exotel"] |= {
        "dlt_entity_id": "1101000000000001",
        "status_callback": "https://x/d",
    }
    server.reply(**CONTRACT.reply)
    job = sms_job()
    job.payload["config"] = {"dlt_template_id": "1107000000000002"}
    result = await exotel.send(job)
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", f"/v1/Accounts/{SID}/Sms/send.json")
    assert (
        request.headers["Authorization"]
        == "Basic " + base64.b64encode(b"key-1:fake-token").decode()
    )
    assert dict(request.form()) == {
        "From": "CLINIC",
        "To": "+919876543210",  # E.164 preferred
        "Body": "Your visit is at 10:00",
        "DltEntityId": "1101000000000001",
        "DltTemplateId": "1107000000000002",
        "StatusCallback": "https://x/d",
    }
    assert result.message_id == SMS_SID
    assert result.details["status"] == "PENDING_TO_OPERATOR"


async def test_unicode_body_sets_the_encoding(exotel, server) -> None:
    server.reply(**CONTRACT.reply)
    await exotel.send(sms_job(message="आपका अपॉइंटमेंट 10:00 बजे है", senderId="HOSPTL"))
    form = dict(server.requests[0].form())
    assert (form["EncodingType"], form["From"]) == ("unicode", "HOSPTL")


async def test_no_sender_is_a_configuration_error(exotel, server, provider_config) -> None:
    del provider_config["exotel"]["sender"]
    with pytest.raises(ConfigurationError, match="sender"):
        await exotel.send(sms_job())


@pytest.mark.parametrize("code", sorted(Exotel.error_codes))
async def test_failure_codes_in_the_answer_are_permanent(exotel, server, code) -> None:
    server.reply(json_body=sms_message("failed", int(code), "FAILED"))
    with pytest.raises(PermanentError, match=f"code {code}"):
        await exotel.send(sms_job())


def rest_exception(status: int, message: str) -> dict[str, Any]:
    return {"RestException": {"Status": status, "Message": message}}


@pytest.mark.parametrize(
    ("status", "message", "kind"),
    [
        (400, "Invalid Parameters", PermanentError),
        (400, "Invalid Recipient [+919876543210]", PermanentError),
        (401, "Authentication failed", PermanentError),
        (403, "Insufficient balance to send the SMS", PermanentError),
        (403, "Account is not active", PermanentError),
        (429, "Too Many Requests", TransientError),
        (500, "Internal Server Error", TransientError),
    ],
)
async def test_http_errors(exotel, server, status, message, kind) -> None:
    server.reply(status=status, json_body=rest_exception(status, message))
    with pytest.raises(kind) as info:
        await exotel.send(sms_job())
    assert type(info.value) is kind and f"status={status}" in str(info.value)
