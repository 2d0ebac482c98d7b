"""The scenarios P1..P5 (and the profiling run). Each returns a dict for the results JSON.

Method common to all runs (docs/benchmarks.md says it for readers):

- a run starts its worker (or baseline), waits until it is ready and its consumer group is
  stable, then releases a *burst*: all N events are produced (or enqueued) as fast as the
  client allows; the burst start is the run's t0;
- events/s is the steady rate between the 10th and 90th percentile completion (a provider
  request arriving at the stub, or an outcome's log_time when no HTTP is involved);
  wall events/s is N / (last completion - t0);
- latency is completion minus the moment the event was produced (carried in the event as
  ``BT<ns>``, or its ``created_at``): under a burst it is mostly queueing, so it compares
  systems under the same overload rather than describing an idle system (P3 does that);
- CPU% is the process tree's CPU time over [t0, last completion] in % of one core, peak RSS
  the kernel's high-water mark (VmHWM) or the largest sample of the tree.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bench import load
from bench.env import (
    REPO,
    BenchError,
    Monitor,
    Processes,
    Redis,
    Stub,
    TopicSet,
    Unavailable,
    WorkerHandle,
    bootstrap,
    channels_consumed,
    cpu_percent,
    delete_topics,
    ensure_redis_server,
    make_topic_set,
    start_worker,
    wait_ready,
    wait_until,
)
from bench.stats import latency_summary, not_run, per_event_ms, ratio, run_result


@dataclass
class Sizes:
    """Every size and duration of a profile (``--quick`` or the default)."""

    p1_n: int
    rq_n: int
    rq_workers: tuple[str, ...]
    p2_n: int
    p3_backlog: int
    otp_rate: float
    otp_seconds: float
    p4_small: int
    p4_large: int
    p4_seconds: float
    p5_n: int


PROFILES = {
    "quick": Sizes(
        p1_n=1500,
        rq_n=60,
        rq_workers=("fork",),
        p2_n=3000,
        p3_backlog=4000,
        otp_rate=20,
        otp_seconds=6,
        p4_small=2000,
        p4_large=30_000,
        p4_seconds=6,
        p5_n=2000,
    ),
    "default": Sizes(
        p1_n=20_000,
        rq_n=400,
        rq_workers=("fork", "simple"),
        p2_n=50_000,
        p3_backlog=100_000,
        otp_rate=50,
        otp_seconds=60,
        p4_small=10_000,
        p4_large=1_000_000,
        p4_seconds=60,
        p5_n=30_000,
    ),
}
RQ_CLASSES = {"fork": "rq.worker.Worker", "simple": "rq.worker.SimpleWorker"}
#: SMS providers the bench can point at the stub without any flag: their settings, as worker
#: environment ({stub} is the stub's URL). Textlocal takes a form POST and answers
#: {"status": "success"}, which the stub's answer satisfies.
STUB_PROVIDER_ENV = {
    "textlocal": {
        "FUSION_PROVIDERS__TEXTLOCAL__APIKEY": "bench-not-a-secret",
        "FUSION_PROVIDERS__TEXTLOCAL__IN_BASE_URL": "{stub}",
        "FUSION_PROVIDERS__TEXTLOCAL__UK_BASE_URL": "{stub}",
    },
}


@dataclass
class Context:
    root: Path  # the code under test (a checkout of fusion-stream)
    work: Path  # logs, topic files
    procs: Processes
    sizes: Sizes
    latency_ms: float
    max_in_flight: int
    max_pending: int
    worker_env: dict[str, str]
    install: bool
    keep_topics: bool
    sms_provider: str | None
    say: Callable[[str], None]
    results_dir: Path
    stamp: str
    _stub: Stub | None = None
    _channels: set[str] | None = None
    topic_sets: list[TopicSet] = field(default_factory=list)

    @property
    def stub(self) -> Stub:
        if self._stub is None or not self._stub.proc.alive():
            self._stub = Stub(self.procs, self.latency_ms)
        return self._stub

    def channels(self) -> set[str]:
        """Channels the worker under test has agents for (checked once per checkout)."""
        if self._channels is None:
            probe = self.work / "topics-probe.yaml"
            probe.write_text((self.root / "topics.yaml").read_text())
            self._channels = channels_consumed(self.root, TopicSet(probe, ""))
        return self._channels

    def topic_set(self, tag: str) -> TopicSet:
        """A fresh, prefixed copy of the checkout's topics, created on the broker."""
        ts = make_topic_set(self.work, self.root, tag)
        self.topic_sets.append(ts)
        return ts

    def env(self) -> dict[str, str]:
        env = {
            "FUSION_MAX_IN_FLIGHT": str(self.max_in_flight),
            "FUSION_MAX_PENDING": str(self.max_pending),
            **STUB_PROVIDER_ENV.get(self.sms_provider or "", {}),
            **self.worker_env,
        }
        if any("{stub}" in v for v in env.values()):
            env = {k: v.replace("{stub}", self.stub.url) for k, v in env.items()}
        return env

    def cleanup(self, ts: TopicSet) -> None:
        if not self.keep_topics:
            delete_topics(ts)


