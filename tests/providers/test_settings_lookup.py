"""providers.config: one lookup, one order (account record, provider record, env, defaults)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pydantic
import pytest

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import ConfigurationError
from fusion_stream.provider_config import ProviderConfigView
from fusion_stream.settings import Settings
from providers.base import BaseProvider, ProviderContext
from providers.config import AccountPool, LookedUp, ProviderLookup, env_var, make_lookup
from providers.registry import ProviderRegistry


class Creds(pydantic.BaseModel):
    authkey: pydantic.SecretStr
    sender: str = "DEFLT"
    route: int = 4


class Sample(BaseProvider[Creds]):
    """A registered-looking adapter (registered only in this test's registry)."""

    name = "sample"
    channels = ("sms", "sms.otp")
    settings_model = Creds

    async def send(self, job: Job) -> SendResult:
        return SendResult(provider=self.name, message_id=self.settings.sender)


TABLE = ProviderConfigView(
    {
        "sample": {"provider": "sample", "settings": {"authkey": "table-key", "sender": "TBL"}},
        "acme": {"provider": "sample", "settings": {"authkey": "acme-key"}},
        "other-tenant": {"provider": "sample", "settings": {"authkey": "other", "route": "1"}},
        "whitelist-only": {"provider": None, "allowed_country_codes": ["91"], "settings": {}},
        "for-sns": {"provider": "sns", "settings": {"authkey": "sns-key"}},
    }
)


@pytest.mark.parametrize(
    ("provider", "key", "var"),
    [
        ("msg91", "authkey", "FUSION_PROVIDERS__MSG91__AUTHKEY"),
        ("2factor", "api_key", "FUSION_PROVIDERS__2FACTOR__API_KEY"),
        ("twilio_sms", "account_sid", "FUSION_PROVIDERS__TWILIO_SMS__ACCOUNT_SID"),
        ("africa's-talking", "api.key", "FUSION_PROVIDERS__AFRICA_S_TALKING__API_KEY"),
    ],
)
def test_env_var_names(provider: str, key: str, var: str) -> None:
    assert env_var(provider, key) == var


def test_env_only() -> None:
    lookup = ProviderLookup(
        None,
        {
            "FUSION_PROVIDERS__SAMPLE__AUTHKEY": "env-key",
            "FUSION_PROVIDERS__SAMPLE__SENDER": "",  # empty: unset
            "FUSION_PROVIDERS__SAMPLE_X__AUTHKEY": "not mine",
            "FUSION_PROVIDERS__SAMPLE__": "no key",
            "FUSION_PROVIDERS__2FACTOR__API_KEY": "2f",
        },
    )
    assert lookup("sample") == {"authkey": "env-key"}
    assert lookup("2factor") == {"api_key": "2f"}
    assert lookup("unset") == {}


ENV = {"FUSION_PROVIDERS__SAMPLE__AUTHKEY": "env-key", "FUSION_PROVIDERS__SAMPLE__ROUTE": "2"}


@pytest.mark.parametrize(
    ("provider_id", "expected"),
    [
        # the provider's own record (provider_id == name) wins over env
        (None, {"authkey": "table-key", "sender": "TBL", "route": "2"}),
        # an account record wins over the provider's record, key by key
        ("acme", {"authkey": "acme-key", "sender": "TBL", "route": "2"}),
        ("other-tenant", {"authkey": "other", "sender": "TBL", "route": "1"}),
        # records of another provider, without settings, or missing add nothing
        ("for-sns", {"authkey": "table-key", "sender": "TBL", "route": "2"}),
        ("whitelist-only", {"authkey": "table-key", "sender": "TBL", "route": "2"}),
        ("missing", {"authkey": "table-key", "sender": "TBL", "route": "2"}),
    ],
)
def test_order(provider_id: str | None, expected: dict[str, str]) -> None:
    assert make_lookup(TABLE, ENV)("sample", provider_id) == expected


def test_other_accounts_are_never_mixed_in() -> None:
    # "acme" and "other-tenant" configure sample too, but only for events naming them
    acme = {"provider": "sample", "settings": {"authkey": "acme-key"}}
    assert make_lookup(ProviderConfigView({"acme": acme}), {})("sample") == {}


async def test_defaults_fill_what_nobody_set() -> None:
    async with aiohttp.ClientSession() as session:
        context = ProviderContext(session, Settings(), config=make_lookup(TABLE, {}))
        settings = Sample(context).settings
    assert (settings.authkey.get_secret_value(), settings.sender, settings.route) == (
        "table-key",
        "TBL",
        4,
    )


def make(config: Any, **kw: Any) -> Sample:
    return Sample(ProviderContext(None, Settings(), config=config, **kw))  # type: ignore[arg-type]


def test_error_lists_every_place_looked_never_values() -> None:
    env = {"FUSION_PROVIDERS__SAMPLE__ROUTE": "not-a-number-s3cret"}
    table = ProviderConfigView({"acme": {"provider": "sample", "settings": {"sender": "s3cret-2"}}})
    provider = make(make_lookup(table, env).bound("acme"))
    with pytest.raises(ConfigurationError) as info:
        provider.settings  # noqa: B018
    text = str(info.value)
    assert "missing setting(s) 'authkey'" in text and "invalid setting(s) 'route'" in text
    assert "provider-config 'sample' (none)" in text  # the provider's own record: absent
    assert "provider-config 'acme'" in text  # the account record
    assert "env FUSION_PROVIDERS__SAMPLE__AUTHKEY" in text  # where authkey could have been
    assert "'route' from env FUSION_PROVIDERS__SAMPLE__ROUTE" in text  # where route came from
    assert "defaults of Creds" in text
    assert "s3cret" not in text and info.value.__cause__ is None


def test_plain_config_functions_keep_working() -> None:
    with pytest.raises(ConfigurationError, match="missing setting") as info:
        make(lambda name: {}).settings  # noqa: B018
    assert "looked in" not in str(info.value)


def test_reserved_keys_are_not_validated_by_the_model() -> None:
    class Strict(Creds):
        model_config = pydantic.ConfigDict(extra="forbid")

    class StrictSample(Sample):
        name = "strict"
        settings_model = Strict

    config = {"authkey": "k", "timeout": "5", "rate_per_second": "10"}
    provider = StrictSample(ProviderContext(None, Settings(), config=lambda n: config))  # type: ignore[arg-type]
    assert provider.settings.authkey.get_secret_value() == "k"


def test_lookup_result_names_sources() -> None:
    looked = make_lookup(TABLE, ENV)("sample", "acme")
    assert isinstance(looked, LookedUp)
    assert looked.origins == {
        "authkey": "provider-config 'acme'",
        "sender": "provider-config 'sample'",
        "route": "env FUSION_PROVIDERS__SAMPLE__ROUTE",
    }


def test_table_changes_are_seen_on_the_next_lookup() -> None:
    table = ProviderConfigView()
    provider = make(make_lookup(table, {}))
    with pytest.raises(ConfigurationError):
        provider.settings  # noqa: B018
    table.apply("sample", {"provider": "sample", "settings": {"authkey": "new"}})
    assert provider.settings.authkey.get_secret_value() == "new"
    table.apply("sample", None)  # tombstone
    with pytest.raises(ConfigurationError):
        provider.settings  # noqa: B018


async def test_account_pool_binds_one_instance_per_account() -> None:
    registry = ProviderRegistry()
    registry.register(Sample)
    async with aiohttp.ClientSession() as session:
        context = ProviderContext(session, Settings(), config=make_lookup(TABLE, {}))
        pool = AccountPool(registry, context)
        shared = pool.get("sms", "sample")
        acme = pool.get("sms", "sample", "acme")
        assert pool.get("sms", "sample", "acme") is acme and acme is not shared
        assert pool.get("sms", "sample", None) is shared
        assert acme.context.account == "acme" and shared.context.account is None
        assert acme.settings.authkey.get_secret_value() == "acme-key"
        assert shared.settings.authkey.get_secret_value() == "table-key"
        assert (await acme.send(Job("j", "sms", {}))).message_id == "TBL"
        with pytest.raises(ConfigurationError, match="unknown provider 'nope'"):
            pool.get("sms", "nope", "acme")
        await pool.close()


def test_account_pool_without_a_lookup_shares_the_adapter() -> None:
    registry = ProviderRegistry()
    registry.register(Sample)
    pool = AccountPool(registry, ProviderContext(None, Settings()))  # type: ignore[arg-type]
    assert pool.get("sms", "sample", "acme") is pool.get("sms", "sample")
