"""Provider calls in flight: a global cap and a smaller cap per destination.

A destination (a webhook host, a provider) that hangs can then hold only its own share of the
calls in flight; events for every other destination keep their slots.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Bulkhead:
    """:param total: calls in flight at once, all destinations together
    :param per_destination: calls in flight at once to any one destination
    """

    def __init__(self, total: int, per_destination: int) -> None:
        self._total = asyncio.Semaphore(total)
        self._per_destination = max(1, min(per_destination, total))
        self._destinations: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @asynccontextmanager
    async def slot(self, destination: str) -> AsyncIterator[None]:
        sem, users = self._destinations.get(destination) or (
            asyncio.Semaphore(self._per_destination),
            0,
        )
        self._destinations[destination] = (sem, users + 1)
        try:
            async with sem, self._total:
                yield
        finally:
            sem, users = self._destinations[destination]
            if users <= 1:
                del self._destinations[destination]  # no idle semaphores piling up
            else:
                self._destinations[destination] = (sem, users - 1)
