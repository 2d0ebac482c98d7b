"""`topics apply` against the real broker, on copies of topics.yaml with a unique topic prefix."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourceType,
)

from fusion_stream.cli.topics import topics as topics_cli
from fusion_stream.settings import get_settings
from fusion_stream.topics import (
    REPLICATION_ENV,
    Change,
    TopicsApplyError,
    TopicsConfig,
    apply_topics,
    load_topics,
)
from tests.conftest import BROKER

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DAY_MS = 24 * 3600 * 1000


@pytest.fixture
def admin(broker: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": broker})


@pytest.fixture
def prefix(admin: AdminClient) -> Iterator[str]:
    """A unique topic prefix; every topic under it is deleted afterwards."""
    prefix = f"it-topics-{uuid.uuid4().hex[:8]}."
    yield prefix
    names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
    if names:
        for future in admin.delete_topics(names, operation_timeout=30).values():
            future.result()


def prefixed_file(tmp_path: Path, prefix: str, *edits: tuple[str, str]) -> Path:
    """A copy of the real topics.yaml with every topic name under ``prefix``."""
    text = re.sub(r"(?<![\w.])fusion\.", prefix + "fusion.", (ROOT / "topics.yaml").read_text())
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "topics.yaml"
    path.write_text(text)
    return path


def on_broker(admin: AdminClient, prefix: str) -> dict[str, int]:
    """Partition count of every topic under ``prefix``."""
    topics = admin.list_topics(timeout=10).topics
    return {n: len(t.partitions) for n, t in topics.items() if n.startswith(prefix)}


def configs(admin: AdminClient, name: str) -> dict[str, str]:
    [future] = admin.describe_configs([ConfigResource(ResourceType.TOPIC, name)]).values()
    return {k: e.value for k, e in future.result().items()}


def wait_for(condition: Callable[[], bool], attempts: int = 150) -> None:
    """Poll a condition the broker reaches asynchronously (bounded; no timing asserted)."""
    for _ in range(attempts):
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("the broker never reached the expected state")


def kinds(changes: list[Change]) -> list[str]:
    return sorted({c.kind for c in changes})


def test_dry_run_then_apply_creates_all_then_nothing(admin: AdminClient, prefix: str) -> None:
    config = load_topics(ROOT / "topics.yaml", replication_factor=1).with_prefix(prefix)
    names = {t.name for t in config.all_topics()}

    planned = apply_topics(config, admin, dry_run=True)
    assert kinds(planned) == ["create"] and {c.topic for c in planned} == names
    assert on_broker(admin, prefix) == {}

    assert apply_topics(config, admin, dry_run=False) == planned
    assert on_broker(admin, prefix) == {t.name: t.partitions for t in config.all_topics()}
    for spec in config.all_topics():
        held = configs(admin, spec.name)
        for key, value in spec.configs.items():
            assert held[key] == value, (spec.name, key)
    dlq = configs(admin, config.channel("sms").dlq)
    assert dlq["cleanup.policy"] == "compact,delete"
    assert dlq["retention.ms"] == str(14 * DAY_MS)

    assert apply_topics(config, admin, dry_run=False) == []
    assert apply_topics(config, admin, dry_run=True) == []


def test_changed_declarations_are_applied(admin: AdminClient, prefix: str, tmp_path: Path) -> None:
    path = prefixed_file(tmp_path, prefix)
    apply_topics(load_topics(path, replication_factor=1), admin, dry_run=False)
    otp, sms, tier = (f"{prefix}fusion.sms.otp", f"{prefix}fusion.sms", f"{prefix}fusion.retry.1m")

    # defaults.configs.retention.ms 7d -> 3d; the OTP topic 12 -> 16 partitions
    prefixed_file(
        tmp_path,
        prefix,
        ("    retention.ms: 7d", "    retention.ms: 3d"),
        ("    partitions: 12\n    configs:", "    partitions: 16\n    configs:"),
    )
    config = load_topics(path, replication_factor=1)
    planned = apply_topics(config, admin, dry_run=True)
    assert kinds(planned) == ["config", "partitions"]
    assert [c.topic for c in planned if c.kind == "partitions"] == [otp]
    altered = {c.topic for c in planned if c.kind == "config"}
    assert {sms, tier} <= altered
    assert otp not in altered and config.outcomes not in altered  # they declare their own
    assert all(c.detail == f"retention.ms: {7 * DAY_MS} -> {3 * DAY_MS}" for c in planned[1:])
    assert on_broker(admin, prefix)[otp] == 12  # dry run changed nothing
    assert configs(admin, sms)["retention.ms"] == str(7 * DAY_MS)

    assert apply_topics(config, admin, dry_run=False) == planned
    assert on_broker(admin, prefix)[otp] == 16
    assert configs(admin, sms)["retention.ms"] == str(3 * DAY_MS)
    assert apply_topics(config, admin, dry_run=False) == []

    # fewer partitions declared: reported, never applied
    prefixed_file(tmp_path, prefix, ("    retention.ms: 7d", "    retention.ms: 3d"))
    lowered = apply_topics(load_topics(path, replication_factor=1), admin, dry_run=False)
    assert [(c.kind, c.topic) for c in lowered] == [("warning", otp)]
    assert "never lowered" in lowered[0].detail
    assert on_broker(admin, prefix)[otp] == 16


def test_drift_on_the_broker_is_corrected_and_nothing_else(admin: AdminClient, prefix: str) -> None:
    config = load_topics(ROOT / "topics.yaml", replication_factor=1).with_prefix(prefix)
    apply_topics(config, admin, dry_run=False)
    dlq = config.channel("email").dlq
    entries = [
        ConfigEntry("retention.ms", "1000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", "delete", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("segment.ms", "3600000", incremental_operation=AlterConfigOpType.SET),
    ]
    resource = ConfigResource(ResourceType.TOPIC, dlq, incremental_configs=entries)
    for future in admin.incremental_alter_configs([resource]).values():
        future.result()
    wait_for(lambda: configs(admin, dlq)["retention.ms"] == "1000")  # metadata propagates

    changes = apply_topics(config, admin, dry_run=False)
    assert sorted(c.detail for c in changes) == [
        "cleanup.policy: delete -> compact,delete",
        f"retention.ms: 1000 -> {14 * DAY_MS}",
    ]
    assert {c.topic for c in changes} == {dlq}
    held = configs(admin, dlq)
    assert held["retention.ms"] == str(14 * DAY_MS) and held["cleanup.policy"] == "compact,delete"
    assert held["segment.ms"] == "3600000"  # a config we do not declare is left alone
    assert apply_topics(config, admin, dry_run=False) == []


def test_replication_factor_is_reported_not_changed(admin: AdminClient, prefix: str) -> None:
    config = load_topics(ROOT / "topics.yaml", replication_factor=1).with_prefix(prefix)
    apply_topics(config, admin, dry_run=False)
    outcomes = config.outcomes
    wants_two = replace(
        config,
        topics=tuple(
            replace(t, replication_factor=2) if t.name == outcomes else t
            for t in config.all_topics()
        ),
    )
    changes = apply_topics(wants_two, admin, dry_run=False)
    assert [(c.kind, c.topic) for c in changes] == [("warning", outcomes)]
    assert "replication factor is 1, declares 2" in changes[0].detail


def test_replication_above_the_cluster_says_how_to_override(
    admin: AdminClient, prefix: str
) -> None:
    if len(admin.list_topics(timeout=10).brokers) >= 3:
        pytest.skip("the cluster can hold 3 replicas")
    config: TopicsConfig = load_topics(ROOT / "topics.yaml").with_prefix(prefix)
    with pytest.raises(TopicsApplyError, match=f"--replication-factor 1 or {REPLICATION_ENV}=1"):
        apply_topics(config, admin, dry_run=True)
    assert on_broker(admin, prefix) == {}


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FUSION_BROKER", BROKER)
    monkeypatch.delenv(REPLICATION_ENV, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("cli_env")
def test_cli_apply(admin: AdminClient, prefix: str, tmp_path: Path) -> None:
    path = str(prefixed_file(tmp_path, prefix))
    runner = CliRunner()
    declared = len(load_topics(Path(path)).all_topics())

    result = runner.invoke(topics_cli, ["apply", "--help"])
    assert "--replication-factor" in result.output

    result = runner.invoke(
        topics_cli, ["apply", "--dry-run", "--file", path, "--replication-factor", "1"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == declared and all(line.startswith("[dry run] create") for line in lines)
    assert on_broker(admin, prefix) == {}

    # the override from the environment, as the Helm job and the local scripts set it
    result = runner.invoke(topics_cli, ["apply", "--file", path], env={REPLICATION_ENV: "1"})
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == declared
    assert len(on_broker(admin, prefix)) == declared

    result = runner.invoke(topics_cli, ["apply", "--file", path], env={REPLICATION_ENV: "1"})
    assert result.exit_code == 0, result.output
    assert result.output == "nothing to do\n"

    result = runner.invoke(topics_cli, ["apply", "--file", path])  # declared 3 replicas
    if len(admin.list_topics(timeout=10).brokers) < 3:
        assert result.exit_code == 0 and "warning" in result.output  # existing: reported only
