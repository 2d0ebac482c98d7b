"""Provider discovery, the registry, the pool and the console provider."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import ConfigurationError
from providers.base import CHANNELS, BaseProvider
from providers.console import ConsoleProvider
from providers.registry import ProviderPool, ProviderRegistry, discover
from providers.webhook.http import HttpWebhook

PROVIDER = """
from providers.base import BaseProvider

class {cls}(BaseProvider):
    name = {name!r}
    channels = {channels!r}

    async def send(self, job):
        raise NotImplementedError
"""


def make_package(root: Path, package: str, files: dict[str, str]) -> None:
    """A provider package on disk: ``files`` maps relative paths to source."""
    for rel in ["__init__.py", *files]:
        path = root / package / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(textwrap.dedent(files.get(rel, "")))


def provider_source(cls: str, name: str, channels: tuple[str, ...] = ("sms",)) -> str:
    return PROVIDER.format(cls=cls, name=name, channels=channels)


def test_discovery_finds_console_everywhere_and_the_webhook() -> None:
    registry = discover()
    for channel in CHANNELS:
        assert registry.get(channel, "console") is ConsoleProvider
    assert registry.get("webhook", "http") is HttpWebhook
    assert HttpWebhook in registry.classes() and len(set(registry.classes())) == len(
        registry.classes()
    )


def test_discovery_of_one_channel() -> None:
    registry = discover("webhook")
    assert set(registry.names("webhook")) >= {"console", "http"}
    assert {channel for channel, _ in registry.all()} == {"webhook"}
    assert "console" in discover("sms.otp").names("sms.otp")


def test_unknown_channel_refused() -> None:
    with pytest.raises(ConfigurationError, match="unknown channel 'fax'"):
        discover("fax")


def test_unknown_provider_lists_known_names() -> None:
    with pytest.raises(ConfigurationError) as info:
        discover().get("webhook", "nope")
    assert str(info.value) == "unknown provider 'nope' for channel 'webhook'; known: console, http"


def test_duplicate_name_in_a_channel_refused() -> None:
    class One(BaseProvider):
        name = "dup"
        channels = ("sms", "whatsapp")

        async def send(self, job: Job) -> SendResult:
            raise NotImplementedError

    class Two(One):
        name = "dup"
        channels = ("whatsapp", "email")

    registry = ProviderRegistry()
    registry.register(One)
    registry.register(One)  # the same class twice is harmless
    with pytest.raises(ConfigurationError) as info:
        registry.register(Two)
    assert "duplicate provider 'dup' for channel 'whatsapp'" in str(info.value)
    assert "One" in str(info.value) and "Two" in str(info.value)
    assert registry.get("whatsapp", "dup") is One


def test_duplicate_name_across_modules_refused_at_discovery(tmp_path, monkeypatch) -> None:
    make_package(
        tmp_path,
        "dupprov",
        {"sms/a.py": provider_source("A", "same"), "sms/b.py": provider_source("B", "same")},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigurationError) as info:
        discover(package="dupprov", plugins=False)
    assert "dupprov.sms.a.A" in str(info.value) and "dupprov.sms.b.B" in str(info.value)


def test_same_name_in_different_channels_is_fine(tmp_path, monkeypatch) -> None:
    make_package(
        tmp_path,
        "twoprov",
        {
            "sms/acme.py": provider_source("AcmeSms", "acme", ("sms", "sms.otp")),
            "email/acme.py": provider_source("AcmeMail", "acme", ("email",)),
            "email/_helpers.py": "raise RuntimeError('private modules are not imported')",
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = discover(package="twoprov", plugins=False)
    assert registry.names("sms") == registry.names("sms.otp") == ("acme",)
    assert registry.get("email", "acme").__name__ == "AcmeMail"
    otp = discover("sms.otp", package="twoprov", plugins=False)
    assert otp.get("sms.otp", "acme").__name__ == "AcmeSms"


def test_base_classes_without_a_name_are_skipped_and_imports_are_not_registered(
    tmp_path, monkeypatch
) -> None:
    make_package(
        tmp_path,
        "baseprov",
        {
            "sms/base.py": """
                from providers.base import BaseProvider

                class SharedBase(BaseProvider):
                    async def send(self, job):
                        raise NotImplementedError
            """,
            "sms/real.py": """
                from baseprov.sms.base import SharedBase

                class Real(SharedBase):
                    name = "real"
                    channels = ("sms",)
            """,
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert discover(package="baseprov", plugins=False).names("sms") == ("real",)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (provider_source("Odd", "odd", ("fax",)), "unknown channel"),
        (
            "from providers.http import HttpProvider\n"
            "class Half(HttpProvider):\n    name = 'half'\n    channels = ('sms',)\n",
            "lacks build_request, parse_response",
        ),
        ("import not_a_module_anywhere\n", "failed to import"),
    ],
)
def test_broken_provider_modules_refused(tmp_path, monkeypatch, source, message) -> None:
    package = "broken_" + "".join(c for c in message if c.isalnum())
    make_package(tmp_path, package, {"sms/bad.py": source})
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigurationError, match=message):
        discover(package=package, plugins=False)


def test_entry_point_adapters_are_registered(tmp_path, monkeypatch) -> None:
    (tmp_path / "acme_ext.py").write_text(provider_source("Acme", "acme", ("whatsapp",)))
    dist = tmp_path / "acme_ext-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-ext\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[fusion_stream.providers]\nacme = acme_ext:Acme\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert discover().get("whatsapp", "acme").__name__ == "Acme"
    assert "acme" not in discover(plugins=False).names("whatsapp")


async def test_pool_makes_one_instance_per_key_and_closes_all(context) -> None:
    closed: list[str] = []

    class Closing(BaseProvider):
        name = "closing"
        channels = ("sms", "email")

        async def send(self, job: Job) -> SendResult:
            return SendResult(provider=self.name)

        async def close(self) -> None:
            closed.append(self.name)
            if len(closed) == 1:
                raise RuntimeError("first close fails; the others still run")

    registry = ProviderRegistry()
    registry.register(Closing)
    async with ProviderPool(registry, context) as pool:
        first = pool.get("sms", "closing")
        assert pool.get("sms", "closing") is first
        assert pool.get("email", "closing") is not first
        assert first.context is context
        with pytest.raises(ConfigurationError, match="known: closing"):
            pool.get("sms", "other")
    assert closed == ["closing", "closing"]


async def test_console_summarizes_without_secrets(context, caplog) -> None:
    console = ConsoleProvider(context)
    long_text = "Your appointment with Dr. Who is confirmed " * 5
    caplog.set_level(logging.INFO, logger="providers.console")
    result = await console.send(
        Job(job_id="j1", channel="sms", payload={"contact": "919812345678", "message": long_text})
    )
    assert result.message_id == "console-j1"
    line = result.details["summary"]
    assert "\n" not in line and "919812345678" not in line and "***5678" in line
    assert len(line) < 160 and long_text not in line
    assert line in caplog.text


@pytest.mark.parametrize(
    ("channel", "payload", "hidden"),
    [
        ("sms.otp", {"contact": "919812345678", "message": "Your OTP is 482913"}, "482913"),
        ("sms", {"contact": "9198", "message": "code 482913", "isOTP": 1}, "482913"),
        (
            "webhook",
            {"url": "https://h.example/p?token=abc", "headers": {"Authorization": "Bearer xyz"}},
            "token",
        ),
        ("email", {"to": ["ada@example.com"], "subject": "Lab results"}, "ada@"),
    ],
)
async def test_console_hides_sensitive_fields(context, channel, payload, hidden) -> None:
    result = await ConsoleProvider(context).send(Job(job_id="j", channel=channel, payload=payload))
    assert hidden not in result.details["summary"]
