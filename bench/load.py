"""Producing the bench's events (Avro, as real producers do) and reading outcomes back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.env import BenchError, bootstrap

_codecs: dict[Path, Any] = {}


def codec(root: Path) -> Any:
    from fusion_stream.codec import AvroCodec

    if root not in _codecs:
        _codecs[root] = AvroCodec(root / "schemas")
    return _codecs[root]


def producer(**overrides: Any) -> Any:
    from confluent_kafka import Producer

    config = {
        "bootstrap.servers": bootstrap(),
        "linger.ms": 5,
        "batch.size": 1 << 20,
        "queue.buffering.max.messages": 1_000_000,
        "queue.buffering.max.kbytes": 1 << 20,
        "acks": "all",
        "log_level": 4,
        **overrides,
    }
    return Producer(config)


def webhook_record(
    job_id: str, url: str, produced_ns: int, provider: str | None = None
) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "task_type": "webhook",
        "created_at": produced_ns // 1_000_000,
        "url": f"{url}/hook/{job_id}?bt=BT{produced_ns}",
        "method": "POST",
        "args": {"job": job_id, "bt": f"BT{produced_ns}"},
        "isBody": 1,
        "headers": {},
        "config": {"provider": provider},
    }


def sms_record(
    job_id: str, produced_ns: int, *, otp: bool = False, provider: str | None = None
) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "task_type": "otp" if otp else "sms",
        "created_at": produced_ns // 1_000_000,
        "contact": "9999900000" if otp else "9999911111",
        "countryCode": "91",
        "message": (
            f"Your login code is 123456 BO{produced_ns}"
            if otp
            else f"Bench bulk message BT{produced_ns}"
        ),
        "isOTP": otp,
        "config": {"provider": provider},
    }


def produce(
    root: Path,
    topic: str,
    schema: str,
    n: int,
    make: Callable[[str, int], dict[str, Any]],
    *,
    id_prefix: str,
    progress: Callable[[int], None] | None = None,
) -> float:
    """Produce ``n`` records as fast as the client allows; returns the seconds it took.

    ``make(job_id, produced_ns)`` builds each record; ``produced_ns`` is the wall clock
    just before the record is handed to the client.
    """
    enc = codec(root)
    prod = producer()
    errors: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None and len(errors) < 5:
            errors.append(str(err))

    started = time.perf_counter()
    for i in range(n):
        job_id = f"{id_prefix}{i:07d}"
        value = enc.encode(schema, make(job_id, time.time_ns()))
        while True:
            try:
                prod.produce(topic, key=job_id.encode(), value=value, on_delivery=on_delivery)
                break
            except BufferError:
                prod.poll(0.05)
        if i % 1000 == 0:
            prod.poll(0)
            if progress and i and i % 100_000 == 0:
                progress(i)
    remaining = prod.flush(120)
    if remaining or errors:
        raise BenchError(f"producing to {topic} failed: {errors[:3] or f'{remaining} not flushed'}")
    return time.perf_counter() - started


class Paced:
    """Produces one record every ``1/rate`` seconds (OTPs arriving at a steady rate)."""

    def __init__(self, root: Path, topic: str, schema: str, rate: float, id_prefix: str) -> None:
        self.enc = codec(root)
        self.prod = producer(**{"linger.ms": 0})
        self.topic, self.schema, self.rate, self.id_prefix = topic, schema, rate, id_prefix
        self.sent = 0

    def run(
        self,
        make: Callable[[str, int], dict[str, Any]],
        seconds: float,
        stop: Callable[[], bool] = lambda: False,
    ) -> int:
        start = time.monotonic()
        interval = 1.0 / self.rate
        while time.monotonic() - start < seconds and not stop():
            due = start + self.sent * interval
            delay = due - time.monotonic()
            if delay > 0:
                self.prod.poll(min(delay, 0.05))
                continue
            job_id = f"{self.id_prefix}{self.sent:06d}"
            value = self.enc.encode(self.schema, make(job_id, time.time_ns()))
            self.prod.produce(self.topic, key=job_id.encode(), value=value)
            self.prod.poll(0)
            self.sent += 1
        self.prod.flush(30)
        return self.sent


class Watermarks:
    """Sum of the high watermarks of a topic: how many records it holds (a cheap progress probe)."""

    def __init__(self, topic: str) -> None:
        from confluent_kafka import Consumer, TopicPartition

        self.topic = topic
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap(),
                "group.id": "bench-watermarks",
                "log_level": 4,
                "enable.auto.commit": False,
            }
        )
        meta = self.consumer.list_topics(topic, timeout=15).topics[topic]
        self.parts = [TopicPartition(topic, p) for p in meta.partitions]

    def total(self) -> int:
        return sum(
            self.consumer.get_watermark_offsets(tp, timeout=10, cached=False)[1]
            for tp in self.parts
        )

    def close(self) -> None:
        self.consumer.close()


def read_outcomes(
    root: Path,
    topic: str,
    *,
    until: int,
    timeout: float = 120,
    count_all: bool = False,
    keep: Callable[[dict[str, Any]], bool] = lambda o: True,
) -> list[dict[str, Any]]:
    """Outcomes of ``topic`` from the start, until ``until`` kept ones (or, with
    ``count_all``, ``until`` records read) or ``timeout``."""
    from confluent_kafka import Consumer

    enc = codec(root)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap(),
            "group.id": f"bench-reader-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "log_level": 4,
        }
    )
    consumer.subscribe([topic])
    found: list[dict[str, Any]] = []
    seen = 0
    deadline = time.monotonic() + timeout
    idle_since = time.monotonic()
    try:
        while (seen if count_all else len(found)) < until and time.monotonic() < deadline:
            msgs = consumer.consume(2000, 0.5)
            if not msgs:
                if time.monotonic() - idle_since > 15 and found:
                    break
                continue
            idle_since = time.monotonic()
            for msg in msgs:
                if msg.error() is not None:
                    continue
                seen += 1
                o = enc.decode(msg.value(), "outcome")
                if keep(o):
                    found.append(
                        {
                            k: o.get(k)
                            for k in (
                                "job_id",
                                "channel",
                                "status",
                                "created_at",
                                "log_time",
                                "latency_ms",
                                "error",
                                "provider",
                            )
                        }
                    )
    finally:
        consumer.close()
    return found


def chunks(seq: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]
