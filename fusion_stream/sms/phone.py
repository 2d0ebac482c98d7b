"""Normalise and validate SMS destinations (``contact`` + ``countryCode``) with phonenumbers."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import phonenumbers

from fusion_stream.errors import RejectedError

# Separators people and old producers put in numbers; anything else (letters, '#', '*', 'ext')
# is refused rather than guessed at: phonenumbers would read "1-800-FLOWERS" as digits.
_SEPARATORS = frozenset("-./()\u2010\u2011\u2012\u2013\u2014\u2212")
_NON_GEOGRAPHIC = "001"  # phonenumbers' region for +800, +870, ...: not an SMS destination
_Reason = phonenumbers.ValidationResult
_POSSIBLE = (_Reason.IS_POSSIBLE, _Reason.IS_POSSIBLE_LOCAL_ONLY)
_LENGTH_REASONS = {_Reason.TOO_SHORT: "too short", _Reason.TOO_LONG: "too long"}


@dataclass(frozen=True, repr=False)
class PhoneNumber:
    """A valid number in the formats providers ask for.

    :param e164: ``+919876543210``
    :param country_code: calling code without ``+``: ``91``
    :param national: national significant number, no trunk prefix: ``9876543210``
    :param region: ISO 3166 region the number belongs to (``IN``), for country whitelists
    """

    e164: str
    country_code: str
    national: str
    region: str

    @property
    def intl_digits(self) -> str:
        """International digits without ``+``: ``919876543210``."""
        return self.e164[1:]

    def __repr__(self) -> str:
        # A phone number is personal data: keep it out of logs, tracebacks and reprs.
        return f"PhoneNumber({mask(self.e164)}, region={self.region})"

    __str__ = __repr__


def mask(contact: str) -> str:
    """All digits but the last 4 as ``*`` (``******3210``); other characters are dropped.

    Four digits or fewer are masked whole, and a contact without digits becomes ``***``.
    """
    digits = [char for char in str(contact) if char.isdecimal()]
    if not digits:
        return "***"
    shown = 4 if len(digits) > 4 else 0
    return "*" * (len(digits) - shown) + "".join(digits[len(digits) - shown :])


def _reject(contact: str, why: str) -> RejectedError:
    return RejectedError(f"invalid phone number {mask(contact)}: {why}")


def _calling_code(contact: str, country_code: str | int | None) -> int | None:
    if country_code is None:
        return None
    if isinstance(country_code, str) and not country_code.strip():
        return None  # blank: the old producers send "" when the contact carries its own +
    text = "" if isinstance(country_code, bool) else str(country_code).strip().removeprefix("+")
    if not text.isdecimal() or len(text) > 3:
        raise _reject(contact, f"countryCode {country_code!r} is not a calling code")
    code = int(text)
    if phonenumbers.region_code_for_country_code(code) in ("ZZ", _NON_GEOGRAPHIC):
        raise _reject(contact, f"countryCode {code} is not a country calling code")
    return code


def _clean(contact: str) -> str:
    # Drop invisible format characters (LRM, RTL embeddings) that copy-paste from
    # right-to-left UIs leaves around numbers; keep digits of any script (phonenumbers maps
    # Arabic-Indic digits), a leading '+', spaces and the usual separators.
    text = "".join(c for c in contact if unicodedata.category(c) != "Cf").strip()
    body = text[1:] if text.startswith(("+", "\uff0b")) else text
    if any(not (c.isdecimal() or c.isspace() or c in _SEPARATORS) for c in body):
        raise _reject(contact, "contains characters that are not digits or separators")
    if not any(c.isdecimal() for c in body):
        raise _reject(contact, "empty" if not body.strip() else "no digits")
    return text


def normalise(contact: str, country_code: str | int | None) -> PhoneNumber:
    """Parse ``contact`` as the old worker's payloads carry it and return a valid number.

    ``contact`` may be national digits (with or without the trunk ``0``), or carry its own
    international prefix (``+44...``, or the country's exit code such as ``00``/``011``), or
    repeat ``countryCode`` without ``+`` (``919876543210`` with ``91``); spaces and dashes are
    ignored. An explicit international prefix in ``contact`` wins over ``countryCode``: the
    sender typed the whole number. ``countryCode`` may be ``"91"``, ``91`` or ``"+91"``; it is
    needed only when ``contact`` has no international prefix (blank counts as absent), but a
    malformed one is refused even then.

    :raises RejectedError: unparseable, impossible or invalid numbers; the message masks
        all but the last 4 digits.
    """
    if not isinstance(contact, str):
        raise _reject(str(contact), f"contact must be a string, got {type(contact).__name__}")
    text = _clean(contact)
    code = _calling_code(contact, country_code)
    international = text.startswith(("+", "\uff0b"))
    if not international and text.startswith("00"):
        # 00 is the exit code almost everywhere, and no national number starts with it.
        text, international = "+" + text[2:], True
    if code is None and not international:
        raise _reject(contact, "no countryCode and no international prefix")
    region = None if international else phonenumbers.region_code_for_country_code(code or 0)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise _reject(contact, f"not a phone number ({exc})") from None
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible not in _POSSIBLE:
        why = _LENGTH_REASONS.get(possible, "wrong length")
        raise _reject(contact, f"{why} for +{number.country_code}")
    if not phonenumbers.is_valid_number(number):
        raise _reject(contact, f"not a valid number for +{number.country_code}")
    number_region = phonenumbers.region_code_for_number(number)
    if number_region in (None, "ZZ", _NON_GEOGRAPHIC):
        raise _reject(contact, f"+{number.country_code} is not a country calling code")
    return PhoneNumber(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        country_code=str(number.country_code),
        national=phonenumbers.national_significant_number(number),
        region=number_region,
    )
