"""Stop and restart the broker mid-run (same data dir): nothing lost, the worker resumes alone."""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

import tests.conftest as shared
from fusion_stream import localkafka
from tests.conftest import TopicSet, apply_topic_set, free_port, make_topic_set
from tests.fault.conftest import FAST_ENV, fast_tiers
from tests.support import kafka as k

pytestmark = pytest.mark.fault
N = 3000


@pytest.fixture
def own_broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A broker of this test's own (the shared one must not be restarted under other tests)."""
    port, controller = free_port(), free_port()
    cache = tmp_path / "kafka"
    localkafka.up(port, controller_port=controller, cache_root=cache, timeout=90)
    url = f"kafka://127.0.0.1:{port}"
    monkeypatch.setattr(shared, "BROKER", url)
    monkeypatch.setattr(k, "bootstrap", lambda: f"127.0.0.1:{port}")
    monkeypatch.setenv("FUSION_BROKER", url)
    yield port, controller, cache
    localkafka.down(port, cache_root=cache, wipe=True)


def test_broker_restart_loses_nothing(
    own_broker, tmp_path: Path, worker_factory, http_server
) -> None:
    port, controller, cache = own_broker
    ts: TopicSet = make_topic_set(tmp_path, edit=fast_tiers)
    apply_topic_set(ts)
    worker = worker_factory(ts, env=FAST_ENV)
    worker.start()
    ids = k.produce(
        ts, "webhook", (k.webhook(f"b-{i:05d}", f"{http_server.url}/b-{i:05d}") for i in range(N))
    )
    while len(http_server.snapshot()) < N // 10:
        time.sleep(0.05)
    localkafka.down(port, cache_root=cache)
    stopped_at = len(http_server.snapshot())
    time.sleep(3)
    localkafka.up(port, controller_port=controller, cache_root=cache, timeout=90)

    by_job: dict[str, list[str]] = defaultdict(list)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        by_job.clear()
        for o in k.read_outcomes(ts, until=10**9, timeout=30, idle=3):
            by_job[o["job_id"]].append(o["status"])
        if len(by_job) == N:
            break
    statuses = Counter(s for v in by_job.values() for s in v)
    print(f"\nbroker stopped after {stopped_at} requests; outcomes: {dict(statuses)}")
    assert set(by_job) == set(ids), worker.log_text()[-3000:]
    deliveries = http_server.count_by(lambda r: r.path)
    assert max(deliveries.values()) == 1
    assert all("sent" in s or "duplicate" in s or "unknown" in s for s in by_job.values())
    assert worker.proc is not None and worker.proc.poll() is None  # resumed by itself
    assert os.path.exists(f"/proc/{worker.proc.pid}")
    assert worker.stop() == 0
