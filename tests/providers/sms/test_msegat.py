"""Msegat adapter (``providers/sms/msegat.py``) against a recording loopback server."""

from __future__ import annotations

from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import ConfigurationError, PermanentError, TransientError
from providers.sms.msegat import Msegat

#: a ``/gw/sendsms.php`` success answer
SENT = {"code": "1", "message": "Success", "id": 9187654}


def sms_job(**payload: Any) -> Job:
    base = {"contact": "0501234567", "countryCode": "966", "message": "موعدك غدا الساعة 10"}
    return Job(job_id="job-1", channel="sms", payload={**base, **payload})


def settings(base_url: str, **extra: str) -> dict[str, str]:
    return {
        "username": "clinic",
        "api_key": "k3y",
        "sender": "Clinic",
        "base_url": base_url,
        **extra,
    }


class CONTRACT:
    """Drives this adapter through the shared suite in tests/providers/test_contract.py."""

    provider = Msegat
    reply = {"status": 200, "json_body": SENT}
    message_id = "9187654"

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return settings(base_url)


@pytest.fixture
def msegat(context, provider_config, server) -> Msegat:
    provider_config["msegat"] = settings(server.url)
    return Msegat(context)


async def test_request_carries_credentials_in_json(msegat, server) -> None:
    server.reply(json_body=SENT)
    result = await msegat.send(sms_job())
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/gw/sendsms.php")
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "userName": "clinic",
        "apiKey": "k3y",
        "userSender": "Clinic",
        "numbers": "966501234567",
        "msg": "موعدك غدا الساعة 10",
        "msgEncoding": "UTF8",
    }
    assert result.message_id == "9187654"


@pytest.mark.parametrize(
    ("answer", "message_id"),
    [
        ({"code": 1, "message": "Success", "id": "77"}, "77"),  # numeric code
        ({"code": "M0000", "message": "Success"}, None),  # no id given
    ],
)
async def test_success_codes(msegat, server, answer, message_id) -> None:
    server.reply(json_body=answer)
    assert (await msegat.send(sms_job())).message_id == message_id


async def test_event_sender_wins(msegat, server) -> None:
    server.reply(json_body=SENT)
    await msegat.send(sms_job(senderId="Clinic-AD"))
    assert server.requests[0].json()["userSender"] == "Clinic-AD"


async def test_no_sender_is_a_configuration_error(context, provider_config, server) -> None:
    provider_config["msegat"] = {"username": "u", "api_key": "k", "base_url": server.url}
    with pytest.raises(ConfigurationError, match="sender"):
        await Msegat(context).send(sms_job())
    assert server.requests == []


#: every documented error code (all permanent), a numeric one and an unknown one
ERROR_CODES = "M0001 1010 M0002 1020 1050 1060 1061 1064 1110 1120 1140 M0029 M0030 M0034 9999"


@pytest.mark.parametrize("code", [*ERROR_CODES.split(), 1020])
async def test_error_codes_are_permanent(msegat, server, code) -> None:
    server.reply(json_body={"code": code, "message": "Invalid login"})
    with pytest.raises(PermanentError) as info:
        await msegat.send(sms_job())
    assert not isinstance(info.value, TransientError)
    assert f"code {code}" in str(info.value) and "status=200" in str(info.value)


async def test_5xx_is_transient_even_with_a_code(msegat, server) -> None:
    server.reply(status=502, json_body={"code": "1020", "message": "bad gateway"})
    with pytest.raises(TransientError):
        await msegat.send(sms_job())


async def test_error_line_never_shows_the_api_key(msegat, server) -> None:
    server.reply(json_body={"code": "1020", "message": "Invalid login"})
    with pytest.raises(PermanentError) as info:
        await msegat.send(sms_job())
    assert "k3y" not in info.value.one_line()
