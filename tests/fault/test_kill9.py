"""kill -9 the worker five times mid-run: no job lost, none sent twice, no commit ahead of work."""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict

import pytest

from tests.conftest import TopicSet
from tests.fault.conftest import FAST_ENV
from tests.support.kafka import produce, read_outcomes, wait_committed, webhook

pytestmark = [
    pytest.mark.fault,
    pytest.mark.timeout(900),
]

N = 20_000
KILLS = 5
MAX_IN_FLIGHT = 100


def test_kill9_five_times_loses_nothing_and_sends_nothing_twice(
    fast_topic_set: TopicSet, worker_factory, http_server
) -> None:
    rng = random.Random(20261129)
    env = {**FAST_ENV, "FUSION_MAX_IN_FLIGHT": str(MAX_IN_FLIGHT)}
    ids = produce(
        fast_topic_set,
        "webhook",
        (webhook(f"k-{i:05d}", f"{http_server.url}/k-{i:05d}") for i in range(N)),
    )
    kills: list[int] = []  # requests received when each kill happened
    for _ in range(KILLS):
        worker = worker_factory(fast_topic_set, env=env)
        worker.start()
        time.sleep(rng.uniform(0.5, 3.0))
        worker.kill()
        kills.append(len(http_server.snapshot()))
    final = worker_factory(fast_topic_set, env=env)
    final.start()

    # Everything committed means every outcome is on the broker (outcomes go before acks).
    topic = fast_topic_set.config().channel("webhook").topic
    assert wait_committed(topic, final.app_id, timeout=600) == 0, final.log_text()[-3000:]
    by_job: dict[str, list[str]] = defaultdict(list)
    for o in read_outcomes(fast_topic_set, until=10**9, timeout=300, idle=0):
        by_job[o["job_id"]].append(o["status"])
    report = Counter(s for statuses in by_job.values() for s in statuses)
    print(f"\nkill -9 x{KILLS} at requests {kills}; outcomes {dict(report)}")

    missing = sorted(set(ids) - set(by_job))
    if missing:  # say where they were: delivered or not, which partitions and offsets
        deliveries = http_server.count_by(lambda r: r.path)
        from tests.support.kafka import read_topic

        where = {
            m.key().decode(): (m.partition(), m.offset())
            for m in read_topic(topic, until=N, timeout=120)
        }
        print("missing:", [(j, deliveries.get(f"/{j}", 0), where.get(j)) for j in missing[:40]])
        print("workers:", [w.log_text()[-1500:] for w in (final,)])

    # Zero lost: every job has an outcome, and none has two decisive ones.
    assert set(by_job) == set(ids), f"{N - len(by_job)} jobs without an outcome; {dict(report)}"
    for job_id, statuses in by_job.items():
        decisive = [s for s in statuses if s in ("sent", "unknown", "failed", "dead")]
        assert len(decisive) <= 1, (job_id, statuses)
        assert decisive or statuses == ["duplicate"] * len(statuses), (job_id, statuses)

    # No patient texted twice: the ledger stops every redelivered job that was sent, and a job
    # caught in flight by a kill is held as `unknown`, not re-sent (the webhook policy).
    deliveries = http_server.count_by(lambda r: r.path)
    twice = {path: n for path, n in deliveries.items() if n > 1}
    assert twice == {}, f"{len(twice)} jobs delivered more than once"
    assert report["unknown"] <= KILLS * MAX_IN_FLIGHT
    sent = {job for job, statuses in by_job.items() if "sent" in statuses}
    assert all(deliveries.get(f"/{job}") == 1 for job in sent)
    # Every job is either delivered or flagged for reconciliation.
    unknown = {job for job, statuses in by_job.items() if "unknown" in statuses}
    duplicates_only = {job for job, s in by_job.items() if set(s) == {"duplicate"}}
    assert all(f"/{job}" in deliveries for job in duplicates_only)
    assert sent | unknown | duplicates_only == set(ids)
    assert final.stop() == 0
