"""GSM-7 / UCS-2 detection and billable segment counts, checked against known-good cases."""

from __future__ import annotations

import math
from typing import Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion_stream.sms.segments import GSM7_BASIC, GSM7_EXTENSION, SmsInfo, analyse

GSM: Final = "GSM-7"
UCS: Final = "UCS-2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", SmsInfo(GSM, 0, 1, 160), id="empty-bills-one"),
        pytest.param("a" * 160, SmsInfo(GSM, 160, 1, 160), id="gsm-160"),
        pytest.param("a" * 161, SmsInfo(GSM, 161, 2, 153), id="gsm-161"),
        pytest.param("a" * 306, SmsInfo(GSM, 306, 2, 153), id="gsm-306"),
        pytest.param("a" * 307, SmsInfo(GSM, 307, 3, 153), id="gsm-307"),
        pytest.param("a" * 459, SmsInfo(GSM, 459, 3, 153), id="gsm-459"),
        pytest.param("€", SmsInfo(GSM, 2, 1, 160), id="euro-costs-2"),
        pytest.param("€" * 80, SmsInfo(GSM, 160, 1, 160), id="extension-fills-single"),
        pytest.param("a" * 159 + "€", SmsInfo(GSM, 161, 2, 153), id="extension-tips-to-two"),
        # 152 + [€] would straddle 153: € opens segment 2 (2 + 151), the last 'a' needs a 3rd.
        pytest.param("a" * 152 + "€" + "a" * 152, SmsInfo(GSM, 306, 3, 153), id="ext-at-153"),
        pytest.param("a" * 151 + "€" + "a" * 153, SmsInfo(GSM, 306, 2, 153), id="ext-fits-153"),
        pytest.param("x" * 70, SmsInfo(GSM, 70, 1, 160), id="ascii-70-is-gsm"),
        pytest.param("ж" * 70, SmsInfo(UCS, 70, 1, 70), id="ucs2-70"),
        pytest.param("ж" * 71, SmsInfo(UCS, 71, 2, 67), id="ucs2-71"),
        pytest.param("ж" * 134, SmsInfo(UCS, 134, 2, 67), id="ucs2-134"),
        pytest.param("ж" * 135, SmsInfo(UCS, 135, 3, 67), id="ucs2-135"),
        pytest.param("😀", SmsInfo(UCS, 2, 1, 70), id="emoji-is-2-units"),
        pytest.param("😀" * 35, SmsInfo(UCS, 70, 1, 70), id="emoji-fills-single"),
        pytest.param("😀" * 36, SmsInfo(UCS, 72, 2, 67), id="emoji-36"),
        # 66 + [😀] would split the surrogate pair at 67: it opens segment 2 (2 + 65), 1 left.
        pytest.param("ж" * 66 + "😀" + "ж" * 66, SmsInfo(UCS, 134, 3, 67), id="emoji-at-67"),
        pytest.param("ж" * 65 + "😀" + "ж" * 67, SmsInfo(UCS, 134, 2, 67), id="emoji-fits-67"),
        pytest.param("Your OTP is 123456. Do not share it.", SmsInfo(GSM, 36, 1, 160), id="otp"),
        pytest.param("Don\u2019t share it", SmsInfo(UCS, 14, 1, 70), id="smart-quote-is-ucs2"),
        pytest.param("ç", SmsInfo(UCS, 1, 1, 70), id="lowercase-c-cedilla-not-gsm"),
        pytest.param("Ç", SmsInfo(GSM, 1, 1, 160), id="capital-c-cedilla-gsm"),
        pytest.param("`", SmsInfo(UCS, 1, 1, 70), id="backtick-not-gsm"),
        pytest.param("\x1b", SmsInfo(UCS, 1, 1, 70), id="bare-escape-not-text"),
        pytest.param("ΔΦΓΛΩΠΨΣΘΞ", SmsInfo(GSM, 10, 1, 160), id="gsm-greek-capitals"),
        pytest.param("\u03b1", SmsInfo(UCS, 1, 1, 70), id="greek-lowercase-ucs2"),
    ],
)
def test_known_cases(text: str, expected: SmsInfo) -> None:
    assert analyse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "आपका OTP 482913 है। इसे किसी के साथ साझा न करें।",  # Hindi
        "رمز التحقق الخاص بك هو 482913",  # Arabic
        "Your OTP is 482913 😀",  # one emoji makes the whole message UCS-2
    ],
)
def test_non_gsm_scripts_are_ucs2(text: str) -> None:
    info = analyse(text)
    assert info.encoding == UCS
    assert info.units == len(text.encode("utf-16-le")) // 2


def test_whole_basic_alphabet_is_one_septet_each() -> None:
    text = "".join(sorted(GSM7_BASIC))
    assert analyse(text) == SmsInfo(GSM, len(GSM7_BASIC), 1, 160)


def test_every_extension_char_costs_two_septets() -> None:
    assert set("\f^{}\\[~]|€") == GSM7_EXTENSION
    for char in GSM7_EXTENSION:
        assert analyse(char).units == 2, repr(char)


@settings(deadline=None)  # no wall-clock limits in tests
@given(st.text(alphabet=sorted(GSM7_BASIC), max_size=800))
def test_one_septet_text_matches_the_closed_form(text: str) -> None:
    n = len(text)
    assert analyse(text).segments == (1 if n <= 160 else math.ceil(n / 153))


@settings(deadline=None)  # no wall-clock limits in tests
@given(st.text(alphabet=st.characters(min_codepoint=0x400, max_codepoint=0x4FF), max_size=400))
def test_bmp_ucs2_text_matches_the_closed_form(text: str) -> None:
    n = len(text)
    assert analyse(text).segments == (1 if n <= 70 else math.ceil(n / 67))


@settings(deadline=None)  # no wall-clock limits in tests
@given(st.text(max_size=500))
def test_segments_hold_every_unit(text: str) -> None:
    info = analyse(text)
    assert info.per_segment * info.segments >= info.units
    assert info.segments == 1 or info.units > {GSM: 160, UCS: 70}[info.encoding]
