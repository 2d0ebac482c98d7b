"""Urgent lanes first: OTP records are handed over before bulk ones, and bulk batches shrink
while OTPs keep coming."""

from __future__ import annotations

from typing import Any

import pytest
from faust.types import TP

from fusion_stream import fetchpriority

OTP, SMS = TP("fusion.sms.otp", 0), TP("fusion.sms", 0)


class Buffered:
    """aiokafka's buffered fetch results, as Faust's _fetch_records hands them over."""

    def __init__(self, records: dict[TP, list[int]]) -> None:
        self.records = records
        self.calls: list[tuple[set[TP], float | None, int | None]] = []

    async def __call__(
        self,
        thread: Any,
        consumer: Any,
        partitions: Any,
        timeout: Any = None,  # noqa: ASYNC109 (Faust's signature)
        max_records: Any = None,
    ) -> dict[TP, list[int]]:
        wanted = set(partitions) if partitions is not None else set(consumer.assignment())
        self.calls.append((wanted, timeout, max_records))
        out: dict[TP, list[int]] = {}
        left = max_records or 10**9
        for tp in list(self.records):
            if tp in wanted and left:
                out[tp], self.records[tp] = self.records[tp][:left], self.records[tp][left:]
                left -= len(out[tp])
        return {tp: r for tp, r in out.items() if r}


class Consumer:
    def assignment(self) -> set[TP]:
        return {OTP, SMS}


@pytest.fixture(autouse=True)
def urgent_otp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetchpriority, "_urgent", {OTP.topic})
    monkeypatch.setattr(fetchpriority, "_last_urgent", float("-inf"))


async def test_buffered_otp_records_come_first_even_behind_bulk_ones() -> None:
    buffered = Buffered({SMS: list(range(500)), OTP: [7]})
    fetch = fetchpriority.prioritised(buffered)
    assert await fetch(None, Consumer(), {SMS, OTP}, timeout=1.0, max_records=500) == {OTP: [7]}
    assert buffered.calls == [({OTP}, 0, 500)]  # the urgent look never waits


async def test_without_urgent_records_the_usual_batch_is_returned() -> None:
    buffered = Buffered({SMS: list(range(800))})
    fetch = fetchpriority.prioritised(buffered)
    records = await fetch(None, Consumer(), None, timeout=1.0, max_records=500)
    assert len(records[SMS]) == 500
    assert buffered.calls[-1] == ({OTP, SMS}, 1.0, 500)  # None: every assigned partition


async def test_bulk_batches_stay_small_while_urgent_records_keep_coming() -> None:
    buffered = Buffered({SMS: list(range(800)), OTP: [1]})
    fetch = fetchpriority.prioritised(buffered)
    assert await fetch(None, Consumer(), {SMS, OTP}, timeout=1.0, max_records=500) == {OTP: [1]}
    records = await fetch(None, Consumer(), {SMS, OTP}, timeout=1.0, max_records=500)
    assert len(records[SMS]) == fetchpriority.BULK_BATCH


async def test_a_bulk_only_worker_is_untouched() -> None:
    buffered = Buffered({SMS: list(range(800))})
    fetch = fetchpriority.prioritised(buffered)
    records = await fetch(None, Consumer(), {SMS}, timeout=1.0, max_records=500)
    assert len(records[SMS]) == 500 and buffered.calls == [({SMS}, 1.0, 500)]


async def test_paused_urgent_partitions_are_not_fetched() -> None:
    buffered = Buffered({SMS: [1, 2], OTP: [3]})
    fetch = fetchpriority.prioritised(buffered)
    # Faust left the OTP partition out of the active ones (its buffer is full): honour that
    assert await fetch(None, Consumer(), {SMS}, timeout=1.0, max_records=500) == {SMS: [1, 2]}
