"""FUSION_CHANNELS picks which channel agents a worker runs (a worker pool per lane)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

PROBE = "import agents; from fusion_stream.app import app; print(sorted(app.agents))"


def agents_with(channels: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FUSION_CHANNELS"}
    if channels is not None:
        env["FUSION_CHANNELS"] = channels
    return subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_all_channel_agents_by_default() -> None:
    names = agents_with(None).stdout
    for agent in ("webhook", "sms", "otp", "email", "dead-letters"):
        assert f"fusion.agents.{agent}" in names


def test_an_otp_only_worker() -> None:
    names = json.loads(agents_with('["sms.otp"]').stdout.replace("'", '"'))
    assert "fusion.agents.otp" in names
    assert not {"fusion.agents.sms", "fusion.agents.webhook", "fusion.agents.email"} & set(names)
    assert "fusion.agents.dead-letters" in names  # retry / compaction / health always run


def test_unknown_channel_is_a_clear_configuration_error() -> None:
    result = agents_with('["fax"]')
    assert result.returncode != 0
    assert "ConfigurationError" in result.stderr and "unknown channels ['fax']" in result.stderr
