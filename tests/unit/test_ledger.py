"""The delivery ledger: states, expiry, and the sweep of its own partitions only."""

from __future__ import annotations

from fusion_stream.envelope import Job
from fusion_stream.ledger import TableLedger, now_ms
from tests.support.fakes import FakeTable


def job(job_id: str, partition: int) -> Job:
    return Job(job_id=job_id, channel="sms", payload={}, partition=partition)


async def test_mark_forget_and_the_changelog_partition() -> None:
    table = FakeTable()
    ledger = TableLedger(table, ttl_seconds=60)
    await ledger.mark(job("a", 3), "in-flight")
    assert ledger.state(job("a", 3)) == "in-flight"
    await ledger.mark(job("a", 3), "sent")
    assert ledger.state(job("a", 3)) == "sent"
    await ledger.forget(job("a", 3))
    assert ledger.state(job("a", 3)) is None
    assert [(p, k, v is None) for p, k, v in table.changelog] == [
        (3, b"a", False),
        (3, b"a", False),
        (3, b"a", True),
    ]


async def test_entries_past_the_ttl_are_forgotten_and_swept_in_owned_partitions() -> None:
    table = FakeTable()
    ledger = TableLedger(table, ttl_seconds=60)
    old = now_ms() - 120_000
    table.data[b"old-mine"] = f"sent|{old}|1".encode()
    table.data[b"old-theirs"] = f"sent|{old}|2".encode()
    table.data[b"fresh"] = f"sent|{now_ms()}|1".encode()
    assert ledger.state(job("old-mine", 1)) is None  # expired: a re-used id is sent again
    assert await ledger.sweep(owned={1}) == 1
    assert set(table.data) == {b"old-theirs", b"fresh"}
    assert table.changelog == [(1, b"old-mine", None)]
