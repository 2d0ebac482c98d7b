"""The contract every HTTP provider keeps, run against each registered HttpProvider.

How a provider joins: its test module, ``tests/providers/<channel>/test_<module>.py`` for
``providers/<channel>/<module>.py``, defines ``CONTRACT`` (or ``CONTRACTS``, a list, when the
module holds several providers): any object, a plain class is fine, with

- ``provider``: the adapter class;
- ``job(base_url) -> Job``: a valid event whose request goes to ``base_url`` (the loopback server);
- ``config(base_url) -> Mapping[str, str]``: valid settings of the provider, pointing it at
  ``base_url`` (its ``base_url``-like setting) with fake credentials;
- ``reply``: keywords of a realistic success answer for ``LoopbackServer.reply``
  (``status``, ``json_body`` or ``body``, ``headers``);
- ``message_id``: the id ``send`` returns for that answer.

The suite then checks: success gives the id and status; timeout, reset, refused, 5xx and 429
give TransientError (429 with its Retry-After); 400/404 give PermanentError; an empty config
gives ConfigurationError (providers with a settings model). A registered HTTP provider without
a CONTRACT fails ``test_every_http_provider_has_a_contract``.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import pydantic
import pytest

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import (
    ConfigurationError,
    DeliveryError,
    PermanentError,
    TransientError,
)
from fusion_stream.settings import Settings
from providers.base import ProviderContext
from providers.http import (
    MAX_RESPONSE_BYTES,
    USER_AGENT,
    HttpProvider,
    HttpRequest,
    HttpResponse,
    parse_retry_after,
)
from providers.registry import discover

HERE = Path(__file__).parent


class Contract(Protocol):
    provider: type[HttpProvider[Any]]
    reply: Mapping[str, Any]
    message_id: str | None

    def job(self, base_url: str) -> Job: ...

    def config(self, base_url: str) -> Mapping[str, str]: ...


def _collect() -> tuple[list[Contract], list[str]]:
    """CONTRACTs of every in-repo HTTP provider, and what is missing one."""
    found: list[Contract] = []
    missing: list[str] = []
    modules: dict[Path, Any] = {}
    for cls in discover().classes():
        if not issubclass(cls, HttpProvider) or not cls.__module__.startswith("providers."):
            continue  # entry-point adapters keep their contract in their own repository
        *folders, stem = cls.__module__.split(".")[1:]
        path = HERE.joinpath(*folders, f"test_{stem}.py")
        if path.exists() and path not in modules:
            spec = importlib.util.spec_from_file_location(
                f"_contract_{'_'.join(folders)}_{stem}", path
            )
            assert spec is not None and spec.loader is not None
            modules[path] = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(modules[path])
        module = modules.get(path)
        declared = [getattr(module, "CONTRACT", None), *getattr(module, "CONTRACTS", ())]
        mine = [c for c in declared if c is not None and c.provider is cls]
        if mine:
            found += mine
        else:
            missing.append(f"{cls.__module__}.{cls.__qualname__}: no CONTRACT in {path}")
    return found, missing


CONTRACTS, MISSING = _collect()


def test_every_http_provider_has_a_contract() -> None:
    assert CONTRACTS, "discovery found no HTTP provider"
    assert not MISSING, "\n".join(MISSING)


@pytest.fixture(params=CONTRACTS, ids=lambda c: f"{c.provider.channels[0]}/{c.provider.name}")
def contract(request: pytest.FixtureRequest) -> Contract:
    return request.param


def adapter(
    contract: Contract,
    session: aiohttp.ClientSession,
    base_url: str,
    *,
    timeout: float | None = None,
    config: Mapping[str, str] | None = None,
) -> HttpProvider[Any]:
    """The provider under contract, configured for ``base_url``; ``timeout`` shortens calls."""
    settings = dict(contract.config(base_url) if config is None else config)
    if timeout is not None:
        settings["timeout"] = str(timeout)
    all_settings = {contract.provider.name: settings}
    context = ProviderContext(
        session=session,
        settings=Settings(webhook_timeout=timeout or 15.0, response_excerpt=300),
        config=lambda name: all_settings.get(name, {}),
    )
    return contract.provider(context)


def assert_one_line(error: DeliveryError, contract: Contract, status: int | None = None) -> None:
    text = str(error)
    assert "\n" not in text
    assert f"provider={contract.provider.name}" in text
    if status is not None:
        assert f"status={status}" in text


async def test_success_returns_id_and_status(contract, server, session) -> None:
    server.reply(**contract.reply)
    result = await adapter(contract, session, server.url).send(contract.job(server.url))
    assert isinstance(result, SendResult)
    assert result.provider == contract.provider.name
    assert result.message_id == contract.message_id
    assert result.status == contract.reply.get("status", 200)
    assert len(server.requests) == 1
    assert server.requests[0].headers["User-Agent"] == USER_AGENT


async def test_timeout_is_transient(contract, server, session) -> None:
    server.reply(hang=True)
    provider = adapter(contract, session, server.url, timeout=0.2)
    with pytest.raises(TransientError, match="timed out") as info:
        await provider.send(contract.job(server.url))
    assert_one_line(info.value, contract)


async def test_connection_reset_is_transient(contract, server, session) -> None:
    server.reply(drop=True)
    with pytest.raises(TransientError, match="connection failed") as info:
        await adapter(contract, session, server.url).send(contract.job(server.url))
    assert_one_line(info.value, contract)


async def test_connection_refused_is_transient(contract, refused_url, session) -> None:
    with pytest.raises(TransientError, match="connection failed"):
        await adapter(contract, session, refused_url).send(contract.job(refused_url))


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_error_is_transient(contract, server, session, status) -> None:
    server.reply(status=status, json_body={"error": "upstream trouble"})
    with pytest.raises(TransientError) as info:
        await adapter(contract, session, server.url).send(contract.job(server.url))
    assert_one_line(info.value, contract, status)


async def test_429_is_transient_with_retry_after(contract, server, session) -> None:
    server.reply(status=429, json_body={"error": "slow down"}, headers={"Retry-After": "7"})
    with pytest.raises(TransientError) as info:
        await adapter(contract, session, server.url).send(contract.job(server.url))
    assert info.value.retry_after == 7
    assert_one_line(info.value, contract, 429)


@pytest.mark.parametrize("status", [400, 404])
async def test_client_error_is_permanent(contract, server, session, status) -> None:
    server.reply(status=status, json_body={"error": "bad request"})
    with pytest.raises(PermanentError) as info:
        await adapter(contract, session, server.url).send(contract.job(server.url))
    assert_one_line(info.value, contract, status)


async def test_missing_credentials_is_a_configuration_error(contract, server, session) -> None:
    model = contract.provider.settings_model
    if model is None or not any(f.is_required() for f in model.model_fields.values()):
        pytest.skip("provider needs no settings")
    with pytest.raises(ConfigurationError, match=contract.provider.name):
        await adapter(contract, session, server.url, config={}).send(contract.job(server.url))
    assert server.requests == []


# --- what every provider inherits from the bases -------------------------------------------


class Creds(pydantic.BaseModel):
    api_key: pydantic.SecretStr
    base_url: str
    retries: int = 0


class Toy(HttpProvider[Creds]):
    """A minimal adapter for the base's own tests (never registered)."""

    name = "toy"
    channels = ("sms",)
    settings_model = Creds

    def build_request(self, job: Job) -> HttpRequest:
        return HttpRequest("GET", self.settings.base_url + "/send")

    def parse_response(self, job: Job, response: HttpResponse) -> SendResult:
        return SendResult(provider=self.name, status=response.status, details={"r": response})


