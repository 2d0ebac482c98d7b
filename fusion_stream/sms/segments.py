"""GSM-7 vs UCS-2 detection and billable SMS segment counting (3GPP TS 23.038 / 23.040)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# GSM 03.38 default alphabet, one septet each. ESC (0x1B) is left out on purpose: it only
# introduces an extension character and is never a character of the text itself.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: ESC + one septet, so two septets each; never split across segments.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_MULTI = 160, 153  # septets; 7 go to the concatenation header (UDH)
UCS2_SINGLE, UCS2_MULTI = 70, 67  # UTF-16 code units; 3 go to the UDH


@dataclass(frozen=True)
class SmsInfo:
    """How a text travels: its encoding, its size in units and the segments it is billed as.

    :param units: septets for GSM-7, UTF-16 code units for UCS-2 (an emoji is 2)
    :param per_segment: capacity of one segment here: 160/70 alone, 153/67 when concatenated
    """

    encoding: Literal["GSM-7", "UCS-2"]
    units: int
    segments: int
    per_segment: int


def _gsm7_cost(char: str) -> int | None:
    if char in GSM7_BASIC:
        return 1
    if char in GSM7_EXTENSION:
        return 2
    return None


def _count(costs: list[int], single: int, multi: int) -> tuple[int, int, int]:
    """(units, segments, per_segment); a character's units are never split across segments."""
    units = sum(costs)
    if units <= single:
        return units, 1, single
    segments, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            segments, used = segments + 1, 0
        used += cost
    return units, segments, multi


def analyse(text: str) -> SmsInfo:
    """Encoding and billable segments of ``text``.

    GSM-7 when every character is in the GSM 03.38 default alphabet or its extension table,
    otherwise UCS-2 (really UTF-16: characters outside the BMP take a surrogate pair). Empty
    text is one segment of zero units: providers that accept it bill it as one message.
    National language shift tables (TS 23.038 §6.2.1.2) are not used: providers rarely
    support them, and a text that needs one is counted as UCS-2, the conservative answer.
    """
    gsm_costs = [_gsm7_cost(char) for char in text]
    if all(cost is not None for cost in gsm_costs):
        units, segments, per = _count(
            [c for c in gsm_costs if c is not None], GSM7_SINGLE, GSM7_MULTI
        )
        return SmsInfo("GSM-7", units, segments, per)
    units, segments, per = _count(
        [2 if ord(char) > 0xFFFF else 1 for char in text], UCS2_SINGLE, UCS2_MULTI
    )
    return SmsInfo("UCS-2", units, segments, per)
