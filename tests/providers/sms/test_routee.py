"""Routee adapter (``providers/sms/routee.py``) against a recording loopback server."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import ConfigurationError, PermanentError, TransientError
from providers.sms.routee import EXPIRY_MARGIN, Routee

TOKEN = {
    "access_token": "a1b2c3d4-0000-4000-8000-0123456789ab",
    "token_type": "bearer",
    "expires_in": 3599,
    "scope": "sms",
    "permissions": ["MT_ROLE_SMS"],
}

SENT = {
    "trackingId": "b7e1d2c0-58a3-4f7e-9a61-0c2f8c1e4d55",
    "createdAt": "2024-05-02T10:15:00.123Z",
    "from": "Clinic",
    "to": "+306912345678",
    "body": "Your code is 482913",
    "status": "Queued",
    "flash": False,
    "smsCount": 1,
}


class _TokenHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps(TOKEN).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


_token_server: ThreadingHTTPServer | None = None


def token_url() -> str:
    """A loopback token endpoint of its own, so the contract suite's server sees only /sms."""
    global _token_server
    if _token_server is None:
        _token_server = ThreadingHTTPServer(("127.0.0.1", 0), _TokenHandler)
        threading.Thread(target=_token_server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{_token_server.server_address[1]}"


def sms_job(channel: str = "sms", **payload: Any) -> Job:
    base = {"contact": "6912345678", "countryCode": "30", "message": "Your code is 482913"}
    return Job(job_id="job-1", channel=channel, payload={**base, **payload})


def config(base_url: str, auth_url: str) -> dict[str, str]:
    return {
        "application_id": "5c8f1e2a",
        "application_secret": "s3cret-app",
        "sender_id": "Clinic",
        "base_url": base_url,
        "auth_url": auth_url,
    }


class CONTRACT:
    """Drives this adapter through the shared suite in tests/providers/test_contract.py."""

    provider = Routee
    reply = {"status": 200, "json_body": SENT}
    message_id = "b7e1d2c0-58a3-4f7e-9a61-0c2f8c1e4d55"

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return config(base_url, token_url())


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def provider(context, provider_config, server, clock) -> Routee:
    # here the token endpoint is the same loopback server, on its own path
    provider_config["routee"] = config(server.url, server.url)
    server.reply(path="/oauth/token", json_body=TOKEN)
    server.reply(path="/sms", json_body=SENT)
    return Routee(context, clock=clock)


@pytest.mark.parametrize("channel", ["sms", "sms.otp"])
async def test_token_then_send(provider, server, channel) -> None:
    result = await provider.send(sms_job(channel))
    token_call, send_call = server.requests
    assert (token_call.method, token_call.path) == ("POST", "/oauth/token")
    basic = base64.b64encode(b"5c8f1e2a:s3cret-app").decode()
    assert token_call.headers["Authorization"] == f"Basic {basic}"
    assert token_call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert token_call.form() == [("grant_type", "client_credentials")]
    assert (send_call.method, send_call.path) == ("POST", "/sms")
    assert send_call.headers["Authorization"] == f"Bearer {TOKEN['access_token']}"
    assert send_call.json() == {
        "body": "Your code is 482913",
        "to": "+306912345678",
        "from": "Clinic",
    }
    assert result.message_id == SENT["trackingId"]
    assert result.details == {"status": "Queued"}


async def test_token_is_cached_until_shortly_before_expiry(provider, server, clock) -> None:
    await provider.send(sms_job())
    clock.now += TOKEN["expires_in"] - EXPIRY_MARGIN - 1
    await provider.send(sms_job(senderId="Clinic2"))
    assert [r.path for r in server.requests] == ["/oauth/token", "/sms", "/sms"]
    clock.now += 2
    await provider.send(sms_job())
    assert [r.path for r in server.requests][-2:] == ["/oauth/token", "/sms"]
    assert server.on("/sms")[1].json()["from"] == "Clinic2"


async def test_concurrent_sends_fetch_one_token(provider, server) -> None:
    import asyncio

    await asyncio.gather(*(provider.send(sms_job()) for _ in range(5)))
    assert len(server.on("/oauth/token")) == 1 and len(server.on("/sms")) == 5


async def test_401_on_the_token_call_is_a_configuration_error(provider, server) -> None:
    server.reply(path="/oauth/token", status=401, json_body={"error": "invalid_client"})
    with pytest.raises(ConfigurationError, match="routee"):
        await provider.send(sms_job())
    assert server.on("/sms") == []


@pytest.mark.parametrize(("status", "kind"), [(503, TransientError), (400, PermanentError)])
async def test_other_token_failures_are_typed(provider, server, status, kind) -> None:
    server.reply(path="/oauth/token", status=status, json_body={"error": "nope"})
    with pytest.raises(kind):
        await provider.send(sms_job())
    assert server.on("/sms") == []


async def test_a_401_on_send_renews_the_token_once(provider, server) -> None:
    server.script(
        {"status": 401, "json_body": {"developerMessage": "expired"}},
        {"json_body": SENT},
        path="/sms",
    )
    result = await provider.send(sms_job())
    assert result.message_id == SENT["trackingId"]
    assert [r.path for r in server.requests] == ["/oauth/token", "/sms", "/oauth/token", "/sms"]


async def test_a_second_401_on_send_is_permanent(provider, server) -> None:
    server.reply(path="/sms", status=401, json_body={"developerMessage": "Access denied"})
    with pytest.raises(PermanentError) as info:
        await provider.send(sms_job())
    assert not isinstance(info.value, TransientError) and "status=401" in str(info.value)
    assert len(server.on("/sms")) == 2


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ({"json_body": {**SENT, "status": "Failed"}}, PermanentError),
        ({"json_body": {**SENT, "status": "Undelivered"}}, PermanentError),
        (
            {
                "status": 400,
                "json_body": {"developerMessage": "Invalid recipient", "errorCode": "400001003"},
            },
            PermanentError,
        ),
        ({"status": 429, "json_body": {"developerMessage": "Too many requests"}}, TransientError),
        ({"status": 500, "json_body": {"developerMessage": "Internal error"}}, TransientError),
    ],
)
async def test_send_refusals_are_typed(provider, server, answer, kind) -> None:
    server.reply(path="/sms", **answer)
    with pytest.raises(kind) as info:
        await provider.send(sms_job())
    assert kind is TransientError or not isinstance(info.value, TransientError)


async def test_token_answer_without_access_token_is_permanent(provider, server) -> None:
    server.reply(path="/oauth/token", json_body={"error": "unexpected"})
    with pytest.raises(PermanentError, match="access_token"):
        await provider.send(sms_job())