def toy(session: aiohttp.ClientSession, config: dict[str, str]) -> Toy:
    return Toy(ProviderContext(session=session, settings=Settings(), config=lambda n: config))


async def test_settings_error_names_missing_and_invalid_keys_not_values(session) -> None:
    provider = toy(session, {"api_key": "s3cret-value", "retries": "many"})
    with pytest.raises(ConfigurationError) as info:
        provider.settings  # noqa: B018
    text = str(info.value)
    assert "'toy'" in text and "'base_url'" in text and "'retries'" in text
    assert "s3cret-value" not in text and info.value.__cause__ is None


async def test_settings_follow_config_changes(session) -> None:
    config = {"api_key": "k", "base_url": "http://127.0.0.1:1"}
    provider = toy(session, config)
    assert provider.settings.base_url == "http://127.0.0.1:1"
    config["base_url"] = "http://127.0.0.1:2"
    assert provider.settings.base_url == "http://127.0.0.1:2"


async def test_body_read_is_bounded(server, session) -> None:
    server.reply(body=b"x" * (MAX_RESPONSE_BYTES + 4096))
    result = await toy(session, {"api_key": "k", "base_url": server.url}).send(
        Job(job_id="j", channel="sms", payload={})
    )
    response = result.details["r"]
    assert response.truncated and len(response.text) == MAX_RESPONSE_BYTES


async def test_invalid_json_is_permanent(server, session) -> None:
    server.reply(body="<html>oops</html>")
    result = await toy(session, {"api_key": "k", "base_url": server.url}).send(
        Job(job_id="j", channel="sms", payload={})
    )
    with pytest.raises(PermanentError, match="invalid JSON"):
        result.details["r"].json()


async def test_configured_timeout_must_be_positive(server, session) -> None:
    provider = toy(session, {"api_key": "k", "base_url": server.url, "timeout": "-1"})
    with pytest.raises(ConfigurationError, match="timeout"):
        await provider.send(Job(job_id="j", channel="sms", payload={}))


NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("Thu, 01 Jan 2026 12:00:30 GMT", 30.0),
        ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("nan", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds
