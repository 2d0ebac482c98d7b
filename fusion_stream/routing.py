"""SMS routing as the old worker did it: validate the number, whitelist, pick and switch provider.

``SmsRouter.adapter_for(job)``, in order:

1. ``contact`` + ``countryCode`` normalised to E.164 (``job.phone``); invalid -> RejectedError.
2. When the event names a ``provider_id`` with a provider-config record: a destination
   country code missing from its non-empty ``allowed_country_codes`` -> RejectedError with the
   old worker's message ``countryCode is not whitelisted for provider``. No record: no
   whitelist (the old worker's empty ``provider_mapping`` entry).
3. The provider: ``config.provider``, else the record's ``provider``, else the channel default.
4. Switch rules (data, :data:`SWITCH_RULES`): msg91 serves Indian numbers only, the rest go
   through sns, as the old worker did.
5. The adapter: bound to the record's settings when the record configures the chosen
   provider (``providers.config.AccountPool``), else the shared one. An unknown provider is
   the registry's ConfigurationError (dead letter + alert), never a crash.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fusion_stream.envelope import Job
from fusion_stream.errors import ConfigurationError, RejectedError
from fusion_stream.sms.phone import PhoneNumber, normalise
from providers.config import applies

#: the old worker's rejection text, kept verbatim (producers and dashboards match on it)
NOT_WHITELISTED = "countryCode is not whitelisted for provider"


@dataclass(frozen=True)
class SwitchRule:
    """Events for ``provider`` whose destination is not in ``keep`` go to ``to`` instead.

    :param keep: calling codes (``"91"``) the provider keeps
    :param channels: channels the rule applies to
    """

    provider: str
    keep: frozenset[str]
    to: str
    channels: frozenset[str] = frozenset({"sms", "sms.otp"})

    def target(self, channel: str, provider: str, phone: PhoneNumber) -> str | None:
        if provider == self.provider and channel in self.channels:
            return None if phone.country_code in self.keep else self.to
        return None


#: msg91 only for +91 (its international routes were not used); everything else via SNS
SWITCH_RULES: tuple[SwitchRule, ...] = (SwitchRule("msg91", frozenset({"91"}), "sns"),)


class ConfigView(Protocol):
    def get(self, provider_id: str) -> Mapping[str, Any] | None: ...


class Adapters(Protocol):
    """``providers.config.AccountPool``: the shared adapter, or one bound to an account."""

    def get(self, channel: str, name: str, provider_id: str | None = None) -> Any: ...


def whitelisted(record: Mapping[str, Any], phone: PhoneNumber) -> bool:
    """Whether ``phone`` may be sent with ``record``: empty list = every country.

    Entries are calling codes (``91``, ``+91``) or ISO regions (``IN``).
    """
    codes = record.get("allowed_country_codes") or []
    allowed = {str(c).strip().removeprefix("+").upper() for c in codes} - {""}
    return not allowed or phone.country_code in allowed or phone.region.upper() in allowed


class SmsRouter:
    """Picks the adapter of an SMS / OTP job (same interface as ``processor.Router``).

    :param pool: adapters by (channel, name[, provider_id])
    :param default_provider: channel -> provider when the event names none
    :param view: the provider-config table; ``None`` = no whitelists, no account settings
    :param rules: provider switch rules, first match wins
    """

    def __init__(
        self,
        pool: Adapters,
        default_provider: Mapping[str, str],
        view: ConfigView | None = None,
        rules: Sequence[SwitchRule] = SWITCH_RULES,
    ) -> None:
        self._pool = pool
        self._default = default_provider
        self._view = view
        self._rules = tuple(rules)

    def adapter_for(self, job: Job) -> Any:
        payload = job.payload
        job.phone = phone = normalise(str(payload.get("contact") or ""), payload.get("countryCode"))
        provider_id = str(payload.get("provider_id") or "") or None
        record = self._view.get(provider_id) if self._view and provider_id else None
        name = job.provider_name or (record or {}).get("provider")
        name = name or self._default.get(job.channel)
        if not name:
            raise ConfigurationError(f"no provider named and no default for {job.channel!r}")
        if record is not None and not whitelisted(record, phone):
            where = f"provider_id={provider_id!r}, countryCode={phone.country_code}"
            raise RejectedError(f"{NOT_WHITELISTED} ({where})", provider=name)
        name = self.switch(job.channel, name, phone)
        if provider_id and applies(record, name):
            return self._pool.get(job.channel, name, provider_id)
        return self._pool.get(job.channel, name)

    def switch(self, channel: str, provider: str, phone: PhoneNumber) -> str:
        """The provider after the switch rules (the first rule that matches)."""
        for rule in self._rules:
            target = rule.target(channel, provider, phone)
            if target is not None:
                return target
        return provider
