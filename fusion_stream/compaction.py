"""Dead-letter bookkeeping (replaces the old failed-queue cron): index, resolve, expire, measure.

The index is a table keyed ``<channel>|<job_id>`` -> ``<dlq topic>|<partition>|<dead_ms>``,
filled from the DLQ topics (a tombstone removes the entry). Age past the retention
tombstones a dead letter here; a replayed copy that got through is tombstoned by the
processor that sent it. Each worker indexes and expires only the DLQ partitions it owns, so
running the agent on every worker at once is safe.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from fusion_stream import metrics
from fusion_stream.ledger import PartitionedTable, now_ms
from fusion_stream.types import Publisher

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    channel: str
    job_id: str
    topic: str
    partition: int
    dead_ms: int

    @property
    def key(self) -> bytes:
        return index_key(self.channel, self.job_id)

    def encode(self) -> bytes:
        return f"{self.topic}|{self.partition}|{self.dead_ms}".encode()

    @classmethod
    def decode(cls, key: bytes, value: bytes) -> DeadLetter:
        channel, _, job_id = key.decode().partition("|")
        topic, partition, dead = value.decode().rsplit("|", 2)
        return cls(channel, job_id, topic, int(partition), int(dead))


def index_key(channel: str, job_id: str) -> bytes:
    return f"{channel}|{job_id}".encode()


class Compactor:
    """:param channel_of_dlq: DLQ topic name -> channel name
    :param owned: the (topic, partition) pairs this worker owns right now
    """

    def __init__(
        self,
        index: PartitionedTable,
        publisher: Publisher,
        channel_of_dlq: Mapping[str, str],
        owned: Callable[[], Collection[tuple[str, int]]],
        retention_seconds: float,
    ) -> None:
        self.index = index
        self.publisher = publisher
        self.channel_of_dlq = channel_of_dlq
        self.owned = owned
        self.retention_ms = int(retention_seconds * 1000)

    async def on_dead_letter(
        self, topic: str, partition: int, key: bytes | None, value: bytes | None, ts_ms: int | None
    ) -> None:
        """A record of a DLQ topic: index it (or drop it from the index if a tombstone)."""
        channel = self.channel_of_dlq.get(topic)
        if channel is None or not key:
            return
        job_id = key.decode("utf-8", "replace")
        if value is None:
            await self.index.delete(partition, index_key(channel, job_id))
            return
        letter = DeadLetter(channel, job_id, topic, partition, ts_ms or now_ms())
        await self.index.put(partition, letter.key, letter.encode())

    async def resolve(self, letter: DeadLetter, why: str) -> None:
        # The tombstone goes to the dead letter's own partition: compaction is per partition.
        await self.publisher.publish(
            letter.topic, letter.job_id.encode(), None, partition=letter.partition
        )
        await self.index.delete(letter.partition, letter.key)
        log.info("dead letter %s of %s resolved: %s", letter.job_id, letter.channel, why)

    async def tidy(self) -> int:
        """The periodic pass: expire old dead letters, export gauges. Returns how many expired."""
        owned = set(self.owned())
        now = now_ms()
        count: dict[str, int] = defaultdict(int)
        oldest: dict[str, int] = {}
        expired = 0
        for key, value in self.index.items():
            letter = DeadLetter.decode(key, value)
            if (letter.topic, letter.partition) not in owned:
                continue  # another worker's partition (left over from before a rebalance)
            if now - letter.dead_ms > self.retention_ms:
                await self.resolve(letter, "past retention")
                expired += 1
                continue
            count[letter.channel] += 1
            oldest[letter.channel] = min(oldest.get(letter.channel, now), letter.dead_ms)
        for channel in set(self.channel_of_dlq.values()):
            metrics.DLQ_DEPTH.labels(channel).set(count.get(channel, 0))
            metrics.DLQ_OLDEST.labels(channel).set(
                (now - oldest[channel]) / 1000 if channel in oldest else 0
            )
        return expired
