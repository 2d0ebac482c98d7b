"""Live-provider tests: opt-in only (``-m live`` and env vars), never in CI.

    FUSION_LIVE_PROVIDER=twilio_sms FUSION_LIVE_TO=+447700900123 \\
    FUSION_PROVIDERS__TWILIO_SMS__ACCOUNT_SID=... FUSION_PROVIDERS__TWILIO_SMS__AUTH_TOKEN=... \\
    .venv/bin/pytest -m live tests/providers/test_live.py

sends one real SMS through that provider with the settings found where the worker finds
them (provider-config table aside): ``FUSION_PROVIDERS__<NAME>__<KEY>``.
"""

from __future__ import annotations

import os

import aiohttp
import pytest

from fusion_stream.envelope import Job
from fusion_stream.settings import Settings
from providers.base import ProviderContext
from providers.config import make_lookup
from providers.registry import discover

pytestmark = pytest.mark.live
PROVIDER = os.environ.get("FUSION_LIVE_PROVIDER")
TO = os.environ.get("FUSION_LIVE_TO")


@pytest.mark.skipif(not (PROVIDER and TO), reason="set FUSION_LIVE_PROVIDER and FUSION_LIVE_TO")
async def test_one_real_sms() -> None:
    assert PROVIDER and TO
    cls = discover().get("sms", PROVIDER)
    number = TO.lstrip("+")
    job = Job(
        job_id="live-test",
        channel="sms",
        payload={
            "contact": f"+{number}",
            "countryCode": None,
            "message": "fusion-stream live test",
            "config": {"provider": PROVIDER},
        },
    )
    async with aiohttp.ClientSession() as session:
        context = ProviderContext(session=session, settings=Settings(), config=make_lookup(None))
        result = await cls(context).send(job)
    assert result.message_id
