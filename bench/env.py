"""What the scenarios run on: the broker, private topic sets, worker / stub / redis processes.

Everything listens on and talks to 127.0.0.1 only. Every process the bench starts is tracked
and stopped by its own pid (``Processes.stop_all``), never by name.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
READY_LINE = "fusion-stream worker ready"
DEFAULT_BROKER = "kafka://127.0.0.1:9092"


class BenchError(RuntimeError):
    """A scenario could not run (said in the report; the other scenarios go on)."""


class Unavailable(BenchError):
    """A scenario's prerequisite is missing (a channel not built yet, no redis-server)."""


def broker_url() -> str:
    return os.environ.get("FUSION_BROKER") or DEFAULT_BROKER


def bootstrap(url: str | None = None) -> str:
    """``kafka://h:p;kafka://h2:p`` -> ``h:p,h2:p`` (the faust URL form the project uses)."""
    parts = re.split(r"[;,]", url or broker_url())
    return ",".join(p.strip().split("://", 1)[-1] for p in parts if p.strip())


def check_loopback(url: str) -> None:
    for hostport in bootstrap(url).split(","):
        host = hostport.rsplit(":", 1)[0].strip("[]")
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise BenchError(f"the bench only talks to loopback; broker {hostport} is not")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BenchError(
                f"process {proc.args!r} exited with {proc.returncode} before listening"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"nothing listens on 127.0.0.1:{port} after {timeout:g}s")


