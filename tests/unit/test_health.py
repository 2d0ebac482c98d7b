"""The stall detector flags lagging partitions whose commits stopped, and nothing else."""

from __future__ import annotations

from fusion_stream.health import StallDetector


def test_lag_without_commits_for_longer_than_the_timeout_is_a_stall() -> None:
    d = StallDetector(timeout=60)
    d.observe(0, {"p0": (10, 50), "p1": (5, 5)})
    d.observe(30, {"p0": (10, 80), "p1": (5, 5)})
    assert d.stalled(30) == []
    d.observe(61, {"p0": (10, 90), "p1": (5, 5)})
    assert d.stalled(61) == ["p0"]


def test_moving_commits_and_idle_partitions_are_healthy() -> None:
    d = StallDetector(timeout=60)
    for t in range(0, 600, 30):
        d.observe(t, {"busy": (t, t + 100), "idle": (7, 7), "new": (None, None)})
    assert d.stalled(600) == []


def test_a_caught_up_partition_resets_and_a_revoked_one_is_forgotten() -> None:
    d = StallDetector(timeout=60)
    d.observe(0, {"p0": (10, 50)})
    d.observe(50, {"p0": (10, 10)})  # caught up (end offset seen equal)
    d.observe(100, {"p0": (10, 20)})
    assert d.stalled(100) == []
    assert d.stalled(200) == ["p0"]
    d.observe(201, {})
    assert d.stalled(300) == []
