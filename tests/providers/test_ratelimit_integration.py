"""Adapters pace their sends through the worker's RateLimiter (fake clock; loopback server)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp
import pytest

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import ConfigurationError, TransientError
from fusion_stream.ratelimit import RateLimiter
from fusion_stream.settings import Settings
from providers.base import BaseProvider, ProviderContext
from providers.http import HttpProvider, HttpRequest, HttpResponse


class FakeTime:
    """A clock that moves only when someone sleeps on it, by exactly the time asked."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds
        await asyncio.sleep(0)


class Paced(HttpProvider[Any]):
    """Two sends a second, unless its config says otherwise."""

    name = "paced"
    channels = ("sms", "sms.otp")
    rate_per_second = 2.0
    error_codes = {"T": "transient"}

    def build_request(self, job: Job) -> HttpRequest:
        return HttpRequest("POST", self.context.config(self.name)["base_url"] + "/send")

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        if response.json().get("throttled"):  # a 200 with a throttling code
            raise self.code_error("T", "throttled", retry_after=3.0)
        return SendResult(provider=self.name, status=response.status)


class Sdk(BaseProvider[Any]):
    """A non-HTTP adapter: calls the helper before its (here: pretend) SDK call."""

    name = "sdk"
    channels = ("sms",)
    rate_per_second = 4.0

    async def send(self, job: Job) -> SendResult:
        await self.throttle(job)
        return SendResult(provider=self.name)


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def limiter(time: FakeTime) -> RateLimiter:
    return RateLimiter(clock=time.clock, sleep=time.sleep)


def make(
    cls: type[BaseProvider[Any]],
    session: aiohttp.ClientSession,
    limiter: RateLimiter | None,
    config: Mapping[str, str],
    account: str | None = None,
) -> Any:
    context = ProviderContext(
        session, Settings(), config=lambda n: config, limiter=limiter, account=account
    )
    return cls(context)


def job(channel: str = "sms") -> Job:
    return Job(job_id="j", channel=channel, payload={})


async def test_sends_are_paced_at_the_class_rate(server, session, limiter, time) -> None:
    server.reply(json_body={})
    provider = make(Paced, session, limiter, {"base_url": server.url})
    for _ in range(3):
        await provider.send(job())
    assert time.sleeps == [0.5, 0.5] and len(server.requests) == 3


@pytest.mark.parametrize(("configured", "sleeps"), [("4", [0.25, 0.25]), ("unlimited", [])])
async def test_config_rate_wins(server, session, limiter, time, configured, sleeps) -> None:
    server.reply(json_body={})
    provider = make(
        Paced, session, limiter, {"base_url": server.url, "rate_per_second": configured}
    )
    for _ in range(3):
        await provider.send(job())
    assert time.sleeps == sleeps


@pytest.mark.parametrize("configured", ["0", "-1", "fast", "nan"])
async def test_invalid_rate_is_a_configuration_error(server, session, limiter, configured) -> None:
    provider = make(
        Paced, session, limiter, {"base_url": server.url, "rate_per_second": configured}
    )
    with pytest.raises(ConfigurationError, match="rate_per_second"):
        await provider.send(job())
    assert server.requests == []


async def test_429_retry_after_penalises_every_lane(server, session, limiter, time) -> None:
    server.script(
        {"status": 429, "json_body": {}, "headers": {"Retry-After": "7"}},
        {"status": 200, "json_body": {}},
    )
    provider = make(Paced, session, limiter, {"base_url": server.url})
    await provider.throttle(job("sms.otp"))  # the OTP lane has a bucket too
    with pytest.raises(TransientError) as info:
        await provider.send(job())
    assert info.value.retry_after == 7
    await provider.send(job())
    assert time.sleeps == [7.0]  # no send before the provider's Retry-After
    await provider.send(job("sms.otp"))
    assert time.sleeps == [7.0]  # the OTP lane waited through the same penalty


async def test_throttling_code_in_a_200_penalises(server, session, limiter, time) -> None:
    server.script({"json_body": {"throttled": True}}, {"json_body": {}})
    provider = make(Paced, session, limiter, {"base_url": server.url})
    with pytest.raises(TransientError):
        await provider.send(job())
    await provider.send(job())
    assert time.sleeps == [3.0]


async def test_429_without_retry_after_does_not_penalise(server, session, limiter, time) -> None:
    server.script({"status": 429, "json_body": {}}, {"json_body": {}})
    provider = make(Paced, session, limiter, {"base_url": server.url, "rate_per_second": "1"})
    with pytest.raises(TransientError):
        await provider.send(job())
    await provider.send(job())
    assert time.sleeps == [1.0]  # the normal spacing only


async def test_the_otp_lane_never_queues_behind_bulk(server, session, limiter, time) -> None:
    server.reply(json_body={})
    provider = make(Paced, session, limiter, {"base_url": server.url, "rate_per_second": "1"})
    await provider.send(job("sms"))
    await provider.send(job("sms.otp"))
    assert time.sleeps == []
    assert (provider.rate_key(job("sms")), provider.rate_key(job("sms.otp"))) == (
        "paced",
        "paced@otp",
    )


async def test_accounts_have_their_own_buckets(server, session, limiter, time) -> None:
    server.reply(json_body={})
    config = {"base_url": server.url, "rate_per_second": "1"}
    shared = make(Paced, session, limiter, config)
    acme = make(Paced, session, limiter, config, account="acme")
    await shared.send(job())
    await acme.send(job())
    assert time.sleeps == [] and acme.rate_key() == "paced/acme"
    await acme.send(job())
    assert time.sleeps == [1.0]


async def test_rejected_events_take_no_token(server, session, limiter, time) -> None:
    provider = make(Paced, session, limiter, {"base_url": server.url})
    provider.build_request = lambda job: (_ for _ in ()).throw(ValueError("bad event"))
    for _ in range(3):
        with pytest.raises(ValueError):
            await provider.send(job())
    assert time.sleeps == [] and limiter.bucket("paced", None) is None


async def test_non_http_adapters_use_the_helper(session, limiter, time) -> None:
    provider = make(Sdk, session, limiter, {})
    for _ in range(3):
        await provider.send(job())
    assert time.sleeps == [0.25, 0.25]
    provider.penalise(2.0)
    await provider.send(job())
    assert time.sleeps[-1] == 2.0


async def test_no_limiter_no_waiting(server, session) -> None:
    server.reply(json_body={})
    provider = make(Paced, session, None, {"base_url": server.url, "rate_per_second": "0.001"})
    for _ in range(3):
        await provider.send(job())
    provider.penalise(60)
    assert await provider.throttle(job()) == 0.0


async def test_a_long_retry_after_pauses_at_most_a_minute(session, limiter, time) -> None:
    provider = make(Sdk, session, limiter, {})
    await provider.send(job())
    provider.penalise(3600)
    await provider.send(job())
    assert time.sleeps == [60.0]
