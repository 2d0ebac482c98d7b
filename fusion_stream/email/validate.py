"""Recipient cleaning: email-validator syntax checks (never DNS) and a configurable blacklist."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from email_validator import EmailNotValidError, validate_email

#: the old worker's blocked addresses, plus the reserved example domains (RFC 2606).
#: An entry is an address (``na@na.com``) or a whole domain (``@example.com``).
DEFAULT_BLACKLIST: tuple[str, ...] = (
    "lifecare1@gmail.com",
    "na@na.com",
    "test@test.com",
    "@example.com",
    "@example.net",
    "@example.org",
)

_SEPARATORS = re.compile(r"[,;\s]+")


class InvalidAddress(ValueError):
    """An address that cannot be sent to; the message says why (never DNS-based)."""


def check_address(address: str) -> str:
    """The address SES should get: syntax-checked, domain lower-cased and IDNA-encoded.

    SES takes ASCII addresses only, so a non-ASCII local part is invalid while a non-ASCII
    domain is sent as punycode. ``a+b@x.com`` and long TLDs are valid (the old regex refused
    them).
    """
    try:
        info = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    return info.ascii_email or info.normalized


class Blacklist:
    """Blocked addresses (``x@y.com``, case-insensitive) and domains (``@y.com``)."""

    def __init__(self, entries: Iterable[str] = DEFAULT_BLACKLIST) -> None:
        cleaned = [e.strip().lower() for e in entries if e and e.strip()]
        self.domains = frozenset(e[1:] for e in cleaned if e.startswith("@"))
        self.addresses = frozenset(e for e in cleaned if not e.startswith("@"))

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, str):
            return False
        lowered = address.lower()
        return lowered in self.addresses or lowered.rpartition("@")[2] in self.domains


@dataclass(frozen=True, slots=True)
class Dropped:
    """A recipient left out: where it was, a masked form of it, and why."""

    field: str
    index: int
    address: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "index": self.index,
            "address": self.address,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Recipients:
    """The sendable recipients of one email and those dropped from it."""

    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    dropped: tuple[Dropped, ...] = field(default_factory=tuple)

    @property
    def all(self) -> tuple[str, ...]:
        return self.to + self.cc + self.bcc

    def report(self) -> list[dict[str, Any]]:
        return [d.as_dict() for d in self.dropped]


def split(value: Any) -> list[str]:
    """A recipient field as a list: a list as it is, or a string split on ``,`` ``;`` or spaces.

    Items of a list are split too, as old producers sometimes joined several addresses.
    """
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    out: list[str] = []
    for item in items:
        if item is None:
            continue
        out.extend(part for part in _SEPARATORS.split(str(item)) if part)
    return out


def clean_recipients(
    to: Any, cc: Any = None, bcc: Any = None, *, blacklist: Blacklist | None = None
) -> Recipients:
    """Validate and de-duplicate to/cc/bcc; invalid and blacklisted addresses are dropped.

    A repeated address is kept once, where it first appears (to, then cc, then bcc).
    """
    kept, dropped = _clean(
        {"to": to, "cc": cc, "bcc": bcc}, blacklist if blacklist is not None else Blacklist()
    )
    return Recipients(
        to=tuple(kept["to"]), cc=tuple(kept["cc"]), bcc=tuple(kept["bcc"]), dropped=tuple(dropped)
    )


def clean_list(name: str, value: Any) -> tuple[list[str], list[Dropped]]:
    """Valid addresses of one list (Reply-To), and those dropped; no blacklist applies."""
    kept, dropped = _clean({name: value}, Blacklist(()))
    return kept[name], dropped


def _clean(
    fields: dict[str, Any], blacklist: Blacklist
) -> tuple[dict[str, list[str]], list[Dropped]]:
    seen: set[str] = set()
    kept: dict[str, list[str]] = {name: [] for name in fields}
    dropped: list[Dropped] = []
    for name, value in fields.items():
        for index, raw in enumerate(split(value)):
            try:
                address = check_address(raw)
            except InvalidAddress as exc:
                dropped.append(Dropped(name, index, mask(raw), f"invalid: {exc}"))
                continue
            if address in blacklist:
                dropped.append(Dropped(name, index, mask(address), "blacklisted"))
            elif address.lower() not in seen:
                seen.add(address.lower())
                kept[name].append(address)
    return kept, dropped


def mask(address: str) -> str:
    """Recipients are personal data: keep the first character and the domain (``j***@x.com``)."""
    text = address.strip()
    local, at, domain = text.rpartition("@")
    if not at:
        return text[:1] + "***" if text else ""
    return f"{local[:1]}***@{domain[:80]}"
