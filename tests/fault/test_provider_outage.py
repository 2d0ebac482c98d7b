"""One webhook host fails (503s, then hangs) while another is healthy: the healthy host's
events keep flowing, the failed host's events are retried and all end `sent` once it recovers."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter, defaultdict

import pytest
from aiohttp import web

from tests.conftest import TopicSet
from tests.fault.conftest import FAST_ENV
from tests.support.httpserver import ThreadedServer
from tests.support.kafka import produce, read_outcomes, webhook

pytestmark = pytest.mark.fault
N = 500


def test_outage_of_one_host_does_not_block_the_other(
    fast_topic_set: TopicSet, worker_factory, http_server
) -> None:
    healthy = ThreadedServer().start()  # a second host: B's events go there
    arrivals: dict[str, float] = {}
    failures = Counter[str]()
    recovered = False

    async def behaviour(request: web.Request, body: bytes) -> web.Response:
        nonlocal recovered
        host, job = request.path.strip("/").split("/")
        if host == "b":
            arrivals[job] = time.time()
            if len(arrivals) == N:
                recovered = True  # A stays down until every B event got through
            return web.json_response({"ok": True})
        if recovered:
            return web.json_response({"ok": True})
        failures[job] += 1
        if len(failures) % 2:
            return web.Response(status=503, text="maintenance")
        await asyncio.sleep(5)  # longer than the event's timeout: the worker gives up
        return web.Response(status=503)

    http_server.behaviour = behaviour
    healthy.behaviour = behaviour
    urls = {"a": http_server.url, "b": healthy.url}
    worker = worker_factory(fast_topic_set, env=FAST_ENV)
    worker.start()
    produced: dict[str, float] = {}
    records = []
    for i in range(N):
        for host in ("a", "b"):
            job = f"{host}-{i:04d}"
            produced[job] = time.time()
            records.append(
                webhook(
                    job,
                    f"{urls[host]}/{host}/{job}",
                    timeout=1.0,
                    created_at=int(produced[job] * 1000),
                )
            )
    produce(fast_topic_set, "webhook", records)

    by_job: dict[str, list[str]] = defaultdict(list)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        by_job.clear()
        for o in read_outcomes(fast_topic_set, until=10**9, timeout=30, idle=3):
            by_job[o["job_id"]].append(o["status"])
        if sum("sent" in s for s in by_job.values()) == 2 * N:
            break
    assert recovered, f"the healthy host got only {len(arrivals)}/{N} events: it was blocked"
    latencies = sorted((arrivals[j] - produced[j]) * 1000 for j in arrivals)
    print(
        f"\nhealthy host during the outage: p50={statistics.median(latencies):.0f} ms "
        f"p99={latencies[int(0.99 * len(latencies)) - 1]:.0f} ms; failed-host tries: "
        f"{sum(failures.values())}"
    )
    assert all(s[-1] == "sent" for s in by_job.values()) and len(by_job) == 2 * N
    assert not any("dead" in s for s in by_job.values())
    assert all(by_job[f"b-{i:04d}"] == ["sent"] for i in range(N))
    a_retried = sum("retrying" in by_job[f"a-{i:04d}"] for i in range(N))
    assert a_retried == len(failures)  # every A event that failed went through a retry tier
    assert worker.stop() == 0
    healthy.stop()
