"""Compaction agent: indexes dead letters, tombstones expired ones, exports gauges.

Dead letters resolved by a replay are tombstoned by the processor that sent the replayed copy
(``ChannelProcessor.resolve_dead_letter``); the index drops them when it reads the tombstone.
"""

from typing import Any

from fusion_stream.app import app, settings, topics
from fusion_stream.compaction import Compactor
from fusion_stream.ledger import PartitionedTable
from fusion_stream.runtime import get_runtime

_dlqs = {spec.dlq: spec.name for spec in topics.channels.values()}
index = app.Table(
    "dead-letters",
    partitions=topics.topic(next(iter(_dlqs))).partitions,
    key_type=bytes,
    value_type=bytes,
    help="Unresolved dead letters: <channel>|<job_id> -> <dlq>|<partition>|<dead_ms>",
)
_compactor: Compactor | None = None


async def compactor() -> Compactor:
    global _compactor
    if _compactor is None:
        runtime = await get_runtime(app, settings, topics)
        _compactor = Compactor(
            PartitionedTable(index),
            runtime.publisher,
            _dlqs,
            owned=lambda: {(tp.topic, tp.partition) for tp in app.assignor.assigned_actives()},
            retention_seconds=settings.dlq_retention,
        )
    return _compactor


def _raw(*names: str) -> Any:
    return app.topic(*names, key_type=bytes, value_type=bytes)


@app.agent(_raw(*_dlqs), name="fusion.agents.dead-letters")
async def dead_letters(stream: Any) -> None:
    c = await compactor()
    async for event in stream.events():
        m = event.message
        try:
            ts = int(m.timestamp * 1000) if m.timestamp else None
            await c.on_dead_letter(m.topic, m.partition, m.key, m.value, ts)
        except Exception:  # bookkeeping only: never stop the agent over one record
            app.log.exception("indexing dead letter %s@%s failed", m.topic, m.offset)


@app.timer(interval=settings.compaction_interval)
async def tidy_dead_letters() -> None:
    try:
        await (await compactor()).tidy()
    except Exception:
        app.log.exception("dead-letter compaction pass failed")


@app.timer(interval=settings.compaction_interval)
async def sweep_ledgers() -> None:
    """Forget delivery-ledger entries past FUSION_LEDGER_TTL (in our own partitions)."""
    runtime = await get_runtime(app, settings, topics)
    actives = app.assignor.assigned_actives()
    for processor in list(runtime.processors.values()):
        if processor.ledger is None:
            continue
        owned = {tp.partition for tp in actives if tp.topic == processor.spec.topic}
        try:
            await processor.ledger.sweep(owned)
        except Exception:
            app.log.exception("sweeping the %s ledger failed", processor.channel)
