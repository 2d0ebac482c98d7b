"""A local single-node Apache Kafka (KRaft) for development and tests.

The broker runs from the Maven Central jars of Kafka (``kafka/pom.xml``), fetched once into
``<repo>/.cache/kafka/jars-<version>/``. Each port has its own state directory
``<cache>/<port>/`` holding ``server.properties``, ``data/``, ``kafka.log`` and ``kafka.pid``.

Used by ``fusion-stream kafka up|down|status`` (``fusion_stream/cli/kafka.py``) and by tests::

    paths = up(19500)          # starts (or finds) the broker, waits until it answers metadata
    status(19500).running      # True
    down(19500, wipe=True)     # stops it and deletes its data
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from fusion_stream.errors import FusionError

KAFKA_VERSION = "3.9.1"
ROOT = Path(__file__).resolve().parent.parent
POM = ROOT / "kafka" / "pom.xml"
LOG4J_PROPERTIES = ROOT / "kafka" / "log4j.properties"

HOST = "127.0.0.1"
NODE_ID = 1
DEFAULT_PORT = 9092
DEFAULT_TIMEOUT = 60.0
DEFAULT_EXTERNAL_TIMEOUT = 10.0
STOP_TIMEOUT = 30.0
DEFAULT_HEAP = "512m"
MIN_JAVA = 17
TAIL_LINES = 30
#: kafka.log is moved to kafka.log.1 at the next start once it is bigger than this
MAX_LOG_BYTES = 20 * 1024 * 1024
JARS_MARKER = ".complete"
INSTALL_HINT = "apt-get install openjdk-17-jre-headless maven"

ENV_PORT = "FUSION_KAFKA_PORT"
ENV_CACHE = "FUSION_KAFKA_CACHE"
ENV_JARS = "FUSION_KAFKA_JARS"
ENV_BROKER = "FUSION_BROKER"

Progress = Callable[[str], None]


class LocalKafkaError(FusionError):
    """The local broker could not be fetched, started, stopped or reached."""

    reason = "local-kafka"


# --------------------------------------------------------------------------- paths


def default_cache_root() -> Path:
    """``$FUSION_KAFKA_CACHE`` or ``<repo>/.cache/kafka`` (per-port state lives under it)."""
    env = os.environ.get(ENV_CACHE, "").strip()
    return Path(env).expanduser().resolve() if env else ROOT / ".cache" / "kafka"


def default_jars_dir() -> Path:
    """``$FUSION_KAFKA_JARS`` or ``<repo>/.cache/kafka/jars-<version>`` (shared by every cache)."""
    env = os.environ.get(ENV_JARS, "").strip()
    if env:
        return Path(env).expanduser().resolve()
    return ROOT / ".cache" / "kafka" / f"jars-{KAFKA_VERSION}"


def default_port() -> int:
    """``$FUSION_KAFKA_PORT`` or 9092."""
    env = os.environ.get(ENV_PORT, "").strip()
    if not env:
        return DEFAULT_PORT
    try:
        return _check_port(int(env), ENV_PORT)
    except ValueError:
        raise LocalKafkaError(f"{ENV_PORT}={env!r} is not a port number") from None


def _check_port(port: int, what: str = "port") -> int:
    if not 1 <= port <= 65535:
        raise LocalKafkaError(f"{what} {port} is outside 1..65535")
    return port


@dataclass(frozen=True)
class BrokerPaths:
    """Where one local broker keeps its state, and the ports it listens on (127.0.0.1 only)."""

    port: int
    controller_port: int
    state_dir: Path
    jars_dir: Path

    @classmethod
    def for_port(
        cls,
        port: int | None = None,
        controller_port: int | None = None,
        *,
        cache_root: Path | None = None,
        jars_dir: Path | None = None,
    ) -> BrokerPaths:
        """Paths of the broker on ``port``.

        Without ``controller_port``: the one in an existing ``server.properties``, else port+1.
        """
        port = _check_port(default_port() if port is None else port)
        state_dir = (cache_root or default_cache_root()) / str(port)
        if controller_port is None:
            controller_port = _configured_controller_port(state_dir / "server.properties")
        if controller_port is None:
            controller_port = port + 1
        _check_port(controller_port, "controller port")
        if controller_port == port:
            raise LocalKafkaError(f"controller port must differ from the broker port {port}")
        return cls(port, controller_port, state_dir, jars_dir or default_jars_dir())

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def properties_file(self) -> Path:
        return self.state_dir / "server.properties"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "kafka.log"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "kafka.pid"

    @property
    def cluster_id_file(self) -> Path:
        return self.state_dir / "cluster.id"

    @property
    def lock_file(self) -> Path:
        """Serialises ``up``/``down`` of this port (not Kafka's own ``data/.lock``)."""
        return self.state_dir / "cli.lock"

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        """Faust style broker URL (the value for ``FUSION_BROKER``)."""
        return f"kafka://{self.bootstrap}"


@dataclass(frozen=True)
class BrokerStatus:
    """What ``status`` found: ``pid`` is None when our broker is not running."""

    paths: BrokerPaths
    pid: int | None
    listening: bool

    @property
    def running(self) -> bool:
        return self.pid is not None


@dataclass(frozen=True)
class UpResult:
    paths: BrokerPaths
    pid: int
    #: False when the broker was already running
    started: bool
    #: True when the data dir was formatted (a new, empty cluster)
    formatted: bool


@dataclass(frozen=True)
class DownResult:
    paths: BrokerPaths
    #: the pid that was stopped, None when nothing was running
    pid: int | None
    #: True when SIGTERM was not enough
    killed: bool
    wiped: bool


# --------------------------------------------------------------------------- prerequisites


def java_executable() -> str:
    """``$JAVA_HOME/bin/java`` or ``java`` on the PATH."""
    java_home = os.environ.get("JAVA_HOME", "").strip()
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("java")
    if not found:
        raise LocalKafkaError(
            f"java not found: Kafka {KAFKA_VERSION} needs Java {MIN_JAVA}+ "
            f"(install it, e.g. `{INSTALL_HINT}`)"
        )
    return found


def parse_java_version(text: str) -> int | None:
    """Major version from ``java -version`` output (``"1.8.0_292"`` is 8, ``"17.0.15"`` is 17)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not match:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2):
        major = int(match.group(2))
    return major


def check_java() -> str:
    """The java executable, after checking it is Java 17 or newer."""
    java = java_executable()
    try:
        proc = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LocalKafkaError(f"could not run `{java} -version`: {exc}") from exc
    output = proc.stderr + proc.stdout
    major = parse_java_version(output)
    if major is None:
        raise LocalKafkaError(
            f"could not read the Java version from `{java} -version`: {output.strip()[:200]!r}"
        )
    if major < MIN_JAVA:
        raise LocalKafkaError(
            f"{java} is Java {major}; Kafka {KAFKA_VERSION} needs Java {MIN_JAVA}+ "
            f"(install it, e.g. `{INSTALL_HINT}`, or point JAVA_HOME at one)"
        )
    return java


def ensure_jars(jars_dir: Path | None = None, *, progress: Progress | None = None) -> Path:
    """The directory of Kafka's jars, fetched with Maven when missing or half fetched."""
    jars_dir = jars_dir or default_jars_dir()
    if (jars_dir / JARS_MARKER).is_file():
        return jars_dir
    with _flock(jars_dir.parent / f"{jars_dir.name}.lock"):
        if (jars_dir / JARS_MARKER).is_file():  # fetched meanwhile by another process
            return jars_dir
        mvn = shutil.which("mvn")
        if not mvn:
            raise LocalKafkaError(
                f"mvn not found: it fetches the Kafka {KAFKA_VERSION} jars from Maven Central "
                f"(install it, e.g. `{INSTALL_HINT}`)"
            )
        partial = jars_dir.parent / f"{jars_dir.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        if progress:
            progress(f"fetching the Kafka {KAFKA_VERSION} jars with Maven into {jars_dir} ...")
        cmd = [
            mvn,
            "-q",
            "-B",
            "--no-transfer-progress",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={partial}",
        ]
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=1800, check=False, cwd=POM.parent
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise LocalKafkaError(f"`{' '.join(cmd)}` failed: {exc}") from exc
        if proc.returncode != 0:
            output = _last_lines(proc.stdout + proc.stderr, TAIL_LINES)
            raise LocalKafkaError(
                f"Maven could not fetch the Kafka jars (exit {proc.returncode}); "
                f"`{' '.join(cmd)}` said:\n{output}"
            )
        if not (partial / f"kafka_2.13-{KAFKA_VERSION}.jar").is_file():
            raise LocalKafkaError(
                f"Maven finished but {partial} has no kafka_2.13-{KAFKA_VERSION}.jar"
            )
        shutil.rmtree(jars_dir, ignore_errors=True)
        partial.rename(jars_dir)
        (jars_dir / JARS_MARKER).write_text(f"kafka {KAFKA_VERSION}\n")
    return jars_dir


# --------------------------------------------------------------------------- broker API


def parse_bootstrap(url: str) -> str:
    """Faust broker URL(s) to librdkafka bootstrap servers.

    ``"kafka://a:9092;kafka://b"`` -> ``"a:9092,b:9092"``.
    """
    servers = []
    for part in re.split(r"[;,\s]+", url.strip()):
        if not part:
            continue
        if "://" in part:
            part = part.split("://", 1)[1]
        part = part.strip("/")
        if not part:
            continue
        if not re.search(r":\d+$", part):
            part = f"{part}:{DEFAULT_PORT}"
        servers.append(part)
    if not servers:
        raise LocalKafkaError(f"no broker address in {url!r}")
    return ",".join(servers)


def external_broker() -> str | None:
    """The ``FUSION_BROKER`` URL when set: then ``up``/``down`` leave brokers alone."""
    return os.environ.get(ENV_BROKER, "").strip() or None


def use_external(url: str, timeout: float = DEFAULT_EXTERNAL_TIMEOUT) -> str:
    """Check that the broker(s) at ``url`` answer metadata; returns the bootstrap servers."""
    bootstrap = parse_bootstrap(url)
    try:
        wait_until_ready(bootstrap, timeout)
    except LocalKafkaError as exc:
        raise LocalKafkaError(
            f"{ENV_BROKER}={url} does not answer: {exc}. Start that broker, fix {ENV_BROKER}, "
            f"or unset it to run a local one with `fusion-stream kafka up`"
        ) from exc
    return bootstrap


def wait_until_ready(
    bootstrap: str, timeout: float = DEFAULT_TIMEOUT, *, pid: int | None = None
) -> None:
    """Poll until a broker at ``bootstrap`` answers a metadata request.

    :param pid: the broker's process; raises as soon as it is gone
    :raises LocalKafkaError: on timeout, or when ``pid`` exits
    """
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    addresses = [_split_host_port(s) for s in bootstrap.split(",")]
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        if pid is not None and not _alive(pid):
            raise LocalKafkaError(f"the broker process {pid} exited{_exit_code(pid)}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LocalKafkaError(f"no metadata from {bootstrap} within {timeout:g} s ({last})")
        if not any(_tcp_answers(host, port, min(remaining, 1.0)) for host, port in addresses):
            last = "connection refused"
            time.sleep(min(0.25, max(remaining, 0)))
            continue
        admin = AdminClient(
            {
                "bootstrap.servers": bootstrap,
                "log_level": 0,  # librdkafka must not print connection errors to the terminal
                "reconnect.backoff.ms": 100,
                "reconnect.backoff.max.ms": 500,
                "socket.connection.setup.timeout.ms": 2000,
            }
        )
        try:
            metadata = admin.list_topics(timeout=max(0.1, min(remaining, 2.0)))
        except KafkaException as exc:
            last = str(exc.args[0]) if exc.args else repr(exc)
        else:
            if metadata.brokers:
                return
            last = "metadata has no brokers yet"
        time.sleep(min(0.25, max(deadline - time.monotonic(), 0)))


def status(port: int | None = None, *, cache_root: Path | None = None) -> BrokerStatus:
    """Whether our broker for ``port`` runs (its pid), and whether its port accepts connections."""
    paths = BrokerPaths.for_port(port, cache_root=cache_root)
    pid = _find_pid(paths)
    listening = pid is not None and _tcp_answers(HOST, paths.port, 1.0)
    return BrokerStatus(paths, pid, listening)


def up(
    port: int | None = None,
    *,
    controller_port: int | None = None,
    cache_root: Path | None = None,
    jars_dir: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    wipe: bool = False,
    heap: str = DEFAULT_HEAP,
    progress: Progress | None = None,
) -> UpResult:
    """Start the broker on 127.0.0.1:``port`` unless it already runs; wait until it answers.

    :param controller_port: KRaft controller port, default port+1
    :param wipe: delete the data dir first (a new, empty cluster)
    :raises LocalKafkaError: missing prerequisites, port taken, stale data dir, start failure
    """
    port = _check_port(default_port() if port is None else port)
    paths = BrokerPaths.for_port(
        port,
        port + 1 if controller_port is None else controller_port,
        cache_root=cache_root,
        jars_dir=jars_dir,
    )
    say = progress or (lambda _msg: None)
    with _flock(paths.lock_file):
        pid = _find_pid(paths)
        if pid is not None:
            if wipe:
                raise LocalKafkaError(
                    f"Kafka is running on {paths.bootstrap} (pid {pid}); `up --wipe` would "
                    f"delete its data: run `fusion-stream kafka down --port {port} --wipe` first"
                )
            _wait_or_explain(paths, pid, timeout, offset=None, stop_on_failure=False)
            return UpResult(paths, pid, started=False, formatted=False)
        paths.pid_file.unlink(missing_ok=True)
        java = check_java()
        for what, number in (("port", paths.port), ("controller port", paths.controller_port)):
            if port_in_use(number):
                raise LocalKafkaError(
                    f"{what} {number} on {HOST} is already in use by another process (not a "
                    f"broker started from {paths.state_dir}); stop it (see `ss -ltnp "
                    f"'sport = :{number}'`) or choose another port with --port / {ENV_PORT}"
                )
        if wipe:
            _wipe(paths)
        formatted = check_data_dir(paths)
        jars = ensure_jars(paths.jars_dir, progress=say)
        paths.state_dir.mkdir(parents=True, exist_ok=True)
        _rotate_log(paths.log_file)
        _write_atomic(paths.properties_file, server_properties(paths))
        if not formatted:
            say(f"formatting {paths.data_dir} (new cluster) ...")
            _format(paths, java, jars)
        say(f"starting Kafka {KAFKA_VERSION} on {paths.bootstrap} ...")
        offset, pid = _start(paths, java, jars, heap)
        _wait_or_explain(paths, pid, timeout, offset=offset, stop_on_failure=True)
        return UpResult(paths, pid, started=True, formatted=not formatted)


def down(
    port: int | None = None,
    *,
    cache_root: Path | None = None,
    wipe: bool = False,
    timeout: float = STOP_TIMEOUT,
) -> DownResult:
    """Stop our broker for ``port`` (SIGTERM, then SIGKILL after ``timeout``); ``wipe`` its data.

    Stopping a broker that is not running is not an error (``pid`` is None in the result).
    """
    paths = BrokerPaths.for_port(port, cache_root=cache_root)
    if not paths.state_dir.exists():  # never started from this cache: nothing to do
        return DownResult(paths, None, killed=False, wiped=False)
    with _flock(paths.lock_file):
        pid = _find_pid(paths)
        killed = False
        if pid is not None:
            killed = _stop(pid, timeout)
        paths.pid_file.unlink(missing_ok=True)
        wiped = False
        if wipe:
            wiped = _wipe(paths)
        return DownResult(paths, pid, killed, wiped)


# --------------------------------------------------------------------------- data dir


def check_data_dir(paths: BrokerPaths) -> bool:
    """True when the data dir is a usable formatted KRaft dir, False when empty or missing.

    :raises LocalKafkaError: in use by another process, or stale (unusable by this broker)
    """
    data = paths.data_dir
    if not data.is_dir():
        if data.exists():
            raise _stale(paths, "it is not a directory")
        return False
    if _lock_held(data / ".lock"):
        raise LocalKafkaError(
            f"Kafka data dir {data} is locked by another running process (a broker that is "
            f"not ours or lost its pid file); stop it first (`fuser -v {data / '.lock'}` "
            f"shows it)"
        )
    contents = [p for p in data.iterdir() if p.name != ".lock"]
    if not contents:
        return False
    meta_file = data / "meta.properties"
    if not meta_file.is_file():
        raise _stale(paths, "it has files but no meta.properties (not a formatted KRaft dir)")
    try:
        meta = _read_properties(meta_file)
    except (OSError, UnicodeDecodeError) as exc:
        raise _stale(paths, f"meta.properties is unreadable ({exc})") from exc
    if meta.get("version") != "1":
        raise _stale(paths, f"meta.properties version is {meta.get('version')!r}, not KRaft's 1")
    if meta.get("node.id") != str(NODE_ID):
        raise _stale(paths, f"meta.properties has node.id={meta.get('node.id')}, not {NODE_ID}")
    cluster_id = meta.get("cluster.id", "")
    if not cluster_id:
        raise _stale(paths, "meta.properties has no cluster.id")
    if paths.cluster_id_file.is_file():
        ours = paths.cluster_id_file.read_text().strip()
        if ours and ours != cluster_id:
            raise _stale(paths, f"meta.properties has cluster.id={cluster_id}, formatted as {ours}")
    return True


def _stale(paths: BrokerPaths, problem: str) -> LocalKafkaError:
    return LocalKafkaError(
        f"stale Kafka data dir {paths.data_dir}: {problem}. Delete it with "
        f"`fusion-stream kafka down --port {paths.port} --wipe`, or start a new empty cluster "
        f"with `fusion-stream kafka up --port {paths.port} --wipe` (its topics are lost)"
    )


def _wipe(paths: BrokerPaths) -> bool:
    if _lock_held(paths.data_dir / ".lock"):
        raise LocalKafkaError(
            f"will not wipe {paths.data_dir}: another running process holds its lock"
        )
    existed = paths.data_dir.exists()
    if paths.data_dir.is_dir():
        shutil.rmtree(paths.data_dir)
    else:
        paths.data_dir.unlink(missing_ok=True)
    paths.cluster_id_file.unlink(missing_ok=True)
    return existed


def _lock_held(lock: Path) -> bool:
    """True when another process holds Kafka's lock on ``lock`` (Java uses fcntl locks)."""
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return False
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def new_cluster_id() -> str:
    """A Kafka cluster id: base64url of 16 random bytes without padding (never starts with -)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def server_properties(paths: BrokerPaths) -> str:
    """``server.properties`` of a fast single-node broker+controller on 127.0.0.1."""
    props = {
        "process.roles": "broker,controller",
        "node.id": str(NODE_ID),
        "controller.quorum.voters": f"{NODE_ID}@{HOST}:{paths.controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{paths.port},CONTROLLER://{HOST}:{paths.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{paths.port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(paths.data_dir),
        "num.partitions": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "10",
        "group.initial.rebalance.delay.ms": "0",
        # after a kill -9 the restarted controller waits out the old broker's session
        "broker.session.timeout.ms": "4000",
        "broker.heartbeat.interval.ms": "500",
        # Faust declares its topics (and its internal ones) with CreateTopics requests
        "auto.create.topics.enable": "false",
        "delete.topic.enable": "true",
        "log.segment.bytes": str(16 * 1024 * 1024),
        "log.retention.hours": "168",
        "log.cleaner.dedupe.buffer.size": str(32 * 1024 * 1024),
        "num.network.threads": "2",
        "num.io.threads": "4",
        "num.recovery.threads.per.data.dir": "1",
    }
    header = f"# written by `fusion-stream kafka up` (Kafka {KAFKA_VERSION})\n"
    return header + "".join(f"{key}={value}\n" for key, value in props.items())


def _format(paths: BrokerPaths, java: str, jars: Path) -> None:
    cluster_id = new_cluster_id()
    cmd = [
        *_java_base(paths, java, jars),
        "kafka.tools.StorageTool",
        "format",
        "-t",
        cluster_id,
        "-c",
        str(paths.properties_file),
    ]
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            cwd=paths.state_dir,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LocalKafkaError(f"formatting {paths.data_dir} failed: {exc}") from exc
    if proc.returncode != 0:
        output = _last_lines(proc.stdout + proc.stderr, TAIL_LINES)
        raise LocalKafkaError(
            f"formatting {paths.data_dir} failed (exit {proc.returncode}):\n{output}\n"
            f"If the data dir is stale, run `fusion-stream kafka up --port {paths.port} --wipe`"
        )
    _write_atomic(paths.cluster_id_file, cluster_id + "\n")


# --------------------------------------------------------------------------- processes

#: brokers started by this Python process, so their exit is noticed (and reaped)
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _java_base(paths: BrokerPaths, java: str, jars: Path) -> list[str]:
    return [
        java,
        f"-Dkafka.logs.dir={paths.state_dir}",
        f"-Dlog4j.configuration={LOG4J_PROPERTIES.as_uri()}",
        "-Djava.awt.headless=true",
        "-cp",
        f"{jars}{os.sep}*",
    ]


def _start(paths: BrokerPaths, java: str, jars: Path, heap: str) -> tuple[int, int]:
    """Start the broker detached; returns (offset of this run in kafka.log, pid)."""
    base = _java_base(paths, java, jars)
    cmd = [base[0], f"-Xmx{heap}", *base[1:], "kafka.Kafka", str(paths.properties_file)]
    stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    with open(paths.log_file, "ab") as log:
        log.write(
            f"==== {stamp} fusion-stream kafka up: Kafka {KAFKA_VERSION} "
            f"on {paths.bootstrap} ====\n".encode()
        )
        log.flush()
        offset = log.tell()
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,  # JVM errors (bad flags, crashes) land in kafka.log too
                stderr=subprocess.STDOUT,
                cwd=paths.state_dir,
                start_new_session=True,  # survives the CLI and its terminal's Ctrl-C
            )
        except OSError as exc:
            raise LocalKafkaError(f"could not start {java}: {exc}") from exc
    _CHILDREN[proc.pid] = proc
    _write_atomic(paths.pid_file, f"{proc.pid}\n")
    return offset, proc.pid


def _wait_or_explain(
    paths: BrokerPaths, pid: int, timeout: float, *, offset: int | None, stop_on_failure: bool
) -> None:
    """wait_until_ready; on failure add the end of kafka.log (and stop a broker we just started)."""
    try:
        wait_until_ready(paths.bootstrap, timeout, pid=pid)
    except LocalKafkaError as exc:
        alive = _alive(pid)
        what = f"Kafka on {paths.bootstrap} did not come up: {exc}"
        if alive and stop_on_failure:
            _stop(pid, 10.0)
            what += f"; stopped it (pid {pid})"
        elif alive:
            what += (
                f"; it still runs (pid {pid}): `fusion-stream kafka down --port {paths.port}` "
                f"stops it"
            )
        if not _alive(pid):
            paths.pid_file.unlink(missing_ok=True)
        log_tail = tail(paths.log_file, TAIL_LINES, offset=offset or 0)
        hint = ""
        if re.search(r"meta\.properties|cluster ?id|node\.id|log dir", log_tail, re.IGNORECASE):
            hint = (
                f"\nThe data dir may be stale: `fusion-stream kafka up --port {paths.port} "
                f"--wipe` starts a new empty cluster."
            )
        raise LocalKafkaError(
            f"{what}\n--- last lines of {paths.log_file} ---\n{log_tail}{hint}"
        ) from exc


def _stop(pid: int, timeout: float) -> bool:
    """SIGTERM, wait up to ``timeout``, then SIGKILL; True when SIGKILL was needed."""
    if not _signal(pid, signal.SIGTERM):
        return False
    if _wait_gone(pid, timeout):
        return False
    _signal(pid, signal.SIGKILL)
    if not _wait_gone(pid, 10.0):
        raise LocalKafkaError(f"Kafka (pid {pid}) survived SIGKILL")
    return True


def _signal(pid: int, sig: signal.Signals) -> bool:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError as exc:
        raise LocalKafkaError(f"not allowed to stop Kafka (pid {pid}): {exc}") from exc
    return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]  # a zombie is gone


def _exit_code(pid: int) -> str:
    child = _CHILDREN.get(pid)
    if child is None or child.returncode is None:
        return ""
    return f" with code {child.returncode}"


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]


def _is_our_broker(pid: int, paths: BrokerPaths) -> bool:
    """The process runs ``kafka.Kafka`` with our server.properties (guards against pid reuse)."""
    if not _alive(pid):
        return False
    args = _cmdline(pid)
    if args is None:
        return not Path("/proc/self").exists()  # no procfs: trust the pid file
    return "kafka.Kafka" in args and str(paths.properties_file) in args


def _find_pid(paths: BrokerPaths) -> int | None:
    """Pid of our running broker: from the pid file, else by its command line in /proc."""
    try:
        pid = int(paths.pid_file.read_text().strip())
    except (OSError, ValueError):
        pid = None
    if pid is not None and _is_our_broker(pid, paths):
        return pid
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in entries:
        if entry.isdigit() and _is_our_broker(int(entry), paths):
            return int(entry)
    return None


# --------------------------------------------------------------------------- helpers


def port_in_use(port: int, host: str = HOST) -> bool:
    """True when ``host:port`` cannot be bound (someone listens there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Java does
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _tcp_answers(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=max(timeout, 0.05)):
            return True
    except OSError:
        return False


def _split_host_port(server: str) -> tuple[str, int]:
    host, _, port = server.strip().rpartition(":")
    return host.strip("[]") or HOST, int(port)


def tail(path: Path, lines: int = TAIL_LINES, *, offset: int = 0) -> str:
    """The last ``lines`` lines of ``path`` from byte ``offset`` on."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            start = offset if 0 <= offset <= size else 0
            fh.seek(max(start, size - 256 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return _last_lines(text, lines) or "(log is empty)"


def _last_lines(text: str, lines: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _rotate_log(log: Path) -> None:
    with contextlib.suppress(OSError):
        if log.stat().st_size > MAX_LOG_BYTES:
            log.replace(log.with_name(log.name + ".1"))


def _read_properties(path: Path) -> dict[str, str]:
    props: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        if sep:
            props[key.strip()] = value.strip()
    return props


def _configured_controller_port(properties: Path) -> int | None:
    try:
        voters = _read_properties(properties).get("controller.quorum.voters", "")
    except OSError:
        return None
    match = re.search(r":(\d+)$", voters.split(",")[0])
    return int(match.group(1)) if match else None


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
