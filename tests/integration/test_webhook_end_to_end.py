"""End to end on the real broker: a worker subprocess delivers webhooks to a loopback server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter

import pytest

from tests.conftest import BROKER, TopicSet
from tests.support.kafka import produce, read_outcomes, wait_committed, webhook

pytestmark = pytest.mark.integration


def test_thousand_webhooks_each_delivered_once_and_committed(
    topic_set: TopicSet, worker_factory, http_server
) -> None:
    worker = worker_factory(topic_set)
    worker.start()
    ids = produce(
        topic_set,
        "webhook",
        (webhook(f"job-{i:05d}", f"{http_server.url}/hook/job-{i:05d}") for i in range(1000)),
    )

    outcomes = read_outcomes(topic_set, until=1000)
    assert len(outcomes) == 1000, worker.log_text()[-3000:]
    assert Counter(o["status"] for o in outcomes) == {"sent": 1000}
    assert {o["job_id"] for o in outcomes} == set(ids)
    assert all(o["response_status"] == 200 and o["task"] == "POST" for o in outcomes)
    per_path = http_server.count_by(lambda r: r.path)
    assert len(per_path) == 1000 and set(per_path.values()) == {1}

    topic = topic_set.config().channel("webhook").topic
    assert wait_committed(topic, worker.app_id) == 0
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


def test_health_and_metrics_endpoints(topic_set: TopicSet, worker_factory, http_server) -> None:
    import urllib.request

    worker = worker_factory(topic_set)
    worker.start()
    base = f"http://127.0.0.1:{worker.web_port}"
    produce(topic_set, "webhook", [webhook("health-1", f"{http_server.url}/h")])
    assert read_outcomes(topic_set, until=1, timeout=60)[0]["status"] == "sent"

    def get(path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(base + path, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    assert get("/livez") == (200, '{"status":"ok"}')
    deadline = time.monotonic() + 30
    while get("/readyz")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert get("/readyz")[0] == 200
    status, text = get("/metrics")
    assert status == 200
    assert 'fusion_outcomes_total{channel="webhook",provider="http",status="sent"} 1.0' in text
    assert "fusion_provider_latency_seconds_bucket" in text
    assert worker.stop() == 0
