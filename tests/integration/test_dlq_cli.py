"""`fusion-stream dlq` on the real broker: dead letters made by a worker (webhook answering 400),
inspected with stats/list/show, replayed once the endpoint recovers: each job is delivered
exactly once more, ends `sent`, and its dead letter is tombstoned by the worker that sent it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from typing import Any

import pytest
from aiohttp import web
from confluent_kafka import Consumer, TopicPartition

from fusion_stream import headers as h
from tests.conftest import BROKER, TopicSet, bootstrap
from tests.support.kafka import (
    CODEC,
    produce,
    produce_raw,
    read_outcomes,
    read_topic,
    terminal,
    webhook,
)

pytestmark = pytest.mark.integration

SECRET = "SECRET-bearer-value"
N = 12


async def answer_400(request: web.Request, body: bytes) -> web.Response:
    return web.Response(status=400, text='{"error": "invalid payload", "token": "tok-LEAK"}')


def dlq(topic_set: TopicSet, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fusion_stream.cli", "dlq", *args],
        env={**os.environ, "FUSION_BROKER": BROKER, "FUSION_TOPICS_FILE": str(topic_set.path)},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
    )


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return str(result.stdout)


def end_offsets(topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap(), "group.id": f"w-{time.time_ns()}"})
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in parts
        }
    finally:
        consumer.close()


def live_count(topic_set: TopicSet) -> int:
    return int(json.loads(ok(dlq(topic_set, "stats", "webhook", "--json")))["live"])


def test_inspect_then_replay_delivers_each_once_and_resolves_the_dead_letters(
    topic_set: TopicSet, worker_factory: Any, http_server: Any
) -> None:
    spec = topic_set.config().channel("webhook")
    http_server.behaviour = answer_400
    worker = worker_factory(topic_set)
    worker.start()
    ids = produce(
        topic_set,
        "webhook",
        (
            webhook(
                f"dl-{i:02d}",
                f"{http_server.url}/hook/dl-{i:02d}",
                headers={"Authorization": f"Bearer {SECRET}", "X-Tenant": "t1"},
            )
            for i in range(N)
        ),
    )
    produce_raw(spec.topic, [(b"garbage-1", b"\x07not avro at all")])
    first = terminal(read_outcomes(topic_set, until=N + 1, timeout=120))
    assert Counter(o["status"] for o in first) == {"failed": N, "rejected": 1}, worker.log_text()
    originals = {m.key(): m.partition() for m in read_topic(spec.topic, until=N + 1, timeout=30)}

    # --- stats --------------------------------------------------------------------------
    doc = json.loads(ok(dlq(topic_set, "stats", "webhook", "--json")))
    assert doc["topic"] == spec.dlq and doc["live"] == N + 1
    assert doc["by_status"] == {"failed": N, "rejected": 1}
    assert doc["by_error_class"] == {"PermanentError": N, "DecodeError": 1}
    assert doc["by_provider"] == {"http": N, "-": 1}
    assert doc["by_stage"] == {"process": N, "deserialize": 1}
    assert doc["oldest_age_seconds"] >= 0
    every = ok(dlq(topic_set, "stats"))
    assert f"webhook ({spec.dlq}): {N + 1} live dead letters, oldest" in every
    assert "sms.otp (" in every and "0 live dead letters" in every

    # --- list -----------------------------------------------------------------------------
    rows = [
        json.loads(line) for line in ok(dlq(topic_set, "list", "webhook", "--json")).splitlines()
    ]
    assert sorted(r["job_id"] for r in rows) == sorted([*ids, "garbage-1"])
    failed = [r for r in rows if r["status"] == "failed"]
    assert all(r["attempts"] == 1 and r["provider"] == "http" for r in failed)
    assert all("status=400" in r["error"] and "tok-LEAK" not in r["error"] for r in failed)
    table = dlq(topic_set, "list", "webhook", "--status", "rejected")
    assert ok(table).splitlines()[1].split()[0] == "garbage-1"
    assert f"1 of {N + 1} live dead letters" in table.stderr
    assert ok(dlq(topic_set, "list", "webhook", "--job-id", "dl-0*", "--json")).count("\n") == 10
    assert ok(dlq(topic_set, "list", "webhook", "--status", "dead")).strip() == ""
    assert "tok-LEAK" not in ok(dlq(topic_set, "list", "webhook"))

    # --- show -----------------------------------------------------------------------------
    shown = ok(dlq(topic_set, "show", "webhook", "dl-03"))
    assert f"kafka_dlt-original-topic: {spec.topic}" in shown
    assert f"kafka_dlt-original-partition: {originals[b'dl-03']}\n" in shown
    assert "__connect.errors.stage: process" in shown and "fusion.status: failed" in shown
    assert f'"url": "{http_server.url}/hook/dl-03"' in shown
    assert '"Authorization": "***"' in shown and SECRET not in shown and "tok-LEAK" not in shown
    garbage = ok(dlq(topic_set, "show", "webhook", "garbage-1"))
    assert "payload: undecodable as webhook_request" in garbage and "07 6e 6f 74" in garbage
    missing = dlq(topic_set, "show", "webhook", "no-such-job")
    assert missing.returncode == 1 and "no live dead letter" in missing.stderr

    # --- dry run and a declined confirmation change nothing --------------------------------
    before = end_offsets(spec.topic)
    dry = ok(dlq(topic_set, "replay", "webhook", "--dry-run"))
    assert f"{N} to replay to {spec.topic}, 1 refused" in dry
    assert "refused garbage-1" in dry and "stage=deserialize" in dry
    assert dry.count("would replay") == N and "nothing produced" in dry
    declined = dlq(topic_set, "replay", "webhook", stdin="n\n")
    assert declined.returncode == 1 and "Aborted" in declined.stderr
    assert end_offsets(spec.topic) == before
    assert len(http_server.snapshot()) == N

    # --- the endpoint recovers; replay ------------------------------------------------------
    http_server.behaviour = None
    run = dlq(topic_set, "replay", "webhook", "--yes", "--rate", "40/s")
    assert f"replayed {N} of {N} dead letters to {spec.topic}" in ok(run)
    assert "1 refused" in run.stdout
    assert f"replay: produced {N}/{N}, acknowledged {N}, failed 0" in run.stderr

    outcomes = read_outcomes(topic_set, until=2 * N + 1, timeout=120)
    by_job: dict[str, list[str]] = defaultdict(list)
    for o in terminal(outcomes):
        by_job[o["job_id"]].append(o["status"])
    assert all(by_job[i] == ["failed", "sent"] for i in ids), dict(by_job)
    after = http_server.snapshot()[N:]
    assert Counter(r.path for r in after) == {f"/hook/{i}": 1 for i in ids}

    # the copies: original key and bytes, original partition, history stripped, origin named
    copies = [
        m
        for m in read_topic(spec.topic, until=2 * N + 1, timeout=30)
        if h.REPLAYED in dict(m.headers() or [])
    ]
    assert len(copies) == N
    for m in copies:
        names = dict(m.headers() or [])
        assert m.partition() == originals[m.key()]
        assert CODEC.decode(m.value(), "webhook_request")["job_id"] == m.key().decode()
        assert not {h.ATTEMPT, h.STATUS, h.LAST_ERROR, *h.SPRING.values()} & set(names)
        assert names[h.REPLAYED].decode().startswith(f"{spec.dlq}:")

    # the worker tombstones each resolved dead letter; the undecodable one stays
    deadline = time.monotonic() + 60
    while live_count(topic_set) != 1 and time.monotonic() < deadline:
        time.sleep(1)
    assert live_count(topic_set) == 1, worker.log_text()[-3000:]
    assert "0 to replay" in ok(dlq(topic_set, "replay", "webhook", "--yes"))
    assert worker.stop() == 0


def test_replaying_a_job_already_sent_is_a_duplicate_not_a_second_send(
    topic_set: TopicSet, worker_factory: Any, http_server: Any
) -> None:
    spec = topic_set.config().channel("webhook")
    worker = worker_factory(topic_set)
    worker.start()
    produce(topic_set, "webhook", [webhook("once-1", f"{http_server.url}/once")])
    assert [o["status"] for o in read_outcomes(topic_set, until=1, timeout=60)] == ["sent"]
    # A dead letter for the same job (as a stale copy would leave one), replayed by hand.
    [original] = read_topic(spec.topic, until=1, timeout=30)
    headers = h.dead_letter(
        {},
        topic=spec.topic,
        partition=original.partition(),
        offset=original.offset(),
        timestamp_ms=original.timestamp()[1],
        error_class="fusion_stream.errors.TransientError",
        error_message="TransientError: provider=http status=503",
        stage="process",
        extra={h.ATTEMPT: 6, h.PROVIDER: "http", h.STATUS: "dead"},
    )
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap()})
    p.produce(spec.dlq, key=b"once-1", value=original.value(), headers=list(headers.items()))
    assert p.flush(30) == 0

    assert "replayed 1 of 1" in ok(dlq(topic_set, "replay", "webhook", "--job-id", "once-1", "-y"))
    outcomes = read_outcomes(topic_set, until=2, timeout=60)
    assert [o["status"] for o in outcomes] == ["sent", "duplicate"]
    assert len(http_server.snapshot()) == 1
    assert worker.stop() == 0
