"""A permanently failing endpoint: retried through every tier, then dead in the DLQ with all
headers; a replayed copy that succeeds gets its dead letter tombstoned by the worker."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from aiohttp import web

from tests.conftest import TopicSet
from tests.fault.conftest import FAST_ENV
from tests.support.kafka import produce, produce_raw, read_outcomes, read_topic, webhook

pytestmark = pytest.mark.fault


async def always_500(request: web.Request, body: bytes) -> web.Response:
    return web.Response(status=500, text='{"error": "database unavailable"}')


def test_exhausted_event_is_dead_with_headers_then_replay_resolves_it(
    fast_topic_set: TopicSet, worker_factory, http_server
) -> None:
    config = fast_topic_set.config()
    spec = config.channel("webhook")
    attempts = spec.retry.max_attempts
    http_server.behaviour = always_500
    worker = worker_factory(fast_topic_set, env=FAST_ENV)
    worker.start()
    produce(fast_topic_set, "webhook", [webhook("doomed-1", f"{http_server.url}/doomed")])

    outcomes = read_outcomes(fast_topic_set, until=attempts, timeout=120)
    statuses = [o["status"] for o in outcomes]
    assert statuses == ["retrying"] * (attempts - 1) + ["dead"], worker.log_text()[-3000:]
    assert [o["attempt"] for o in outcomes] == list(range(1, attempts + 1))
    tiers = [o["retry_tier"] for o in outcomes[:-1]]
    assert tiers[0] == spec.retry.tiers[0].topic and tiers[-1] == spec.retry.tiers[-1].topic
    assert all(o["due_at"] and o["due_at"] > o["log_time"] for o in outcomes[:-1])
    assert len(http_server.snapshot()) == attempts

    dead = read_topic(spec.dlq, until=1, timeout=30)
    assert len(dead) == 1
    letter = dead[0]
    headers = dict(letter.headers())
    assert letter.key() == b"doomed-1"
    expected = {
        "kafka_dlt-original-topic": spec.topic.encode(),
        "__connect.errors.topic": spec.topic.encode(),
        "__connect.errors.stage": b"process",
        "fusion.attempt": str(attempts).encode(),
        "fusion.provider": b"http",
        "fusion.status": b"dead",
        "fusion.source-topic": spec.topic.encode(),
    }
    for name, value in expected.items():
        assert headers.get(name) == value, name
    for name in (
        "kafka_dlt-original-partition",
        "kafka_dlt-original-offset",
        "kafka_dlt-exception-fqcn",
        "kafka_dlt-exception-message",
        "kafka_dlt-original-timestamp",
        "__connect.errors.partition",
        "__connect.errors.offset",
        "__connect.errors.exception.class.name",
        "__connect.errors.exception.message",
        "fusion.first-failure-ms",
        "fusion.error-class",
        "fusion.last-error",
    ):
        assert headers.get(name), name
    assert headers["kafka_dlt-exception-fqcn"].endswith(b"TransientError")
    assert b"status=500" in headers["kafka_dlt-exception-message"]
    assert headers["__connect.errors.offset"] == headers["kafka_dlt-original-offset"]

    # The endpoint recovers; an operator replays the dead letter by hand (same key and bytes).
    http_server.behaviour = None
    # The header `fusion-stream dlq replay` sets: without it the copy is a redelivery of a
    # job already settled (a `duplicate`), not a new try.
    replayed_from = f"{spec.dlq}:{letter.partition()}:{letter.offset()}".encode()
    produce_raw(
        spec.topic, [(letter.key(), letter.value())], {"fusion.replayed-from": replayed_from}
    )
    deadline = time.monotonic() + 60
    tombstones: list = []
    while time.monotonic() < deadline and not tombstones:
        tombstones = [
            m for m in read_topic(spec.dlq, until=10, timeout=5, idle=2) if m.value() is None
        ]
    assert tombstones and tombstones[0].key() == b"doomed-1", worker.log_text()[-3000:]
    assert tombstones[0].partition() == letter.partition()
    final = Counter(
        o["status"] for o in read_outcomes(fast_topic_set, until=attempts + 1, timeout=30)
    )
    assert final["sent"] == 1 and final["dead"] == 1
    assert worker.stop() == 0
