"""Health and metrics endpoints of the worker's web server: /livez, /readyz, /metrics."""

import time
from typing import Any

from faust.types import TP
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from fusion_stream import commitguard, metrics
from fusion_stream.app import app, settings, topics
from fusion_stream.health import StallDetector

detector: StallDetector[TP] = StallDetector(settings.stall_timeout)
_watched = {spec.topic for spec in topics.channels.values()}


@app.timer(interval=5.0)
async def watch_commits() -> None:
    """Feed the stall detector: committed and end offsets of our assigned channel partitions."""
    consumer = app.consumer
    committed = getattr(consumer, "_committed_offset", {})
    positions: dict[TP, tuple[int | None, int | None]] = {}
    for tp in consumer.assignment():
        if tp.topic in _watched:
            try:
                end = consumer.highwater(tp)
            except Exception:  # not fetched yet
                end = None
            positions[tp] = (committed.get(tp), end)
            if end is not None:
                metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(
                    max(0, end - (positions[tp][0] or 0))
                )
    detector.observe(time.monotonic(), positions)
    try:
        await commitguard.repair(consumer, time.monotonic())
    except Exception:  # a seek during a rebalance: the rebalance's own seek covers it
        app.log.exception("re-reading a partition with a dropped event failed")


@app.page("/livez")
async def livez(web: Any, request: Any) -> Any:
    """Fails when a lagging partition's commits stopped moving (Kubernetes restarts us)."""
    stalled = detector.stalled(time.monotonic())
    if stalled:
        body = {"status": "stalled", "partitions": [f"{tp.topic}:{tp.partition}" for tp in stalled]}
        return web.json(body, status=503)
    return web.json({"status": "ok"})


@app.page("/readyz")
async def readyz(web: Any, request: Any) -> Any:
    """Ready once started and not in the middle of a rebalance."""
    if app.rebalancing or not app.producer.started:
        return web.json({"status": "not ready", "rebalancing": bool(app.rebalancing)}, status=503)
    return web.json({"status": "ready"})


@app.page("/metrics")
async def prometheus_metrics(web: Any, request: Any) -> Any:
    return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])
