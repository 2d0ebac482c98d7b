"""Bounded in-flight work whose events are acked per partition in offset order.

Faust commits the offsets of acked events. Acking out of order lets a commit jump past
unfinished work (faust #606), so the window holds every event until all earlier events of
its partition are done, then acks the contiguous done prefix (Confluent Parallel
Consumer's shape). A crash therefore redelivers at most the unacked window, never loses.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Entry:
    item: Any
    done: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class InFlightWindow:
    """Runs work concurrently, acks in offset order per partition.

    :param max_in_flight: work items running at once (provider calls in flight)
    :param max_pending: items started but not yet acked (bounds memory and redelivery
        after a crash); a slow head of one partition holds at most this many behind it
    :param ack: called with each item once it and every earlier item of its partition is done
    """

    def __init__(
        self,
        max_in_flight: int,
        max_pending: int,
        ack: Callable[[Any], Awaitable[Any] | Any],
    ) -> None:
        if max_pending < max_in_flight:
            max_pending = max_in_flight
        self._running = asyncio.Semaphore(max_in_flight)
        self._max_pending = max_pending
        self._pending = 0
        self._room = asyncio.Condition()
        self._queues: dict[Hashable, deque[_Entry]] = {}
        self._ack = ack

    @property
    def pending(self) -> int:
        """Items started and not yet acked."""
        return self._pending

    async def submit(
        self, partition: Hashable, item: Any, work: Callable[[], Awaitable[None]]
    ) -> None:
        """Wait for room, then start ``work()`` for ``item`` of ``partition``.

        ``work`` must handle its own errors; if it raises anyway the item is never acked
        (it will be redelivered) and the error is logged.
        """
        async with self._room:
            await self._room.wait_for(lambda: self._pending < self._max_pending)
            self._pending += 1
        await self._running.acquire()
        entry = _Entry(item)
        self._queues.setdefault(partition, deque()).append(entry)
        entry.task = asyncio.create_task(self._run(partition, entry, work))

    async def _run(
        self, partition: Hashable, entry: _Entry, work: Callable[[], Awaitable[None]]
    ) -> None:
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception:
            # Never ack what failed unexpectedly: the partition stalls here, the stall
            # detector restarts the worker and the event is redelivered.
            log.exception("work for %r raised; it will not be acked", entry.item)
            self._running.release()
            return
        self._running.release()
        entry.done = True
        await self._advance(partition)

    async def _advance(self, partition: Hashable) -> None:
        queue = self._queues[partition]
        acked = 0
        while queue and queue[0].done:
            result = self._ack(queue.popleft().item)
            if asyncio.iscoroutine(result):
                await result
            acked += 1
        if acked:
            async with self._room:
                self._pending -= acked
                self._room.notify_all()

    def unacked(self) -> list[Any]:
        """Items started and not acked (after ``cancel``: those that never will be)."""
        return [e.item for q in self._queues.values() for e in q]

    async def drain(self) -> None:
        """Wait until every started item has finished (acked or failed)."""
        tasks = [e.task for q in self._queues.values() for e in q if e.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def cancel(self) -> None:
        """Cancel unfinished work (shutdown): nothing cancelled is acked."""
        tasks = [e.task for q in self._queues.values() for e in q if e.task and not e.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
