"""`make run` smoke: it starts, delivers one event sent with `fusion-stream send`, and stops
cleanly on Ctrl-C (SIGINT) and on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import BROKER, ROOT, free_port

pytestmark = pytest.mark.integration


def wait_for(path: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    raise AssertionError(f"{text!r} not seen:\n{path.read_text(errors='replace')[-4000:]}")


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_make_run_delivers_one_event_and_stops_cleanly(tmp_path: Path, stop_signal: int) -> None:
    env = {
        **os.environ,
        "FUSION_BROKER": BROKER,
        "FUSION_TOPICS_REPLICATION_FACTOR": "1",  # the test broker has one node
        "FUSION_APP_ID": f"make-run-{os.getpid()}",
        "FUSION_WEB_PORT": str(free_port()),
    }
    log = tmp_path / "make-run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(log, "fusion-stream worker ready", proc)
        assert "Try it from a second terminal" in log.read_text()
        job_id = subprocess.run(
            [
                sys.executable,
                "-m",
                "fusion_stream.cli",
                "send",
                "webhook",
                "--url",
                "http://127.0.0.1:8099/hook",
                "--json",
                '{"smoke": true}',
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.strip()
        wait_for(log, '{"smoke": true}', proc, timeout=60)  # the demo sink printed the request
        deadline = time.monotonic() + 60
        shown = ""
        while "sent" not in shown and time.monotonic() < deadline:
            shown = subprocess.run(
                [sys.executable, "-m", "fusion_stream.cli", "outcomes", "--job-id", job_id],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout
        assert job_id in shown and "sent" in shown
    finally:
        if group_alive(proc.pid):
            os.killpg(proc.pid, stop_signal)  # what a terminal's Ctrl-C (or a supervisor) does
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"make run did not stop:\n{log.read_text()[-3000:]}") from None
    leftover = subprocess.run(
        ["pgrep", "-f", f"FUSION_APP_ID=make-run-{os.getpid()}"], capture_output=True, text=True
    )
    assert leftover.stdout.strip() == ""
    deadline = time.monotonic() + 60
    while group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)  # make returned; the worker may still be closing its connections
    assert not group_alive(proc.pid), f"left running after make run:\n{log.read_text()[-3000:]}"


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except OSError:
        return False
    return True
