"""The raw consume limit: a bare aiokafka ``getmany`` + fastavro decode loop, no framework.

``python -m bench.rawkafka --bootstrap H:P --topic T --schema S.avsc --n N`` reads T from the
beginning (no group, no commits) until N records are decoded and prints one JSON line:
records, wall seconds from the first record to the N-th, CPU seconds, peak RSS.
Values are Avro single-object records (``C3 01`` + 8-byte fingerprint + body).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import resource
import time
from pathlib import Path
from typing import Any

import fastavro
from aiokafka import AIOKafkaConsumer


async def run(
    bootstrap: str, topic: str, schema: Any, n: int, max_seconds: float
) -> dict[str, float | int]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    decoded = errors = 0
    first = last = 0.0
    cpu0 = time.process_time()
    deadline = time.monotonic() + max_seconds
    try:
        while decoded < n and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=1000)
            for records in batches.values():
                if not first and records:
                    first = time.perf_counter()
                for rec in records:
                    value = rec.value
                    if value is None or value[:2] != b"\xc3\x01":
                        errors += 1
                        continue
                    buf = io.BytesIO(value)
                    buf.seek(10)
                    fastavro.schemaless_reader(buf, schema)
                    decoded += 1
                if records:
                    last = time.perf_counter()
    finally:
        cpu = time.process_time() - cpu0
        await consumer.stop()
    return {
        "n": decoded,
        "errors": errors,
        "wall_s": (last - first) if first else 0.0,
        "cpu_s": cpu,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rawkafka")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--schema", type=Path, required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    schema = fastavro.parse_schema(json.loads(args.schema.read_text()))  # parsed once
    result = asyncio.run(run(args.bootstrap, args.topic, schema, args.n, args.timeout))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
