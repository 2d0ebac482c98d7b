"""The results as a readable table (stdout) and as the latest-run block of docs/benchmarks.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

BEGIN = "<!-- bench:latest-run:begin (written by python -m bench; edit outside this block) -->"
END = "<!-- bench:latest-run:end -->"


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def rows(results: dict[str, Any]) -> list[list[str]]:
    out = []
    for key, scenario in results["scenarios"].items():
        for name, run in scenario["runs"].items():
            lat = run.get("latency_ms") or {}
            status = run.get("status") or "-"
            note = (run.get("notes") or "").splitlines()[0] if run.get("notes") else ""
            out.append(
                [
                    key,
                    name,
                    status,
                    _fmt(run.get("n")),
                    _fmt(run.get("completed")),
                    _fmt(run.get("events_per_s")),
                    _fmt(run.get("wall_events_per_s")),
                    _fmt(lat.get("p50"), 1),
                    _fmt(lat.get("p95"), 1),
                    _fmt(lat.get("p99"), 1),
                    _fmt(run.get("cpu_percent")),
                    _fmt(run.get("cpu_ms_per_event"), 3),
                    _fmt(run.get("peak_rss_mb")),
                    _fmt(run.get("machine_busy_percent")),
                    note if len(note) <= 140 else note[:139] + "…",
                ]
            )
    return out


HEADER = [
    "scenario",
    "run",
    "status",
    "n",
    "done",
    "events/s",
    "wall ev/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "CPU %",
    "CPU ms/event",
    "peak RSS MB",
    "machine busy %",
    "notes",
]


def summary_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    for key, scenario in results["scenarios"].items():
        parts = [f"{k} = {_fmt(v, 3)}" for k, v in scenario.get("ratios", {}).items()]
        targets = [
            f"{k}: {'met' if v else ('MISSED' if v is False else 'not measured')}"
            for k, v in scenario.get("targets", {}).items()
        ]
        if parts or targets:
            lines.append(f"{key}: " + "; ".join(parts + targets))
    return lines


def text_table(results: dict[str, Any]) -> str:
    body = rows(results)
    widths = [max(len(r[i]) for r in [HEADER, *body]) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(HEADER, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in body]
    return "\n".join([*lines, "", *summary_lines(results)])


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    v = results["versions"]
    lines = [
        BEGIN,
        "",
        f"## Latest run: {results['date']}"
        + (f" ({results['label']})" if results.get("label") else ""),
        "",
        f"Command: `{results['command']}` (profile `{results['profile']}`, "
        f"{results['elapsed_s']:.0f} s in all)",
        "",
        f"Machine: {m.get('cores')} cores ({m.get('cpu')}), {m.get('memory_gb')} GB, "
        f"{m.get('platform')}, Python {m.get('python')}; load average at start "
        f"{m.get('load_avg_at_start')}.",
        "",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val) + ".",
        "",
        f"Settings: stub latency {results['settings']['stub_latency_ms']:g} ms, "
        f"FUSION_MAX_IN_FLIGHT={results['settings']['max_in_flight']}, "
        f"FUSION_MAX_PENDING={results['settings']['max_pending']}"
        + "".join(f", {k}={val}" for k, val in results["settings"]["worker_env"].items())
        + ".",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---" for _ in HEADER) + "|",
    ]
    for r in rows(results):
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
    lines += ["", "Ratios and targets:", ""]
    lines += [f"- {line}" for line in summary_lines(results)]
    prof = results["scenarios"].get("PROFILE")
    for name, run in (prof or {}).get("runs", {}).items():
        top = (run.get("profile") or {}).get("self") or []
        if top:
            lines += ["", f"Profile `{name}` (py-spy, % of samples by self time, top 12):", ""]
            lines += [f"- {row['pct']:.1f}% {row['frame']}" for row in top[:12]]
    lines += ["", f"Raw results: `bench/results/{results['file']}` (not committed).", "", END]
    return "\n".join(lines)


LATEST_BLOCK = (BEGIN, END)
COMPARE_BLOCK = (
    "<!-- bench:before-after:begin (written by python -m bench --baseline; edit outside) -->",
    "<!-- bench:before-after:end -->",
)
COMPARED = ("events_per_s", "cpu_ms_per_event", "peak_rss_mb")


def write_docs(path: Path, results: dict[str, Any], block: tuple[str, str] = LATEST_BLOCK) -> None:
    begin, end = block
    body = markdown(results) if block == LATEST_BLOCK else compare_markdown(results)
    body = begin + body.removeprefix(BEGIN).removesuffix(END) + end
    text = path.read_text() if path.exists() else ""
    if begin in text and end in text:
        text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: body, text, flags=re.S)
    else:
        text = (text.rstrip() + "\n\n" if text else "# Benchmarks\n\n") + body + "\n"
    path.write_text(text)


def compare(
    passes: list[tuple[str, int, dict[str, Any]]], labels: list[str]
) -> list[dict[str, Any]]:
    """Per scenario/run: the median of each compared figure for each label, and last/first."""
    import statistics

    keys: dict[tuple[str, str], None] = {}
    for _, _, scenarios in passes:
        for key, sc in scenarios.items():
            for name in sc["runs"]:
                keys[(key, name)] = None
    rows = []
    for key, name in keys:
        row: dict[str, Any] = {"scenario": key, "run": name}
        for field in COMPARED:
            for label in labels:
                values = [
                    sc[key]["runs"][name].get(field)
                    for lb, _, sc in passes
                    if lb == label and key in sc and name in sc[key]["runs"]
                ]
                values = [v for v in values if v is not None]
                row[f"{field}:{label}"] = round(statistics.median(values), 3) if values else None
                row[f"{field}:{label}:all"] = values
            first, last = row[f"{field}:{labels[0]}"], row[f"{field}:{labels[-1]}"]
            row[f"{field}:change"] = round(last / first, 3) if first and last else None
        rows.append(row)
    return rows


def _compare_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    labels = list(dict.fromkeys(p["label"] for p in results["passes"]))
    header = ["scenario", "run"]
    for field in COMPARED:
        header += [f"{field} {lb}" for lb in labels] + [f"{field} {labels[-1]}/{labels[0]}"]
    body = []
    for row in results["comparison"]:
        cells = [row["scenario"], row["run"]]
        for field in COMPARED:
            cells += [_fmt(row[f"{field}:{lb}"], 3) for lb in labels]
            cells.append(_fmt(row[f"{field}:change"], 3))
        body.append(cells)
    return header, body


def comparison_table(results: dict[str, Any]) -> str:
    header, body = _compare_rows(results)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in body]
    reps = max(p["repeat"] for p in results["passes"]) + 1
    return "\n".join([*lines, "", f"medians of {reps} alternating pass(es) each"])


def compare_markdown(results: dict[str, Any]) -> str:
    header, body = _compare_rows(results)
    m = results["machine"]
    reps = max(p["repeat"] for p in results["passes"]) + 1
    lines = [
        "",
        f"## Before/after: {results['date']}",
        "",
        f"Command: `{results['command']}`; {reps} alternating pass(es) each, medians; "
        f"{m.get('cores')} cores, load average {m.get('load_avg_at_start')} at start, "
        f"{m.get('load_avg_at_end')} at end.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *["| " + " | ".join(r) + " |" for r in body],
        "",
        f"Raw results: `bench/results/{results['file']}` (not committed).",
        "",
    ]
    return "\n".join(lines)
