"""The retry decision, as a table of cases."""

from __future__ import annotations

import pytest

from fusion_stream.errors import (
    ConfigurationError,
    PermanentError,
    RejectedError,
    TransientError,
)
from fusion_stream.outcomes import Status
from fusion_stream.retry import Action, decide, expired
from fusion_stream.topics import RetryPolicy, RetryTier

T10S, T1M, T10M, T1H = (
    RetryTier(f"r.{n}", d) for n, d in (("10s", 10), ("1m", 60), ("10m", 600), ("1h", 3600))
)
POLICY = RetryPolicy(tiers=(T10S, T1M, T10M, T1H), max_attempts=5, budget_seconds=24 * 3600)
OTP = RetryPolicy(
    tiers=(RetryTier("r.otp.2s", 2), RetryTier("r.otp.10s", 10)), max_attempts=3, budget_seconds=300
)
NOW = 1_800_000_000_000
H = 3600 * 1000


def transient(retry_after: float | None = None) -> TransientError:
    return TransientError("HTTP 503", provider="p", status=503, retry_after=retry_after)


CASES = [
    # (id, error, attempt, policy, born_ms, otp, expires_at_ms, action, status, tier)
    (
        "first transient -> tier 1",
        transient(),
        1,
        POLICY,
        NOW,
        False,
        None,
        Action.RETRY,
        Status.RETRYING,
        T10S,
    ),
    (
        "second -> tier 2",
        transient(),
        2,
        POLICY,
        NOW,
        False,
        None,
        Action.RETRY,
        Status.RETRYING,
        T1M,
    ),
    (
        "fourth -> tier 4",
        transient(),
        4,
        POLICY,
        NOW,
        False,
        None,
        Action.RETRY,
        Status.RETRYING,
        T1H,
    ),
    (
        "max attempts -> dead",
        transient(),
        5,
        POLICY,
        NOW,
        False,
        None,
        Action.DEAD_LETTER,
        Status.DEAD,
        None,
    ),
    (
        "retry-after 45s skips to 1m",
        transient(45),
        1,
        POLICY,
        NOW,
        False,
        None,
        Action.RETRY,
        Status.RETRYING,
        T1M,
    ),
    (
        "retry-after 60s fits 1m exactly",
        transient(60),
        1,
        POLICY,
        NOW,
        False,
        None,
        Action.RETRY,
        Status.RETRYING,
        T1M,
    ),
    (
        "retry-after longer than all -> longest",
        transient(7200),
        1,
        POLICY,
        NOW,
        False,
        None,
        Action.RETRY,
        Status.RETRYING,
        T1H,
    ),
    (
        "retry-after shorter than the tier keeps tier",
        transient(1),
        2,
        POLICY,
        NOW,
        False,
        None,
        Action.RETRY,
        Status.RETRYING,
        T1M,
    ),
    (
        "budget spent -> dead",
        transient(),
        1,
        POLICY,
        NOW - 24 * H,
        False,
        None,
        Action.DEAD_LETTER,
        Status.DEAD,
        None,
    ),
    (
        "otp budget spent -> expired, dropped",
        transient(),
        1,
        OTP,
        NOW - 300_000,
        True,
        None,
        Action.DROP,
        Status.EXPIRED,
        None,
    ),
    (
        "otp expiring before the retry -> expired",
        transient(),
        1,
        OTP,
        NOW,
        True,
        NOW + 1000,
        Action.DROP,
        Status.EXPIRED,
        None,
    ),
    (
        "otp expiring later -> retry",
        transient(),
        1,
        OTP,
        NOW,
        True,
        NOW + 60_000,
        Action.RETRY,
        Status.RETRYING,
        OTP.tiers[0],
    ),
    (
        "otp attempts exhausted -> dead",
        transient(),
        3,
        OTP,
        NOW,
        True,
        None,
        Action.DEAD_LETTER,
        Status.DEAD,
        None,
    ),
    (
        "permanent -> failed + dlq",
        PermanentError("HTTP 404"),
        1,
        POLICY,
        NOW,
        False,
        None,
        Action.DEAD_LETTER,
        Status.FAILED,
        None,
    ),
    (
        "rejected -> rejected + dlq",
        RejectedError("bad number"),
        1,
        POLICY,
        NOW,
        False,
        None,
        Action.DEAD_LETTER,
        Status.REJECTED,
        None,
    ),
    (
        "configuration -> failed + dlq + alert",
        ConfigurationError("unknown provider"),
        1,
        POLICY,
        NOW,
        False,
        None,
        Action.DEAD_LETTER,
        Status.FAILED,
        None,
    ),
    (
        "unexpected error retried like transient",
        RuntimeError("bug"),
        1,
        POLICY,
        NOW,
        False,
        None,
        Action.RETRY,
        Status.RETRYING,
        T10S,
    ),
]


@pytest.mark.parametrize(
    ("error", "attempt", "policy", "born", "otp", "expires", "action", "status", "tier"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_decide(error, attempt, policy, born, otp, expires, action, status, tier) -> None:  # type: ignore[no-untyped-def]
    decision = decide(
        error,
        attempt=attempt,
        policy=policy,
        now_ms=NOW,
        born_ms=born,
        otp=otp,
        expires_at_ms=expires,
    )
    assert (decision.action, decision.status, decision.tier) == (action, status, tier)
    if action is Action.RETRY:
        assert decision.due_at_ms == NOW + int(tier.delay_seconds * 1000)
    assert decision.alert is isinstance(error, ConfigurationError)


def test_expired() -> None:
    assert expired(now_ms=NOW, expires_at_ms=NOW)
    assert not expired(now_ms=NOW, expires_at_ms=NOW + 1)
    assert not expired(now_ms=NOW, expires_at_ms=None)
