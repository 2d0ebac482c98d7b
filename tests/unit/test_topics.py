"""topics.yaml: the real file, the model's look-ups, every malformed file's error and line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from fusion_stream.cli.topics import topics as topics_cli
from fusion_stream.errors import ConfigurationError, TopicsFileError
from fusion_stream.settings import get_settings
from fusion_stream.topics import (
    RAW,
    REPLICATION_ENV,
    RetryTier,
    TopicsConfig,
    bootstrap_servers,
    get_topics,
    load_topics,
    replication_override,
)

ROOT = Path(__file__).resolve().parents[2]
CHANNELS = {"sms", "sms.otp", "email", "push", "webhook", "whatsapp"}
SCHEMAS = [
    "sms_request",
    "email_request",
    "push_request",
    "webhook_request",
    "whatsapp_request",
    "outcome",
    "provider_config",
]


@pytest.fixture(scope="module")
def real() -> TopicsConfig:
    return load_topics(ROOT / "topics.yaml")


def test_real_file_declares_every_channel(real: TopicsConfig) -> None:
    assert set(real.channels) == CHANNELS
    names = [t.name for t in real.all_topics()]
    assert len(names) == len(set(names))
    for name in CHANNELS:
        channel = real.channel(name)
        assert real.topic(channel.topic).role == "channel"
        assert real.topic(channel.dlq).role == "dlq"
        assert channel.retry.tiers and channel.retry.max_attempts >= 1
        assert channel.retry.budget_seconds > 0
        for tier in channel.retry.tiers:
            assert real.tier(tier.topic) == tier
            assert real.topic(tier.topic).role == "retry"
            assert real.topic(tier.topic).value_schema == RAW
        assert real.channel_for_topic(channel.topic) is channel
        assert real.channel_for_topic(channel.dlq) is channel
        assert real.topic(channel.dlq).value_schema == channel.value_schema
        assert (ROOT / "schemas" / f"{channel.value_schema}.avsc").is_file()


def test_real_file_topic_settings(real: TopicsConfig) -> None:
    sms = real.channel("sms")
    assert sms.topic == "fusion.sms" and not sms.otp
    assert [t.delay_seconds for t in sms.retry.tiers] == [10, 60, 600, 3600]
    assert sms.retry.budget_seconds == 24 * 3600
    otp = real.channel("sms.otp")
    assert otp.otp and otp.topic == "fusion.sms.otp" and otp.retry.budget_seconds == 300
    otp_topic, sms_topic = real.topic(otp.topic), real.topic(sms.topic)
    assert otp_topic.partitions != sms_topic.partitions
    assert "retention.bytes" in otp_topic.configs and "retention.bytes" not in sms_topic.configs
    for dlq in real.dlq_topics():
        configs = real.topic(dlq).configs
        assert configs["cleanup.policy"] == "compact,delete"
        assert configs["retention.ms"] == str(14 * 24 * 3600 * 1000)
    assert len(real.dlq_topics()) == len(CHANNELS)
    assert real.outcomes == "fusion.outcomes"
    assert real.provider_config == "fusion.provider-config"
    assert real.topic(real.provider_config).configs["cleanup.policy"] == "compact"
    assert real.topic(real.provider_config).partitions == 1
    assert {t.role for t in real.all_topics()} == {
        "channel",
        "dlq",
        "retry",
        "outcomes",
        "provider-config",
    }


def test_lookups_name_what_is_known(real: TopicsConfig) -> None:
    with pytest.raises(ConfigurationError, match=r"unknown channel 'sms2' \(known: sms, sms.otp"):
        real.channel("sms2")
    with pytest.raises(ConfigurationError, match="belongs to no channel"):
        real.channel_for_topic("fusion.outcomes")
    with pytest.raises(ConfigurationError, match=r"unknown retry tier 'fusion\.retry\.5m'"):
        real.tier("fusion.retry.5m")


def test_replication_override_fits_min_insync(real: TopicsConfig) -> None:
    assert {t.replication_factor for t in real.all_topics()} == {3}
    single = real.with_replication_factor(1)
    assert {t.replication_factor for t in single.all_topics()} == {1}
    assert {t.configs["min.insync.replicas"] for t in single.all_topics()} == {"1"}
    assert real.with_replication_factor(None) is real
    loaded = load_topics(ROOT / "topics.yaml", replication_factor=1)
    assert loaded.all_topics() == single.all_topics()


def test_replication_override_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REPLICATION_ENV, raising=False)
    assert replication_override() is None
    monkeypatch.setenv(REPLICATION_ENV, "1")
    assert replication_override() == 1
    monkeypatch.setenv(REPLICATION_ENV, "one")
    with pytest.raises(ConfigurationError, match=REPLICATION_ENV):
        replication_override()


def test_with_prefix_renames_every_topic(real: TopicsConfig) -> None:
    p = real.with_prefix("t1.")
    assert all(t.name.startswith("t1.fusion.") for t in p.all_topics())
    assert p.channel("sms").topic == "t1.fusion.sms" and p.channel("sms").dlq == "t1.fusion.sms.dlq"
    assert p.channel("sms").retry.tiers[0] == p.tier("t1.fusion.retry.10s")
    assert p.channel_for_topic("t1.fusion.sms.dlq").name == "sms"
    assert p.outcomes == "t1.fusion.outcomes"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("kafka://127.0.0.1:9092", "127.0.0.1:9092"),
        ("kafka://h1:9092;kafka://h2:9093", "h1:9092,h2:9093"),
        ("kafka://h1:9092,h2:9093", "h1:9092,h2:9093"),
        ("h1:1234", "h1:1234"),
        ("kafka://broker", "broker:9092"),
        (" kafka://h1:1/ ; kafka://h2:2 ", "h1:1,h2:2"),
    ],
)
def test_bootstrap_servers(url: str, expected: str) -> None:
    assert bootstrap_servers(url) == expected


def test_bootstrap_servers_refuses_empty() -> None:
    with pytest.raises(ConfigurationError):
        bootstrap_servers(" ; ")


# --- malformed files ---------------------------------------------------------------------------

# Line numbers matter: the cases below name them.
MINIMAL = """\
defaults:
  partitions: 6
  replication_factor: 1
  configs:
    retention.ms: 7d
