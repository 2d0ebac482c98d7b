"""Twilio SMS adapter (``providers/sms/twilio_sms.py``) against a recording loopback server."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import ConfigurationError, PermanentError, TransientError
from providers.sms.twilio_sms import TwilioSms

SID = "AC0123456789abcdef0123456789abcdef"
PATH = f"/2010-04-01/Accounts/{SID}/Messages.json"

#: a Messages.json 201 answer (twilio-python's message resource fields)
CREATED = {
    "account_sid": SID,
    "api_version": "2010-04-01",
    "body": "Your appointment is confirmed",
    "date_created": "Thu, 01 Jan 2026 12:00:00 +0000",
    "direction": "outbound-api",
    "error_code": None,
    "error_message": None,
    "from": "+15017122661",
    "messaging_service_sid": None,
    "num_segments": "1",
    "sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
    "status": "queued",
    "to": "+12015550123",
    "uri": f"/2010-04-01/Accounts/{SID}/Messages/SM1f0e8ae6ade43cb3c0ce4525424e404f.json",
}


def sms_job(**payload: Any) -> Job:
    base = {"contact": "2015550123", "countryCode": "1", "message": "Your appointment is confirmed"}
    return Job(job_id="job-1", channel="sms", payload={**base, **payload})


def settings(base_url: str, **extra: str) -> dict[str, str]:
    return {
        "account_sid": SID,
        "auth_token": "tok3n",
        "from_number": "+15017122661",
        "base_url": base_url,
        **extra,
    }


class CONTRACT:
    """Drives this adapter through the shared suite in tests/providers/test_contract.py."""

    provider = TwilioSms
    reply = {"status": 201, "json_body": CREATED}
    message_id = "SM1f0e8ae6ade43cb3c0ce4525424e404f"

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return settings(base_url)


@pytest.fixture
def twilio(context, provider_config, server) -> TwilioSms:
    provider_config["twilio_sms"] = settings(server.url)
    return TwilioSms(context)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_request_is_the_messages_resource(twilio, server) -> None:
    server.reply(status=201, json_body=CREATED)
    result = await twilio.send(sms_job())
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", PATH)
    assert request.headers["Authorization"] == basic(SID, "tok3n")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert dict(request.form()) == {
        "To": "+12015550123",
        "Body": "Your appointment is confirmed",
        "From": "+15017122661",
    }
    assert result.message_id == CREATED["sid"] and result.details["status"] == "queued"


@pytest.mark.parametrize(
    ("extra", "payload", "expected"),
    [
        ({}, {"senderId": "CLINIC"}, {"From": "CLINIC"}),
        ({"messaging_service_sid": "MG123"}, {}, {"MessagingServiceSid": "MG123"}),
        (
            {"status_callback": "https://cb.example/dlr"},
            {},
            {"StatusCallback": "https://cb.example/dlr"},
        ),
    ],
)
async def test_sender_and_callback_fields(
    context, provider_config, server, extra, payload, expected
):
    provider_config["twilio_sms"] = settings(server.url, **extra)
    server.reply(status=201, json_body=CREATED)
    await TwilioSms(context).send(sms_job(**payload))
    form = dict(server.requests[0].form())
    assert form.items() >= expected.items()
    if "MessagingServiceSid" in expected:
        assert "From" not in form


async def test_api_key_is_the_basic_auth_user(context, provider_config, server) -> None:
    provider_config["twilio_sms"] = settings(server.url, api_key_sid="SKabc", auth_token="s3c")
    server.reply(status=201, json_body=CREATED)
    await TwilioSms(context).send(sms_job())
    assert server.requests[0].headers["Authorization"] == basic("SKabc", "s3c")
    assert server.requests[0].path == PATH  # the URL keeps the account SID


async def test_no_sender_anywhere_is_a_configuration_error(context, provider_config, server):
    provider_config["twilio_sms"] = {"account_sid": SID, "auth_token": "t", "base_url": server.url}
    with pytest.raises(ConfigurationError, match="from_number"):
        await TwilioSms(context).send(sms_job())
    assert server.requests == []


def twilio_error(code: int, status: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        (21211, 400, PermanentError),  # invalid To
        (21610, 400, PermanentError),  # unsubscribed recipient
        (21614, 400, PermanentError),  # not a mobile number
        (21408, 400, PermanentError),  # geo permission
        (21606, 400, PermanentError),  # From not SMS-capable
        (20003, 401, PermanentError),  # authentication
        (30007, 400, PermanentError),  # carrier filtering
        (21611, 400, TransientError),  # From queue full
        (30001, 400, TransientError),  # queue overflow
        (20429, 429, TransientError),  # too many requests
        (99999, 400, PermanentError),  # unknown code
        (99999, 503, TransientError),  # unknown code, server side
    ],
)
async def test_error_codes(twilio, server, code, status, kind) -> None:
    server.reply(status=status, json_body=twilio_error(code, status, "The 'To' number is invalid"))
    with pytest.raises(kind) as info:
        await twilio.send(sms_job())
    assert type(info.value) is kind
    assert f"status={status}" in str(info.value)
    if status < 429:
        assert f"code {code}" in str(info.value)


async def test_200_without_sid_is_permanent(twilio, server) -> None:
    server.reply(status=200, json_body={"error_code": 30005, "sid": None})
    with pytest.raises(PermanentError, match="code 30005"):
        await twilio.send(sms_job())
