"""fusion_stream.localkafka and ``fusion-stream kafka up|down|status``.

Most tests need neither java nor the jars. The real-broker tests (two broker starts) need Java 17+
and the Kafka jars (fetched once with Maven into <repo>/.cache/kafka/jars-3.9.1); they skip
when those are unavailable. Everything listens on 127.0.0.1 only, on ports picked at random
in 19500..20499, and keeps its state in a temporary cache dir.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

from fusion_stream import localkafka as lk
from fusion_stream.errors import FusionError


def _load_cli() -> ModuleType:
    """fusion_stream.cli.kafka; loaded from its file when the cli package cannot import yet."""
    try:
        return importlib.import_module("fusion_stream.cli.kafka")
    except ImportError:
        path = Path(lk.__file__).parent / "cli" / "kafka.py"
        spec = importlib.util.spec_from_file_location("_fusion_stream_cli_kafka", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


cli = _load_cli()


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((lk.HOST, port))
        except OSError:
            return False
    return True


def free_port_pair() -> int:
    """A port p such that p and p+1 are free on 127.0.0.1."""
    candidates = list(range(19500, 20500, 2))
    random.shuffle(candidates)
    for port in candidates:
        if _free(port) and _free(port + 1):
            return port
    raise RuntimeError("no free port pair in 19500..20499")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv(lk.ENV_CACHE, str(cache))
    monkeypatch.delenv(lk.ENV_BROKER, raising=False)
    monkeypatch.delenv(lk.ENV_PORT, raising=False)
    monkeypatch.delenv(lk.ENV_JARS, raising=False)
    return cache


def _have_java() -> bool:
    try:
        lk.check_java()
    except lk.LocalKafkaError:
        return False
    return True


needs_java = pytest.mark.skipif(not _have_java(), reason="needs Java 17+")


@pytest.fixture(scope="module")
def jars() -> Path:
    if not _have_java():
        pytest.skip("needs Java 17+")
    try:
        return lk.ensure_jars()
    except lk.LocalKafkaError as exc:
        pytest.skip(f"Kafka jars unavailable: {exc}")


def _run(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli.kafka, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def _our_java_processes(paths: lk.BrokerPaths) -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and lk._is_our_broker(int(e), paths)]


# --------------------------------------------------------------------------- pure functions


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("kafka://127.0.0.1:9092", "127.0.0.1:9092"),
        ("kafka://a:1;kafka://b:2", "a:1,b:2"),
        ("kafka://a:1, kafka://b", "a:1,b:9092"),
        ("localhost", "localhost:9092"),
        ("aiokafka://h:19092/", "h:19092"),
    ],
)
def test_parse_bootstrap(url: str, expected: str) -> None:
    assert lk.parse_bootstrap(url) == expected


def test_parse_bootstrap_empty() -> None:
    with pytest.raises(lk.LocalKafkaError):
        lk.parse_bootstrap(" ; ")


@pytest.mark.parametrize(
    ("text", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_292"', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ('openjdk version "11.0.2-ea"', 11),
        ("nonsense", None),
    ],
)
def test_parse_java_version(text: str, major: int | None) -> None:
    assert lk.parse_java_version(text) == major


def test_error_is_a_fusion_error() -> None:
    assert issubclass(lk.LocalKafkaError, FusionError)


def test_paths_and_properties(tmp_path: Path) -> None:
    paths = lk.BrokerPaths.for_port(19876, cache_root=tmp_path)
    assert paths.controller_port == 19877
    assert paths.state_dir == tmp_path / "19876"
    assert paths.jars_dir == lk.default_jars_dir()  # the jar download is shared
    props = lk.server_properties(paths)
    assert "listeners=PLAINTEXT://127.0.0.1:19876,CONTROLLER://127.0.0.1:19877\n" in props
    assert "controller.quorum.voters=1@127.0.0.1:19877\n" in props
    assert f"log.dirs={paths.data_dir}\n" in props
    # status/down find a non-default controller port in the written server.properties
    custom = lk.BrokerPaths.for_port(19876, 19990, cache_root=tmp_path)
    custom.state_dir.mkdir(parents=True)
    custom.properties_file.write_text(lk.server_properties(custom))
    assert lk.BrokerPaths.for_port(19876, cache_root=tmp_path).controller_port == 19990
    with pytest.raises(lk.LocalKafkaError, match=r"differ"):
        lk.BrokerPaths.for_port(19876, 19876, cache_root=tmp_path)


def test_port_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(lk.ENV_PORT, "19555")
    assert lk.default_port() == 19555
    monkeypatch.setenv(lk.ENV_PORT, "nine")
    with pytest.raises(lk.LocalKafkaError, match=lk.ENV_PORT):
        lk.default_port()


def test_new_cluster_id() -> None:
    cluster_id = lk.new_cluster_id()
    assert len(cluster_id) == 22 and "=" not in cluster_id and not cluster_id.startswith("-")


# --------------------------------------------------------------------------- prerequisites


def _fake_bin(tmp_path: Path, name: str, script: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / name
    exe.write_text("#!/bin/sh\nPATH=/usr/bin:/bin\n" + script)
    exe.chmod(0o755)
    return bin_dir


def test_java_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(lk.LocalKafkaError, match=r"java not found.*apt-get install openjdk-17"):
        lk.check_java()


def test_java_too_old(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bin_dir = _fake_bin(tmp_path, "java", "echo 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(lk.LocalKafkaError, match=r"Java 11.*needs Java 17"):
        lk.check_java()
    # the CLI turns it into a clean error, before touching any port or data
    code, out = _run("up", "--port", "19876")
    assert code == 1 and "Error: " in out and "needs Java 17" in out


def test_mvn_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(lk.LocalKafkaError, match=r"mvn not found.*maven"):
        lk.ensure_jars(tmp_path / "jars")


FAKE_MVN = """\
echo call >> "$(dirname "$0")/calls"
for arg in "$@"; do
  case "$arg" in -DoutputDirectory=*) out="${arg#-DoutputDirectory=}" ;; esac
