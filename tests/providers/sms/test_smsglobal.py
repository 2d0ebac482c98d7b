"""SMSGlobal adapter (``providers/sms/smsglobal.py``) against a recording loopback server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import PermanentError, TransientError
from providers.sms.smsglobal import SmsGlobal

TS, NONCE = 1714644900, "5f0c2a9e1b7d4c3a8e6f"
KEY, SECRET = "a1b2c3d4e5f6", "0123456789abcdef0123456789abcdef"


def sent(status: str = "processing") -> dict[str, Any]:
    """A send answer shaped as in the official SDK's tests."""
    return {
        "messages": [
            {
                "id": "6746514019161950",
                "outgoing_id": 8253291,
                "origin": "ClinicAU",
                "destination": "61412345678",
                "message": "Your code is 482913",
                "status": status,
                "dateTime": "2024-05-02 20:15:00 +1000",
            }
        ]
    }


def sms_job(channel: str = "sms", **payload: Any) -> Job:
    base = {"contact": "0412345678", "countryCode": "61", "message": "Your code is 482913"}
    return Job(job_id="job-1", channel=channel, payload={**base, **payload})


class CONTRACT:
    """Drives this adapter through the shared suite in tests/providers/test_contract.py."""

    provider = SmsGlobal
    reply = {"status": 200, "json_body": sent()}
    message_id = "6746514019161950"

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return {"api_key": KEY, "api_secret": SECRET, "sender_id": "ClinicAU", "base_url": base_url}


@pytest.fixture
def provider(context, provider_config, server) -> SmsGlobal:
    provider_config["smsglobal"] = CONTRACT.config(server.url)
    return SmsGlobal(context, clock=lambda: TS + 0.75, nonce=lambda: NONCE)


def expected_mac(host: str, port: int) -> str:
    """Written out from SMSGlobal's scheme, independently of the adapter's helper."""
    lines = [str(TS), NONCE, "POST", "/v2/sms", host, str(port), ""]
    signed = "".join(line + "\n" for line in lines)
    return base64.b64encode(
        hmac.new(SECRET.encode(), signed.encode(), hashlib.sha256).digest()
    ).decode()


@pytest.mark.parametrize("channel", ["sms", "sms.otp"])
async def test_request_is_the_documented_one(provider, server, channel) -> None:
    server.reply(json_body=sent())
    result = await provider.send(sms_job(channel))
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/v2/sms")
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.json() == {
        "destination": "61412345678",
        "message": "Your code is 482913",
        "origin": "ClinicAU",
    }
    port = urlsplit(server.url).port
    assert request.headers["Authorization"] == (
        f'MAC id="{KEY}", ts="{TS}", nonce="{NONCE}", mac="{expected_mac("127.0.0.1", port)}"'
    )
    assert result.message_id == "6746514019161950"
    assert result.details == {"outgoing_id": 8253291, "status": "processing"}


async def test_the_secret_is_never_sent(provider, server) -> None:
    server.reply(json_body=sent())
    await provider.send(sms_job())
    request = server.requests[0]
    assert SECRET not in request.headers["Authorization"] and SECRET.encode() not in request.body


async def test_each_call_is_signed_afresh(context, provider_config, server) -> None:
    provider_config["smsglobal"] = CONTRACT.config(server.url)
    nonces = iter(["n-1", "n-2"])
    provider = SmsGlobal(context, clock=lambda: TS, nonce=lambda: next(nonces))
    server.reply(json_body=sent())
    await provider.send(sms_job())
    await provider.send(sms_job())
    found = [re.search(r'nonce="([^"]+)"', r.headers["Authorization"]) for r in server.requests]
    assert [m.group(1) for m in found if m] == ["n-1", "n-2"]


async def test_default_signature_uses_the_real_host_and_port(context, provider_config) -> None:
    provider_config["smsglobal"] = {"api_key": KEY, "api_secret": SECRET}
    provider = SmsGlobal(context, clock=lambda: TS, nonce=lambda: NONCE)
    request = provider.build_request(sms_job(senderId="Clinic2"))
    assert request.url == "https://api.smsglobal.com/v2/sms"
    assert request.json["origin"] == "Clinic2"
    mac = expected_mac("api.smsglobal.com", 443)
    assert request.headers["Authorization"].endswith(f'mac="{mac}"')


@pytest.mark.parametrize("status", ["failed", "rejected", "undelivered"])
async def test_refused_message_in_a_200_is_permanent(provider, server, status) -> None:
    server.reply(json_body=sent(status))
    with pytest.raises(PermanentError, match=f"code {status}") as info:
        await provider.send(sms_job())
    assert not isinstance(info.value, TransientError)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, PermanentError),  # validation
        (401, PermanentError),  # bad MAC
        (402, PermanentError),  # no credit: until a top-up
        (403, PermanentError),  # MAC refused (clock skew, wrong key)
        (429, TransientError),
        (502, TransientError),
    ],
)
async def test_http_errors_are_typed(provider, server, status, kind) -> None:
    server.reply(status=status, json_body={"errors": {"destination": ["invalid"]}})
    with pytest.raises(kind) as info:
        await provider.send(sms_job())
    assert kind is TransientError or not isinstance(info.value, TransientError)
    assert f"status={status}" in str(info.value)


async def test_answer_without_messages_is_permanent(provider, server) -> None:
    server.reply(json_body={"messages": []})
    with pytest.raises(PermanentError, match="no message id"):
        await provider.send(sms_job())
