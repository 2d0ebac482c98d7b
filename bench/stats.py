"""Rates and percentiles of one measured run, in the shape every run of the results JSON has."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: fields every run of every scenario carries (the smoke test checks them)
RUN_FIELDS = (
    "status",
    "n",
    "completed",
    "events_per_s",
    "wall_events_per_s",
    "wall_s",
    "latency_ms",
    "cpu_percent",
    "cpu_ms_per_event",
    "peak_rss_mb",
    "notes",
)
LATENCY_FIELDS = ("p50", "p95", "p99", "max")


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def latency_summary(latencies_ms: Sequence[float]) -> dict[str, float | None]:
    values = sorted(latencies_ms)
    out = {f"p{q}": _round(percentile(values, q)) for q in (50, 95, 99)}
    out["max"] = _round(values[-1]) if values else None
    return out


def steady_rate(times_s: Sequence[float]) -> float | None:
    """Events/s between the 10th and the 90th percentile completion (ramp-up and tail cut off);
    all completions when there are fewer than 20."""
    t = sorted(times_s)
    if len(t) < 2:
        return None
    lo, hi = (len(t) // 10, len(t) - 1 - len(t) // 10) if len(t) >= 20 else (0, len(t) - 1)
    span = t[hi] - t[lo]
    return round((hi - lo) / span, 1) if span > 0 else None


def run_result(
    *,
    n: int,
    completion_times_s: Sequence[float],
    start_s: float | None,
    latencies_ms: Sequence[float],
    cpu_percent: float | None,
    peak_rss_mb: float | None,
    cpu_s: float | None = None,
    notes: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """One run: ``completion_times_s`` on the same clock as ``start_s`` (when the burst began).

    ``cpu_s``: CPU seconds the measured process(es) used over the run; gives
    ``cpu_ms_per_event``, the figure least disturbed by other load on the machine.
    """
    done = len(completion_times_s)
    wall = (max(completion_times_s) - start_s) if done and start_s is not None else None
    result: dict[str, Any] = {
        "status": "ok",
        "n": n,
        "completed": done,
        "events_per_s": steady_rate(completion_times_s),
        "wall_events_per_s": round(done / wall, 1) if wall else None,
        "wall_s": _round(wall),
        "latency_ms": latency_summary(latencies_ms),
        "cpu_percent": cpu_percent,
        "cpu_ms_per_event": per_event_ms(cpu_s, done),
        "peak_rss_mb": _round(peak_rss_mb),
        "notes": notes,
    }
    result.update(extra)
    return result


def per_event_ms(cpu_s: float | None, events: int) -> float | None:
    return round(1000 * cpu_s / events, 3) if cpu_s is not None and events else None


def not_run(status: str, reason: str, **extra: Any) -> dict[str, Any]:
    """A run that was skipped (``skipped``) or failed (``error``): every field, values None."""
    result: dict[str, Any] = {f: None for f in RUN_FIELDS}
    result.update(status=status, notes=reason, latency_ms=dict.fromkeys(LATENCY_FIELDS))
    result.update(extra)
    return result


def ratio(
    a: dict[str, Any] | None, b: dict[str, Any] | None, key: str = "events_per_s"
) -> float | None:
    try:
        x, y = a[key], b[key]  # type: ignore[index]
    except (KeyError, TypeError):
        return None
    return round(x / y, 3) if x and y else None


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)
