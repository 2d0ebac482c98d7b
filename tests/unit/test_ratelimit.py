"""Token buckets on a fake clock: computed waits, FIFO service, penalties; no wall-clock time."""

from __future__ import annotations

import asyncio

import pytest

from fusion_stream.ratelimit import RateLimiter, TokenBucket


class FakeTime:
    """A clock that moves only when someone sleeps on it, by exactly the time asked."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class ManualTime:
    """A clock the test moves; sleepers wait until the test wakes them."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        self.sleepers.append((seconds, future))
        await future

    def advance(self, to: float) -> None:
        self.now = to
        for _, future in self.sleepers:
            if not future.done():
                future.set_result(None)
        self.sleepers.clear()


async def _settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def bucket(time: FakeTime | ManualTime, rate: float, burst: float | None = None) -> TokenBucket:
    return TokenBucket(rate, burst, clock=time.clock, sleep=time.sleep)


def close(values: list[float]) -> list[float]:
    return [round(v, 9) for v in values]


async def test_starts_full_then_paces_at_the_rate() -> None:
    time = FakeTime()
    b = bucket(time, rate=10, burst=3)
    waits = [await b.acquire() for _ in range(5)]
    assert close(waits) == [0, 0, 0, 0.1, 0.1]
    assert close(time.sleeps) == [0.1, 0.1]  # one sleep per missing token: no polling


async def test_default_burst_is_one_token_evenly_spaced() -> None:
    time = FakeTime()
    b = bucket(time, rate=4)
    assert b.burst == 1
    assert close([await b.acquire() for _ in range(3)]) == [0, 0.25, 0.25]


async def test_idle_time_refills_up_to_burst_only() -> None:
    time = FakeTime()
    b = bucket(time, rate=2, burst=2)
    await b.acquire(2)
    time.now += 100  # idle for a long time
    assert b.tokens() == 2
    assert close([await b.acquire() for _ in range(3)]) == [0, 0, 0.5]


async def test_fractional_and_multi_token_requests() -> None:
    time = FakeTime()
    b = bucket(time, rate=2, burst=4)
    assert await b.acquire(4) == 0
    assert await b.acquire(3) == pytest.approx(1.5)
    assert await b.acquire(0.5) == pytest.approx(0.25)


async def test_concurrent_waiters_are_served_fifo_with_exact_waits() -> None:
    time = ManualTime()
    b = bucket(time, rate=10)
    order: list[int] = []

    async def take(i: int) -> float:
        waited = await b.acquire()
        order.append(i)
        return waited

    tasks = [asyncio.create_task(take(i)) for i in range(5)]  # all arrive at t=0
    await _settle()
    for step in range(1, 5):
        # only the head sleeps, and exactly until the next token; the rest queue, not poll
        assert close([s for s, _ in time.sleepers]) == [0.1]
        time.advance(step / 10)
        await _settle()
    assert time.sleepers == []
    assert order == [0, 1, 2, 3, 4]
    assert close([await t for t in tasks]) == [0, 0.1, 0.2, 0.3, 0.4]


async def test_a_newcomer_does_not_jump_the_queue() -> None:
    time = ManualTime()
    b = bucket(time, rate=1)
    order: list[str] = []

    async def take(name: str) -> None:
        await b.acquire()
        order.append(name)

    await take("a")
    queued = [asyncio.create_task(take(name)) for name in ("b", "c")]
    await _settle()
    time.advance(1.0)  # b's token is due; c is next in line
    late = asyncio.create_task(take("late"))  # arrives in the same instant
    await _settle()
    time.advance(2.0)
    await _settle()
    time.advance(3.0)
    await asyncio.gather(*queued, late)
    assert order == ["a", "b", "c", "late"]


async def test_a_large_request_is_not_starved_by_later_small_ones() -> None:
    time = FakeTime()
    b = bucket(time, rate=1, burst=3)
    await b.acquire(3)
    order: list[str] = []

    async def take(name: str, tokens: float) -> None:
        await b.acquire(tokens)
        order.append(name)

    await asyncio.gather(take("big", 3), take("small-1", 1), take("small-2", 1))
    assert order == ["big", "small-1", "small-2"]
    assert time.now == pytest.approx(5)


async def test_penalty_blocks_until_retry_after_then_resumes_without_burst() -> None:
    time = FakeTime()
    b = bucket(time, rate=10, burst=5)
    b.penalise(2.0)
    assert b.tokens() == 0
    waits = [await b.acquire() for _ in range(3)]
    assert close(waits) == [2.0, 0.1, 0.1]  # not a burst of 5 when the penalty ends