channels:
  sms:
    topic: fusion.sms
    value_schema: sms_request
    dlq: fusion.sms.dlq
    retry:
      tiers: [fusion.retry.10s, fusion.retry.1m]
      max_attempts: 5
      budget: 24h
retry_tiers:
  fusion.retry.10s: {delay: 10s}
  fusion.retry.1m: {delay: 1m}
topics:
  fusion.outcomes: {role: outcomes, value_schema: outcome}
  fusion.provider-config:
    role: provider-config
    value_schema: provider_config
    configs: {cleanup.policy: compact}
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "schemas").mkdir()
    for name in SCHEMAS:
        (tmp_path / "schemas" / f"{name}.avsc").write_text("{}")
    return tmp_path


def write(workdir: Path, text: str) -> Path:
    path = workdir / "topics.yaml"
    path.write_text(text)
    return path


def test_minimal_file_loads(workdir: Path) -> None:
    config = load_topics(write(workdir, MINIMAL))
    assert config.channel("sms").retry.tiers[1] == RetryTier("fusion.retry.1m", 60)
    assert config.topic("fusion.sms").configs == {"retention.ms": "604800000"}
    assert config.topic("fusion.provider-config").configs["cleanup.policy"] == "compact"


def edit(old: str, new: str) -> str:
    assert old in MINIMAL, old
    return MINIMAL.replace(old, new, 1)


