"""Provider settings, looked up in one function in one order: table, environment, defaults.

For provider ``name`` (and, when the event names one, the provider-config record
``provider_id``), later sources win:

1. the adapter's settings-model defaults (applied by pydantic when a key is absent);
2. the environment: ``FUSION_PROVIDERS__<NAME>__<KEY>``, see :func:`env_var`; an empty
   value counts as unset (Helm renders unset values as ``""``);
3. the provider's own provider-config record: the one whose ``provider_id`` is the provider
   name (``fusion-stream providers set msg91 --provider msg91 ...``);
4. the event's account record (``provider_id``), when its ``provider`` is this provider
   (or unset).

Other records of the same provider are never mixed in: they are other accounts (tenants),
and one tenant's credentials must not send another tenant's messages. An account's
adapter is its own instance (:class:`AccountPool`), so token caches and the rate-limit
bucket are per account too.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from providers.base import BaseProvider
from providers.registry import ProviderPool

ENV_PREFIX = "FUSION_PROVIDERS__"


class ConfigView(Protocol):
    """The provider-config table as lookup reads it (``fusion_stream.provider_config``)."""

    def get(self, provider_id: str) -> Mapping[str, Any] | None: ...


def env_token(text: str) -> str:
    """A name as it appears in an env var: ASCII upper case, every other character ``_``.

    ``msg91`` -> ``MSG91``, ``2factor`` -> ``2FACTOR``, ``twilio-sms`` -> ``TWILIO_SMS``. A
    leading digit needs no spelling out: the variable itself starts with ``FUSION_``.
    """
    return re.sub(r"[^A-Za-z0-9]", "_", text).upper()


def env_var(provider: str, key: str) -> str:
    """``FUSION_PROVIDERS__<NAME>__<KEY>``: the env var holding ``key`` of ``provider``."""
    return f"{ENV_PREFIX}{env_token(provider)}__{env_token(key)}"


def applies(record: Mapping[str, Any] | None, name: str) -> bool:
    """Whether a provider-config record configures provider ``name`` (unset = any)."""
    return record is not None and record.get("provider") in (None, "", name)


class LookedUp(dict[str, str]):
    """Merged settings of one provider, and where each key came from (names, never values)."""

    def __init__(
        self, provider: str, values: Mapping[str, str], origins: Mapping[str, str], searched: str
    ) -> None:
        super().__init__(values)
        self.provider = provider
        self.origins = dict(origins)
        self.searched = searched

    def where(self, keys: Iterable[str], defaults: str = "settings-model defaults") -> str:
        """Every place looked for ``keys``, and the source of those that were found."""
        keys = list(dict.fromkeys(keys))
        found = [f"{k!r} from {self.origins[k]}" for k in keys if k in self.origins]
        env = ", ".join(env_var(self.provider, k) for k in keys if k not in self.origins)
        places = [p for p in (self.searched, f"env {env}" if env else "", defaults) if p]
        text = "looked in: " + "; ".join(places)
        return text + (f" ({', '.join(found)})" if found else "")


class ProviderLookup:
    """``lookup(name, provider_id=None) -> LookedUp``: the one settings lookup.

    Every call reads the table (it changes while the worker runs); the environment is read
    once per provider name (it does not), since adapters look settings up on every send.

    :param table: the provider-config table; ``None`` = environment only
    :param environ: where env vars are read (``os.environ`` by default)
    """

    def __init__(self, table: ConfigView | None, environ: Mapping[str, str] | None = None) -> None:
        self.table = table
        self.environ = os.environ if environ is None else environ
        self._env: dict[str, dict[str, tuple[str, str]]] = {}

    def env(self, name: str) -> dict[str, tuple[str, str]]:
        """``key -> (value, env var)`` of provider ``name``; empty values count as unset."""
        found = self._env.get(name)
        if found is None:
            prefix = f"{ENV_PREFIX}{env_token(name)}__"
            found = self._env[name] = {
                var[len(prefix) :].lower(): (value, var)
                for var, value in self.environ.items()
                if var.upper().startswith(prefix) and len(var) > len(prefix) and value != ""
            }
        return found

    def __call__(self, name: str, provider_id: str | None = None) -> LookedUp:
        values: dict[str, str] = {}
        origins: dict[str, str] = {}
        for key, (value, var) in self.env(name).items():
            values[key], origins[key] = value, f"env {var}"
        searched = []
        if self.table is not None:
            ids = [name] + ([provider_id] if provider_id and provider_id != name else [])
            for pid in ids:
                record = self.table.get(pid)
                state = "" if applies(record, name) else " (none)"
                searched.append(f"provider-config {pid!r}{state}")
                if record is not None and applies(record, name):
                    for key, value in (record.get("settings") or {}).items():
                        values[key], origins[key] = str(value), f"provider-config {pid!r}"
        return LookedUp(name, values, origins, "; ".join(searched))

    def bound(self, provider_id: str) -> Callable[[str], LookedUp]:
        """The lookup of one account: ``provider_id``'s settings win where its record
        configures the provider looked up (its ``provider``, or any when unset)."""
        return functools.partial(self, provider_id=provider_id)


def make_lookup(
    table_view: ConfigView | None, environ: Mapping[str, str] = os.environ
) -> ProviderLookup:
    """The ``ProviderContext.config`` of a worker: table view, then env, then defaults."""
    return ProviderLookup(table_view, environ)


class AccountPool(ProviderPool):
    """A ProviderPool that also hands out adapters bound to one provider-config record.

    ``get(channel, name)`` is the shared adapter; ``get(channel, name, provider_id)`` an
    instance whose settings are ``provider_id``'s (see the module docstring) and whose
    rate-limit bucket is its own. Instances are few: one per account record in use.
    """

    def get(self, channel: str, name: str, provider_id: str | None = None) -> BaseProvider[Any]:
        lookup = self.context.config
        if provider_id is None or not isinstance(lookup, ProviderLookup):
            return super().get(channel, name)
        key = (channel, f"{name}\x00{provider_id}")
        instance = self._instances.get(key)
        if instance is None:
            cls = self.registry.get(channel, name)  # unknown provider: ConfigurationError
            context = replace(self.context, config=lookup.bound(provider_id), account=provider_id)
            instance = self._instances[key] = cls(context)
        return instance
