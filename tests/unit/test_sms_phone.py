"""Phone normalisation: the contact/countryCode shapes old payloads carry, and what is refused."""

from __future__ import annotations

import pytest

from fusion_stream.errors import PermanentError, RejectedError
from fusion_stream.sms.phone import PhoneNumber, mask, normalise

IN = PhoneNumber("+919876543210", "91", "9876543210", "IN")
SA = PhoneNumber("+966501234567", "966", "501234567", "SA")
GB = PhoneNumber("+447400123456", "44", "7400123456", "GB")
US = PhoneNumber("+12015550123", "1", "2015550123", "US")
NG = PhoneNumber("+2348031234567", "234", "8031234567", "NG")


@pytest.mark.parametrize(
    ("contact", "country_code", "expected"),
    [
        # India: national digits, spacing, trunk 0, and every prefix the old producers send
        ("9876543210", "91", IN),
        ("9876543210", 91, IN),
        ("9876543210", "+91", IN),
        (" 98765-43210 ", " 91 ", IN),
        ("09876543210", "91", IN),
        ("919876543210", "91", IN),
        ("+919876543210", "91", IN),
        ("+91 98765 43210", None, IN),
        ("00919876543210", "91", IN),
        ("0091 98765-43210", None, IN),
        ("+919876543210", "", IN),  # blank countryCode: the contact carries its own
        # Saudi Arabia: trunk 0, Arabic-Indic digits, bidi marks from RTL copy-paste
        ("0501234567", "966", SA),
        ("501234567", 966, SA),
        ("+966 50 123 4567", None, SA),
        ("٠٥٠١٢٣٤٥٦٧", "966", SA),
        ("\u202a+966501234567\u202c", None, SA),
        # United Kingdom
        ("07400 123456", "44", GB),
        ("+44 7400 123456", None, GB),
        # United States: punctuation, and its own exit code 011
        ("(201) 555-0123", "1", US),
        ("+1 201-555-0123", 1, US),
        ("011 44 7400 123456", "1", GB),
        # Nigeria
        ("08031234567", "234", NG),
        ("2348031234567", "234", NG),
        # an explicit international prefix wins over a different countryCode
        ("+447400123456", "91", GB),
        ("0044 7400 123456", "91", GB),
        ("+919876543210", "966", IN),
    ],
)
def test_normalises(contact: str, country_code: str | int | None, expected: PhoneNumber) -> None:
    assert normalise(contact, country_code) == expected


def test_indian_number_that_starts_with_91_keeps_its_digits() -> None:
    # 91 98765 432 looks like a country prefix, but the 10 digits are a valid Indian mobile.
    assert normalise("9198765432", "91").e164 == "+919198765432"


def test_canadian_number_under_country_code_1() -> None:
    number = normalise("613-555-0123", "1")
    assert (number.e164, number.region) == ("+16135550123", "CA")


def test_provider_formats() -> None:
    number = normalise("+91 98765 43210", None)
    assert number.e164 == "+919876543210"
    assert number.intl_digits == "919876543210"
    assert number.national == "9876543210"
    assert number.country_code == "91"


def test_repr_and_str_mask_the_number() -> None:
    number = normalise("9876543210", "91")
    for text in (repr(number), str(number), f"{number}", repr([number])):
        assert "9876543210" not in text
        assert "3210" in text


@pytest.mark.parametrize(
    ("contact", "country_code", "why"),
    [
        ("", "91", "empty"),
        ("   ", "91", "empty"),
        ("+", None, "empty"),
        ("-- ()", "91", "no digits"),
        ("abc", "91", "not digits"),
        ("98765abc10", "91", "not digits"),
        ("1-800-FLOWERS", "1", "not digits"),
        ("9876543210 ext 12", "91", "not digits"),
        ("*123#", "91", "not digits"),
        ("98+76543210", "91", "not digits"),
        ("98765", "91", "too short"),
        ("98765432101234", "91", "too long"),
        ("1111111111", "91", "not a valid number for +91"),
        ("(123) 456-7890", "1", "not a valid number for +1"),
        ("0123456789", "44", "not a valid number for +44"),
        ("98765 43210", "44", "not a valid number for +44"),
        ("447400123456", "91", "not a valid number for +91"),  # no + : read as Indian
        ("9876543210", None, "no countryCode"),
        ("9876543210", "999", "not a country calling code"),
        ("9876543210", "9100", "not a calling code"),
        ("9876543210", "abc", "not a calling code"),
        ("9876543210", True, "not a calling code"),
        ("+919876543210", "abc", "not a calling code"),
        ("+800 1234 5678", None, "not a country calling code"),
    ],
)
def test_rejects(contact: str, country_code: str | int | None, why: str) -> None:
    with pytest.raises(RejectedError) as caught:
        normalise(contact, country_code)
    message = str(caught.value)
    assert why in message
    assert mask(contact) in message
    digits = "".join(c for c in contact if c.isdecimal())
    if len(digits) > 4:
        assert digits not in message.replace(" ", "")


def test_rejection_is_a_permanent_rejected_outcome() -> None:
    with pytest.raises(PermanentError) as caught:
        normalise("12", "91")
    assert caught.value.reason == "rejected"
    assert caught.value.one_line() == "RejectedError: invalid phone number **: too short for +91"


def test_non_string_contact_is_rejected_masked() -> None:
    with pytest.raises(RejectedError, match=r"\*\*\*\*\*\*3210: contact must be a string"):
        normalise(9876543210, "91")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("contact", "masked"),
    [
        ("9876543210", "******3210"),
        ("+91 98765-43210", "********3210"),
        ("12345", "*2345"),
        ("1234", "****"),
        ("12", "**"),
        ("", "***"),
        ("call me", "***"),
    ],
)
def test_mask(contact: str, masked: str) -> None:
    assert mask(contact) == masked
