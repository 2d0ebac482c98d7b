"""End to end on the real broker: a worker subprocess delivers webhook events to a loopback server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from fusion_stream.codec import AvroCodec
from fusion_stream.settings import ROOT
from tests.conftest import BROKER, TopicSet, bootstrap

pytestmark = pytest.mark.integration

CODEC = AvroCodec(ROOT / "schemas")


def produce_webhooks(topic_set: TopicSet, url: str, n: int, **fields: Any) -> list[str]:
    topic = topic_set.config().channel("webhook").topic
    producer = Producer({"bootstrap.servers": bootstrap(), "linger.ms": 20})
    ids = []
    for i in range(n):
        job_id = f"job-{i:05d}"
        record = {
            "job_id": job_id,
            "task_type": "webhook",
            "url": f"{url}/hook/{job_id}",
            "method": "POST",
            "args": {"i": i},
            "isBody": 1,
            **fields,
        }
        producer.produce(topic, key=job_id.encode(), value=CODEC.encode("webhook_request", record))
        producer.poll(0)
        ids.append(job_id)
    assert producer.flush(60) == 0
    return ids


def read_outcomes(topic_set: TopicSet, until: int, timeout: float = 180) -> list[dict[str, Any]]:
    """Read the outcomes topic from the start until ``until`` records or the timeout."""
    topic = topic_set.config().outcomes
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap(),
            "group.id": f"{topic_set.prefix}reader-{time.time()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < until and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.5):
                if msg.error() is None:
                    found.append(CODEC.decode(msg.value(), "outcome"))
    finally:
        consumer.close()
    return found


def committed_lag(topic_set: TopicSet, app_id: str) -> int:
    """Messages of the webhook topic not yet committed by the worker's consumer group."""
    topic = topic_set.config().channel("webhook").topic
    consumer = Consumer(
        {"bootstrap.servers": bootstrap(), "group.id": app_id, "enable.auto.commit": False}
    )
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        tps = [TopicPartition(topic, p) for p in parts]
        lag = 0
        for tp in consumer.committed(tps, timeout=10):
            low, high = consumer.get_watermark_offsets(tp, timeout=10)
            lag += high - (tp.offset if tp.offset >= 0 else low)
        return lag
    finally:
        consumer.close()


def test_thousand_webhooks_each_delivered_once_and_committed(
    topic_set: TopicSet, worker_factory, http_server
) -> None:
    worker = worker_factory(topic_set)
    worker.start()
    ids = produce_webhooks(topic_set, http_server.url, 1000)

    outcomes = read_outcomes(topic_set, until=1000)
    assert len(outcomes) == 1000, worker.log_text()[-3000:]
    assert Counter(o["status"] for o in outcomes) == {"sent": 1000}
    assert {o["job_id"] for o in outcomes} == set(ids)
    assert all(o["response_status"] == 200 and o["task"] == "POST" for o in outcomes)
    per_path = http_server.count_by(lambda r: r.path)
    assert len(per_path) == 1000 and set(per_path.values()) == {1}
    assert http_server.snapshot()[0].json()["i"] >= 0

    deadline = time.monotonic() + 30
    while committed_lag(topic_set, worker.app_id) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert committed_lag(topic_set, worker.app_id) == 0
    assert worker.stop() == 0

    # A restarted worker in the same group finds nothing to do: nothing is delivered twice.
    restarted = worker_factory(topic_set)
    restarted.start()
    time.sleep(3)  # give it time to (wrongly) re-consume; this is not a timing assertion
    assert len(http_server.snapshot()) == 1000
    assert restarted.stop() == 0


def test_send_cli_event_reaches_server_and_outcomes_cli_shows_it(
    topic_set: TopicSet, worker_factory, http_server
) -> None:
    worker = worker_factory(topic_set)
    worker.start()
    env = {**os.environ, "FUSION_BROKER": BROKER, "FUSION_TOPICS_FILE": str(topic_set.path)}
    sent = subprocess.run(
        [
            sys.executable,
            "-m",
            "fusion_stream.cli",
            "send",
            "webhook",
            "--url",
            f"{http_server.url}/cli",
            "--method",
            "PUT",
            "--json",
            '{"a": 1}',
            "--header",
            "X-Test: yes",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    job_id = sent.stdout.strip()
    assert job_id
    outcomes = read_outcomes(topic_set, until=1, timeout=60)
    assert outcomes and outcomes[0]["job_id"] == job_id and outcomes[0]["status"] == "sent"
    request = http_server.snapshot()[0]
    assert (
        request.method == "PUT"
        and request.json() == {"a": 1}
        and request.headers["X-Test"] == "yes"
    )
    shown = subprocess.run(
        [sys.executable, "-m", "fusion_stream.cli", "outcomes", "--job-id", job_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert job_id in shown.stdout and "sent" in shown.stdout
    assert worker.stop() == 0
