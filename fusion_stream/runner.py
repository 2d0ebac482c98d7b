"""The loop every channel agent runs: raw events into the in-flight window, acked in order."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from fusion_stream.app import app, settings, topics
from fusion_stream.commitguard import mark_done, mark_left, mark_started
from fusion_stream.processor import Record, headers_dict
from fusion_stream.runtime import get_runtime
from fusion_stream.window import InFlightWindow

log = logging.getLogger(__name__)


async def run_channel(stream: Any, channel: str, ledger: Any | None = None) -> None:
    """Consume ``stream`` (raw bytes) for ``channel`` until the worker stops.

    Nothing escapes this loop: the processor routes every failure, and the window acks an
    event only after its outcome is on the broker and every earlier event of its
    partition is done.
    """
    runtime = await get_runtime(app, settings, topics)
    processor = runtime.processor(channel, ledger)
    manual = stream.noack()

    # Every pending event gets a task; the processor's bulkhead caps the provider calls.
    async def ack(event: Any) -> None:
        mark_done(event.message)
        await manual.ack(event)

    window = InFlightWindow(settings.max_pending, settings.max_pending, ack)
    try:
        async for event in manual.events():
            message = event.message
            record = Record(
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                key=message.key,
                value=message.value,
                timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
                headers=headers_dict(message.headers),
            )
            mark_started(message)
            await window.submit(message.tp, event, partial(processor.process, record))
    finally:
        # Stopping: unfinished work is cancelled and never acked, so it is redelivered.
        await window.cancel()
        for item in window.unacked():
            mark_left(item.message)