async def test_penalty_arriving_while_a_waiter_sleeps_extends_its_wait() -> None:
    time = ManualTime()
    b = bucket(time, rate=10)
    await b.acquire()
    task = asyncio.create_task(b.acquire())
    await _settle()
    assert close([s for s, _ in time.sleepers]) == [0.1]
    time.now = 0.05
    b.penalise(1.0)  # a 429 from another in-flight call: nothing before t=1.05
    time.advance(0.1)
    await _settle()
    assert close([s for s, _ in time.sleepers]) == [0.95]
    time.advance(1.05)
    assert await task == pytest.approx(1.05)


async def test_penalty_never_shortens_or_adds_tokens() -> None:
    time = FakeTime()
    b = bucket(time, rate=0.1, burst=1)
    await b.acquire()
    b.penalise(5.0)
    b.penalise(1.0)  # shorter: ignored
    b.penalise(0)
    b.penalise(-3)
    # at t=5 the bucket would naturally hold 0.5 tokens; a penalty must not round that up
    assert await b.acquire() == pytest.approx(10.0)


async def test_penalty_must_be_finite() -> None:
    b = bucket(FakeTime(), rate=1)
    with pytest.raises(ValueError):
        b.penalise(float("inf"))
    with pytest.raises(ValueError):
        b.penalise(float("nan"))


async def test_cancelled_waiter_takes_no_token_and_lets_the_next_one_go() -> None:
    time = ManualTime()
    b = bucket(time, rate=1)
    await b.acquire()
    first = asyncio.create_task(b.acquire())
    second = asyncio.create_task(b.acquire())
    await _settle()
    first.cancel()
    await _settle()
    assert first.cancelled()
    time.advance(1.0)
    assert await second == pytest.approx(1.0)
    assert b.tokens() == 0


@pytest.mark.parametrize(
    ("rate", "burst"), [(0, None), (-1, None), (float("inf"), None), (1, 0), (1, float("nan"))]
)
def test_rejects_bad_configuration(rate: float, burst: float | None) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate, burst)


@pytest.mark.parametrize("tokens", [0, -1, 2.5])
async def test_rejects_requests_the_bucket_can_never_hold(tokens: float) -> None:
    with pytest.raises(ValueError, match="burst"):
        await bucket(FakeTime(), rate=1, burst=2).acquire(tokens)


async def test_limiter_keeps_one_bucket_per_key() -> None:
    time = FakeTime()
    limiter = RateLimiter(clock=time.clock, sleep=time.sleep)
    assert limiter.bucket("msg91", 5) is limiter.bucket("msg91", 5)
    assert limiter.bucket("msg91", 5) is not limiter.bucket("twilio", 5)
    assert await limiter.acquire("msg91", 5) == 0
    assert await limiter.acquire("twilio", 5) == 0  # another key's bucket is untouched
    assert await limiter.acquire("msg91", 5) == pytest.approx(0.2)


async def test_limiter_none_rate_is_unlimited() -> None:
    time = FakeTime()
    limiter = RateLimiter(clock=time.clock, sleep=time.sleep)
    assert limiter.bucket("console", None) is None
    assert [await limiter.acquire("console", None) for _ in range(100)] == [0.0] * 100
    assert time.sleeps == []
    limiter.penalise("console", 5)  # nothing to penalise: no error


async def test_limiter_rate_change_reconfigures_in_place() -> None:
    time = FakeTime()
    limiter = RateLimiter(clock=time.clock, sleep=time.sleep)
    first = limiter.bucket("msg91", 10)
    await limiter.acquire("msg91", 10)
    again = limiter.bucket("msg91", 2)
    assert again is first and again is not None and again.rate == 2
    assert await limiter.acquire("msg91", 2) == pytest.approx(0.5)
    assert limiter.bucket("msg91", None) is None  # now unlimited: the bucket is dropped
    assert limiter.bucket("msg91", 2) is not first


async def test_limiter_penalise_reaches_the_keys_bucket() -> None:
    time = FakeTime()
    limiter = RateLimiter(clock=time.clock, sleep=time.sleep)
    await limiter.acquire("msg91", 100)
    limiter.penalise("msg91", 3.0)
    assert await limiter.acquire("msg91", 100) == pytest.approx(3.0)
    assert await limiter.acquire("twilio", 100) == 0
