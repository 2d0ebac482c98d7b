"""Unifonic adapter (``providers/sms/unifonic.py``) against a recording loopback server."""

from __future__ import annotations

from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import PermanentError, TransientError
from providers.sms.unifonic import Unifonic

#: the API response example of docs.unifonic.com/reference/sms-api
SENT = {
    "success": True,
    "message": "",
    "errorCode": "ER-00",
    "data": {
        "MessageID": 42000348806924,
        "CorrelationID": "job-1",
        "Status": "Sent",
        "NumberOfUnits": 1,
        "Cost": 0.05,
        "Balance": 120.5,
        "Recipient": "966501234567",
        "TimeCreated": "2026-01-01 12:00:00.000",
        "CurrencyCode": "SAR",
    },
}


def sms_job(**payload: Any) -> Job:
    base = {"contact": "0501234567", "countryCode": "966", "message": "موعدك غدا"}
    return Job(job_id="job-1", channel="sms", payload={**base, **payload})


def settings(base_url: str, **extra: str) -> dict[str, str]:
    return {"app_sid": "AppS1d", "sender": "CLINIC", "base_url": base_url, **extra}


class CONTRACT:
    """Drives this adapter through the shared suite in tests/providers/test_contract.py."""

    provider = Unifonic
    reply = {"status": 200, "json_body": SENT}
    message_id = "42000348806924"

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return settings(base_url)


@pytest.fixture
def unifonic(context, provider_config, server) -> Unifonic:
    provider_config["unifonic"] = settings(server.url)
    return Unifonic(context)


async def test_request_is_a_messages_form(unifonic, server) -> None:
    server.reply(json_body=SENT)
    result = await unifonic.send(sms_job())
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/rest/SMS/messages")
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert dict(request.form()) == {
        "AppSid": "AppS1d",
        "SenderID": "CLINIC",
        "Recipient": "966501234567",
        "Body": "موعدك غدا",
        "responseType": "JSON",
        "CorrelationID": "job-1",
    }
    assert result.message_id == "42000348806924" and result.details["status"] == "Sent"


async def test_success_as_a_string(unifonic, server) -> None:
    server.reply(json_body={**SENT, "success": "true"})
    assert (await unifonic.send(sms_job())).message_id == "42000348806924"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ER-01", "No rate found or insufficient funds"),
        ("ER-02", "Invalid destination number"),
        ("ER-04", "Dest num is too short"),
        ("ER-05", "No route found for the destination number"),
        ("ER-08", "Invalid Sender ID"),
        ("ER-09", "Duplicated message"),
        ("ER-99", "Something new"),
    ],
)
async def test_error_codes_are_permanent(unifonic, server, code, message) -> None:
    server.reply(json_body={"success": False, "message": message, "errorCode": code, "data": {}})
    with pytest.raises(PermanentError) as info:
        await unifonic.send(sms_job())
    assert not isinstance(info.value, TransientError)
    assert f"code {code}" in str(info.value) and message in str(info.value)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, PermanentError),  # authentication failed
        (402, PermanentError),  # missing AppSid
        (403, PermanentError),  # invalid IP
        (410, PermanentError),  # invalid recipient format
        (480, PermanentError),  # sender not allowed
        (429, TransientError),  # too many requests
        (599, TransientError),  # request failed
    ],
)
async def test_http_status_codes(unifonic, server, status, kind) -> None:
    server.reply(status=status, json_body={"success": False, "message": "refused", "errorCode": ""})
    with pytest.raises(kind) as info:
        await unifonic.send(sms_job())
    assert type(info.value) is kind and f"status={status}" in str(info.value)


@pytest.mark.parametrize(("code", "kind"), [("429", TransientError), ("599", TransientError)])
async def test_rest_codes_in_the_body(unifonic, server, code, kind) -> None:
    server.reply(json_body={"success": "false", "message": "busy", "errorCode": code, "data": {}})
    with pytest.raises(kind, match=f"code {code}"):
        await unifonic.send(sms_job())