done
[ -f "$(dirname "$0")/fail" ] && { echo "BUILD FAILURE: no network"; exit 1; }
mkdir -p "$out" && touch "$out/kafka_2.13-3.9.1.jar" "$out/kafka-clients-3.9.1.jar"
"""


def test_ensure_jars_fetches_once_and_redoes_a_half_fetch(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bin_dir = _fake_bin(tmp_path, "mvn", FAKE_MVN)
    monkeypatch.setenv("PATH", str(bin_dir))
    calls = bin_dir / "calls"
    jars_dir = tmp_path / "cache" / "jars-3.9.1"

    assert lk.ensure_jars(jars_dir) == jars_dir
    assert (jars_dir / lk.JARS_MARKER).is_file()
    assert (jars_dir / "kafka_2.13-3.9.1.jar").is_file()
    assert calls.read_text().count("call") == 1

    lk.ensure_jars(jars_dir)  # complete: Maven is not run again
    assert calls.read_text().count("call") == 1

    (jars_dir / lk.JARS_MARKER).unlink()  # a fetch that died half way
    lk.ensure_jars(jars_dir)
    assert calls.read_text().count("call") == 2
    assert (jars_dir / lk.JARS_MARKER).is_file()


def test_ensure_jars_failure_reports_maven_output(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bin_dir = _fake_bin(tmp_path, "mvn", FAKE_MVN)
    (bin_dir / "fail").touch()
    monkeypatch.setenv("PATH", str(bin_dir))
    jars_dir = tmp_path / "jars"
    with pytest.raises(lk.LocalKafkaError, match=r"(?s)Maven could not fetch.*no network"):
        lk.ensure_jars(jars_dir)
    assert not (jars_dir / lk.JARS_MARKER).exists()


# --------------------------------------------------------------------------- checks before start


@needs_java
def test_port_taken_by_something_else(tmp_path: Path) -> None:
    port = free_port_pair()
    for taken in (port, port + 1):
        with socket.socket() as listener:
            listener.bind((lk.HOST, taken))
            listener.listen()
            with pytest.raises(lk.LocalKafkaError, match=f"port {taken} .* already in use"):
                lk.up(port, timeout=5)
            code, out = _run("up", "--port", str(port))
            assert code == 1 and f"port {taken} on 127.0.0.1 is already in use" in out
    paths = lk.BrokerPaths.for_port(port)
    assert not paths.pid_file.exists()
    assert not paths.data_dir.exists()


def _stale_paths(port: int) -> lk.BrokerPaths:
    paths = lk.BrokerPaths.for_port(port)
    paths.data_dir.mkdir(parents=True)
    return paths


def _meta(
    paths: lk.BrokerPaths, node_id: int = 1, cluster_id: str = "abcdefghijklmnopqrstuv"
) -> None:
    (paths.data_dir / "meta.properties").write_text(
        f"#\nnode.id={node_id}\ndirectory.id=xyz\nversion=1\ncluster.id={cluster_id}\n"
    )


@needs_java
def test_stale_data_dir_node_id_mismatch() -> None:
    port = free_port_pair()
    paths = _stale_paths(port)
    _meta(paths, node_id=2)
    with pytest.raises(lk.LocalKafkaError, match=r"stale.*node.id=2.*down --port .* --wipe"):
        lk.up(port, timeout=5)
    code, out = _run("up", "--port", str(port))
    assert code == 1 and "stale Kafka data dir" in out and "up --port" in out and "--wipe" in out
    assert not paths.pid_file.exists()
    # down --wipe (nothing running) clears it
    code, out = _run("down", "--port", str(port), "--wipe")
    assert code == 0 and "not running" in out and "deleted" in out
    assert not paths.data_dir.exists()
    assert lk.check_data_dir(paths) is False


def test_stale_data_dir_variants() -> None:
    port = free_port_pair()
    paths = _stale_paths(port)
    assert lk.check_data_dir(paths) is False  # empty: will be formatted

    (paths.data_dir / "__consumer_offsets-0").mkdir()
    with pytest.raises(lk.LocalKafkaError, match=r"no meta.properties"):
        lk.check_data_dir(paths)

    _meta(paths, cluster_id="abcdefghijklmnopqrstuv")
    assert lk.check_data_dir(paths) is True
    paths.cluster_id_file.write_text("ANOTHERCLUSTERIDxxxxxx\n")
    with pytest.raises(
        lk.LocalKafkaError, match=r"cluster.id=abcdefghijklmnopqrstuv, formatted as"
    ):
        lk.check_data_dir(paths)

    (paths.data_dir / "meta.properties").write_text("version=0\nbroker.id=1\n")  # ZooKeeper era
    with pytest.raises(lk.LocalKafkaError, match=r"version is '0'"):
        lk.check_data_dir(paths)


def test_data_dir_locked_by_another_process() -> None:
    port = free_port_pair()
    paths = _stale_paths(port)
    _meta(paths)
    lock = paths.data_dir / ".lock"
    script = (
        "import fcntl, os, sys\n"
        f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.lockf(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as holder:
        assert holder.stdin is not None and holder.stdout is not None
        try:
            assert holder.stdout.readline().strip() == "locked"
            with pytest.raises(lk.LocalKafkaError, match=r"locked by another running process"):
                lk.check_data_dir(paths)
            with pytest.raises(lk.LocalKafkaError, match=r"will not wipe"):
                lk.down(port, wipe=True)
        finally:
            holder.stdin.close()  # the holder exits and its lock goes with it
    assert lk.check_data_dir(paths) is True  # a leftover .lock file of a dead process is fine


def test_external_broker_not_answering() -> None:
    port = free_port_pair()
    code, out = _run("up", "--timeout", "1", env={lk.ENV_BROKER: f"kafka://127.0.0.1:{port}"})
    assert code == 1 and "does not answer" in out and "127.0.0.1:" in out
    assert not lk.BrokerPaths.for_port(lk.DEFAULT_PORT).state_dir.exists()


def test_down_and_status_when_nothing_runs() -> None:
    port = free_port_pair()
    code, out = _run("down", "--port", str(port))
    assert code == 0 and "not running" in out
    code, out = _run("status", "--port", str(port))
    assert code == 3 and out.startswith("not running")
    assert not lk.BrokerPaths.for_port(port).state_dir.exists()  # neither created state


# --------------------------------------------------------------------------- real broker


@pytest.fixture
def broker_port(jars: Path) -> Iterator[int]:
    port = free_port_pair()
    yield port
    lk.down(port, wipe=True)


def test_lifecycle(broker_port: int) -> None:
    port = broker_port
    paths = lk.BrokerPaths.for_port(port)

    code, out = _run("up", "--port", str(port))
    assert code == 0, out
    assert f"is up at 127.0.0.1:{port}" in out
    pid = int(paths.pid_file.read_text())
    assert _our_java_processes(paths) == [pid]
    assert (paths.data_dir / "meta.properties").is_file()
    assert lk._lock_held(paths.data_dir / ".lock")  # Kafka holds its data dir lock
    assert "] INFO " in paths.log_file.read_text()  # log4j writes to the file

    code, out = _run("status", "--port", str(port))
    assert code == 0 and out.startswith("running") and f"pid:        {pid}" in out
    state = lk.status(port)
    assert state.running and state.pid == pid and state.listening

    # up again: no second broker
    code, out = _run("up", "--port", str(port))
    assert code == 0 and f"already running at 127.0.0.1:{port} (pid {pid})" in out
    again = lk.up(port)
    assert not again.started and again.pid == pid
    assert _our_java_processes(paths) == [pid]
    with pytest.raises(lk.LocalKafkaError, match=r"down --port .* --wipe` first"):
        lk.up(port, wipe=True)

    # FUSION_BROKER: up only checks the broker, starts nothing; down stops nothing
    other = free_port_pair()
    env: dict[str, str | None] = {lk.ENV_BROKER: f"kafka://127.0.0.1:{port}"}
    code, out = _run("up", "--port", str(other), env=env)
    assert code == 0 and f"using existing broker at 127.0.0.1:{port}" in out
    assert not lk.BrokerPaths.for_port(other).state_dir.exists()
    code, out = _run("status", env=env)
    assert code == 0 and "answers" in out
    code, out = _run("down", "--port", str(port), env=env)
    assert code == 0 and "nothing to stop" in out
    assert lk.status(port).pid == pid
    assert lk.use_external(f"kafka://127.0.0.1:{port}", 10) == f"127.0.0.1:{port}"

    # down: stops it, idempotent
    code, out = _run("down", "--port", str(port))
    assert code == 0 and f"Kafka (pid {pid}) at 127.0.0.1:{port} stopped" in out
    assert not paths.pid_file.exists()
    assert _our_java_processes(paths) == []
    assert (paths.data_dir / "meta.properties").is_file()  # data kept without --wipe
    code, out = _run("status", "--port", str(port))
    assert code == 3 and out.startswith("not running")
    code, out = _run("down", "--port", str(port))
    assert code == 0 and "not running" in out


def test_early_death_shows_the_log(broker_port: int) -> None:
    port = broker_port
    paths = lk.BrokerPaths.for_port(port)
    with pytest.raises(lk.LocalKafkaError) as info:
        lk.up(port, heap="not-a-size", timeout=60)
    message = str(info.value)
    assert "did not come up" in message and "exited with code" in message
    assert f"last lines of {paths.log_file}" in message
    assert "Invalid maximum heap size" in message
    assert not paths.pid_file.exists()
    assert not lk.status(port).running
