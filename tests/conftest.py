"""Shared fixtures: the real broker, isolated topic sets, worker subprocesses, a loopback server."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
BROKER = os.environ.get("FUSION_BROKER", "kafka://127.0.0.1:9092")


def bootstrap() -> str:
    return ",".join(part.split("://", 1)[-1] for part in re.split(r"[;,]", BROKER) if part.strip())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def broker() -> str:
    """The bootstrap servers of the real broker `make test` started (fails if it is not up)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap()})
    try:
        admin.list_topics(timeout=15)
    except Exception as exc:  # pragma: no cover - environment problem, said clearly
        pytest.fail(f"no Kafka broker at {BROKER} ({exc}); run the tests with `make test`")
    return bootstrap()


@dataclass
class TopicSet:
    """A private copy of topics.yaml whose topic names carry a unique prefix."""

    path: Path
    prefix: str

    def config(self):  # type: ignore[no-untyped-def]
        from fusion_stream.topics import load_topics

        return load_topics(self.path)


def make_topic_set(tmp: Path, *, edit: Callable[[str], str] | None = None) -> TopicSet:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    text = (ROOT / "topics.yaml").read_text()
    text = re.sub(r"(?<![\w.])fusion\.", prefix + "fusion.", text)
    if edit:
        text = edit(text)
    path = tmp / "topics.yaml"
    path.write_text(text)
    return TopicSet(path, prefix)


def apply_topic_set(topic_set: TopicSet) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "fusion_stream.cli",
            "topics",
            "apply",
            "--file",
            str(topic_set.path),
            "--replication-factor",
            "1",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "FUSION_BROKER": BROKER},
        timeout=120,
    )


@pytest.fixture
def topic_set(broker: str, tmp_path: Path) -> TopicSet:
    """Topics of topics.yaml, prefixed for this test and created on the broker."""
    ts = make_topic_set(tmp_path)
    apply_topic_set(ts)
    return ts


class Worker:
    """A `fusion-stream worker` subprocess bound to one topic set and consumer group."""

    def __init__(
        self,
        topic_set: TopicSet,
        log_dir: Path,
        env: dict[str, str] | None = None,
        name: str = "worker",
    ) -> None:
        self.name = name
        self.topic_set = topic_set
        self.app_id = f"{topic_set.prefix}fusion-stream"
        self.log_dir = log_dir
        self.extra_env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.web_port = free_port()

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "FUSION_BROKER": BROKER,
            "FUSION_TOPICS_FILE": str(self.topic_set.path),
            "FUSION_APP_ID": self.app_id,
            "FUSION_WEB_PORT": str(self.web_port),
            "FUSION_COMMIT_INTERVAL": "0.5",
            **self.extra_env,
        }

    def start(self, wait_ready: bool = True) -> None:
        self.starts += 1
        log = open(self.log_dir / f"{self.name}-{self.starts}.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fusion_stream.cli", "worker", "--loglevel", "warning"],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        if wait_ready:
            self.wait_ready()

    def log_text(self) -> str:
        return (self.log_dir / f"{self.name}-{self.starts}.log").read_text(errors="replace")

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited early:\n{self.log_text()[-4000:]}")
            if "fusion-stream worker ready" in self.log_text():
                return
            time.sleep(0.2)
        raise AssertionError(f"worker not ready after {timeout}s:\n{self.log_text()[-4000:]}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def stop(self, timeout: float = 60) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError(
                    f"worker ignored SIGTERM:\n{self.log_text()[-4000:]}"
                ) from None
        return int(self.proc.returncode)


@pytest.fixture
def http_server() -> Iterator[Any]:
    """A recording loopback HTTP server in its own thread (see tests/support/httpserver.py)."""
    from tests.support.httpserver import ThreadedServer

    server = ThreadedServer().start()
    yield server
    server.stop()


@pytest.fixture
def worker_factory(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def make(topic_set: TopicSet, env: dict[str, str] | None = None) -> Worker:
        w = Worker(topic_set, tmp_path, env, name=f"worker{len(workers) + 1}")
        workers.append(w)
        return w

    yield make
    for w in workers:
        w.kill()
