"""Produce a record and return only once the broker has it (retrying until it does)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)


class KafkaPublisher:
    """Publishes through the Faust app's producer.

    ``await topic.send()`` returns before the broker has the record, so this awaits the
    delivery future too. A failed delivery is retried with capped backoff: the caller's
    input event must not be acked before its outcome / retry / dead letter is durable.
    """

    def __init__(self, app: Any, *, backoff_max: float = 5.0) -> None:
        self._app = app
        self._backoff_max = backoff_max

    async def publish(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Mapping[str, bytes] | None = None,
        partition: int | None = None,
    ) -> None:
        header_list = list(headers.items()) if headers else None
        delay = 0.1
        while True:
            try:
                producer = await self._app.maybe_start_producer()
                fut = await producer.send(
                    topic, key, value, partition=partition, timestamp=None, headers=header_list
                )
                await fut
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker down, timeout: keep trying, never drop
                log.warning("publish to %s failed (%r); retrying in %.1fs", topic, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_max)