MALFORMED = [
    pytest.param(
        edit("fusion.retry.1m]", "fusion.retry.5m]"),
        "12: channels.sms.retry.tiers[1]: unknown retry tier 'fusion.retry.5m'",
        id="undeclared-tier",
    ),
    pytest.param(
        edit(
            "      tiers: [fusion.retry.10s, fusion.retry.1m]\n",
            "      tiers:\n        - fusion.retry.10s\n        - fusion.retry.2m\n",
        ),
        "14: channels.sms.retry.tiers[1]: unknown retry tier 'fusion.retry.2m'",
        id="undeclared-tier-block-list",
    ),
    pytest.param(
        edit("tiers: [fusion.retry.10s, fusion.retry.1m]", "tiers: []"),
        "12: channels.sms.retry.tiers: expected a non-empty list",
        id="no-tiers",
    ),
    pytest.param(
        edit("  partitions: 6", "  partitions: 0"),
        "2: defaults.partitions: must be >= 1, got 0",
        id="zero-partitions",
    ),
    pytest.param(
        edit("  partitions: 6", "  partitions: six"),
        "2: defaults.partitions: expected an integer, got str 'six'",
        id="partitions-not-int",
    ),
    pytest.param(
        edit("  replication_factor: 1", "  replication_factor: true"),
        "3: defaults.replication_factor: expected an integer, got bool True",
        id="bool-is-not-int",
    ),
    pytest.param(
        edit("      max_attempts: 5", "      max_attempts: 0"),
        "13: channels.sms.retry.max_attempts: must be >= 1",
        id="zero-attempts",
    ),
    pytest.param(
        edit("    dlq: fusion.sms.dlq\n", "    dlq: fusion.sms.dlq\n    retries: 3\n"),
        "11: channels.sms.retries: unknown key",
        id="unknown-key",
    ),
    pytest.param(
        edit("    value_schema: sms_request\n", "    value_schema: sms_request\n    dql: x\n"),
        "10: channels.sms.dql: unknown key (did you mean 'dlq'?)",
        id="unknown-key-hint",
    ),
    pytest.param(
        edit("    dlq: fusion.sms.dlq\n", ""),
        "8: channels.sms: missing required key 'dlq'",
        id="missing-key",
    ),
    pytest.param(
        edit(
            "defaults:\n  partitions: 6\n  replication_factor: 1\n", "defaults:\n  partitions: 6\n"
        ),
        "2: defaults: missing required key 'replication_factor'",
        id="missing-default",
    ),
    pytest.param(
        edit("budget: 24h", "budget: 24 hours"),
        "14: channels.sms.retry.budget: bad duration '24 hours'",
        id="bad-duration",
    ),
    pytest.param(
        edit("{delay: 10s}", "{delay: 0}"),
        "16: retry_tiers.fusion.retry.10s.delay: must be a positive duration",
        id="zero-delay",
    ),
    pytest.param(
        edit("{delay: 1m}", "{delay: [1m]}"),
        "17: retry_tiers.fusion.retry.1m.delay: bad duration",
        id="delay-not-scalar",
    ),
    pytest.param(
        edit("    retention.ms: 7d", "    retention.ms: 7 days"),
        "5: defaults.configs.retention.ms: bad duration '7 days'",
        id="bad-config-duration",
    ),
    pytest.param(
        edit("    retention.ms: 7d", "    retention.msec: 7d"),
        "5: defaults.configs.retention.msec: unknown Kafka topic config "
        "(did you mean 'retention.ms'?)",
        id="unknown-config",
    ),
    pytest.param(
        edit("{cleanup.policy: compact}", "{cleanup.policy: {a: b}}"),
        "23: topics.fusion.provider-config.configs.cleanup.policy: expected a single value",
        id="config-not-scalar",
    ),
    pytest.param(
        edit("    dlq: fusion.sms.dlq", "    dlq: fusion.outcomes"),
        "19: topics.fusion.outcomes: duplicate topic 'fusion.outcomes' "
        "(also channels.sms.dlq, line 10)",
        id="duplicate-topic",
    ),
    pytest.param(
        edit(
            "  fusion.retry.1m: {delay: 1m}\n",
            "  fusion.retry.1m: {delay: 1m}\n  fusion.retry.10s: {delay: 2s}\n",
        ),
        "18: retry_tiers.fusion.retry.10s: duplicate key",
        id="duplicate-key",
    ),
    pytest.param(
        edit("    topic: fusion.sms\n", "    topic: fusion/sms\n"),
        "8: channels.sms.topic: invalid topic name",
        id="bad-topic-name",
    ),
    pytest.param(
        edit("    value_schema: sms_request", "    value_schema: sms_reqest"),
        "9: channels.sms.value_schema: no schema file sms_reqest.avsc",
        id="schema-without-file",
    ),
    pytest.param(
        edit("    dlq: fusion.sms.dlq\n", "    dlq: fusion.sms.dlq\n    otp: yes please\n"),
        "11: channels.sms.otp: expected true or false",
        id="otp-not-bool",
    ),
    pytest.param(
        edit("{role: outcomes,", "{role: outcome,"),
        "19: topics.fusion.outcomes.role: unknown role 'outcome'",
        id="unknown-role",
    ),
    pytest.param(
        edit("{role: outcomes, value_schema: outcome}", "{value_schema: outcome}"),
        "18: topics: no topic with role 'outcomes'",
        id="no-outcomes-topic",
    ),
    pytest.param(
        edit("    role: provider-config", "    role: outcomes"),
        "21: topics.fusion.provider-config.role: a second 'outcomes' topic",
        id="two-outcomes-topics",
    ),
    pytest.param(
        edit("  sms:\n", "  sms:\n    - a\n"),
        "9: invalid YAML: expected <block end>",
        id="yaml-syntax",
    ),
    pytest.param(
        edit("      max_attempts: 5", "\tmax_attempts: 5"),
        "13: invalid YAML: found character '\\t' that cannot start any token",
        id="yaml-tab",
    ),
    pytest.param(
        edit("channels:\n  sms:", "channels:\n  SMS!:"),
        "7: channels.SMS!: invalid channel name",
        id="bad-channel-name",
    ),
    pytest.param(
        MINIMAL + "extra: 1\n",
        "24: extra: unknown key",
        id="unknown-top-level",
    ),
    pytest.param("- a\n- b\n", "1: expected a mapping, got a list", id="not-a-mapping"),
    pytest.param("", "1: expected a mapping, got nothing", id="empty-file"),
]