# ---------------------------------------------------------------------------------------------
# processes


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class Processes:
    """Starts subprocesses with logs in ``log_dir`` and stops each one by its pid."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._procs: list[Proc] = []
        self._counter = 0

    def start(
        self, name: str, argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> Proc:
        self._counter += 1
        log = self.log_dir / f"{self._counter:02d}-{name}.log"
        with open(log, "wb") as out:
            popen = subprocess.Popen(
                argv,
                env={**os.environ, **(env or {})},
                cwd=cwd or REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C of the bench does not hit it twice
            )
        proc = Proc(name, popen, log)
        self._procs.append(proc)
        return proc

    def stop(self, proc: Proc, timeout: float = 30, sig: int = signal.SIGTERM) -> int | None:
        if proc.alive():
            try:
                proc.popen.send_signal(sig)
                proc.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(10)
        if proc in self._procs:
            self._procs.remove(proc)
        return proc.popen.returncode

    def stop_all(self) -> None:
        for proc in reversed(list(self._procs)):
            self.stop(proc, timeout=15)


# ---------------------------------------------------------------------------------------------
# topic sets and workers


@dataclass
class TopicSet:
    """A private copy of topics.yaml whose topic names carry a unique prefix."""

    path: Path
    prefix: str
    _config: Any = None

    def config(self) -> Any:
        if self._config is None:
            from fusion_stream.topics import load_topics

            self._config = load_topics(self.path)
        return self._config

    def channel_topic(self, channel: str) -> str:
        return str(self.config().channel(channel).topic)

    @property
    def outcomes(self) -> str:
        return str(self.config().outcomes)


def make_topic_set(work: Path, root: Path, tag: str) -> TopicSet:
    """Copy ``root``/topics.yaml with every topic name prefixed; create the topics (RF 1) the
    way ``fusion-stream topics apply --file F --replication-factor 1`` does (in process: the
    CLI's start-up would add a second to every run)."""
    prefix = f"bench{uuid.uuid4().hex[:6]}-{tag.lower()}."
    text = (root / "topics.yaml").read_text()
    text = re.sub(r"(?<![\w.])fusion\.", prefix + "fusion.", text)
    path = work / f"topics-{prefix.rstrip('.')}.yaml"
    path.write_text(text)
    try:
        from fusion_stream.topics import apply_topics, load_topics

        config = load_topics(path, replication_factor=1)
        apply_topics(config, admin(), dry_run=False)
    except Exception as exc:
        raise BenchError(f"topics apply of {path} failed: {exc}") from exc
    return TopicSet(path, prefix)


_admin: Any = None


def admin() -> Any:
    """One AdminClient for the bench process (its requests outlive the calls that made them)."""
    global _admin
    if _admin is None:
        from confluent_kafka.admin import AdminClient

        _admin = AdminClient({"bootstrap.servers": bootstrap(), "log_level": 4})
    return _admin


def delete_topics(topic_set: TopicSet, wait: bool = False) -> None:
    """Drop a topic set's topics (and its worker's changelogs) so runs do not fill the disk;
    does not wait for the broker unless ``wait``."""
    try:
        names = [
            t for t in admin().list_topics(timeout=10).topics if t.startswith(topic_set.prefix)
        ]
        if names:
            futures = admin().delete_topics(names, operation_timeout=30)
            for fut in futures.values() if wait else ():
                try:
                    fut.result(30)
                except Exception:
                    pass
    except Exception:
        pass


@dataclass
class WorkerHandle:
    proc: Proc
    app_id: str
    monitor: Monitor
    started_at: float = field(default_factory=time.monotonic)
    ready_after_s: float | None = None


def start_worker(
    procs: Processes,
    root: Path,
    topic_set: TopicSet,
    *,
    app_id: str,
    env: dict[str, str],
    name: str = "worker",
) -> WorkerHandle:
    worker_env = {
        "FUSION_BROKER": broker_url(),
        "FUSION_TOPICS_FILE": str(topic_set.path),
        "FUSION_APP_ID": app_id,
        # no web server: a free port picked here could be taken before the worker binds it
        "FUSION_WEB_PORT": "0",
        "FUSION_LOG_LEVEL": "warning",
        "PYTHONPATH": str(root),
        **env,
    }
    argv = [sys.executable, "-m", "fusion_stream.cli", "worker", "--loglevel", "warning"]
    # cwd: the work dir, so Faust's data dir (<app id>-data) never lands in the checkout
    proc = procs.start(name, argv, env=worker_env, cwd=procs.log_dir)
    handle = WorkerHandle(proc, app_id, Monitor(proc.pid))
    return handle


def wait_ready(handle: WorkerHandle, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not handle.proc.alive():
            raise BenchError(
                f"worker exited early ({handle.proc.popen.returncode}):\n{handle.proc.log_tail()}"
            )
        if READY_LINE in handle.proc.log_tail(1_000_000):
            handle.ready_after_s = time.monotonic() - handle.started_at
            handle.monitor.attach()
            return
        time.sleep(0.1)
    raise BenchError(f"worker not ready after {timeout:g}s:\n{handle.proc.log_tail()}")


def channels_consumed(root: Path, topic_set: TopicSet) -> set[str]:
    """Channels the worker of ``root`` has an agent for (import agents, read their topics)."""
    code = (
        "import json, agents\n"
        "from fusion_stream.app import app\n"
        "names = set()\n"
        "for agent in app.agents.values():\n"
        "    for t in getattr(agent.channel, 'topics', None) or ():\n"
        "        names.add(t)\n"
        "print(json.dumps(sorted(names)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=topic_set.path.parent,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "PYTHONPATH": str(root),
            "FUSION_TOPICS_FILE": str(topic_set.path),
            "FUSION_BROKER": broker_url(),
        },
    )
    if result.returncode != 0:
        raise BenchError(f"cannot import the worker's agents: {result.stderr[-1500:]}")
    topics = set(json.loads(result.stdout.strip().splitlines()[-1]))
    config = topic_set.config()
    return {name for name, spec in config.channels.items() if spec.topic in topics}


# ---------------------------------------------------------------------------------------------
# CPU and memory of a process tree


class Monitor:
    """Samples CPU time and RSS of a process (and its children) every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, float, float]] = []  # (monotonic, cpu seconds, rss MB)
        self.peak_rss_mb = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def attach(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"monitor-{self.pid}", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        import psutil

        try:
            proc = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop.is_set():
            try:
                self.sample_now(proc)
            except psutil.Error:
                return
            self._stop.wait(self.interval)

    def sample_now(self, proc: Any = None) -> tuple[float, float, float]:
        import psutil

        proc = proc or psutil.Process(self.pid)
        with proc.oneshot():
            t = proc.cpu_times()
            cpu = t.user + t.system + t.children_user + t.children_system
            rss = proc.memory_info().rss
        live_children = 0.0
        for child in proc.children(recursive=True):
            try:
                live_children += child.memory_info().rss
                ct = child.cpu_times()
                cpu += ct.user + ct.system
            except psutil.Error:
                pass
        rss_mb = (rss + live_children) / 2**20
        sample = (time.monotonic(), cpu, rss_mb)
        self.samples.append(sample)
        self.peak_rss_mb = max(self.peak_rss_mb, rss_mb, self.kernel_peak_mb())
        return sample

    def kernel_peak_mb(self) -> float:
        """VmHWM: the kernel's exact peak RSS of the process itself (Linux)."""
        try:
            text = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return 0.0
        match = re.search(r"^VmHWM:\s+(\d+) kB", text, re.M)
        return int(match.group(1)) / 1024 if match else 0.0

    def mark(self) -> tuple[float, float, float]:
        """A sample now (the start or end of a measured window)."""
        try:
            return self.sample_now()
        except Exception:
            return self.samples[-1] if self.samples else (time.monotonic(), 0.0, 0.0)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)

    def rss_mb_now(self) -> float:
        return self.samples[-1][2] if self.samples else 0.0


class SystemCpu:
    """CPU use of the whole machine over a window (how busy it was, the bench included)."""

    def __init__(self) -> None:
        import psutil

        self._psutil = psutil
        self.start = psutil.cpu_times()

    def busy_percent(self) -> float:
        end = self._psutil.cpu_times()
        total = sum(end) - sum(self.start)
        idle = (end.idle + getattr(end, "iowait", 0)) - (
            self.start.idle + getattr(self.start, "iowait", 0)
        )
        return round(100 * (total - idle) / total, 1) if total > 0 else 0.0


