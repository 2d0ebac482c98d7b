"""Textlocal adapter (``providers/sms/textlocal.py``) against a recording loopback server."""

from __future__ import annotations

from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import PermanentError, TransientError
from providers.sms.textlocal import Textlocal

#: a ``/send/`` success answer (api.txtlocal.com/docs/sendsms)
SENT = {
    "balance": 1162,
    "batch_id": 123456789,
    "cost": 1,
    "num_messages": 1,
    "message": {"num_parts": 1, "sender": "ACMEHC", "content": "Your report is ready"},
    "receipt_url": "",
    "custom": "",
    "messages": [{"id": "1151346216", "recipient": 447400123456}],
    "status": "success",
}


def sms_job(**payload: Any) -> Job:
    base = {"contact": "07400123456", "countryCode": "44", "message": "Your report is ready"}
    return Job(job_id="job-1", channel="sms", payload={**base, **payload})


def settings(base_url: str, **extra: str) -> dict[str, str]:
    """Both regional hosts on the loopback server, told apart by a path prefix."""
    return {
        "apikey": "k3y",
        "sender": "ACMEHC",
        "uk_base_url": f"{base_url}/uk",
        "in_base_url": f"{base_url}/in",
        **extra,
    }


class CONTRACT:
    """Drives this adapter through the shared suite in tests/providers/test_contract.py."""

    provider = Textlocal
    reply = {"status": 200, "json_body": SENT}
    message_id = "1151346216"

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return settings(base_url)


@pytest.fixture
def textlocal(context, provider_config, server) -> Textlocal:
    provider_config["textlocal"] = settings(server.url)
    return Textlocal(context)


async def test_request_is_a_send_form(textlocal, server) -> None:
    server.reply(json_body=SENT)
    result = await textlocal.send(sms_job())
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/uk/send/")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert dict(request.form()) == {
        "apikey": "k3y",
        "numbers": "447400123456",
        "message": "Your report is ready",
        "sender": "ACMEHC",
    }
    assert result.message_id == "1151346216" and result.details["batch_id"] == 123456789


@pytest.mark.parametrize(
    ("region", "contact", "path"),
    [
        (None, "07400123456", "/uk/send/"),
        (None, "+919876543210", "/in/send/"),  # +91 goes to api.textlocal.in
        ("in", "07400123456", "/in/send/"),  # the setting wins
        ("uk", "+919876543210", "/uk/send/"),
    ],
)
async def test_region_picks_the_host(context, provider_config, server, region, contact, path):
    provider_config["textlocal"] = settings(server.url, **({"region": region} if region else {}))
    server.reply(json_body=SENT)
    await Textlocal(context).send(sms_job(contact=contact))
    assert server.requests[0].path == path


def test_default_hosts_are_the_real_ones(context, provider_config) -> None:
    provider_config["textlocal"] = {"apikey": "k"}
    provider = Textlocal(context)
    assert provider.base_url(sms_job()) == "https://api.txtlocal.com"
    assert provider.base_url(sms_job(contact="+919876543210")) == "https://api.textlocal.in"


async def test_unicode_text_and_receipt_url(context, provider_config, server) -> None:
    provider_config["textlocal"] = settings(server.url, receipt_url="https://cb.example/dlr")
    server.reply(json_body=SENT)
    await Textlocal(context).send(sms_job(message="आपकी रिपोर्ट तैयार है", senderId="CLINIC"))
    form = dict(server.requests[0].form())
    assert form["unicode"] == "true" and form["sender"] == "CLINIC"
    assert form["receipt_url"] == "https://cb.example/dlr"
    assert form["message"] == "आपकी रिपोर्ट तैयार है"


async def test_too_long_text_is_rejected_before_sending(textlocal, server) -> None:
    with pytest.raises(PermanentError, match="767 characters"):
        await textlocal.send(sms_job(message="x" * 767))
    assert server.requests == []


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (3, "Invalid login details"),
        (4, "No recipients specified"),
        (7, "Insufficient credits"),
        (43, "Invalid sender name"),
        (51, "No valid numbers specified"),
        (192, "You cannot send message at this time"),
    ],
)
@pytest.mark.parametrize("status", [200, 400])
async def test_failure_is_permanent(textlocal, server, code, message, status) -> None:
    server.reply(
        status=status,
        json_body={"errors": [{"code": code, "message": message}], "status": "failure"},
    )
    with pytest.raises(PermanentError) as info:
        await textlocal.send(sms_job())
    assert not isinstance(info.value, TransientError)
    assert f"code {code}" in str(info.value) and message in str(info.value)


async def test_failure_without_errors_is_permanent(textlocal, server) -> None:
    server.reply(json_body={"status": "failure"})
    with pytest.raises(PermanentError, match="without status success"):
        await textlocal.send(sms_job())


async def test_5xx_with_failure_body_stays_transient(textlocal, server) -> None:
    server.reply(
        status=503, json_body={"errors": [{"code": 3, "message": "x"}], "status": "failure"}
    )
    with pytest.raises(TransientError):
        await textlocal.send(sms_job())