@pytest.mark.parametrize(("text", "expected"), MALFORMED)
def test_malformed_file_names_line_and_field(workdir: Path, text: str, expected: str) -> None:
    path = write(workdir, text)
    with pytest.raises(TopicsFileError) as caught:
        load_topics(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{expected}"), message
    assert isinstance(caught.value, ConfigurationError)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TopicsFileError, match=r"topics\.yaml: cannot read"):
        load_topics(tmp_path / "topics.yaml")


def test_schema_names_unchecked_without_schemas_dir(tmp_path: Path) -> None:
    path = write(tmp_path, edit("value_schema: sms_request", "value_schema: not_written_yet"))
    assert load_topics(path).channel("sms").value_schema == "not_written_yet"


def test_cache_follows_the_file(workdir: Path) -> None:
    path = write(workdir, MINIMAL)
    first = load_topics(path)
    assert load_topics(path) is first
    path.write_text(edit("  partitions: 6", "  partitions: 8"))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert load_topics(path).topic("fusion.sms").partitions == 8


def test_get_topics_reads_settings(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(workdir, MINIMAL)
    monkeypatch.setenv("FUSION_TOPICS_FILE", str(path))
    monkeypatch.setenv("FUSION_SCHEMAS_DIR", str(workdir / "schemas"))
    monkeypatch.setenv(REPLICATION_ENV, "1")
    get_settings.cache_clear()
    try:
        config = get_topics()
    finally:
        get_settings.cache_clear()
    assert config.path == path and config.outcomes == "fusion.outcomes"


def test_cli_list_and_error(workdir: Path) -> None:
    path = write(workdir, MINIMAL)
    result = CliRunner().invoke(topics_cli, ["list", "--file", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:5] == ["TOPIC", "ROLE", "PARTITIONS", "RF", "SCHEMA"]
    assert any(line.split()[:3] == ["fusion.retry.1m", "retry", "60s"] for line in lines)

    bad = write(workdir, edit("fusion.retry.1m]", "fusion.retry.5m]"))
    result = CliRunner().invoke(topics_cli, ["apply", "--dry-run", "--file", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:12: channels.sms.retry.tiers[1]: unknown retry tier" in result.output
