"""The retry decision: one pure function of (error, attempt, event, policy)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fusion_stream.errors import ConfigurationError, PermanentError, RejectedError
from fusion_stream.outcomes import Status
from fusion_stream.topics import RetryPolicy, RetryTier


class Action(StrEnum):
    """What to do with a failed event."""

    RETRY = "retry"  # to a retry tier topic
    DEAD_LETTER = "dead-letter"  # to the channel's DLQ, with the terminal status
    DROP = "drop"  # terminal outcome only (an expired OTP: worthless, and a secret)


@dataclass(frozen=True, slots=True)
class Decision:
    """:param status: the outcome status (``retrying`` or terminal)"""

    action: Action
    status: Status
    reason: str
    tier: RetryTier | None = None
    due_at_ms: int | None = None
    alert: bool = False


def decide(
    error: BaseException,
    *,
    attempt: int,
    policy: RetryPolicy,
    now_ms: int,
    born_ms: int,
    otp: bool = False,
    expires_at_ms: int | None = None,
) -> Decision:
    """Decide what happens to an event whose ``attempt``-th try raised ``error``.

    :param attempt: the try that just failed (1 = first try)
    :param born_ms: when the event's time budget started (its ``created_at``, else the
        first failure)
    :param otp: OTP-type events become ``expired`` (not ``dead``) when out of time, and are
        not dead-lettered: an old code is worthless and a secret
    :param expires_at_ms: an OTP's own expiry; no retry is scheduled past it
    """
    if isinstance(error, RejectedError):
        return Decision(Action.DEAD_LETTER, Status.REJECTED, "rejected")
    if isinstance(error, ConfigurationError):
        return Decision(Action.DEAD_LETTER, Status.FAILED, "configuration", alert=True)
    if isinstance(error, PermanentError):
        return Decision(Action.DEAD_LETTER, Status.FAILED, "permanent", alert=error.alert)
    # Transient errors, and anything unexpected (a bug must not lose the message):
    if attempt >= policy.max_attempts:
        return Decision(Action.DEAD_LETTER, Status.DEAD, "attempts exhausted")
    tier = _tier(policy, attempt, getattr(error, "retry_after", None))
    due_at_ms = now_ms + int(tier.delay_seconds * 1000)
    deadline_ms = born_ms + int(policy.budget_seconds * 1000)
    if expires_at_ms is not None and due_at_ms >= expires_at_ms:
        return _out_of_time(otp, "expires before the next try")
    if due_at_ms > deadline_ms:
        return _out_of_time(otp, "retry budget spent")
    return Decision(Action.RETRY, Status.RETRYING, "transient", tier=tier, due_at_ms=due_at_ms)


def _out_of_time(otp: bool, reason: str) -> Decision:
    if otp:
        return Decision(Action.DROP, Status.EXPIRED, reason)
    return Decision(Action.DEAD_LETTER, Status.DEAD, reason)


def _tier(policy: RetryPolicy, attempt: int, retry_after: float | None) -> RetryTier:
    """The tier of this retry, or a later (longer) one that honours ``retry_after``."""
    index = min(attempt, len(policy.tiers)) - 1
    if retry_after:
        for tier in policy.tiers[index:]:
            if tier.delay_seconds >= retry_after:
                return tier
        return max(policy.tiers, key=lambda t: t.delay_seconds)
    return policy.tiers[index]


def expired(*, now_ms: int, expires_at_ms: int | None) -> bool:
    """An OTP past its expiry is never sent."""
    return expires_at_ms is not None and now_ms >= expires_at_ms
