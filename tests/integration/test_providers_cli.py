"""`fusion-stream providers set|show|list` and the provider-config reader, on the real broker."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from confluent_kafka.admin import AdminClient

from fusion_stream.cli.providers import providers as providers_cli
from fusion_stream.codec import AvroCodec
from fusion_stream.envelope import Job
from fusion_stream.errors import ConfigurationError, RejectedError
from fusion_stream.provider_config import ProviderConfigReader
from fusion_stream.routing import NOT_WHITELISTED, SmsRouter
from fusion_stream.settings import ROOT, get_settings
from fusion_stream.topics import load_topics
from tests.conftest import BROKER, TopicSet, bootstrap

pytestmark = pytest.mark.integration

SECRET = "s3cret-authkey-value"


@pytest.fixture
def env(topic_set: TopicSet, broker: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TopicSet]:
    """The CLI pointed at this test's topic set; its topics are deleted afterwards."""
    monkeypatch.setenv("FUSION_BROKER", BROKER)
    monkeypatch.setenv("FUSION_TOPICS_FILE", str(topic_set.path))
    get_settings.cache_clear()
    yield topic_set
    get_settings.cache_clear()
    admin = AdminClient({"bootstrap.servers": broker})
    names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(topic_set.prefix)]
    if names:
        for future in admin.delete_topics(names, operation_timeout=30).values():
            future.result()


def cli(*args: str) -> Result:
    return CliRunner().invoke(providers_cli, list(args), catch_exceptions=False)


def test_set_show_delete(env: TopicSet) -> None:
    topic = env.config().provider_config
    result = cli(
        "set", "acme-msg91", "--provider", "msg91", "--allow", "91", "--allow", "+966",
        "--setting", f"authkey={SECRET}", "--setting", "sender=ACMEHC", "--fallback", "sns",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"set 'acme-msg91' on {topic}" in result.output and SECRET not in result.output
    assert cli("set", "msg91", "--provider", "msg91").exit_code == 0

    shown = cli("show")
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert [line.split()[0] for line in lines] == ["acme-msg91", "msg91"]
    assert "provider=msg91  allow=91,966  settings=[authkey=***, sender=***]" in lines[0]
    assert "fallbacks=sns" in lines[0] and "updated=" in lines[0]
    assert "allow=every country  settings=[-]" in lines[1]
    assert SECRET not in shown.output and "ACMEHC" not in shown.output

    as_json = json.loads(cli("show", "acme-msg91", "--json").output)
    assert as_json["settings"] == {"authkey": "***", "sender": "***"}
    assert as_json["allowed_country_codes"] == ["91", "966"]

    deleted = cli("set", "acme-msg91", "--delete")
    assert deleted.exit_code == 0 and "tombstone" in deleted.output
    assert [line.split()[0] for line in cli("show").output.splitlines()] == ["msg91"]
    missing = CliRunner().invoke(providers_cli, ["show", "acme-msg91"])
    assert missing.exit_code == 1 and "no provider-config record 'acme-msg91'" in missing.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["set", "x", "--allow", "India"], "not a calling code or region"),
        (["set", "x", "--setting", SECRET], "expected KEY=VALUE"),
        (["set", "x", "--delete", "--provider", "msg91"], "--delete takes no other option"),
        (["set", "x", "--setting-env", "authkey=FUSION_TEST_UNSET_VAR"], "is not set"),
    ],
)
def test_set_refuses_bad_input(env: TopicSet, args: list[str], message: str) -> None:
    result = CliRunner().invoke(providers_cli, args)
    assert result.exit_code == 2 and message in result.output
    assert SECRET not in result.output


def test_setting_from_env_and_unknown_provider_warning(
    env: TopicSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_KEY", SECRET)
    result = CliRunner().invoke(
        providers_cli, ["set", "acme", "--provider", "no-such", "--setting-env", "authkey=ACME_KEY"]
    )
    assert result.exit_code == 0 and "no adapter named 'no-such'" in result.output
    assert SECRET not in result.output


def test_reader_follows_the_topic_and_routing_uses_it(env: TopicSet) -> None:
    config = env.config()
    codec = AvroCodec(ROOT / "schemas")

    async def scenario() -> None:
        cli("set", "before", "--provider", "msg91", "--allow", "91")
        reader = ProviderConfigReader(bootstrap(), config.provider_config, codec)
        await reader.start()  # read to the end before routing anything
        try:
            assert reader.get("before") is not None

            class Pool:
                def get(self, channel: str, name: str, provider_id: str | None = None) -> str:
                    return f"{name}/{provider_id}"

            router = SmsRouter(Pool(), {"sms": "console"}, reader)
            uk = Job("j", "sms", {"contact": "7911123456", "countryCode": "44"})
            with pytest.raises(RejectedError, match=NOT_WHITELISTED):
                router.adapter_for(Job("j", "sms", {**uk.payload, "provider_id": "before"}))

            await asyncio.to_thread(cli, "set", "later", "--provider", "sns", "--allow", "44")
            for _ in range(150):  # the running reader picks it up
                if reader.get("later") is not None:
                    break
                await asyncio.sleep(0.1)
            later = Job("j", "sms", {**uk.payload, "provider_id": "later"})
            assert router.adapter_for(later) == "sns/later"

            await asyncio.to_thread(cli, "set", "later", "--delete")
            for _ in range(150):
                if reader.get("later") is None:
                    break
                await asyncio.sleep(0.1)
            assert reader.get("later") is None
            assert router.adapter_for(later) == "console/None"  # no record: no whitelist
        finally:
            await reader.stop()

    asyncio.run(scenario())


def test_reader_refuses_a_missing_topic(broker: str) -> None:
    reader = ProviderConfigReader(broker, "no-such-topic-fusion-test", AvroCodec(ROOT / "schemas"))
    with pytest.raises(ConfigurationError, match="does not exist"):
        asyncio.run(reader.start(within=20))


def test_list_shows_registered_adapters() -> None:
    result = cli("list", "--channel", "sms")
    assert result.exit_code == 0, result.output
    header, *rows = result.output.splitlines()
    assert header.split()[:3] == ["CHANNELS", "NAME", "TASK"]
    cells = {row.split("  ")[0].strip(): row for row in rows}
    assert all(c == "all" or "sms" in c.split(", ") for c in cells)
    assert any(row.split()[1] == "console" and row.startswith("all") for row in rows)


def test_the_command_is_registered(env: TopicSet) -> None:
    cli("set", "via-subprocess", "--provider", "msg91")
    out = subprocess.run(
        [sys.executable, "-m", "fusion_stream.cli", "providers", "show", "via-subprocess"],
        capture_output=True,
        text=True,
        env={**os.environ},
        cwd=Path(__file__).resolve().parents[2],
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("via-subprocess  provider=msg91")
    assert load_topics(env.path).provider_config.startswith(env.prefix)