def _stop_worker(ctx: Context, handle: WorkerHandle) -> None:
    """Kill the worker: its run is measured, its topics and group are thrown away, and a
    graceful Faust shutdown would only add seconds to every run."""
    handle.monitor.stop()
    ctx.procs.stop(handle.proc, timeout=30, sig=signal.SIGKILL)


def _group_stable(app_id: str, members: int, timeout: float = 60) -> None:
    """Wait until the worker(s)' consumer group is Stable with ``members`` members."""
    from confluent_kafka import ConsumerGroupState

    from bench.env import admin as admin_client

    admin = admin_client()
    deadline = time.monotonic() + timeout
    state: object = None
    while time.monotonic() < deadline:
        try:
            desc = admin.describe_consumer_groups([app_id])[app_id].result(10)
            state = (desc.state, len(desc.members))
            if (
                desc.state == ConsumerGroupState.STABLE
                and len(desc.members) == members
                and all(m.assignment.topic_partitions for m in desc.members)
            ):
                return
        except Exception as exc:
            state = repr(exc)
        time.sleep(0.3)
    raise BenchError(f"consumer group {app_id} not stable with {members} member(s): {state}")


def _start_workers(
    ctx: Context,
    ts: TopicSet,
    count: int = 1,
    env: dict[str, str] | None = None,
    pools: list[tuple[str, dict[str, str]]] | None = None,
) -> list[WorkerHandle]:
    """``count`` workers in one consumer group, or one worker per pool ``(name, env)``, each
    pool its own consumer group (as docs/operations.md deploys lanes)."""
    specs = pools or [("", {}) for _ in range(count)]
    handles = []
    for i, (pool, pool_env) in enumerate(specs):
        app_id = f"{ts.prefix}app{('-' + pool) if pool else ''}"
        handles.append(
            start_worker(
                ctx.procs,
                ctx.root,
                ts,
                app_id=app_id,
                env={**ctx.env(), **(env or {}), **pool_env},
                name=f"worker{i + 1}{('-' + pool) if pool else ''}-{ts.prefix.rstrip('.')}",
            )
        )
    try:
        for h in handles:
            wait_ready(h)
        for app_id in dict.fromkeys(h.app_id for h in handles):
            _group_stable(app_id, sum(1 for h in handles if h.app_id == app_id))
    except BaseException:
        for h in handles:
            _stop_worker(ctx, h)
        raise
    return handles


