"""The retry scheduler: consumes the retry tiers and re-publishes each record when it is due.

Each tier has one fixed delay, so within a partition records are ordered by due time: when
the head is not due, the partition is paused (seeking back to the head) until it is, rather
than polled in a busy loop. A due record goes back to its source channel topic and
partition, bytes and headers unchanged, and the tier's offset is committed only after the
broker has it. A crash in between re-publishes it again; the delivery ledger makes that a
``duplicate`` outcome, never a second send.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from fusion_stream import headers as h
from fusion_stream.types import Publisher

log = logging.getLogger(__name__)


class RetryScheduler:
    """:param tiers: the retry tier topics this worker consumes (its group shares them out)"""

    def __init__(
        self,
        *,
        bootstrap: str,
        group: str,
        tiers: Iterable[str],
        publisher: Publisher,
        max_wait: float = 1.0,
        consumer_config: dict[str, Any] | None = None,
    ) -> None:
        self.tiers = list(tiers)
        self.publisher = publisher
        self.max_wait = max_wait
        self.consumer = AIOKafkaConsumer(
            *self.tiers,
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=500,
            **(consumer_config or {}),
        )
        self.paused_until: dict[TopicPartition, float] = {}
        self.republished = 0

    async def run(self) -> None:
        await self.consumer.start()
        try:
            while True:
                await self.step()
        finally:
            await self.consumer.stop()

    async def step(self) -> None:
        """One poll: resume due partitions, re-publish due records, pause at the first not due."""
        self._resume_due()
        batches = await self.consumer.getmany(timeout_ms=int(self._wait() * 1000))
        for tp, records in batches.items():
            if tp in self.paused_until:
                continue
            last = None
            for record in records:
                due_ms = h.integer(headers_of(record), h.DUE, 0)
                if due_ms > time.time() * 1000:
                    self.consumer.seek(tp, record.offset)
                    self.consumer.pause(tp)
                    self.paused_until[tp] = due_ms / 1000
                    break
                await self.republish(record)
                last = record.offset
            if last is not None:
                await self.consumer.commit({tp: last + 1})

    async def republish(self, record: Any) -> None:
        headers = headers_of(record)
        source = h.text(headers, h.SOURCE_TOPIC)
        if not source:
            # Not ours (no source header): nothing to route it back to. Keep the partition
            # moving and say so loudly; this is an operator error (a stray producer).
            log.error(
                "retry record %s@%d has no %s header; skipped",
                record.topic,
                record.offset,
                h.SOURCE_TOPIC,
            )
            return
        partition = h.integer(headers, h.SOURCE_PARTITION, -1)
        await self.publisher.publish(
            source,
            record.key,
            record.value,
            headers,
            partition=partition if partition >= 0 else None,
        )
        self.republished += 1

    def _resume_due(self) -> None:
        assigned = self.consumer.assignment()
        now = time.time()
        for tp, until in list(self.paused_until.items()):
            if tp not in assigned:
                del self.paused_until[tp]  # revoked: its new owner starts from the commit
            elif until <= now:
                self.consumer.resume(tp)
                del self.paused_until[tp]

    def _wait(self) -> float:
        if not self.paused_until:
            return self.max_wait
        soonest = min(self.paused_until.values()) - time.time()
        return max(0.01, min(self.max_wait, soonest))


def headers_of(record: Any) -> dict[str, bytes]:
    return {k: v for k, v in (record.headers or ())}


async def run_forever(make: Any, *, backoff_max: float = 30.0) -> None:
    """Run a scheduler, rebuilding it after a crash (a retry tier must never stop)."""
    delay = 1.0
    while True:
        scheduler = make()
        try:
            await scheduler.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("retry scheduler crashed; restarting in %.0fs", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, backoff_max)
