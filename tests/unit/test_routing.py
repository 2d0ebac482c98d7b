"""SmsRouter: the old worker's routing rules, as a table of cases over a fake pool."""

from __future__ import annotations

from typing import Any

import pytest

from fusion_stream.envelope import Job
from fusion_stream.errors import ConfigurationError, RejectedError
from fusion_stream.provider_config import ProviderConfigView
from fusion_stream.routing import NOT_WHITELISTED, SmsRouter, SwitchRule

KNOWN = {"sms": {"console", "msg91", "sns", "twilio_sms"}, "sms.otp": {"msg91", "sns"}}
DEFAULTS = {"sms": "console", "sms.otp": "msg91"}

CONFIG = ProviderConfigView(
    {
        "acme-msg91": {
            "provider": "msg91",
            "allowed_country_codes": ["91", "+966"],
            "settings": {"authkey": "k"},
        },
        "gulf": {"provider": "twilio_sms", "allowed_country_codes": ["SA", "AE"]},
        "anywhere": {"provider": "msg91", "allowed_country_codes": []},
        "whitelist-only": {"provider": None, "allowed_country_codes": ["44"]},
    }
)


class FakePool:
    """Adapters by (channel, name[, provider_id]); unknown names fail like the registry."""

    def get(self, channel: str, name: str, provider_id: str | None = None) -> tuple[str, ...]:
        if name not in KNOWN.get(channel, set()):
            raise ConfigurationError(f"unknown provider {name!r} for channel {channel!r}")
        return (channel, name) if provider_id is None else (channel, name, provider_id)


def job(contact: str, country: str | None = "91", channel: str = "sms", **payload: Any) -> Job:
    provider = payload.pop("provider", None)
    body = {"contact": contact, "countryCode": country, "config": {"provider": provider}}
    return Job(job_id="j1", channel=channel, payload={**body, **payload})


def router(**kw: Any) -> SmsRouter:
    return SmsRouter(FakePool(), DEFAULTS, CONFIG, **kw)


IN, UK, SA, US = (
    ("9876543210", "91"),
    ("7911123456", "44"),
    ("501234567", "966"),
    ("2015550123", "1"),
)


@pytest.mark.parametrize(
    ("number", "kw", "expected"),
    [
        # config.provider picks the adapter; the channel default when none is named
        (IN, {"provider": "msg91"}, ("sms", "msg91")),
        (IN, {}, ("sms", "console")),
        (US, {"provider": "twilio_sms"}, ("sms", "twilio_sms")),
        # msg91 keeps Indian numbers only; the rest goes through sns (the old worker's rule)
        (UK, {"provider": "msg91"}, ("sms", "sns")),
        (US, {"provider": "msg91"}, ("sms", "sns")),
        (IN, {"provider": "msg91", "channel": "sms.otp"}, ("sms.otp", "msg91")),
        (UK, {"channel": "sms.otp"}, ("sms.otp", "sns")),  # default msg91, switched
        # a whitelisted number of an account: its own settings (bound adapter)
        (IN, {"provider": "msg91", "provider_id": "acme-msg91"}, ("sms", "msg91", "acme-msg91")),
        (IN, {"provider_id": "acme-msg91"}, ("sms", "msg91", "acme-msg91")),  # record's provider
        (SA, {"provider_id": "gulf"}, ("sms", "twilio_sms", "gulf")),  # region entries
        # the account's record is msg91's: after the switch to sns it does not apply
        (SA, {"provider_id": "acme-msg91"}, ("sms", "sns")),
        (UK, {"provider_id": "anywhere"}, ("sms", "sns")),  # empty whitelist: every country
        (UK, {"provider_id": "whitelist-only"}, ("sms", "console", "whitelist-only")),
        (IN, {"provider_id": "no-such-record"}, ("sms", "console")),  # no record: no whitelist
    ],
)
def test_routes(number: tuple[str, str], kw: dict[str, Any], expected: tuple[str, ...]) -> None:
    contact, country = number
    the_job = job(contact, country, **kw)
    assert router().adapter_for(the_job) == expected
    assert the_job.phone is not None and the_job.phone.country_code == country


@pytest.mark.parametrize(
    ("number", "provider_id"),
    [(UK, "acme-msg91"), (US, "acme-msg91"), (IN, "gulf"), (IN, "whitelist-only")],
)
def test_country_not_whitelisted_is_rejected_with_the_old_message(
    number: tuple[str, str], provider_id: str
) -> None:
    with pytest.raises(RejectedError) as info:
        router().adapter_for(job(*number, provider_id=provider_id))
    text = str(info.value)
    assert NOT_WHITELISTED == "countryCode is not whitelisted for provider"
    assert NOT_WHITELISTED in text
    assert f"provider_id={provider_id!r}" in text and f"countryCode={number[1]}" in text


def test_the_number_in_contact_decides_the_country_not_the_field() -> None:
    # "+44..." with countryCode 91: the sender typed the whole number; whitelist sees 44
    with pytest.raises(RejectedError, match=NOT_WHITELISTED):
        router().adapter_for(job("+447911123456", "91", provider_id="acme-msg91"))


def test_unknown_provider_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="unknown provider 'nope'"):
        router().adapter_for(job(*IN, provider="nope"))


def test_no_provider_and_no_default_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="no default"):
        SmsRouter(FakePool(), {}, CONFIG).adapter_for(job(*IN))


@pytest.mark.parametrize(
    ("contact", "country"),
    [
        ("12345", "91"),  # too short
        ("98765abcde", "91"),  # letters
        ("", "91"),  # empty
        ("9876543210", None),  # no country at all
        ("9876543210", "999"),  # not a calling code
    ],
)
def test_invalid_number_is_rejected_and_masked(contact: str, country: str | None) -> None:
    the_job = job(contact, country, provider="msg91")
    with pytest.raises(RejectedError, match="invalid phone number") as info:
        router().adapter_for(the_job)
    assert not contact or contact not in str(info.value)  # numbers are personal data
    assert the_job.phone is None


def test_rules_are_data() -> None:
    rules = (SwitchRule("twilio_sms", frozenset({"1"}), "msg91", frozenset({"sms"})),)
    assert router(rules=rules).adapter_for(job(*IN, provider="twilio_sms")) == ("sms", "msg91")
    assert router(rules=rules).adapter_for(job(*US, provider="twilio_sms")) == ("sms", "twilio_sms")
    assert router(rules=()).adapter_for(job(*UK, provider="msg91")) == ("sms", "msg91")


def test_without_a_view_there_are_no_whitelists() -> None:
    plain = SmsRouter(FakePool(), DEFAULTS)
    assert plain.adapter_for(job(*UK, provider="sns", provider_id="acme-msg91")) == ("sms", "sns")
