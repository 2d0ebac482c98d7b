"""Undecodable records go to the DLQ (stage=deserialize) and never stop the partition."""

from __future__ import annotations

import os
import random
from collections import Counter

import pytest

from fusion_stream.codec import AvroCodec
from fusion_stream.settings import ROOT
from tests.conftest import TopicSet
from tests.fault.conftest import FAST_ENV
from tests.support.kafka import produce_raw, read_outcomes, read_topic, webhook

pytestmark = pytest.mark.fault
CODEC = AvroCodec(ROOT / "schemas")


def garbage(i: int, rng: random.Random) -> bytes:
    good = CODEC.encode("webhook_request", webhook(f"x{i}", "http://127.0.0.1:9/x"))
    kind = i % 6
    if kind == 0:
        return rng.randbytes(rng.randint(1, 200))  # noise
    if kind == 1:
        return good[: rng.randint(3, len(good) - 1)]  # truncated single-object record
    if kind == 2:
        return b"\xc3\x01" + rng.randbytes(8) + good[10:]  # unknown schema fingerprint
    if kind == 3:
        return b"\x00\x00\x00\x00\x07" + good[10:]  # Confluent framing, no registry here
    if kind == 4:
        return b'{"payload": ["not", "an", "object"]}'
    return b""  # empty value


def test_garbage_is_dead_lettered_and_good_records_flow(
    fast_topic_set: TopicSet, worker_factory, http_server
) -> None:
    rng = random.Random(7)
    config = fast_topic_set.config()
    spec = config.channel("webhook")
    items: list[tuple[bytes, bytes]] = []
    bad: dict[str, bytes] = {}
    for i in range(1000):
        key = f"bad-{i:04d}"
        bad[key] = garbage(i, rng)
        items.append((key.encode(), bad[key]))
        if i % 2 == 0:
            job = f"good-{i:04d}"
            items.append(
                (
                    job.encode(),
                    CODEC.encode("webhook_request", webhook(job, f"{http_server.url}/{job}")),
                )
            )
    worker = worker_factory(fast_topic_set, env=FAST_ENV)
    worker.start()
    pid = worker.proc.pid
    produce_raw(spec.topic, items)

    outcomes = read_outcomes(fast_topic_set, until=1500)
    statuses = Counter((o["job_id"].split("-")[0], o["status"]) for o in outcomes)
    assert statuses == {("bad", "rejected"): 1000, ("good", "sent"): 500}, worker.log_text()[-3000:]
    assert len(http_server.snapshot()) == 500

    dead = read_topic(spec.dlq, until=1000, timeout=60)
    assert len(dead) == 1000
    for msg in dead:
        headers = dict(msg.headers())
        key = msg.key().decode()
        assert (msg.value() or b"") == bad[key]  # the original bytes, untouched
        assert headers["__connect.errors.stage"] == b"deserialize"
        assert headers["kafka_dlt-original-topic"] == spec.topic.encode()
        assert headers["__connect.errors.topic"] == spec.topic.encode()
        assert int(headers["kafka_dlt-original-offset"]) >= 0
        assert headers["kafka_dlt-exception-fqcn"].endswith(b"DecodeError")
        assert headers["kafka_dlt-exception-message"]
        assert (
            headers["__connect.errors.exception.class.name"] == headers["kafka_dlt-exception-fqcn"]
        )
    # the worker never restarted or crashed
    assert worker.proc.poll() is None and worker.proc.pid == pid
    assert os.path.exists(f"/proc/{pid}")
    assert worker.stop() == 0
