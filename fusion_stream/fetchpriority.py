"""Urgent lanes first: records of the OTP topics are handed over before any bulk record.

One worker consumes every channel with one Kafka consumer. aiokafka's ``fetched_records``
drains its buffered fetch results in the order they arrived, up to ``max_poll_records`` a call,
so an OTP fetched behind several partitions' worth of buffered bulk SMS waited for all of them
to be dispatched first: 1.5 s at the median (P3, one worker, 50k bulk backlog), though the OTP
agent itself was idle. Here each fetch first takes whatever is buffered for the urgent topics
(without waiting), and only when there is none a bulk batch: a small one while urgent records
keep coming (see ``BULK_BATCH``), else the usual ``max_poll_records``.

Urgent records can starve bulk ones only while urgent records keep arriving faster than the
worker sends them: the OTP lane is for login codes, not campaigns.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

_urgent: set[str] = set()

#: most bulk records handed over at once while urgent records are coming in: Faust dispatches
#: a batch record by record (an await each, a loop turn each on a busy worker), and an urgent
#: record fetched meanwhile waits for the whole batch. Small batches cost CPU (P1 -15% with
#: batches of 10 for everything), so they are used only while the lane is busy.
BULK_BATCH = 10
#: seconds after the last urgent record during which bulk batches stay small
URGENT_RECENT = 10.0

_last_urgent = -math.inf


def install(topics: Iterable[str]) -> None:
    """Hand records of ``topics`` over first (idempotent; call before the worker starts)."""
    _urgent.update(topics)
    if getattr(AIOKafkaConsumerThread._fetch_records, "fusion_priority", False):
        return
    wrapped = prioritised(AIOKafkaConsumerThread._fetch_records)
    AIOKafkaConsumerThread._fetch_records = wrapped  # type: ignore[method-assign,assignment]


def prioritised(original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """``original`` (Faust's fetch of buffered records), urgent partitions first."""

    async def fetch_records(
        self: Any,
        consumer: Any,
        active_partitions: Any,
        timeout: float | None = None,  # noqa: ASYNC109 (Faust's signature)
        max_records: int | None = None,
    ) -> Any:
        global _last_urgent
        urgent = urgent_partitions(active_partitions, consumer)
        if urgent:
            records = await original(self, consumer, urgent, timeout=0, max_records=max_records)
            if records:
                _last_urgent = time.monotonic()
                return records
            if time.monotonic() - _last_urgent < URGENT_RECENT:
                max_records = min(max_records or BULK_BATCH, BULK_BATCH)
        return await original(
            self, consumer, active_partitions, timeout=timeout, max_records=max_records
        )

    fetch_records.fusion_priority = True  # type: ignore[attr-defined]
    return fetch_records


def urgent_partitions(active: Iterable[Any] | None, consumer: Any) -> set[Any]:
    """The urgent partitions among those Faust fetches now (all assigned ones for None)."""
    if not _urgent:
        return set()
    candidates = consumer.assignment() if active is None else active
    return {tp for tp in candidates if tp.topic in _urgent}
