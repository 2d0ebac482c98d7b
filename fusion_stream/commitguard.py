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
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from mode.utils.futures import notify

_done: weakref.WeakSet[Any] = weakref.WeakSet()
_guarded: set[str] = set()


def mark_done(message: Any) -> None:
    """The window finished this event (its outcome is on the broker): it may be committed."""
    _done.add(message)


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

    seek_to_committed = AIOKafkaConsumerThread.seek_to_committed

    async def seek_uncommitted_to_beginning(self: Any) -> Any:
        committed = await seek_to_committed(self)
        never = [tp for tp, offset in committed.items() if tp.topic in _guarded and not offset]
        if never:
            await self.seek_to_beginning(*never)
        return committed

    AIOKafkaConsumerThread.seek_to_committed = seek_uncommitted_to_beginning  # type: ignore[method-assign]