def cpu_percent(start: tuple[float, float, float], end: tuple[float, float, float]) -> float | None:
    """CPU use between two samples, in % of one core (200% = two cores busy)."""
    wall = end[0] - start[0]
    return round(100 * (end[1] - start[1]) / wall, 1) if wall > 0 else None


# ---------------------------------------------------------------------------------------------
# the stub provider


class Stub:
    """The stub provider process and its control endpoints."""

    def __init__(self, procs: Processes, latency_ms: float) -> None:
        self.port = free_port()
        self.latency_ms = latency_ms
        self.proc = procs.start(
            "stub",
            [
                sys.executable,
                "-m",
                "bench.stub",
                "--port",
                str(self.port),
                "--latency-ms",
                str(latency_ms),
            ],
            cwd=REPO,
            env={"PYTHONPATH": str(REPO)},
        )
        wait_port(self.port, 30, self.proc.popen)
        self.url = f"http://127.0.0.1:{self.port}"

    def _call(self, method: str, path: str, timeout: float = 30) -> dict[str, Any]:
        req = urllib.request.Request(
            self.url + path, method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())  # type: ignore[no-any-return,unused-ignore]

    def reset(self) -> None:
        self._call("POST", "/_bench/reset")

    def count(self) -> int:
        return int(self._call("GET", "/_bench/stats")["count"])

    def stats(self, full: bool = True) -> dict[str, Any]:
        return self._call("GET", "/_bench/stats" + ("?full=1" if full else ""), timeout=120)


def wait_until(
    what: str,
    done: Callable[[], int],
    target: int,
    *,
    timeout: float,
    stall: float,
    alive: Iterable[Proc] = (),
) -> int:
    """Poll ``done()`` until it reaches ``target``; fail on timeout, on ``stall`` seconds
    without progress, or when a process of ``alive`` exits."""
    deadline = time.monotonic() + timeout
    last, last_change = -1, time.monotonic()
    while True:
        value = done()
        now = time.monotonic()
        if value >= target:
            return value
        if value != last:
            last, last_change = value, now
        for proc in alive:
            if not proc.alive():
                raise BenchError(
                    f"{proc.name} exited ({proc.popen.returncode}) at {value}/{target} "
                    f"{what}:\n{proc.log_tail()}"
                )
        if now > deadline:
            raise BenchError(f"timed out at {value}/{target} {what} after {timeout:g}s")
        if now - last_change > stall:
            tails = "\n".join(f"--- {p.name}:\n{p.log_tail(1500)}" for p in alive)
            raise BenchError(f"no progress for {stall:g}s at {value}/{target} {what}\n{tails}")
        time.sleep(0.2)


# ---------------------------------------------------------------------------------------------
# redis-server for the RQ baseline


def ensure_redis_server(install: bool, say: Callable[[str], None]) -> str:
    """The path of redis-server; installs it with apt-get when missing and allowed."""
    found = shutil.which("redis-server")
    if found:
        return found
    how = "apt-get install -y redis-server   (Debian/Ubuntu; or: brew install redis)"
    can_apt = shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0
    if install and can_apt:
        say("redis-server not found: installing it with apt-get (the RQ baseline needs it)")
        cmd = ["apt-get", "install", "-y", "-q", "redis-server"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        done = subprocess.run(cmd, capture_output=True, env=env, timeout=600)
        if done.returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, timeout=600)
            subprocess.run(cmd, capture_output=True, env=env, timeout=600)
        found = shutil.which("redis-server")
        if found:
            return found
    raise Unavailable(f"redis-server is not installed; install it with: {how}")


class Redis:
    """A throwaway redis-server on a free loopback port (no persistence)."""

    def __init__(self, procs: Processes, binary: str) -> None:
        self.port = free_port()
        self.proc = procs.start(
            "redis",
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
                "--daemonize",
                "no",
            ],
        )
        wait_port(self.port, 30, self.proc.popen)
        self.url = f"redis://127.0.0.1:{self.port}/0"


# ---------------------------------------------------------------------------------------------
# machine and versions


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
        info["cpu"] = model.group(1).strip() if model else platform.processor()
    except OSError:
        info["cpu"] = platform.processor()
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
        info["load_avg_at_start"] = [round(x, 2) for x in os.getloadavg()]
    except Exception:
        pass
    return info


def versions(root: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dist in (
        "faust-streaming",
        "aiokafka",
        "aiohttp",
        "fastavro",
        "confluent-kafka",
        "rq",
        "redis",
        "requests",
        "psutil",
        "py-spy",
    ):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    out["redis-server"] = _command_version(["redis-server", "--version"], r"v=(\S+)")
    try:
        from fusion_stream.localkafka import KAFKA_VERSION

        out["kafka (local broker jars)"] = KAFKA_VERSION
    except Exception:
        pass
    sha = _command_version(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], r"(\S+)")
    dirty = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    out["fusion-stream"] = f"{sha}{'+dirty' if dirty else ''}" if sha else None
    return out


def _command_version(argv: list[str], pattern: str) -> str | None:
    try:
        text = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(pattern, text)
    return match.group(1) if match else None
