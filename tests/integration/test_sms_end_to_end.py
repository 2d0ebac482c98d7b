"""SMS and OTP through a worker on the real broker: routing, whitelists, expiry, the OTP lane."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from typing import Any

import pytest
from aiohttp import web

from tests.conftest import BROKER, TopicSet
from tests.support.kafka import produce, read_outcomes, read_topic

pytestmark = pytest.mark.integration

SID = "AC00000000000000000000000000000000"


def sms(job_id: str, contact: str = "9876543210", cc: str = "91", **fields: Any) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "task_type": "sms",
        "contact": contact,
        "countryCode": cc,
        "message": "Your appointment is at 10:00",
        **fields,
    }


def twilio_env(url: str) -> dict[str, str]:
    return {
        "FUSION_PROVIDERS__TWILIO_SMS__ACCOUNT_SID": SID,
        "FUSION_PROVIDERS__TWILIO_SMS__AUTH_TOKEN": "t0ken",
        "FUSION_PROVIDERS__TWILIO_SMS__FROM_NUMBER": "+15017122661",
        "FUSION_PROVIDERS__TWILIO_SMS__BASE_URL": url,
    }


async def twilio_answer(request: web.Request, body: bytes) -> web.Response:
    """What Twilio's Messages API answers (201 with the message resource)."""
    return web.json_response(
        {"sid": f"SM{uuid.uuid4().hex}", "status": "queued", "error_code": None}, status=201
    )


def test_sms_routing_whitelist_and_expiry(topic_set: TopicSet, worker_factory, http_server) -> None:
    env = {**os.environ, "FUSION_BROKER": BROKER, "FUSION_TOPICS_FILE": str(topic_set.path)}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "fusion_stream.cli",
            "providers",
            "set",
            "acme",
            "--provider",
            "twilio_sms",
            "--allow",
            "44",
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    http_server.behaviour = twilio_answer
    twilio = {"config": {"provider": "twilio_sms"}}
    worker = worker_factory(topic_set, env=twilio_env(http_server.url))
    worker.start()
    past = int(time.time() * 1000) - 60_000
    produce(
        topic_set,
        "sms",
        [
            sms("ok-1", **twilio),
            sms("unicode-1", message="आपका अपॉइंटमेंट 10 बजे है", **twilio),
            sms("bad-number", contact="12", **twilio),
            sms("unknown-provider", config={"provider": "no-such-sms"}),
            sms("not-whitelisted", provider_id="acme", **twilio),
            sms("whitelisted", contact="7400123456", cc="44", provider_id="acme", **twilio),
        ],
    )
    produce(
        topic_set,
        "sms.otp",
        [
            sms(
                "otp-expired", isOTP=True, expires_at=past, message="907153 is your code", **twilio
            ),
            sms("otp-fresh", isOTP=True, message="654321 is your code", **twilio),
        ],
    )
    outcomes = {o["job_id"]: o for o in read_outcomes(topic_set, until=8, timeout=120)}
    assert set(outcomes) == {
        "ok-1",
        "unicode-1",
        "bad-number",
        "unknown-provider",
        "not-whitelisted",
        "whitelisted",
        "otp-expired",
        "otp-fresh",
    }, worker.log_text()[-3000:]
    status = {job: o["status"] for job, o in outcomes.items()}
    assert status == {
        "ok-1": "sent",
        "unicode-1": "sent",
        "bad-number": "rejected",
        "unknown-provider": "failed",
        "not-whitelisted": "rejected",
        "whitelisted": "sent",
        "otp-expired": "expired",
        "otp-fresh": "sent",
    }
    assert (outcomes["ok-1"]["encoding"], outcomes["ok-1"]["segments"]) == ("GSM-7", 1)
    assert outcomes["unicode-1"]["encoding"] == "UCS-2"
    assert outcomes["ok-1"]["provider_message_id"].startswith("SM")
    assert "countryCode is not whitelisted for provider" in outcomes["not-whitelisted"]["error"]
    assert "unknown provider 'no-such-sms'" in outcomes["unknown-provider"]["error"]

    requests = http_server.snapshot()
    assert len(requests) == 4  # ok-1, unicode-1, whitelisted, otp-fresh; never the expired OTP
    form = dict(x.split("=", 1) for x in requests[0].body.decode().split("&"))
    assert requests[0].path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert form["To"] == "%2B919876543210"
    assert not any(b"907153" in r.body for r in requests)

    dead = {
        m.key().decode(): dict(m.headers())
        for m in read_topic(topic_set.config().channel("sms").dlq, until=3, timeout=30)
    }
    assert set(dead) == {"bad-number", "unknown-provider", "not-whitelisted"}
    assert dead["unknown-provider"]["fusion.error-class"].endswith(b".ConfigurationError")
    assert worker.stop() == 0


def test_otp_is_sent_before_a_bulk_backlog_drains(topic_set: TopicSet, worker_factory) -> None:
    bulk = 50_000
    produce(topic_set, "sms", (sms(f"bulk-{i:05d}") for i in range(bulk)))
    worker = worker_factory(topic_set)
    worker.start()
    read_outcomes(topic_set, until=200, timeout=120)  # the backlog is being worked on
    produce(topic_set, "sms.otp", [sms("otp-1", isOTP=True, message="482913 is your code")])

    outcomes: list[dict[str, Any]] = []
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        outcomes = read_outcomes(topic_set, until=bulk + 1, timeout=60, idle=5)
        if len(outcomes) >= bulk + 1:
            break
    assert Counter(o["status"] for o in outcomes)["sent"] == bulk + 1, worker.log_text()[-2000:]
    otp = next(o for o in outcomes if o["job_id"] == "otp-1")
    after_otp = sum(o["log_time"] > otp["log_time"] for o in outcomes if o["channel"] == "sms")
    print(
        f"\nOTP sent {otp['log_time'] - otp['created_at']} ms after it was produced, "
        f"with {after_otp} bulk SMS still to go"
    )
    # Not a timing assertion: the OTP must come out with (nearly) all the backlog still
    # waiting. Its records are handed over before any bulk record (fusion_stream.fetchpriority).
    assert after_otp > bulk * 9 // 10, "the OTP waited behind the bulk backlog"
    assert worker.stop() == 0
