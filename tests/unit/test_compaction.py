"""The compaction agent's bookkeeping: index dead letters, drop tombstoned ones, expire, gauges."""

from __future__ import annotations

from fusion_stream import metrics
from fusion_stream.compaction import Compactor
from fusion_stream.ledger import PartitionedTable, now_ms
from tests.support.fakes import FakePublisher, FakeTable

DLQS = {"t.sms.dlq": "sms", "t.webhook.dlq": "webhook"}
DAY = 24 * 3600 * 1000


def make(owned: set[tuple[str, int]]) -> tuple[Compactor, FakePublisher, FakeTable]:
    table, publisher = FakeTable(), FakePublisher()
    c = Compactor(
        PartitionedTable(table), publisher, DLQS, lambda: owned, retention_seconds=7 * 86400
    )
    return c, publisher, table


async def test_a_tombstone_on_the_dlq_drops_the_index_entry() -> None:
    c, _, table = make(set())
    await c.on_dead_letter("t.sms.dlq", 1, b"job-2", b"x", now_ms())
    await c.on_dead_letter("t.sms.dlq", 1, b"job-2", None, now_ms())
    assert table.data == {}


async def test_tidy_expires_old_letters_it_owns_and_sets_the_gauges() -> None:
    c, publisher, _ = make({("t.sms.dlq", 0), ("t.webhook.dlq", 0)})
    now = now_ms()
    await c.on_dead_letter("t.sms.dlq", 0, b"old", b"x", now - 8 * DAY)
    await c.on_dead_letter("t.sms.dlq", 0, b"young", b"x", now - 2 * DAY)
    await c.on_dead_letter("t.sms.dlq", 5, b"not-mine", b"x", now - 30 * DAY)
    assert await c.tidy() == 1
    assert [(r.key, r.value) for r in publisher.records] == [(b"old", None)]
    assert metrics.DLQ_DEPTH.labels("sms")._value.get() == 1
    assert 2 * 86400 - 60 < metrics.DLQ_OLDEST.labels("sms")._value.get() < 2 * 86400 + 60
    assert metrics.DLQ_DEPTH.labels("webhook")._value.get() == 0
