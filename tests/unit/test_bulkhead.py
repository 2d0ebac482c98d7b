"""The bulkhead caps calls in flight globally and per destination."""

from __future__ import annotations

import asyncio
from collections import Counter

from fusion_stream.bulkhead import Bulkhead


async def test_one_hanging_destination_leaves_room_for_others() -> None:
    bulkhead = Bulkhead(total=10, per_destination=3)
    hang = asyncio.Event()
    running: Counter[str] = Counter()
    done: list[str] = []

    async def call(dest: str, wait: bool) -> None:
        async with bulkhead.slot(dest):
            running[dest] += 1
            if wait:
                await hang.wait()
            done.append(dest)

    slow = [asyncio.create_task(call("slow", True)) for _ in range(8)]
    await asyncio.sleep(0)
    fast = [asyncio.create_task(call("fast", False)) for _ in range(20)]
    await asyncio.gather(*fast)
    assert running["slow"] == 3  # only its share is in flight, the rest wait
    assert done.count("fast") == 20
    hang.set()
    await asyncio.gather(*slow)
    assert done.count("slow") == 8
    assert bulkhead._destinations == {}


async def test_total_cap() -> None:
    bulkhead = Bulkhead(total=4, per_destination=4)
    peak = current = 0

    async def call(i: int) -> None:
        nonlocal peak, current
        async with bulkhead.slot(f"d{i % 8}"):
            current += 1
            peak = max(peak, current)
            await asyncio.sleep(0.001)
            current -= 1

    await asyncio.gather(*(call(i) for i in range(40)))
    assert peak == 4
