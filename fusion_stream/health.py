"""Stalled-consumer detection: partitions with lag whose committed offset stopped moving.

Faust can hang with "COMMIT OFFSET NOT ADVANCING"; a worker in that state looks alive to
Kubernetes. The liveness probe asks this detector, so such a worker is restarted.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(slots=True)
class _Seen:
    committed: int | None
    since: float
    lag: int


class StallDetector(Generic[K]):
    """:param timeout: seconds a lagging partition may go without its commit moving"""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._seen: dict[K, _Seen] = {}

    def observe(self, now: float, positions: Mapping[K, tuple[int | None, int | None]]) -> None:
        """Record (committed offset, end offset) of every assigned partition at ``now``."""
        for tp in list(self._seen):
            if tp not in positions:
                del self._seen[tp]  # revoked
        for tp, (committed, end) in positions.items():
            lag = max(0, (end or 0) - (committed or 0)) if end is not None else 0
            seen = self._seen.get(tp)
            if seen is None or seen.committed != committed or lag == 0:
                self._seen[tp] = _Seen(committed, now, lag)
            else:
                seen.lag = lag

    def stalled(self, now: float) -> list[K]:
        """Partitions with lag whose commit has not moved for longer than the timeout."""
        return [
            tp
            for tp, seen in self._seen.items()
            if seen.lag > 0 and now - seen.since > self.timeout
        ]
