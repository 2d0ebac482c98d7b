"""Only finished work is committed: a guard on Faust's consumer ack for the channel topics.

Faust acks events it *skips* without handing them to the agent: events of an older consumer
generation still queued after a rebalance, and events that arrive while flow control is
paused (``faust/streams.py``: "We want to ack the filtered out message otherwise the lag
would increase"). Counted as done, their offsets let the next commit pass events nobody
processed; a crash then loses them (our kill -9 test caught it). For the topics the
in-flight window handles, the guard accepts only acks of events the window marked done; a
skipped event is forgotten instead, and fetched again from the last commit.

"Fetched again" needs a seek, and after a rebalance aiokafka seeks only partitions whose
committed offset is above 0 (``if offset and offset > 0``): a partition never committed keeps
its fetch position, past the skipped events. The guard seeks those to the beginning (the
``earliest`` reset they would get anyway); the ledger turns the re-read into duplicates.

Two more Faust behaviours lose or strand events after a rebalance, and the guard replaces
both for its topics:

* The fetch loop drops any record below the partition's last read offset. A batch fetched
  before the rebalance's seek but handed over after it moves that offset past the committed
  one, so the re-fetched records from the commit onwards are dropped and never processed.
  For guarded topics no record is dropped: a second copy of an event is the window's and the
  ledger's business (one copy per job at a time; a job already sent is a duplicate).
* ``_new_offset`` commits the first run of acked offsets even when the offset *at* the last
  commit is missing ("gap of one" is tolerated: ``min(acked) - committed > 1``) and does not
  check the head at all before the first commit. For guarded topics the commit moves only
  over a run that starts exactly at the last commit (the log start when never committed).
  A head that never finishes holds the commit, and the stall detector restarts the worker;
  that is a late message, never a lost one.

Some offsets hold no event: the commit/abort markers of a transactional producer. aiokafka
skips them silently, so the strict commit would wait for them forever. The guard notes every
offset aiokafka's record unpacking passes over without delivering (``holes``) and counts
those as done.

Faust still drops events on a few more paths around a rebalance (fetched after the seek
but dispatched while flow control was suspended, or stamped with the old generation), and
then nothing reads them again until the next rebalance: the commit waits for an event that
never comes. ``repair`` finds such a partition (the event at the commit is not in the window
while later ones are done, for ``REPAIR_AFTER`` seconds) and reads it again from the commit.
"""

from __future__ import annotations

import weakref
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Iterator
from typing import Any

from aiokafka.consumer.fetcher import PartitionRecords
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from mode import get_logger
from mode.utils.futures import notify

from fusion_stream import metrics

log = get_logger(__name__)

#: seconds the event at a guarded partition's commit may be missing from the window, while
#: later events are done, before the partition is read again from the commit. Normally it
#: is never missing; just after a rebalance its re-fetched copy may still be on its way.
REPAIR_AFTER = 15.0

_done: weakref.WeakSet[Any] = weakref.WeakSet()
_guarded: set[str] = set()
_in_window: defaultdict[Any, Counter[int]] = defaultdict(Counter)  # tp -> offsets -> copies
_missing: dict[Any, tuple[int, float]] = {}  # tp -> (offset at the commit, missing since)
# tp -> [start, end) ranges of offsets fetched but holding no record (written by the consumer
# thread, taken by the commit on the event loop: deque appends and pops are thread-safe)
_holes: defaultdict[Any, deque[tuple[int, int]]] = defaultdict(deque)


class ReadOffsets(dict[Any, Any]):
    """Faust's last-read offsets, blind for guarded topics so no record of theirs is dropped."""

    def __getitem__(self, tp: Any) -> Any:
        if tp.topic in _guarded:
            return None
        return self.get(tp)


def strict_new_offset(consumer: Any, tp: Any) -> int | None:
    """The offset to commit for a guarded partition: past the acked run that starts at the last
    commit (0 when nothing is known: the seek below records the log start), or None."""
    acked: list[int] = consumer._acked[tp]
    index: set[int] = consumer._acked_index[tp]
    base = consumer._committed_offset[tp] or 0
    holes = _holes.get(tp)
    while holes:
        start, end = holes.popleft()
        for offset in range(max(start, base), end):  # no event there: nothing to wait for
            if offset not in index:
                index.add(offset)
                acked.append(offset)
    if not acked:
        return None
    acked.sort()
    stale = 0
    while stale < len(acked) and acked[stale] < base:  # committed already (a second copy)
        stale += 1
    if stale:
        index.difference_update(acked[:stale])
        del acked[:stale]
    if not acked or acked[0] != base:
        return None
    end = 1
    while end < len(acked) and acked[end] == acked[end - 1] + 1:
        end += 1
    index.difference_update(acked[:end])
    offset = acked[end - 1] + 1
    del acked[:end]
    return offset


