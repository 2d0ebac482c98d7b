"""Fast2SMS adapter (``providers/sms/fast2sms.py``) against a recording loopback server."""

from __future__ import annotations

from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import PermanentError, RejectedError, TransientError
from providers.sms.fast2sms import Fast2Sms

SENT = {"return": True, "request_id": "lwdtp7cjyqxvfe9", "message": ["SMS sent successfully."]}
TEXT = "Your OTP is 482913 for Login. - Clinic"


def sms_job(channel: str = "sms", **payload: Any) -> Job:
    base = {
        "contact": "9876543210",
        "countryCode": "91",
        "message": TEXT,
        "config": {"provider": "fast2sms", "dlt_template_id": "1107161234567890123"},
    }
    return Job(job_id="job-1", channel=channel, payload={**base, **payload})


class CONTRACT:
    """Drives this adapter through the shared suite in tests/providers/test_contract.py."""

    provider = Fast2Sms
    reply = {"status": 200, "json_body": SENT}
    message_id = "lwdtp7cjyqxvfe9"

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return {
            "api_key": "f2s-test-key",
            "sender_id": "CLINIC",
            "entity_id": "1101123456789012345",
            "base_url": base_url,
        }


@pytest.fixture
def provider(context, provider_config, server) -> Fast2Sms:
    provider_config["fast2sms"] = CONTRACT.config(server.url)
    return Fast2Sms(context)


@pytest.mark.parametrize("channel", ["sms", "sms.otp"])
async def test_request_is_the_documented_one(provider, server, channel) -> None:
    server.reply(json_body=SENT)
    result = await provider.send(sms_job(channel))
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/dev/bulkV2")
    assert request.headers["authorization"] == "f2s-test-key"
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.json() == {
        "route": "dlt_manual",
        "sender_id": "CLINIC",
        "message": TEXT,
        "numbers": "9876543210",
        "flash": "0",
        "template_id": "1107161234567890123",
        "entity_id": "1101123456789012345",
    }
    assert result.message_id == "lwdtp7cjyqxvfe9"


async def test_template_and_entity_are_optional(provider, server, provider_config) -> None:
    provider_config["fast2sms"] = {
        k: v for k, v in provider_config["fast2sms"].items() if k != "entity_id"
    }
    server.reply(json_body=SENT)
    await provider.send(sms_job(config=None, senderId="CLNCOT"))
    body = server.requests[0].json()
    assert "template_id" not in body and "entity_id" not in body
    assert body["sender_id"] == "CLNCOT"


async def test_only_indian_numbers(provider, server) -> None:
    with pytest.raises(RejectedError, match="Indian"):
        await provider.send(sms_job(contact="0712345678", countryCode="254"))
    assert server.requests == []


@pytest.mark.parametrize(
    ("answer", "kind", "fragment"),
    [
        (
            {
                "status": 200,
                "json_body": {
                    "return": False,
                    "status_code": 412,
                    "message": "Invalid Authentication, Check Authorization Key",
                },
            },
            PermanentError,
            "Invalid Authentication",
        ),
        (
            {
                "status": 200,
                "json_body": {
                    "return": False,
                    "status_code": 424,
                    "message": ["Invalid Message ID (or Template, Entity ID)"],
                },
            },
            PermanentError,
            "Invalid Message ID",
        ),
        (
            {
                "status": 400,
                "json_body": {"return": False, "status_code": 411, "message": "Invalid Sender ID"},
            },
            PermanentError,
            "Invalid Sender ID",
        ),
        (
            {"status": 500, "json_body": {"return": False, "message": "Server error"}},
            TransientError,
            "Server error",
        ),
    ],
)
async def test_refusals_are_typed(provider, server, answer, kind, fragment) -> None:
    server.reply(**answer)
    with pytest.raises(kind) as info:
        await provider.send(sms_job())
    assert kind is TransientError or not isinstance(info.value, TransientError)
    assert fragment in str(info.value)
    assert "f2s-test-key" not in info.value.one_line()
