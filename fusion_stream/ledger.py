"""Changelog-backed Faust tables written at an explicit partition, and the delivery ledger.

Faust picks a table write's changelog partition from the current stream event; our work runs
in the in-flight window, outside the stream's iteration, so writes name their partition and
are awaited on the broker before the event moves on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Iterator
from typing import Any

from fusion_stream.envelope import Job

log = logging.getLogger(__name__)


def now_ms() -> int:
    return int(time.time() * 1000)


class PartitionedTable:
    """A Faust table (raw bytes keys and values) written at explicit partitions."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def get(self, key: bytes) -> bytes | None:
        value = self.table.data.get(key)
        return value if value else None

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        return iter([(k, v) for k, v in list(self.table.data.items()) if v])

    async def put(self, partition: int, key: bytes, value: bytes) -> None:
        self.table.data[key] = value
        await self._send(partition, key, value)

    async def delete(self, partition: int, key: bytes) -> None:
        self.table.data.pop(key, None)
        await self._send(partition, key, None)

    async def _send(self, partition: int, key: bytes, value: bytes | None) -> None:
        # Produced directly rather than through Faust's send_changelog: that path queues in
        # Faust's ProducerBuffer, sent one record at a time, and while the buffer holds over
        # 100 records Faust's conductor stops handing events to every agent (OTPs behind
        # bulk SMS ledger writes); it also cost 12-16% of the worker's CPU (bench). Fine for
        # the in-memory store, which keeps no changelog offsets of its own.
        delay = 0.1
        topic = self.table.changelog_topic.get_topic_name()
        while True:
            try:
                producer = await self.table.app.maybe_start_producer()
                fut = await producer.send(
                    topic, key, value, partition=partition, timestamp=None, headers=None
                )
                await fut  # resolves once the broker has the record
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker away: the same write again is harmless
                log.warning("changelog write failed (%r); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)


class TableLedger:
    """The delivery ledger of one channel: job_id -> ``state|written_ms|partition``.

    Co-partitioned with the channel topic (keyed by job_id; retries come back to the same
    partition), so the worker owning a partition holds that partition's entries.

    :param ttl_seconds: entries older than this are forgotten (and swept away)
    """

    def __init__(self, table: Any, ttl_seconds: float) -> None:
        self.entries = PartitionedTable(table)
        self.ttl_ms = int(ttl_seconds * 1000)

    def state(self, job: Job) -> str | None:
        value = self.entries.get(job.job_id.encode())
        if value is None:
            return None
        state, written, _ = _parse(value)
        if now_ms() - written > self.ttl_ms:
            return None
        return state

    async def mark(self, job: Job, state: str) -> None:
        value = f"{state}|{now_ms()}|{job.partition}".encode()
        await self.entries.put(job.partition, job.job_id.encode(), value)

    async def forget(self, job: Job) -> None:
        if self.entries.get(job.job_id.encode()) is not None:
            await self.entries.delete(job.partition, job.job_id.encode())

    async def sweep(self, owned: Collection[int]) -> int:
        """Tombstone entries past the TTL in the partitions this worker owns; returns how many.

        Entries of other partitions (left in memory from before a rebalance) are not ours to
        delete: their owner may have written a fresher value.
        """
        cutoff = now_ms() - self.ttl_ms
        stale = [
            (key, partition)
            for key, value in self.entries.items()
            for _, written, partition in [_parse(value)]
            if written < cutoff and partition in owned
        ]
        for key, partition in stale:
            await self.entries.delete(partition, key)
        return len(stale)


def _parse(value: bytes) -> tuple[str, int, int]:
    try:
        state, written, partition = value.decode().split("|")
        return state, int(written), int(partition)
    except ValueError:
        log.warning("unreadable ledger entry %r", value[:80])
        return "", 0, 0