def unpack_noting_holes(original: Any) -> Any:
    """Wrap aiokafka's ``PartitionRecords._unpack_records``: offsets of a fetch that yield no
    record (transaction markers, aborted or compacted-away batches) are noted as holes."""

    def unpack(self: Any) -> Iterator[Any]:
        tp = self._tp
        expected = self.next_fetch_offset  # the fetch's start: every offset from here on
        for record in original(self):
            if record.offset > expected and tp.topic in _guarded:
                _holes[tp].append((expected, record.offset))
            expected = max(expected, record.offset + 1)
            yield record
        if self.next_fetch_offset > expected and tp.topic in _guarded:
            _holes[tp].append((expected, self.next_fetch_offset))  # a marker at the end

    return unpack


def mark_started(message: Any) -> None:
    """The window took this event."""
    _in_window[message.tp][message.offset] += 1


def mark_done(message: Any) -> None:
    """The window finished this event (its outcome is on the broker): it may be committed."""
    _done.add(message)
    mark_left(message)


def mark_left(message: Any) -> None:
    """This event is no longer in the window (done, or cancelled at shutdown)."""
    offsets = _in_window.get(message.tp)
    if offsets is not None:
        offsets[message.offset] -= 1
        if offsets[message.offset] <= 0:
            del offsets[message.offset]


def missing_heads(consumer: Any, now: float, after: float = REPAIR_AFTER) -> list[tuple[Any, int]]:
    """Guarded partitions whose commit has waited ``after`` seconds for an event that is not
    in the window while later events are done: (partition, offset at the commit)."""
    found = []
    waiting = set()
    for tp, acked in list(consumer._acked.items()):
        if tp.topic not in _guarded or not acked:
            continue
        base = consumer._committed_offset.get(tp) or 0
        if min(acked) <= base or _in_window[tp].get(base):
            continue  # the commit moves at the next interval, or the event is being worked on
        waiting.add(tp)
        offset, since = _missing.get(tp, (base, now))
        if offset != base:
            offset, since = base, now
        _missing[tp] = (offset, since)
        if now - since >= after:
            found.append((tp, base))
            del _missing[tp]
    for tp in set(_missing) - waiting:
        del _missing[tp]
    return found


async def repair(consumer: Any, now: float, after: float = REPAIR_AFTER) -> list[Any]:
    """Read again from the commit every partition ``missing_heads`` finds; returns them."""
    repaired = []
    assigned = consumer.assignment()
    for tp, offset in missing_heads(consumer, now, after):
        if tp not in assigned:
            continue
        log.warning(
            "%s: the event at offset %d never reached the agent (dropped by Faust around a "
            "rebalance) while later ones are done; reading the partition again from %d",
            tp,
            offset,
            offset,
        )
        metrics.REREADS.labels(tp.topic).inc()
        await consumer.seek_wait({tp: offset})  # on the consumer thread
        repaired.append(tp)
    return repaired


def install(topics: Iterable[str]) -> None:
    """Guard acks of ``topics`` (idempotent; call before the worker starts)."""
    _guarded.update(topics)
    if getattr(Consumer.ack, "fusion_guard", False):
        return
    original = Consumer.ack

    def ack(self: Any, message: Any) -> bool:
        if message.topic in _guarded and message not in _done:
            self._unacked_messages.discard(message)  # so a revoke does not wait for it
            notify(self._waiting_for_ack)
            return False
        _done.discard(message)
        return bool(original(self, message))

    ack.fusion_guard = True  # type: ignore[attr-defined]
    Consumer.ack = ack  # type: ignore[method-assign]

    original_new_offset = Consumer._new_offset

    def new_offset(self: Any, tp: Any) -> int | None:
        if tp.topic in _guarded:
            return strict_new_offset(self, tp)
        return original_new_offset(self, tp)

    Consumer._new_offset = new_offset  # type: ignore[method-assign]

    original_init = Consumer.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._read_offset = ReadOffsets()

    Consumer.__init__ = init  # type: ignore[method-assign]

    PartitionRecords._unpack_records = unpack_noting_holes(PartitionRecords._unpack_records)

    seek_to_committed = AIOKafkaConsumerThread.seek_to_committed

    async def seek_uncommitted_to_beginning(self: Any) -> Any:
        committed = dict(await seek_to_committed(self))
        guarded = [tp for tp in committed if tp.topic in _guarded]
        if not guarded:
            return committed
        never = [tp for tp in guarded if not committed[tp]]
        if never:
            await self.seek_to_beginning(*never)
        # The base the strict commit counts from: the commit, or the log start when there is
        # none or retention deleted past it (those records are gone; say so).
        starts = await self.earliest_offsets(*guarded)
        for tp in guarded:
            start = starts.get(tp) or 0
            if committed[tp] and committed[tp] < start:
                log.error(
                    "%s: committed offset %d is below the log start %d: %d records were "
                    "deleted by retention before they were processed",
                    tp,
                    committed[tp],
                    start,
                    start - committed[tp],
                )
            if not committed[tp] or committed[tp] < start:
                committed[tp] = start
        return committed

    AIOKafkaConsumerThread.seek_to_committed = seek_uncommitted_to_beginning  # type: ignore[method-assign]