def _arrival_run(
    ctx: Context,
    n: int,
    start_ns: int,
    *,
    wait_alive: list[Any],
    timeout: float,
    what: str,
    marks: list[Monitor],
    t0_marks: list[tuple[float, float, float]],
    extra_notes: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """Wait for N stub arrivals, then build the run result from the stub's records."""
    stub = ctx.stub
    wait_until(what, stub.count, n, timeout=timeout, stall=45, alive=wait_alive)
    ends = [m.mark() for m in marks]
    stats = stub.stats(full=True)
    arrivals = [a / 1e9 for a in stats["arrivals_ns"]]
    cpu = (
        sum(cpu_percent(s, e) or 0.0 for s, e in zip(t0_marks, ends, strict=True))
        if marks
        else None
    )
    cpu_s = sum(e[1] - s[1] for s, e in zip(t0_marks, ends, strict=True)) if marks else None
    peak = max((m.peak_rss_mb for m in marks), default=None)
    notes = extra_notes
    if stats["tokenless"]:
        notes += f" {stats['tokenless']} requests carried no produce timestamp."
    return run_result(
        n=n,
        completion_times_s=arrivals,
        start_s=start_ns / 1e9,
        latencies_ms=stats["latencies_ms"],
        cpu_percent=cpu and round(cpu, 1),
        peak_rss_mb=peak,
        cpu_s=cpu_s,
        notes=notes.strip(),
        **extra,
    )


# ---------------------------------------------------------------------------------------------
# P1 HTTP delivery


def fusion_http_run(
    ctx: Context,
    channel: str,
    n: int,
    tag: str,
    profile_out: Path | None = None,
) -> dict[str, Any]:
    """N events of ``channel`` through one worker to the stub (the webhook adapter)."""
    ts = ctx.topic_set(tag)
    stub = ctx.stub
    try:
        (worker,) = _start_workers(ctx, ts)
        try:
            stub.reset()
            t0 = worker.monitor.mark()
            start_ns = time.time_ns()
            spy = _start_py_spy(ctx, worker, profile_out) if profile_out else None
            if channel == "webhook":
                load.produce(
                    ctx.root,
                    ts.channel_topic("webhook"),
                    "webhook_request",
                    n,
                    lambda j, t: load.webhook_record(j, stub.url, t),
                    id_prefix=f"{tag}-",
                )
            else:
                load.produce(
                    ctx.root,
                    ts.channel_topic(channel),
                    "sms_request",
                    n,
                    lambda j, t: load.sms_record(
                        j, t, otp=channel == "sms.otp", provider=ctx.sms_provider
                    ),
                    id_prefix=f"{tag}-",
                )
            result = _arrival_run(
                ctx,
                n,
                start_ns,
                wait_alive=[worker.proc],
                timeout=max(120, n / 50),
                what="requests at the stub",
                marks=[worker.monitor],
                t0_marks=[t0],
                ready_s=round(worker.ready_after_s or 0, 1),
            )
            if spy is not None:
                result["profile"] = _finish_py_spy(ctx, spy, profile_out)  # type: ignore[arg-type]
            return result
        finally:
            _stop_worker(ctx, worker)
    finally:
        ctx.cleanup(ts)


def fusion_outcome_run(
    ctx: Context,
    channel: str,
    n: int,
    tag: str,
    provider: str | None,
    profile_out: Path | None = None,
) -> dict[str, Any]:
    """N events of ``channel`` through one worker, measured by outcomes (no HTTP)."""
    ts = ctx.topic_set(tag)
    try:
        (worker,) = _start_workers(ctx, ts)
        try:
            marks = load.Watermarks(ts.outcomes)
            t0 = worker.monitor.mark()
            start_ns = time.time_ns()
            topic = ts.channel_topic(channel)
            schema = "webhook_request" if channel == "webhook" else "sms_request"

            def make(job_id: str, produced_ns: int) -> dict[str, Any]:
                if channel == "webhook":  # never called: the provider is not HTTP
                    url = "http://127.0.0.1:9"
                    return load.webhook_record(job_id, url, produced_ns, provider=provider)
                otp = channel == "sms.otp"
                return load.sms_record(job_id, produced_ns, otp=otp, provider=provider)

            spy = _start_py_spy(ctx, worker, profile_out) if profile_out else None
            load.produce(ctx.root, topic, schema, n, make, id_prefix=f"{tag}-")
            wait_until(
                "outcomes", marks.total, n, timeout=max(120, n / 50), stall=45, alive=[worker.proc]
            )
            end = worker.monitor.mark()
            marks.close()
            profiled = _finish_py_spy(ctx, spy, profile_out) if spy and profile_out else None
            outcomes = load.read_outcomes(ctx.root, ts.outcomes, until=n)
            result = _outcome_result(
                n,
                outcomes,
                start_ns,
                (t0, end),
                worker.monitor.peak_rss_mb,
                ready_s=round(worker.ready_after_s or 0, 1),
            )
            if profiled is not None:
                result["profile"] = profiled
            return result
        finally:
            _stop_worker(ctx, worker)
    finally:
        ctx.cleanup(ts)


def _outcome_result(
    n: int,
    outcomes: list[dict[str, Any]],
    start_ns: int,
    window: tuple[tuple[float, float, float], tuple[float, float, float]],
    peak: float,
    **extra: Any,
) -> dict[str, Any]:
    cpu = cpu_percent(*window)
    extra.setdefault("cpu_s", window[1][1] - window[0][1])
    statuses: dict[str, int] = {}
    for o in outcomes:
        statuses[o["status"]] = statuses.get(o["status"], 0) + 1
    times = [o["log_time"] / 1000 for o in outcomes]
    lat = [o["log_time"] - o["created_at"] for o in outcomes if o.get("created_at")]
    notes = "" if set(statuses) <= {"sent"} else f"statuses: {statuses}"
    return run_result(
        n=n,
        completion_times_s=times,
        start_s=start_ns / 1e9,
        latencies_ms=lat,
        cpu_percent=cpu,
        peak_rss_mb=peak,
        notes=notes,
        statuses=statuses,
        **extra,
    )


def rq_run(ctx: Context, n: int, worker_kind: str) -> dict[str, Any]:
    """The old worker: python-rq + redis-server, a job doing the same POST with ``requests``."""
    try:
        binary = ensure_redis_server(ctx.install, ctx.say)
        import redis
        import rq
    except Unavailable as exc:
        return not_run("skipped", str(exc))
    except ImportError as exc:
        return not_run("skipped", f"{exc.name} is not installed (pip install -e '.[bench]')")
    stub = ctx.stub
    server = Redis(ctx.procs, binary)
    try:
        conn = redis.Redis.from_url(server.url)
        queue = rq.Queue(f"bench-{worker_kind}", connection=conn)
        rq_bin = str(Path(sys.executable).parent / "rq")
        proc = ctx.procs.start(
            f"rq-{worker_kind}",
            [
                rq_bin,
                "worker",
                "-u",
                server.url,
                "-w",
                RQ_CLASSES[worker_kind],
                "-q",
                "--disable-job-desc-logging",
                "-P",
                str(REPO),
                queue.name,
            ],
            env={"PYTHONPATH": str(REPO)},
        )
        monitor = Monitor(proc.pid)
        try:
            deadline = time.monotonic() + 60
            while not rq.Worker.all(connection=conn):
                if not proc.alive() or time.monotonic() > deadline:
                    raise BenchError(f"rq worker did not start:\n{proc.log_tail()}")
                time.sleep(0.1)
            monitor.attach()
            stub.reset()
            t0 = monitor.mark()
            start_ns = time.time_ns()
            jobs = []
            for i in range(n):
                produced = time.time_ns()
                jobs.append(
                    rq.Queue.prepare_data(
                        "bench.rqjob.post",
                        args=(
                            f"{stub.url}/hook/rq-{i}?bt=BT{produced}",
                            {"i": i, "bt": f"BT{produced}"},
                        ),
                        result_ttl=60,
                        failure_ttl=600,
                    )
                )
            for chunk in load.chunks(jobs, 500):
                with conn.pipeline() as pipe:
                    queue.enqueue_many(chunk, pipeline=pipe)
                    pipe.execute()
            result = _arrival_run(
                ctx,
                n,
                start_ns,
                wait_alive=[proc],
                timeout=max(120, n / 2),
                what="requests at the stub",
                marks=[monitor],
                t0_marks=[t0],
                extra_notes=f"rq {RQ_CLASSES[worker_kind]}",
                failed_jobs=len(queue.failed_job_registry),
            )
            return result
        finally:
            monitor.stop()
            ctx.procs.stop(proc, timeout=30, sig=signal.SIGKILL)
    finally:
        ctx.procs.stop(server.proc)


def _run_json(what: str, module_args: list[str], timeout: float) -> dict[str, Any]:
    """Run ``python -m <module_args>`` from the repo; its last stdout line is a JSON result."""
    out = subprocess.run(
        [sys.executable, "-m", *module_args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if out.returncode != 0:
        raise BenchError(f"{what} failed: {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def raw_http_run(ctx: Context, n: int) -> dict[str, Any]:
    """The raw limit: a bare aiohttp loop, same concurrency, same stub, no Kafka."""
    stub = ctx.stub
    stub.reset()
    own = _run_json(
        "raw aiohttp loop",
        [
            "bench.rawloop",
            "--url",
            stub.url,
            "--n",
            str(n),
            "--concurrency",
            str(ctx.max_in_flight),
        ],
        timeout=max(120, n / 20),
    )
    stats = stub.stats(full=True)
    arrivals = [a / 1e9 for a in stats["arrivals_ns"]]
    return run_result(
        n=n,
        completion_times_s=arrivals,
        start_s=own["t0_ns"] / 1e9,
        latencies_ms=stats["latencies_ms"],
        cpu_percent=round(100 * own["cpu_s"] / own["wall_s"], 1) if own["wall_s"] else None,
        peak_rss_mb=own["peak_rss_mb"],
        cpu_s=own["cpu_s"],
        notes=f"{own['failures']} failures" if own["failures"] else "",
    )


def p1(ctx: Context, n: int | None) -> dict[str, Any]:
    n = n or ctx.sizes.p1_n
    rq_n = min(ctx.sizes.rq_n, n)
    runs: dict[str, Any] = {}
    ctx.say(f"P1 fusion webhook: {n} events -> stub ({ctx.latency_ms:g} ms)")
    runs["fusion_webhook"] = _guard(lambda: fusion_http_run(ctx, "webhook", n, "p1w"))
    for kind in ctx.sizes.rq_workers:
        ctx.say(f"P1 RQ baseline ({kind} worker): {rq_n} jobs -> stub")
        runs[f"rq_{kind}"] = _guard(partial(rq_run, ctx, rq_n, kind))
    ctx.say(f"P1 raw aiohttp loop: {n} requests, concurrency {ctx.max_in_flight}")
    runs["raw_aiohttp"] = _guard(lambda: raw_http_run(ctx, n))
    runs["fusion_sms"] = _guard(lambda: p1_sms(ctx, n))
    rq_main = runs.get(f"rq_{ctx.sizes.rq_workers[0]}") if ctx.sizes.rq_workers else None
    ratios = {
        "fusion_vs_rq": ratio(runs["fusion_webhook"], rq_main),
        "fusion_vs_raw": ratio(runs["fusion_webhook"], runs["raw_aiohttp"]),
    }
    if "rq_simple" in runs:
        ratios["fusion_vs_rq_simple"] = ratio(runs["fusion_webhook"], runs["rq_simple"])
    # CPU per event, raw / fusion: the share of the raw loop's efficiency (robust to other load)
    ratios["cpu_efficiency_vs_raw"] = ratio(
        runs["raw_aiohttp"], runs["fusion_webhook"], "cpu_ms_per_event"
    )
    ratios["cpu_efficiency_vs_rq"] = ratio(rq_main, runs["fusion_webhook"], "cpu_ms_per_event")
    targets = {
        "fusion_vs_rq >= 30": _meets(ratios["fusion_vs_rq"], 30),
        "fusion_vs_raw >= 0.6": _meets(ratios["fusion_vs_raw"], 0.6),
    }
    return {
        "runs": runs,
        "ratios": ratios,
        "targets": targets,
        "params": {
            "n": n,
            "rq_n": rq_n,
            "stub_latency_ms": ctx.latency_ms,
            "max_in_flight": ctx.max_in_flight,
        },
    }


def p1_sms(ctx: Context, n: int) -> dict[str, Any]:
    if "sms" not in ctx.channels():
        return not_run("skipped", "not available yet: the worker has no agent for the sms channel")
    if ctx.sms_provider and ctx.sms_provider != "console":
        ctx.say(f"P1 fusion sms via {ctx.sms_provider}: {n} events -> stub")
        result = fusion_http_run(ctx, "sms", n, "p1s")
        result["notes"] = (f"provider {ctx.sms_provider} -> stub. " + result["notes"]).strip()
        return result
    ctx.say(f"P1 fusion sms via the console provider (no HTTP, measured by outcomes): {n} events")
    result = fusion_outcome_run(ctx, "sms", n, "p1s", provider="console")
    result["notes"] = ("console provider (no HTTP). " + result["notes"]).strip()
    return result


# ---------------------------------------------------------------------------------------------
# P2 framework overhead


def p2(ctx: Context, n: int | None) -> dict[str, Any]:
    n = n or ctx.sizes.p2_n
    runs: dict[str, Any] = {}
    ts = ctx.topic_set("p2")
    try:
        ctx.say(f"P2 fusion console provider: {n} webhook events, no HTTP")
        runs["fusion_console"] = _guard(lambda: _p2_fusion(ctx, ts, n))
        ctx.say(f"P2 bare aiokafka getmany + fastavro: the same {n} records")
        runs["raw_aiokafka_fastavro"] = _guard(lambda: _p2_raw(ctx, ts, n))
    finally:
        ctx.cleanup(ts)
    r = ratio(runs["fusion_console"], runs["raw_aiokafka_fastavro"])
    cpu_r = ratio(runs["raw_aiokafka_fastavro"], runs["fusion_console"], "cpu_ms_per_event")
    return {
        "runs": runs,
        "ratios": {"fusion_vs_raw": r, "cpu_efficiency_vs_raw": cpu_r},
        "targets": {"fusion_vs_raw >= 0.5": _meets(r, 0.5)},
        "params": {"n": n},
    }


def _p2_fusion(ctx: Context, ts: TopicSet, n: int) -> dict[str, Any]:
    (worker,) = _start_workers(ctx, ts)
    try:
        marks = load.Watermarks(ts.outcomes)
        t0 = worker.monitor.mark()
        start_ns = time.time_ns()
        load.produce(
            ctx.root,
            ts.channel_topic("webhook"),
            "webhook_request",
            n,
            lambda j, t: load.webhook_record(j, "http://127.0.0.1:9", t, provider="console"),
            id_prefix="p2-",
        )
        wait_until(
            "outcomes", marks.total, n, timeout=max(120, n / 50), stall=45, alive=[worker.proc]
        )
        end = worker.monitor.mark()
        marks.close()
    finally:
        _stop_worker(ctx, worker)
    outcomes = load.read_outcomes(ctx.root, ts.outcomes, until=n)
    return _outcome_result(n, outcomes, start_ns, (t0, end), worker.monitor.peak_rss_mb)


def _p2_raw(ctx: Context, ts: TopicSet, n: int) -> dict[str, Any]:
    own = _run_json(
        "bare aiokafka loop",
        [
            "bench.rawkafka",
            "--bootstrap",
            bootstrap(),
            "--topic",
            ts.channel_topic("webhook"),
            "--schema",
            str(ctx.root / "schemas" / "webhook_request.avsc"),
            "--n",
            str(n),
        ],
        timeout=max(120, n / 100),
    )
    rate = round(own["n"] / own["wall_s"], 1) if own["wall_s"] else None
    return {
        "status": "ok",
        "n": n,
        "completed": own["n"],
        "events_per_s": rate,
        "wall_events_per_s": rate,
        "wall_s": round(own["wall_s"], 2),
        "latency_ms": latency_summary([]),
        "cpu_percent": round(100 * own["cpu_s"] / own["wall_s"], 1) if own["wall_s"] else None,
        "cpu_ms_per_event": per_event_ms(own["cpu_s"], own["n"]),
        "peak_rss_mb": round(own["peak_rss_mb"], 1),
        "notes": "reads the backlog the worker just processed; rate over first->last record"
        + (f"; {own['errors']} undecodable" if own["errors"] else ""),
    }


# ---------------------------------------------------------------------------------------------
# P3 OTP under backlog


def p3(ctx: Context, n: int | None) -> dict[str, Any]:
    missing = {"sms", "sms.otp"} - ctx.channels()
    if missing:
        reason = f"not available yet: the worker has no agent for {', '.join(sorted(missing))}"
        return {
            "runs": {
                name: not_run("skipped", reason) for name in ("otp_one_worker", "otp_own_pool")
            },
            "ratios": {},
            "targets": {},
            "params": {},
        }
    s = ctx.sizes
    backlog = s.p3_backlog
    runs = {
        "otp_one_worker": _guard(lambda: _p3_run(ctx, backlog, split=False)),
        "otp_own_pool": _guard(lambda: _p3_run(ctx, backlog, split=True)),
    }
    targets = {}
    for name, run in runs.items():
        p99 = run["latency_ms"]["p99"]
        targets[f"{name} p99 < 100 ms"] = None if p99 is None else p99 < 100
    return {
        "runs": runs,
        "ratios": {},
        "targets": targets,
        "params": {
            "backlog": backlog,
            "otp_rate": s.otp_rate,
            "otp_seconds": s.otp_seconds,
            "sms_provider": ctx.sms_provider or "channel default",
        },
    }


def _p3_run(ctx: Context, backlog: int, *, split: bool) -> dict[str, Any]:
    """One worker with every agent, or (``split``) the documented lane split: a bulk pool
    (FUSION_CHANNELS=["sms"]) and an OTP pool (["sms.otp"]), each its own process and group."""
    s = ctx.sizes
    http = ctx.sms_provider not in (None, "console")
    ts = ctx.topic_set("p3s" if split else "p3")
    try:
        ctx.say(f"P3 producing a backlog of {backlog} bulk SMS")
        load.produce(
            ctx.root,
            ts.channel_topic("sms"),
            "sms_request",
            backlog,
            lambda j, t: load.sms_record(j, t, provider=ctx.sms_provider),
            id_prefix="bulk-",
            progress=lambda i: ctx.say(f"  ... {i}"),
        )
        stub = ctx.stub
        stub.reset()
        pools = (
            [("bulk", {"FUSION_CHANNELS": '["sms"]'}), ("otp", {"FUSION_CHANNELS": '["sms.otp"]'})]
            if split
            else None
        )
        workers = _start_workers(ctx, ts, pools=pools)
        worker = workers[-1]  # the one that runs the OTP agent
        try:
            ctx.say(
                f"P3 ({'OTP pool of its own' if split else 'one worker'}): OTPs at "
                f"{s.otp_rate:g}/s for {s.otp_seconds:g}s while the backlog drains"
            )
            t0 = worker.monitor.mark()
            paced = load.Paced(
                ctx.root, ts.channel_topic("sms.otp"), "sms_request", s.otp_rate, "otp-"
            )
            window_start = time.time()
            sent = paced.run(
                lambda j, t: load.sms_record(j, t, otp=True, provider=ctx.sms_provider),
                s.otp_seconds,
                stop=lambda: not worker.proc.alive(),
            )
            window_end = time.time()
            end = worker.monitor.mark()
            if http:  # the last OTPs are still on their way: wait for them at the stub
                wait_until(
                    "OTPs at the stub",
                    lambda: int(stub.stats(full=False)["otp_count"]),
                    sent,
                    timeout=60,
                    stall=30,
                    alive=[worker.proc],
                )
            time.sleep(2 if http else 3)  # and for their outcomes to be written
            stats = stub.stats(full=True) if http else None
            for w in workers:
                if not w.proc.alive():
                    raise BenchError(f"worker died during P3:\n{w.proc.log_tail()}")
        finally:
            for w in workers:
                _stop_worker(ctx, w)
        marks = load.Watermarks(ts.outcomes)
        total = marks.total()
        marks.close()
        outcomes = load.read_outcomes(
            ctx.root,
            ts.outcomes,
            until=total,
            count_all=True,
            timeout=120,
            keep=lambda o: o["channel"] == "sms.otp" or o["log_time"] <= window_end * 1000,
        )
    finally:
        ctx.cleanup(ts)
    otp = [o for o in outcomes if o["channel"] == "sms.otp"]
    bulk = [o for o in outcomes if o["channel"] != "sms.otp"]
    bulk_in_window = sum(
        1 for o in bulk if window_start * 1000 <= o["log_time"] <= window_end * 1000
    )
    still_backlogged = backlog - len(bulk)
    notes = (
        f"{sent} OTPs; bulk SMS drained at {bulk_in_window / (window_end - window_start):.0f}/s "
        f"during the OTP window; {still_backlogged} bulk SMS still queued when it ended"
    )
    if still_backlogged <= 0:
        notes += " (backlog drained before the window ended: raise --p3-backlog)"
    if split:
        notes += "; CPU and RSS: the OTP pool's worker"
    result = _outcome_result(
        sent, otp, int(window_start * 1e9), (t0, end), worker.monitor.peak_rss_mb
    )
    result["outcome_latency_ms"] = result["latency_ms"]  # produce -> outcome written
    if stats is not None:  # produce -> request at the provider (the stub), like P1
        result["latency_ms"] = latency_summary(stats["otp_latencies_ms"])
        notes += f"; latency: produce -> request at the stub via {ctx.sms_provider}"
    else:
        notes += "; latency: produce -> outcome (console provider)"
    # CPU per event of everything the worker processed in the window (OTPs and bulk SMS)
    result["cpu_ms_per_event"] = per_event_ms(
        end[1] - t0[1], sent + (0 if split else bulk_in_window)
    )
    result["notes"] = (notes + ". " + result["notes"]).strip(" .")
    result["bulk_backlog"] = backlog
    result["bulk_done_in_window"] = bulk_in_window
    return result


# ---------------------------------------------------------------------------------------------
# P4 memory


def p4(ctx: Context, n: int | None) -> dict[str, Any]:
    s = ctx.sizes
    runs: dict[str, Any] = {}
    for size in (s.p4_small, s.p4_large):
        ctx.say(f"P4 memory with a {size}-event backlog ({s.p4_seconds:g}s max of draining)")
        runs[f"backlog_{size}"] = _guard(partial(_p4_run, ctx, size, s.p4_seconds))
    small, large = runs[f"backlog_{s.p4_small}"], runs[f"backlog_{s.p4_large}"]
    r = ratio(large, small, "peak_rss_mb")
    return {
        "runs": runs,
        "ratios": {"rss_large_vs_small": r},
        "targets": {
            "rss within +-10%": None if r is None else abs(r - 1) <= 0.10,
            "rss <= 250 MB": None
            if large.get("peak_rss_mb") is None
            else max(large["peak_rss_mb"], small["peak_rss_mb"] or 0) <= 250,
        },
        "params": {
            "small": s.p4_small,
            "large": s.p4_large,
            "seconds": s.p4_seconds,
            "max_in_flight": ctx.max_in_flight,
            "max_pending": ctx.max_pending,
        },
    }


def _p4_run(ctx: Context, backlog: int, seconds: float) -> dict[str, Any]:
    ts = ctx.topic_set(f"p4-{backlog}")
    stub = ctx.stub
    try:
        took = load.produce(
            ctx.root,
            ts.channel_topic("webhook"),
            "webhook_request",
            backlog,
            lambda j, t: load.webhook_record(j, stub.url, t),
            id_prefix="p4-",
            progress=lambda i: ctx.say(f"  ... {i} produced"),
        )
        stub.reset()
        (worker,) = _start_workers(ctx, ts)
        try:
            rss_ready = worker.monitor.mark()[2]
            t0 = worker.monitor.mark()
            start, start_wall = time.monotonic(), time.time()
            while time.monotonic() - start < seconds and stub.count() < backlog:
                if not worker.proc.alive():
                    raise BenchError(f"worker died during P4:\n{worker.proc.log_tail()}")
                time.sleep(0.25)
            end = worker.monitor.mark()
            stats = stub.stats(full=True)
        finally:
            _stop_worker(ctx, worker)
    finally:
        ctx.cleanup(ts)
    arrivals = [a / 1e9 for a in stats["arrivals_ns"]]
    result = run_result(
        n=backlog,
        completion_times_s=arrivals,
        start_s=start_wall,
        latencies_ms=[],
        cpu_percent=cpu_percent(t0, end),
        peak_rss_mb=worker.monitor.peak_rss_mb,
        cpu_s=end[1] - t0[1],
        notes=f"drained {stats['count']}/{backlog} in {end[0] - start:.0f}s; "
        f"RSS when ready {rss_ready:.0f} MB; backlog produced in {took:.0f}s",
        rss_ready_mb=round(rss_ready, 1),
    )
    result["latency_ms"] = latency_summary([])  # backlog age, not a latency: not reported
    return result


# ---------------------------------------------------------------------------------------------
# P5 scaling


def p5(ctx: Context, n: int | None) -> dict[str, Any]:
    n = n or ctx.sizes.p5_n
    runs: dict[str, Any] = {}
    for count in (1, 2):
        ctx.say(f"P5 {count} worker process(es): {n} webhook events -> stub")
        runs[f"workers_{count}"] = _guard(partial(_p5_run, ctx, n, count))
    r = ratio(runs["workers_2"], runs["workers_1"])
    return {
        "runs": runs,
        "ratios": {"two_vs_one": r},
        "targets": {"two_vs_one >= 1.6": _meets(r, 1.6)},
        "params": {"n": n, "partitions": 6},
    }


def _p5_run(ctx: Context, n: int, count: int) -> dict[str, Any]:
    ts = ctx.topic_set(f"p5-{count}")
    stub = ctx.stub
    try:
        workers = _start_workers(ctx, ts, count)
        try:
            stub.reset()
            t0s = [w.monitor.mark() for w in workers]
            start_ns = time.time_ns()
            load.produce(
                ctx.root,
                ts.channel_topic("webhook"),
                "webhook_request",
                n,
                lambda j, t: load.webhook_record(j, stub.url, t),
                id_prefix=f"p5-{count}-",
            )
            result = _arrival_run(
                ctx,
                n,
                start_ns,
                wait_alive=[w.proc for w in workers],
                timeout=max(120, n / 50),
                what="requests at the stub",
                marks=[w.monitor for w in workers],
                t0_marks=t0s,
                extra_notes=f"{count} process(es); CPU summed, RSS the largest",
                workers=count,
            )
            return result
        finally:
            for w in workers:
                _stop_worker(ctx, w)
    finally:
        ctx.cleanup(ts)


# ---------------------------------------------------------------------------------------------
# profiling


def profile(ctx: Context, n: int | None) -> dict[str, Any]:
    """P1's webhook run with py-spy sampling the worker; speedscope file + top frames."""
    import shutil

    n = n or ctx.sizes.p1_n
    if not shutil.which("py-spy") and not (Path(sys.executable).parent / "py-spy").exists():
        return {
            "runs": {"fusion_webhook_profiled": not_run("skipped", "py-spy is not installed")},
            "ratios": {},
            "targets": {},
            "params": {},
        }
    out = ctx.results_dir / f"{ctx.stamp}-profile-webhook.speedscope.json"
    ctx.say(f"PROFILE py-spy on the worker during P1 webhook ({n} events) -> {out}")
    runs = {
        "webhook_http": _guard(lambda: fusion_http_run(ctx, "webhook", n, "prof", profile_out=out))
    }
    out2 = ctx.results_dir / f"{ctx.stamp}-profile-console.speedscope.json"
    ctx.say(f"PROFILE py-spy on the worker during P2 console ({n} events) -> {out2}")
    runs["webhook_console"] = _guard(
        lambda: fusion_outcome_run(ctx, "webhook", n, "prof2", "console", profile_out=out2)
    )
    return {
        "runs": runs,
        "ratios": {},
        "targets": {},
        "params": {"n": n, "speedscope": [str(out), str(out2)]},
    }


def _start_py_spy(ctx: Context, worker: WorkerHandle, out: Path) -> subprocess.Popen[bytes]:
    exe = shutil_which_py_spy()
    return subprocess.Popen(
        # blocking sampling (py-spy pauses the worker ~100 times a second): --nonblocking
        # reads the stacks while they change and yields truncated ones
        [
            exe,
            "record",
            "--pid",
            str(worker.proc.pid),
            "--rate",
            "100",
            "--format",
            "speedscope",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(ctx.work / "py-spy.log", "wb"),
    )


def shutil_which_py_spy() -> str:
    import shutil

    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else (shutil.which("py-spy") or "py-spy")


def _finish_py_spy(ctx: Context, spy: subprocess.Popen[bytes], out: Path) -> dict[str, Any]:
    import signal

    spy.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
    try:
        spy.wait(60)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait(10)
    if not out.exists():
        return {"error": (ctx.work / "py-spy.log").read_text(errors="replace")[-1000:]}
    return summarize_speedscope(out)


def summarize_speedscope(path: Path, top: int = 25) -> dict[str, Any]:
    """Self and total time per frame (function file:line) over every sampled thread."""
    doc = json.loads(path.read_text())
    frames = doc["shared"]["frames"]
    self_w: dict[int, float] = {}
    total_w: dict[int, float] = {}
    grand = 0.0
    for prof in doc["profiles"]:
        for stack, weight in zip(prof["samples"], prof["weights"], strict=False):
            grand += weight
            if stack:
                self_w[stack[-1]] = self_w.get(stack[-1], 0) + weight
            for idx in set(stack):
                total_w[idx] = total_w.get(idx, 0) + weight

    def label(i: int) -> str:
        f = frames[i]
        return f"{f['name']} ({short_path(str(f.get('file') or ''))}:{f.get('line', '?')})"

    def table(weights: dict[int, float]) -> list[dict[str, Any]]:
        rows = sorted(weights.items(), key=lambda kv: -kv[1])[:top]
        return [{"frame": label(i), "pct": round(100 * w / grand, 1)} for i, w in rows]

    return {"samples": grand, "file": str(path), "self": table(self_w), "total": table(total_w)}


# ---------------------------------------------------------------------------------------------


def short_path(file: str) -> str:
    """A profiled frame's file, shortened to the package path."""
    for marker in ("site-packages/", "/lib/python3"):
        if marker in file:
            return (
                file.split(marker, 1)[1].split("/", 1)[-1]
                if marker == "/lib/python3"
                else file.split(marker, 1)[1]
            )
    for package in ("/fusion_stream/", "/providers/", "/agents/", "/bench/"):
        if package in file:
            return package.strip("/") + "/" + file.rsplit(package, 1)[1]
    return file


def _guard(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one measurement; a failure becomes an ``error`` run (the other runs go on).

    Adds ``machine_busy_percent``: CPU use of the whole machine during the run (100 = every
    core busy), so a run disturbed by other load on the machine can be told apart.
    """
    from bench.env import SystemCpu

    system = SystemCpu()
    result = _guard_inner(fn)
    result["machine_busy_percent"] = system.busy_percent()
    return result


def _guard_inner(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return fn()
    except Unavailable as exc:
        return not_run("skipped", str(exc))
    except BenchError as exc:
        return not_run("error", str(exc)[-3000:])
    except Exception as exc:
        import traceback

        return not_run("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-2500:]}")


def _meets(value: float | None, target: float) -> bool | None:
    return None if value is None else value >= target


SCENARIOS: dict[str, tuple[str, Callable[[Context, int | None], dict[str, Any]]]] = {
    "P1": ("HTTP delivery: fusion vs RQ vs raw aiohttp", p1),
    "P2": ("framework overhead: console provider vs bare aiokafka+fastavro", p2),
    "P3": ("OTP latency under a bulk SMS backlog", p3),
    "P4": ("peak RSS: small vs large backlog", p4),
    "P5": ("scaling: 1 vs 2 worker processes", p5),
    "PROFILE": ("py-spy (100 Hz) on the worker during P1 webhook and P2 console", profile),
    # fusion runs alone (before/after comparisons of a change, e.g. with --root)
    "P1F": (
        "P1's fusion webhook run alone",
        lambda ctx, n: _alone(
            "fusion_webhook", lambda: fusion_http_run(ctx, "webhook", n or ctx.sizes.p1_n, "p1f")
        ),
    ),
    "P2F": (
        "P2's fusion console run alone",
        lambda ctx, n: _alone(
            "fusion_console",
            lambda: fusion_outcome_run(ctx, "webhook", n or ctx.sizes.p2_n, "p2f", "console"),
        ),
    ),
}


def _alone(name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    return {"runs": {name: _guard(fn)}, "ratios": {}, "targets": {}, "params": {}}
