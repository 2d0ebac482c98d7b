"""The raw HTTP limit: a bare aiohttp loop sending N requests to the stub, C at a time, no Kafka.

``python -m bench.rawloop --url http://127.0.0.1:P/hook --n N --concurrency C`` prints one
JSON line: requests sent, failures, wall seconds, CPU seconds and peak RSS of this process.
Every request carries ``BT<t0>`` (the moment all N became available), as a burst of N events
produced at once would, so the stub's latencies are comparable with the worker's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time

import aiohttp


async def run(url: str, n: int, concurrency: int) -> dict[str, float | int]:
    connector = aiohttp.TCPConnector(limit=concurrency)
    failures = 0
    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        t0_ns = time.time_ns()
        started = time.perf_counter()
        cpu0 = time.process_time()

        async def one(i: int) -> None:
            nonlocal failures
            try:
                async with session.post(
                    f"{url}/raw-{i}?bt=BT{t0_ns}",
                    json={"i": i},
                    timeout=aiohttp.ClientTimeout(total=15),
                ) as resp:
                    await resp.read()
                    if resp.status >= 400:
                        failures += 1
            except (aiohttp.ClientError, TimeoutError):
                failures += 1
            finally:
                sem.release()

        tasks = set()
        for i in range(n):
            await sem.acquire()  # at most C requests exist at once, like the worker's window
            task = asyncio.create_task(one(i))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        while tasks:
            await asyncio.gather(*list(tasks))
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu0
    return {
        "n": n,
        "t0_ns": t0_ns,
        "failures": failures,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rawloop")
    parser.add_argument("--url", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.url.rstrip("/"), args.n, args.concurrency))), flush=True)


if __name__ == "__main__":
    main()
