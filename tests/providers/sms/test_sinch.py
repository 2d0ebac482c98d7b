"""Sinch adapter (``providers/sms/sinch.py``) against the recording loopback server."""

from __future__ import annotations

from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import PermanentError, TransientError
from providers.sms.sinch import Sinch

PLAN = "a1b2c3d4e5f6"
# Sinch "Send a batch message": 201 Created with the batch object
BATCH = {
    "id": "01FC66621XXXXX119Z8PMV1QPQ",
    "from": "12345",
    "to": ["+14155552671"],
    "body": "Your visit is at 10:00",
    "type": "mt_text",
    "created_at": "2024-06-06T09:22:14.304Z",
    "modified_at": "2024-06-06T09:22:14.304Z",
    "delivery_report": "none",
    "canceled": False,
    "flash_message": False,
}


def sms_job(**payload: Any) -> Job:
    base = {"contact": "+1 415 555 2671", "message": "Your visit is at 10:00"}
    return Job(job_id="job-1", channel="sms", payload={**base, **payload})


class CONTRACT:
    provider = Sinch
    reply = {"status": 201, "json_body": BATCH}
    message_id = "01FC66621XXXXX119Z8PMV1QPQ"

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return {
            "service_plan_id": PLAN,
            "api_token": "fake-token",
            "base_url": base_url,
            "sender": "12345",
        }


@pytest.fixture
def sinch(context, provider_config, server) -> Sinch:
    provider_config["sinch"] = CONTRACT.config(server.url)
    return Sinch(context)


async def test_request_is_the_batches_call(sinch, server) -> None:
    server.reply(**CONTRACT.reply)
    result = await sinch.send(sms_job())
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", f"/xms/v1/{PLAN}/batches")
    assert request.headers["Authorization"] == "Bearer fake-token"
    assert request.json() == {
        "from": "12345",
        "to": ["+14155552671"],  # E.164
        "body": "Your visit is at 10:00",
        "type": "mt_text",
        "client_reference": "job-1",
    }
    assert (result.message_id, result.status) == (CONTRACT.message_id, 201)


async def test_callback_asks_for_reports_and_default_originator(
    sinch, server, provider_config
) -> None:
    provider_config["sinch"] |= {"callback_url": "https://x/dlr"}
    del provider_config["sinch"]["sender"]
    server.reply(**CONTRACT.reply)
    await sinch.send(sms_job())
    body = server.requests[0].json()
    assert "from" not in body  # the plan's Automatic Default Originator
    assert (body["delivery_report"], body["callback_url"]) == ("per_recipient", "https://x/dlr")


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "syntax_invalid_json", PermanentError),
        (400, "syntax_invalid_parameter_format", PermanentError),
        (400, "syntax_constraint_violation", PermanentError),
        (403, "unknown_group", PermanentError),
        (403, "unknown_campaign", PermanentError),
        (403, "missing_callback_url", PermanentError),
        (401, None, PermanentError),
        (429, None, TransientError),
        (503, None, TransientError),
    ],
)
async def test_error_answers(sinch, server, status, code, kind) -> None:
    body = {"code": code, "text": "The request could not be processed"} if code else {}
    server.reply(status=status, json_body=body)
    with pytest.raises(kind) as info:
        await sinch.send(sms_job())
    assert type(info.value) is kind
    assert f"status={status}" in str(info.value)
    if code:
        assert f"code {code}" in str(info.value)


async def test_created_without_id_is_permanent(sinch, server) -> None:
    server.reply(status=201, json_body={"to": ["+14155552671"]})
    with pytest.raises(PermanentError, match="no batch id"):
        await sinch.send(sms_job())
