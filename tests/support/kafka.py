"""Produce channel events and read outcomes / dead letters on the real broker."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

from fusion_stream.codec import AvroCodec
from fusion_stream.settings import ROOT
from tests.conftest import TopicSet, bootstrap

CODEC = AvroCodec(ROOT / "schemas")


def producer() -> Producer:
    return Producer({"bootstrap.servers": bootstrap(), "linger.ms": 20})


def webhook(job_id: str, url: str, **fields: Any) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "task_type": "webhook",
        "url": url,
        "method": "POST",
        "args": {"job": job_id},
        "isBody": 1,
        **fields,
    }


def produce(topic_set: TopicSet, channel: str, records: Iterable[dict[str, Any]]) -> list[str]:
    spec = topic_set.config().channel(channel)
    p = producer()
    ids = []
    for record in records:
        p.produce(
            spec.topic, key=record["job_id"].encode(), value=CODEC.encode(spec.value_schema, record)
        )
        p.poll(0)
        ids.append(record["job_id"])
    assert p.flush(60) == 0
    return ids


def produce_raw(
    topic: str,
    items: Iterable[tuple[bytes | None, bytes | None]],
    headers: dict[str, bytes] | None = None,
) -> None:
    p = producer()
    for key, value in items:
        p.produce(topic, key=key, value=value, headers=headers)
        p.poll(0)
    assert p.flush(60) == 0


def read_topic(topic: str, *, until: int, timeout: float, idle: float | None = None) -> list[Any]:
    """Messages of ``topic`` from the start, until ``until`` of them or the timeout. With
    ``idle`` it stops sooner: once it has read to the end offsets seen when it was called and
    no new message came for ``idle`` seconds (``idle=0``: everything there was, at once)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap(),
            "group.id": f"reader-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    found: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        parts, ends = _end_offsets(consumer, topic, deadline)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        seen = dict.fromkeys(parts, -1)
        last = time.monotonic()
        while len(found) < until and time.monotonic() < deadline:
            batch = [m for m in consumer.consume(1000, 0.5) if m.error() is None]
            for m in batch:
                seen[m.partition()] = m.offset()
            found.extend(batch)
            if batch:
                last = time.monotonic()
            caught_up = all(seen[p] + 1 >= ends[p] for p in parts)
            if caught_up and idle is not None and time.monotonic() - last >= idle:
                break
    finally:
        consumer.close()
    return found


def _end_offsets(
    consumer: Consumer, topic: str, deadline: float
) -> tuple[list[int], dict[int, int]]:
    """Partitions and end offsets, retried while the broker is still electing leaders (right
    after a restart it answers NOT_LEADER for a moment)."""
    while True:
        try:
            parts = list(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
            ends = {
                p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in parts
            }
            return parts, ends
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def read_outcomes(
    topic_set: TopicSet, *, until: int, timeout: float = 180, idle: float | None = None
) -> list[dict[str, Any]]:
    msgs = read_topic(topic_set.config().outcomes, until=until, timeout=timeout, idle=idle)
    return [CODEC.decode(m.value(), "outcome") for m in msgs]


def terminal(outcomes: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in outcomes if o["status"] != "retrying"]


def committed_lag(topic: str, group: str) -> int:
    """Messages of ``topic`` not yet committed by ``group``."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap(), "group.id": group, "enable.auto.commit": False}
    )
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        lag = 0
        for tp in consumer.committed([TopicPartition(topic, p) for p in parts], timeout=10):
            low, high = consumer.get_watermark_offsets(tp, timeout=10)
            lag += high - (tp.offset if tp.offset >= 0 else low)
        return lag
    finally:
        consumer.close()


def wait_committed(topic: str, group: str, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    lag = committed_lag(topic, group)
    while lag and time.monotonic() < deadline:
        time.sleep(0.5)
        lag = committed_lag(topic, group)
    return lag
