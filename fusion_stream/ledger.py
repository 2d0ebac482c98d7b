"""The delivery ledger: a changelog-backed Faust table of job ids, so no job is sent twice.

Each channel has its own table, co-partitioned with its topic (the channel topic is keyed by
job_id and a job's retries come back to the same partition), so the worker that owns a
partition also holds that partition's ledger. Entries record ``in-flight`` before the
provider call and ``sent`` after it, and are awaited on the broker before the event moves on.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fusion_stream.envelope import Job

log = logging.getLogger(__name__)


def _now_ms() -> int:
    return int(time.time() * 1000)


class TableLedger:
    """Ledger entries in a Faust table (raw bytes: ``state|written_ms|partition``).

    :param ttl_seconds: entries older than this are forgotten (and swept away)
    """

    def __init__(self, table: Any, ttl_seconds: float) -> None:
        self.table = table
        self.ttl_ms = int(ttl_seconds * 1000)

    def state(self, job: Job) -> str | None:
        value = self.table.data.get(job.job_id.encode())
        if not value:
            return None
        state, written, _ = _parse(value)
        if _now_ms() - written > self.ttl_ms:
            return None
        return state

    async def mark(self, job: Job, state: str) -> None:
        value = f"{state}|{_now_ms()}|{job.partition}".encode()
        await self._write(job.partition, job.job_id.encode(), value)

    async def forget(self, job: Job) -> None:
        if self.table.data.get(job.job_id.encode()) is not None:
            await self._write(job.partition, job.job_id.encode(), None)

    async def _write(self, partition: int, key: bytes, value: bytes | None) -> None:
        if value is None:
            self.table.data.pop(key, None)
        else:
            self.table.data[key] = value
        fut = self.table.send_changelog(
            partition, key, value, key_serializer="raw", value_serializer="raw"
        )
        await fut  # on the broker before the provider is called / the event is acked

    async def sweep(self) -> int:
        """Tombstone entries past the TTL; returns how many."""
        cutoff = _now_ms() - self.ttl_ms
        stale = [
            (k, _parse(v)[2])
            for k, v in list(self.table.data.items())
            if v and _parse(v)[1] < cutoff
        ]
        for key, partition in stale:
            await self._write(partition, key, None)
        return len(stale)


def _parse(value: bytes) -> tuple[str, int, int]:
    try:
        state, written, partition = value.decode().split("|")
        return state, int(written), int(partition)
    except ValueError:
        log.warning("unreadable ledger entry %r", value[:80])
        return "", 0, 0
