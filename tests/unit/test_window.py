"""The in-flight window acks each partition's events in offset order, never past unfinished work."""

from __future__ import annotations

import asyncio

from fusion_stream.window import InFlightWindow


async def _nothing() -> None:
    await asyncio.sleep(0)


async def test_acks_in_offset_order_when_work_finishes_out_of_order() -> None:
    acked: list[int] = []
    gates = {i: asyncio.Event() for i in range(5)}
    window = InFlightWindow(10, 10, acked.append)

    for i in range(5):
        await window.submit("p0", i, lambda i=i: gates[i].wait())
    for i in (4, 2, 3):
        gates[i].set()
    await asyncio.sleep(0.01)
    assert acked == []  # 0 and 1 still running: nothing after them may be acked
    gates[0].set()
    await asyncio.sleep(0.01)
    assert acked == [0]
    gates[1].set()
    await window.drain()
    assert acked == [0, 1, 2, 3, 4]


async def test_partitions_are_independent() -> None:
    acked: list[tuple[str, int]] = []
    slow = asyncio.Event()
    window = InFlightWindow(10, 10, acked.append)
    await window.submit("p0", ("p0", 0), slow.wait)
    for i in range(3):
        await window.submit("p1", ("p1", i), _nothing)
    await asyncio.sleep(0.01)
    assert acked == [("p1", 0), ("p1", 1), ("p1", 2)]
    slow.set()
    await window.drain()
    assert acked[-1] == ("p0", 0)


async def test_in_flight_bound_is_respected() -> None:
    running = 0
    peak = 0

    async def work() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001)
        running -= 1

    window = InFlightWindow(3, 100, lambda item: None)
    for i in range(30):
        await window.submit(i % 2, i, work)
    await window.drain()
    assert peak == 3


async def test_pending_bound_blocks_submit_behind_a_slow_head() -> None:
    acked: list[int] = []
    head = asyncio.Event()
    window = InFlightWindow(2, 4, acked.append)
    await window.submit("p", 0, head.wait)
    for i in range(1, 4):
        await window.submit("p", i, _nothing)
    blocked = asyncio.create_task(window.submit("p", 4, _nothing))
    await asyncio.sleep(0.02)
    assert not blocked.done() and window.pending == 4
    head.set()
    await blocked
    await window.drain()
    assert acked == [0, 1, 2, 3, 4]


async def test_failed_work_is_never_acked_and_holds_later_items() -> None:
    acked: list[int] = []

    async def boom() -> None:
        raise RuntimeError("bug")

    window = InFlightWindow(5, 5, acked.append)
    await window.submit("p", 0, boom)
    await window.submit("p", 1, _nothing)
    await window.drain()
    assert acked == []


async def test_cancelled_work_is_left_unacked_and_listed() -> None:
    acked: list[int] = []
    gate = asyncio.Event()
    window = InFlightWindow(5, 5, acked.append)
    await window.submit("p", 0, _nothing)
    await window.submit("p", 1, gate.wait)
    await window.submit("q", 2, gate.wait)
    await asyncio.sleep(0.01)
    await window.cancel()
    assert acked == [0]
    assert sorted(window.unacked()) == [1, 2]
