"""Recipient validation: email-validator (no DNS), blacklist, mixed lists, old regex misses."""

from __future__ import annotations

import re

import pytest

from fusion_stream.email.validate import (
    Blacklist,
    InvalidAddress,
    check_address,
    clean_list,
    clean_recipients,
    mask,
    split,
)

#: the old worker's pattern, to show what it got wrong
OLD_REGEX = re.compile(r"^\w+([\.-]?\w+)*@\w+([\.-]?\w+)*(\.\w{2,3})+$")


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("a+b@x.com", "a+b@x.com"),
        ("john.doe@clinic.health", "john.doe@clinic.health"),
        ("maria@hospital.museum", "maria@hospital.museum"),
        ("o'brien@x.co.uk", "o'brien@x.co.uk"),
        ("  Pat@Example.ORG ", "Pat@example.org"),  # domain lower-cased, spaces stripped
        ("x@bücher.de", "x@xn--bcher-kva.de"),  # IDN domain sent as punycode
    ],
)
def test_valid_addresses_are_normalised(address: str, expected: str) -> None:
    assert check_address(address.strip()) == expected


@pytest.mark.parametrize(
    "address",
    [
        "",
        "plainaddress",
        "a@b",  # no dot in the domain
        "a..b@x.com",
        "a@x..com",
        "@x.com",
        "a@",
        "a b@x.com",
        "üser@x.com",  # SES takes ASCII local parts only
        "a@localhost",
        "a@x.test",  # special-use domain
        "a@[127.0.0.1]",
    ],
)
def test_invalid_addresses_raise_with_a_reason(address: str) -> None:
    with pytest.raises(InvalidAddress) as info:
        check_address(address)
    assert str(info.value)


@pytest.mark.parametrize("address", ["a+b@x.com", "maria@hospital.museum", "x@clinic.health"])
def test_old_regex_false_rejections_are_now_accepted(address: str) -> None:
    assert OLD_REGEX.match(address) is None  # the old worker dropped these
    assert check_address(address) == address


def test_default_blacklist_holds_the_old_worker_addresses() -> None:
    blocked = Blacklist()
    assert "lifecare1@gmail.com" in blocked
    assert "NA@na.com" in blocked  # case-insensitive
    assert "anyone@example.com" in blocked  # domain entry
    assert "someone@gmail.com" not in blocked


def test_configured_blacklist_replaces_the_default() -> None:
    blocked = Blacklist(["ops@clinic.com", "@spam.io", " ", ""])
    assert "ops@clinic.com" in blocked and "x@spam.io" in blocked
    assert "na@na.com" not in blocked
    assert "x@sub.spam.io" not in blocked  # a domain entry is that domain only


def test_all_valid() -> None:
    result = clean_recipients(["a@x.com", "b@y.org"], ["c@z.net"], ["d@w.io"])
    assert result.to == ("a@x.com", "b@y.org")
    assert result.cc == ("c@z.net",) and result.bcc == ("d@w.io",)
    assert result.dropped == () and len(result.all) == 4


def test_all_invalid_leaves_nobody() -> None:
    result = clean_recipients(["nope", "a@b"], ["@x.com"])
    assert result.all == ()
    assert [(d.field, d.index) for d in result.dropped] == [("to", 0), ("to", 1), ("cc", 0)]
    assert all(d.reason.startswith("invalid: ") for d in result.dropped)


def test_all_blacklisted_leaves_nobody() -> None:
    result = clean_recipients(["na@na.com"], bcc=["lifecare1@gmail.com"])
    assert result.all == ()
    assert {d.reason for d in result.dropped} == {"blacklisted"}
    assert [d.field for d in result.dropped] == ["to", "bcc"]


def test_mixed_list_keeps_the_good_ones_and_reports_the_rest_masked() -> None:
    result = clean_recipients(
        ["good@clinic.com", "bad@", "na@na.com", "a+b@x.com"],
        ["GOOD@clinic.com", "c@x.com"],  # a repeat is kept once, where it first appears
        ["b@x.com"],
        blacklist=Blacklist(["na@na.com"]),
    )
    assert result.to == ("good@clinic.com", "a+b@x.com")
    assert result.cc == ("c@x.com",) and result.bcc == ("b@x.com",)
    report = result.report()
    assert report == [
        {"field": "to", "index": 1, "address": "b***@", "reason": report[0]["reason"]},
        {"field": "to", "index": 2, "address": "n***@na.com", "reason": "blacklisted"},
    ]
    assert report[0]["reason"].startswith("invalid: ")
    assert "bad@" not in str(report)  # personal data stays masked


def test_strings_and_joined_lists_are_split() -> None:
    assert split("a@x.com, b@y.com;c@z.com  d@w.com") == [
        "a@x.com",
        "b@y.com",
        "c@z.com",
        "d@w.com",
    ]
    assert split(["a@x.com,b@y.com", None, ""]) == ["a@x.com", "b@y.com"]
    assert split(None) == []
    assert clean_recipients("a@x.com,b@y.com").to == ("a@x.com", "b@y.com")


def test_reply_to_list_drops_invalid_without_blacklist() -> None:
    kept, dropped = clean_list("reply_to", "na@na.com, broken")
    assert kept == ["na@na.com"]
    assert [(d.field, d.index) for d in dropped] == [("reply_to", 1)]


@pytest.mark.parametrize(
    ("address", "masked"),
    [("john@x.com", "j***@x.com"), ("nobody", "n***"), ("", "")],
)
def test_mask(address: str, masked: str) -> None:
    assert mask(address) == masked
