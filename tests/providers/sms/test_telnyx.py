"""Telnyx adapter (``providers/sms/telnyx.py``) against the recording loopback server."""

from __future__ import annotations

from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import ConfigurationError, PermanentError, TransientError
from providers.sms.telnyx import Telnyx

MESSAGE_ID = "40385f64-5717-4562-b3fc-2c963f66afa6"


def sent(errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The 200 answer of ``POST /v2/messages``."""
    return {
        "data": {
            "record_type": "message",
            "direction": "outbound",
            "id": MESSAGE_ID,
            "type": "SMS",
            "messaging_profile_id": "4000eba1-a0c0-4563-9925-b25e842a7cb6",
            "from": {"phone_number": "+14155550100", "carrier": "Telnyx", "line_type": "VoIP"},
            "to": [{"phone_number": "+14155552671", "status": "queued", "carrier": "T-MOBILE"}],
            "text": "Your visit is at 10:00",
            "parts": 1,
            "encoding": "GSM-7",
            "errors": errors or [],
        }
    }


def sms_job(**payload: Any) -> Job:
    base = {"contact": "4155552671", "countryCode": "1", "message": "Your visit is at 10:00"}
    return Job(job_id="job-1", channel="sms", payload={**base, **payload})


class CONTRACT:
    provider = Telnyx
    reply = {"status": 200, "json_body": sent()}
    message_id = MESSAGE_ID

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return {"api_key": "KEYfake", "base_url": base_url, "sender": "+14155550100"}


@pytest.fixture
def telnyx(context, provider_config, server) -> Telnyx:
    provider_config["telnyx"] = CONTRACT.config(server.url)
    return Telnyx(context)


async def test_request_is_the_send_message_call(telnyx, server) -> None:
    server.reply(**CONTRACT.reply)
    result = await telnyx.send(sms_job())
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/v2/messages")
    assert request.headers["Authorization"] == "Bearer KEYfake"
    assert request.json() == {
        "from": "+14155550100",
        "to": "+14155552671",  # E.164 with the required '+'
        "text": "Your visit is at 10:00",
    }
    assert result.message_id == MESSAGE_ID


async def test_profile_and_webhook(telnyx, server, provider_config) -> None:
    provider_config["telnyx"] = {
        "api_key": "KEYfake",
        "base_url": server.url,
        "messaging_profile_id": "prof-1",
        "webhook_url": "https://x/hook",
    }
    server.reply(**CONTRACT.reply)
    await telnyx.send(sms_job())
    body = server.requests[0].json()
    assert "from" not in body  # the profile's number pool picks the sender
    assert (body["messaging_profile_id"], body["webhook_url"]) == ("prof-1", "https://x/hook")


async def test_no_sender_and_no_profile_is_a_configuration_error(
    telnyx, server, provider_config
) -> None:
    del provider_config["telnyx"]["sender"]
    with pytest.raises(ConfigurationError, match="messaging_profile_id"):
        await telnyx.send(sms_job())
    assert server.requests == []


def failure(code: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "title": "Message failed", "detail": "see code"}]}


@pytest.mark.parametrize(
    ("code", "kind"),
    [(c, PermanentError) for c in ("40001", "40003", "40005", "40008", "40009", "10015")]
    + [(c, TransientError) for c in ("40002", "40004", "40006", "40011")],
)
@pytest.mark.parametrize("status", [400, 422])
async def test_error_codes_of_a_4xx(telnyx, server, status, code, kind) -> None:
    server.reply(status=status, json_body=failure(code), headers={"Retry-After": "30"})
    with pytest.raises(kind) as info:
        await telnyx.send(sms_job())
    assert type(info.value) is kind and f"code {code}" in str(info.value)
    if kind is TransientError:
        assert info.value.retry_after == 30


@pytest.mark.parametrize(("code", "kind"), [("40003", PermanentError), ("40006", TransientError)])
async def test_error_in_a_200_answer(telnyx, server, code, kind) -> None:
    server.reply(json_body=sent(errors=failure(code)["errors"]))
    with pytest.raises(kind):
        await telnyx.send(sms_job())


@pytest.mark.parametrize(
    ("status", "kind"), [(401, PermanentError), (403, PermanentError), (429, TransientError)]
)
async def test_http_status_without_code(telnyx, server, status, kind) -> None:
    server.reply(status=status, json_body={"errors": [{"title": "nope"}]})
    with pytest.raises(kind):
        await telnyx.send(sms_job())
