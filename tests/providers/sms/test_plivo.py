"""Plivo adapter (``providers/sms/plivo.py``) against the recording loopback server."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import ConfigurationError, PermanentError, RejectedError, TransientError
from providers.sms.plivo import Plivo

AUTH_ID = "MAXXXXXXXXXXXXXXXXXX"
PATH = f"/v1/Account/{AUTH_ID}/Message/"
# https://www.plivo.com/docs/sms/api/message/send-a-message/ (HTTP 202)
QUEUED = {
    "api_id": "db342550-7f1d-11e1-8ea7-1231380bc196",
    "message": "message(s) queued",
    "message_uuid": ["db3ce55a-7f1d-11e1-8ea7-1231380bc196"],
}


def sms_job(**payload: Any) -> Job:
    base = {"contact": "4155552671", "countryCode": "1", "message": "Your visit is at 10:00"}
    return Job(job_id="job-1", channel="sms", payload={**base, **payload})


class CONTRACT:
    provider = Plivo
    reply = {"status": 202, "json_body": QUEUED}
    message_id = "db3ce55a-7f1d-11e1-8ea7-1231380bc196"

    @staticmethod
    def job(base_url: str) -> Job:
        return sms_job()

    @staticmethod
    def config(base_url: str) -> dict[str, str]:
        return {
            "auth_id": AUTH_ID,
            "auth_token": "fake-token",
            "base_url": base_url,
            "sender": "14155550100",
        }


@pytest.fixture
def plivo(context, provider_config, server) -> Plivo:
    provider_config["plivo"] = CONTRACT.config(server.url)
    return Plivo(context)


async def test_request_is_the_send_message_call(plivo, server) -> None:
    server.reply(**CONTRACT.reply)
    result = await plivo.send(sms_job())
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", PATH)  # trailing slash matters
    token = base64.b64encode(f"{AUTH_ID}:fake-token".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {token}"
    assert request.json() == {
        "src": "14155550100",
        "dst": "14155552671",  # country code, no '+'
        "text": "Your visit is at 10:00",
        "type": "sms",
    }
    assert (result.message_id, result.status) == (CONTRACT.message_id, 202)


async def test_event_sender_wins_and_dlt_ids_are_sent(plivo, server, provider_config) -> None:
    provider_config["plivo"] |= {"dlt_entity_id": "1101000000000001", "status_url": "https://x/d"}
    server.reply(**CONTRACT.reply)
    job = sms_job(contact="9876543210", countryCode="91", senderId="CLINIC")
    job.payload["config"] = {"dlt_template_id": "1107000000000002"}
    await plivo.send(job)
    body = server.requests[0].json()
    assert body["src"] == "CLINIC" and body["dst"] == "919876543210"
    assert body["dlt_entity_id"] == "1101000000000001"
    assert body["dlt_template_id"] == "1107000000000002"
    assert (body["url"], body["method"]) == ("https://x/d", "POST")


async def test_powerpack_replaces_src(plivo, server, provider_config) -> None:
    provider_config["plivo"] |= {"powerpack_uuid": "pp-1"}
    server.reply(**CONTRACT.reply)
    await plivo.send(sms_job())
    body = server.requests[0].json()
    assert body["powerpack_uuid"] == "pp-1" and "src" not in body


async def test_no_sender_anywhere_is_a_configuration_error(plivo, server, provider_config) -> None:
    del provider_config["plivo"]["sender"]
    with pytest.raises(ConfigurationError, match="powerpack_uuid"):
        await plivo.send(sms_job())
    assert server.requests == []


async def test_src_equal_to_dst_is_rejected(plivo, server) -> None:
    with pytest.raises(RejectedError):
        await plivo.send(sms_job(senderId="+14155552671"))
    assert server.requests == []


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (202, {"api_id": "a", "message": "message(s) queued", "message_uuid": []}, PermanentError),
        (400, {"api_id": "a", "error": "invalid_parameter"}, PermanentError),
        (401, {"api_id": "a", "error": "authentication_failed"}, PermanentError),
        (400, {"api_id": "a", "error": "Insufficient Credit"}, PermanentError),
        (429, {"api_id": "a", "error": "rate_limit_exceeded"}, TransientError),
        (500, {"api_id": "a", "error": "server error"}, TransientError),
    ],
)
async def test_error_answers(plivo, server, status, body, kind) -> None:
    server.reply(status=status, json_body=body)
    with pytest.raises(kind) as info:
        await plivo.send(sms_job())
    assert type(info.value) is kind


@pytest.mark.parametrize(
    ("code", "kind"),
    [("20", TransientError), ("80", TransientError), ("300", TransientError)]
    + [(c, PermanentError) for c in ("10", "30", "40", "50", "200", "900", "910", "999")],
)
def test_delivery_error_codes(plivo, code, kind) -> None:
    assert type(plivo.code_error(code, "delivery failed")) is kind
