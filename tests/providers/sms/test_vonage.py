"""Vonage SMS adapter (``providers/sms/vonage.py``) against a recording loopback server."""

from __future__ import annotations

from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import ConfigurationError, PermanentError, TransientError
from providers.sms.vonage import Vonage


def part(message_id: str, status: str = "0", **extra: str) -> dict[str, str]:
    return {
        "to": "447400123456",
        "message-id": message_id,
        "status": status,
        "remaining-balance": "15.53590000",
        "message-price": "0.03330000",
        "network": "23410",
        **extra,
    }


#: the answer shown in developer.vonage.com/messaging/sms/guides/troubleshooting-sms
SENT = {"message-count": "1", "messages": [part("0C000000217B7F02")]}


def sms_job(**payload: Any) -> Job:
    base = {"contact": "07400123456", "countryCode": "44", "message": "Your report is ready"}
    return Job(job_id="job-1", channel="sms", payload={**base, **payload})


def settings(base_url: str, **extra: str) -> dict[str, str]:
    return {
        "api_key": "abcd1234",
        "api_secret": "s3cret",
        "sender": "ACME Clinic",
        "base_url": base_url,
        **extra,
    }


class CONTRACT:
    """Drives this adapter through the shared suite in tests/providers/test_contract.py."""

    provider = Vonage
    reply = {"status": 200, "json_body": SENT}
    message_id = "0C000000217B7F02"

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return settings(base_url)


@pytest.fixture
def vonage(context, provider_config, server) -> Vonage:
    provider_config["vonage"] = settings(server.url)
    return Vonage(context)


async def test_request_is_sms_json_form(vonage, server) -> None:
    server.reply(json_body=SENT)
    result = await vonage.send(sms_job())
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/sms/json")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert dict(request.form()) == {
        "api_key": "abcd1234",
        "api_secret": "s3cret",
        "from": "ACME Clinic",
        "to": "447400123456",
        "text": "Your report is ready",
        "type": "text",
        "client-ref": "job-1",
    }
    assert result.message_id == "0C000000217B7F02"


async def test_unicode_sender_and_callback(context, provider_config, server) -> None:
    provider_config["vonage"] = settings(server.url, callback="https://cb.example/dlr")
    server.reply(json_body=SENT)
    await Vonage(context).send(sms_job(message="Ihr Befund ist da ✅", senderId="CLINIC"))
    form = dict(server.requests[0].form())
    assert (form["type"], form["from"]) == ("unicode", "CLINIC")
    assert form["callback"] == "https://cb.example/dlr"


async def test_long_text_parts(vonage, server) -> None:
    server.reply(json_body={"message-count": "2", "messages": [part("A1"), part("A2")]})
    result = await vonage.send(sms_job(message="x" * 200))
    assert result.message_id == "A1" and result.details["parts"] == ["A1", "A2"]


async def test_no_sender_is_a_configuration_error(context, provider_config, server) -> None:
    provider_config["vonage"] = {"api_key": "k", "api_secret": "s", "base_url": server.url}
    with pytest.raises(ConfigurationError, match="sender"):
        await Vonage(context).send(sms_job())


def refused(status: str, text: str) -> dict[str, Any]:
    return {"message-count": "1", "messages": [{"status": status, "error-text": text}]}


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("1", TransientError),  # throttled
        ("5", TransientError),  # internal error
        ("10", TransientError),  # too many binds
        ("2", PermanentError),  # missing parameters
        ("3", PermanentError),  # invalid parameters
        ("4", PermanentError),  # invalid credentials
        ("6", PermanentError),  # invalid message
        ("7", PermanentError),  # number barred
        ("8", PermanentError),  # account barred
        ("9", PermanentError),  # quota violation
        ("15", PermanentError),  # illegal sender address
        ("29", PermanentError),  # non-whitelisted destination
        ("99", PermanentError),  # unknown
    ],
)
async def test_status_codes(vonage, server, status, kind) -> None:
    server.reply(json_body=refused(status, "Throttled"))
    with pytest.raises(kind) as info:
        await vonage.send(sms_job())
    assert type(info.value) is kind
    assert f"code {status}" in str(info.value) and "Throttled" in str(info.value)


async def test_any_failed_part_fails_the_send(vonage, server) -> None:
    answer = {"message-count": "2", "messages": [part("A1"), part("", "9", **{"error-text": "q"})]}
    server.reply(json_body=answer)
    with pytest.raises(PermanentError, match="code 9"):
        await vonage.send(sms_job(message="x" * 200))


async def test_empty_answer_is_permanent(vonage, server) -> None:
    server.reply(json_body={"message-count": "0", "messages": []})
    with pytest.raises(PermanentError, match="no message accepted"):
        await vonage.send(sms_job())
