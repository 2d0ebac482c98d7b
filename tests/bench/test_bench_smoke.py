"""The benchmark harness runs end to end with tiny sizes and writes results with every field.

No timing is asserted anywhere: speed is what the harness reports, not what a test checks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BROKER, ROOT

SCENARIOS = ("P1", "P2", "P3", "P4", "P5")
TINY = [
    "--quick",
    "--scenarios",
    ",".join(SCENARIOS),
    "--n",
    "40",
    "--rq-n",
    "5",
    "--p3-backlog",
    "60",
    "--otp-rate",
    "10",
    "--otp-seconds",
    "2",
    "--p4-small",
    "30",
    "--p4-large",
    "90",
    "--p4-seconds",
    "4",
    "--no-docs",
]
TOP_FIELDS = (
    "schema_version",
    "date",
    "command",
    "profile",
    "machine",
    "versions",
    "settings",
    "scenarios",
    "elapsed_s",
)


@pytest.mark.integration
def test_harness_runs_every_scenario_and_writes_every_field(broker: str, tmp_path: Path) -> None:
    pytest.importorskip(
        "psutil", reason="the bench extra is not installed: pip install -e '.[bench]'"
    )
    from bench.stats import LATENCY_FIELDS, RUN_FIELDS

    # --no-install: a test never installs system packages; without redis-server the RQ
    # baseline is reported as skipped, which this test accepts.
    done = subprocess.run(
        [sys.executable, "-m", "bench", *TINY, "--no-install", "--out", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "FUSION_BROKER": BROKER},
        capture_output=True,
        text=True,
        timeout=900,
    )
    files = sorted(tmp_path.glob("*.json"))
    assert files, f"no results written\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    results = json.loads(files[-1].read_text())

    for name in TOP_FIELDS:
        assert name in results, name
    assert results["machine"]["cores"] >= 1
    assert set(results["scenarios"]) == set(SCENARIOS)
    for key, scenario in results["scenarios"].items():
        assert {"runs", "ratios", "targets", "title"} <= set(scenario), key
        assert scenario["runs"], key
        for run_name, run in scenario["runs"].items():
            where = f"{key}/{run_name}"
            assert set(RUN_FIELDS) <= set(run), where
            assert set(LATENCY_FIELDS) <= set(run["latency_ms"]), where
            assert run["status"] in ("ok", "skipped"), f"{where}: {run['notes']}"
            if run["status"] == "ok":
                # P4 stops after a time; P3's last OTPs may still be on their way
                assert run["completed"] == run["n"] or key in ("P3", "P4"), where
    # The runs that need nothing but the broker and the worker always happen.
    for key, run_name in (
        ("P1", "fusion_webhook"),
        ("P1", "raw_aiohttp"),
        ("P2", "fusion_console"),
        ("P2", "raw_aiokafka_fastavro"),
        ("P5", "workers_2"),
    ):
        assert results["scenarios"][key]["runs"][run_name]["status"] == "ok", (key, run_name)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "scenario" in done.stdout and "events/s" in done.stdout  # the table was printed


def test_docs_block_is_replaced_and_text_around_it_kept(tmp_path: Path) -> None:
    from bench import report

    results = {
        "date": "2026-01-01T00:00:00",
        "label": "",
        "command": "python -m bench --quick",
        "profile": "quick",
        "elapsed_s": 1.0,
        "file": "x.json",
        "machine": {
            "cores": 2,
            "cpu": "cpu",
            "memory_gb": 1,
            "platform": "linux",
            "python": "3.11",
            "load_avg_at_start": [0.1],
        },
        "versions": {"aiokafka": "0.14.0"},
        "settings": {
            "stub_latency_ms": 20.0,
            "max_in_flight": 100,
            "max_pending": 1000,
            "worker_env": {},
        },
        "scenarios": {
            "P2": {
                "runs": {
                    "fusion_console": {
                        "status": "ok",
                        "n": 10,
                        "completed": 10,
                        "events_per_s": 5.0,
                        "wall_events_per_s": 4.0,
                        "wall_s": 2.5,
                        "cpu_percent": 50.0,
                        "peak_rss_mb": 80.0,
                        "latency_ms": {"p50": 1.0, "p95": 2.0, "p99": 3.0, "max": 4.0},
                        "notes": "",
                    }
                },
                "ratios": {"fusion_vs_raw": 0.5},
                "targets": {"fusion_vs_raw >= 0.5": True},
            }
        },
    }
    docs = tmp_path / "benchmarks.md"
    docs.write_text(
        "# Benchmarks\n\nintro\n\n" + report.BEGIN + "\nold\n" + report.END + "\n\noutro\n"
    )
    report.write_docs(docs, results)
    text = docs.read_text()
    assert "intro" in text and "outro" in text and "old" not in text
    assert "| P2 | fusion_console | ok |" in text and "fusion_vs_raw = 0.500" in text
    assert "python -m bench --quick" in text and "2 cores" in text


def test_percentiles_and_steady_rate() -> None:
    from bench.stats import latency_summary, percentile, steady_rate

    values = list(range(1, 101))
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99
    assert latency_summary([]) == {"p50": None, "p95": None, "p99": None, "max": None}
    assert steady_rate([i / 10 for i in range(100)]) == pytest.approx(10.0)
    assert steady_rate([1.0]) is None
