"""``python -m bench``: run the scenarios, write bench/results/<date>.json, print the table."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.env import (
    REPO,
    BenchError,
    Processes,
    bootstrap,
    broker_url,
    check_loopback,
    machine_info,
    versions,
)

DEFAULT_SCENARIOS = "P1,P2,P3,P4,P5"
DEFAULT_SMS_PROVIDER = "textlocal"  # an HTTP SMS adapter the bench points at the stub


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="fusion-stream benchmarks: side by side with the RQ worker and the raw limits. "
        "Needs the broker of FUSION_BROKER (make bench starts one).",
    )
    p.add_argument("--quick", action="store_true", help="small sizes: finishes in under 2 minutes")
    p.add_argument(
        "--scenarios",
        default=DEFAULT_SCENARIOS,
        help=f"comma-separated subset of P1,P2,P3,P4,P5,PROFILE [default: {DEFAULT_SCENARIOS}]",
    )
    p.add_argument("--profile", action="store_true", help="also run PROFILE (py-spy on the worker)")
    p.add_argument("--n", type=int, help="events per run of P1, P2, P5 (and PROFILE)")
    p.add_argument("--rq-n", type=int, help="jobs of the RQ baseline (it is ~100x slower)")
    p.add_argument("--rq-workers", help="RQ worker classes to run: fork,simple")
    p.add_argument("--p3-backlog", type=int, help="bulk SMS backlogged before the OTPs (P3)")
    p.add_argument("--otp-rate", type=float, help="OTPs per second (P3)")
    p.add_argument("--otp-seconds", type=float, help="how long OTPs are sent (P3)")
    p.add_argument("--p4-small", type=int, help="small backlog (P4)")
    p.add_argument("--p4-large", type=int, help="large backlog (P4)")
    p.add_argument("--p4-seconds", type=float, help="most seconds of draining per P4 run")
    p.add_argument("--latency-ms", type=float, default=20.0, help="stub provider latency [20]")
    p.add_argument(
        "--max-in-flight",
        type=int,
        default=100,
        help="FUSION_MAX_IN_FLIGHT of the worker and the raw loop's concurrency [100]",
    )
    p.add_argument("--max-pending", type=int, default=1000, help="FUSION_MAX_PENDING [1000]")
    p.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment of every worker (repeatable)",
    )
    p.add_argument(
        "--sms-provider",
        default=DEFAULT_SMS_PROVIDER,
        help="SMS provider of the sms/otp runs (config.provider) [textlocal: posts to "
        "the stub, configured by the bench]; 'console' = no HTTP; another name needs "
        "its settings as --worker-env FUSION_PROVIDERS__NAME__KEY=VALUE ({stub} = the "
        "stub's URL)",
    )
    p.add_argument(
        "--root",
        type=Path,
        default=REPO,
        help="checkout of fusion-stream to measure [this one] (before/after comparisons)",
    )
    p.add_argument(
        "--baseline",
        type=Path,
        help="before/after: also measure this checkout (a copy from before a change) and "
        "report both side by side; with --repeat the two alternate",
    )
    p.add_argument(
        "--repeat", type=int, default=1, help="run the scenarios this many times (medians)"
    )
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results", help="results folder")
    p.add_argument(
        "--docs",
        type=Path,
        default=REPO / "docs" / "benchmarks.md",
        help="markdown file whose latest-run block is rewritten",
    )
    p.add_argument("--no-docs", action="store_true", help="do not touch the docs file")
    p.add_argument("--label", default="", help="a word saved with the results (before, after, ...)")
    p.add_argument(
        "--no-install",
        action="store_true",
        help="do not apt-get install redis-server when it is missing (RQ is then skipped)",
    )
    p.add_argument("--keep-topics", action="store_true", help="do not delete the bench's topics")
    return p.parse_args(argv)


def sizes_from(args: argparse.Namespace) -> Any:
    from bench.scenarios import PROFILES

    sizes = PROFILES["quick" if args.quick else "default"]
    overrides: dict[str, Any] = {}
    if args.n:
        overrides.update(p1_n=args.n, p2_n=args.n, p5_n=args.n)
    for name in (
        "rq_n",
        "p3_backlog",
        "otp_rate",
        "otp_seconds",
        "p4_small",
        "p4_large",
        "p4_seconds",
    ):
        value = getattr(args, name)
        if value is not None:
            overrides[name] = value
    if args.rq_workers is not None:
        overrides["rq_workers"] = tuple(w for w in args.rq_workers.split(",") if w)
    return replace(sizes, **overrides)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    root = args.root.resolve()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))

    def say(message: str) -> None:
        print(f"[bench {time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    try:
        import psutil  # noqa: F401
    except ImportError:
        print("the bench needs its extra: .venv/bin/pip install -e '.[bench]'", file=sys.stderr)
        return 2
    from bench import report
    from bench.scenarios import RQ_CLASSES, SCENARIOS, Context

    wanted = [s.strip().upper() for s in args.scenarios.split(",") if s.strip()]
    if args.profile and "PROFILE" not in wanted:
        wanted.append("PROFILE")
    unknown = [s for s in wanted if s not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s) {unknown}; known: {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    sizes = sizes_from(args)
    bad = [w for w in sizes.rq_workers if w not in RQ_CLASSES]
    if bad:
        print(f"unknown RQ worker class(es) {bad}; known: {', '.join(RQ_CLASSES)}", file=sys.stderr)
        return 2
    worker_env = dict(kv.split("=", 1) for kv in args.worker_env)

    try:
        check_loopback(broker_url())
        from confluent_kafka.admin import AdminClient

        AdminClient({"bootstrap.servers": bootstrap(), "log_level": 4}).list_topics(timeout=15)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        print(
            f"bench: no Kafka broker at {broker_url()} ({exc}); `make bench` starts one, or set "
            "FUSION_BROKER",
            file=sys.stderr,
        )
        return 2

    now = datetime.now()
    stamp = now.strftime("%Y-%m-%d_%H%M%S")
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"fusion-bench-{stamp}-"))
    say(f"broker {broker_url()}; code under test {root}; logs in {work}")
    procs = Processes(work)
    ctx = Context(
        root=root,
        work=work,
        procs=procs,
        sizes=sizes,
        latency_ms=args.latency_ms,
        max_in_flight=args.max_in_flight,
        max_pending=args.max_pending,
        worker_env=worker_env,
        install=not args.no_install,
        keep_topics=args.keep_topics,
        sms_provider=args.sms_provider,
        say=say,
        results_dir=args.out,
        stamp=stamp,
    )
    command = "python -m bench " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    results: dict[str, Any] = {
        "schema_version": 1,
        "date": now.isoformat(timespec="seconds"),
        "label": args.label,
        "command": command.strip(),
        "profile": "quick" if args.quick else "default",
        "broker": broker_url(),
        "machine": machine_info(),
        "versions": versions(root),
        "settings": {
            "stub_latency_ms": args.latency_ms,
            "max_in_flight": args.max_in_flight,
            "sms_provider": args.sms_provider,
            "max_pending": args.max_pending,
            "worker_env": worker_env,
            "sizes": sizes.__dict__ | {"rq_workers": list(sizes.rq_workers)},
        },
        "scenarios": {},
        "file": f"{stamp}.json",
    }

    def on_sigterm(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)  # stop what the bench started, as on Ctrl-C
    # (label, checkout) measured in turn, args.repeat times: before/after alternate so that
    # both see the same drift of a noisy machine
    roots = (
        [("before", args.baseline.resolve()), ("after", root)]
        if args.baseline
        else [(args.label or "run", root)]
    )
    passes: list[tuple[str, int, dict[str, Any]]] = []
    try:
        for rep in range(args.repeat):
            for label, checkout in roots:
                ctx.root = checkout
                ctx._channels = None
                scenarios: dict[str, Any] = {}
                passes.append((label, rep, scenarios))
                for key in wanted:
                    title, fn = SCENARIOS[key]
                    say(
                        f"{key}: {title}"
                        + (f" [{label} #{rep + 1}]" if len(roots) > 1 or args.repeat > 1 else "")
                    )
                    t = time.monotonic()
                    outcome = fn(ctx, args.n)
                    outcome["title"] = title
                    outcome["elapsed_s"] = round(time.monotonic() - t, 1)
                    scenarios[key] = outcome
    except KeyboardInterrupt:
        say("interrupted: stopping what the bench started")
    finally:
        procs.stop_all()
        if not args.keep_topics:
            from bench.env import delete_topics

            for ts in ctx.topic_sets:
                delete_topics(ts, wait=True)
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    results["machine"]["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["scenarios"] = passes[-1][2] if passes else {}
    if len(passes) > 1:
        results["passes"] = [
            {"label": lb, "repeat": rep, "scenarios": sc} for lb, rep, sc in passes
        ]
        results["comparison"] = report.compare(passes, [lb for lb, _ in roots])
        if args.baseline:
            results["baseline"] = str(args.baseline.resolve())
    path = args.out / results["file"]
    path.write_text(json.dumps(results, indent=2) + "\n")
    if "comparison" in results:
        print(report.comparison_table(results))
    else:
        print(report.text_table(results))
    print(f"\nresults: {path}")
    if not args.no_docs:
        if "comparison" in results:
            report.write_docs(args.docs, results, block=report.COMPARE_BLOCK)
        else:
            report.write_docs(args.docs, results)
        print(f"docs:    {args.docs}")
    errors = [
        f"{k}/{name}"
        for _, _, scenarios in passes
        for k, sc in scenarios.items()
        for name, run in sc["runs"].items()
        if run.get("status") == "error"
    ]
    if errors:
        print(f"runs that failed: {', '.join(errors)} (see notes; logs in {work})", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
