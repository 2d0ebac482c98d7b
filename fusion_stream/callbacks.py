"""POST terminal outcomes to ``callback_url`` in the background, with a bounded retry.

A failing callback never blocks the channel and never re-sends the message: it runs after
the outcome is on the broker, off the ack path. When too many callbacks are pending the new
one is dropped and counted (the outcome itself is on the outcomes topic either way).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from fusion_stream import metrics

log = logging.getLogger(__name__)


class CallbackPoster:
    """:param attempts: tries per callback (backoff 0.5 s, 1 s, 2 s, ...)"""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        attempts: int = 3,
        timeout: float = 10.0,
        max_pending: int = 1000,
        backoff: float = 0.5,
    ) -> None:
        self._session = session
        self._attempts = attempts
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_pending = max_pending
        self._backoff = backoff
        self._tasks: set[asyncio.Task[None]] = set()

    def post(self, url: str, outcome: Mapping[str, Any]) -> None:
        if len(self._tasks) >= self._max_pending:
            metrics.CALLBACKS.labels("dropped").inc()
            log.warning("callback queue full; dropped callback for job %s", outcome.get("job_id"))
            return
        task = asyncio.create_task(self._deliver(url, dict(outcome)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, outcome: dict[str, Any]) -> None:
        body = json.dumps(outcome, default=str)
        headers = {"Content-Type": "application/json", "User-Agent": "fusion-stream"}
        for attempt in range(1, self._attempts + 1):
            try:
                async with self._session.post(
                    url, data=body, headers=headers, timeout=self._timeout
                ) as resp:
                    if resp.status < 500 and resp.status != 429:
                        metrics.CALLBACKS.labels("ok" if resp.status < 400 else "rejected").inc()
                        return
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.info("callback %s for job %s failed: %r", url, outcome.get("job_id"), exc)
            if attempt < self._attempts:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
        metrics.CALLBACKS.labels("failed").inc()
        log.warning(
            "callback %s for job %s failed after %d tries",
            url,
            outcome.get("job_id"),
            self._attempts,
        )

    async def close(self, grace: float = 5.0) -> None:
        """Give pending callbacks a moment, then cancel the rest."""
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace)
            for task in pending:
                task.cancel()
