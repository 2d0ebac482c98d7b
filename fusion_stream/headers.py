"""Kafka header names and builders for retry records and dead letters."""

from __future__ import annotations

from collections.abc import Mapping

# Ours: the history an event carries through retry tiers (and into its dead letter).
ATTEMPT = "fusion.attempt"  # tries made so far
FIRST_FAILURE = "fusion.first-failure-ms"
DUE = "fusion.due-ms"
TIER = "fusion.retry-tier"
LAST_ERROR = "fusion.last-error"  # one line: provider, status, reason, excerpt
ERROR_CLASS = "fusion.error-class"
PROVIDER = "fusion.provider"
SOURCE_TOPIC = "fusion.source-topic"  # the channel topic the event goes back to
SOURCE_PARTITION = "fusion.source-partition"
SOURCE_OFFSET = "fusion.source-offset"
STATUS = "fusion.status"  # status of an outcome / terminal status of a dead letter
CHANNEL = "fusion.channel"
REPLAYED = "fusion.replayed-from"  # set by `dlq replay`

# Spring Kafka's DeadLetterPublishingRecoverer header family.
SPRING = {
    "topic": "kafka_dlt-original-topic",
    "partition": "kafka_dlt-original-partition",
    "offset": "kafka_dlt-original-offset",
    "fqcn": "kafka_dlt-exception-fqcn",
    "message": "kafka_dlt-exception-message",
    "timestamp": "kafka_dlt-original-timestamp",
}
# Kafka Connect's errors.deadletterqueue.context.headers.enable family.
CONNECT = {
    "topic": "__connect.errors.topic",
    "partition": "__connect.errors.partition",
    "offset": "__connect.errors.offset",
    "fqcn": "__connect.errors.exception.class.name",
    "message": "__connect.errors.exception.message",
    "stage": "__connect.errors.stage",
}


def replay_origin(topic: str, partition: int, offset: int) -> bytes:
    """The value of ``REPLAYED``: the dead letter a replayed copy came from."""
    return f"{topic}:{partition}:{offset}".encode()


def replayed_from(headers: Mapping[str, bytes]) -> tuple[str, int] | None:
    """(DLQ topic, partition) of a replayed copy's dead letter, from ``REPLAYED``; None if
    absent or garbled."""
    value = text(headers, REPLAYED)
    parts = value.rsplit(":", 2) if value else []
    if len(parts) != 3 or not parts[0] or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def text(headers: Mapping[str, bytes], name: str, default: str | None = None) -> str | None:
    value = headers.get(name)
    return value.decode("utf-8", "replace") if value is not None else default


def integer(headers: Mapping[str, bytes], name: str, default: int) -> int:
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return default


def encode(values: Mapping[str, object | None]) -> dict[str, bytes]:
    """Header values as bytes; None values are left out."""
    return {k: str(v).encode() for k, v in values.items() if v is not None}


def dead_letter(
    original: Mapping[str, bytes],
    *,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int | None,
    error_class: str,
    error_message: str,
    stage: str,
    extra: Mapping[str, object | None],
) -> dict[str, bytes]:
    """Headers of a dead letter: the original ones, Spring's, Connect's and ours.

    A retried event's source is its channel topic (from our header), not the retry tier.
    """
    source_topic = text(original, SOURCE_TOPIC, topic)
    source_partition = integer(original, SOURCE_PARTITION, partition)
    source_offset = integer(original, SOURCE_OFFSET, offset)
    out = dict(original)
    out.update(
        encode(
            {
                SPRING["topic"]: source_topic,
                SPRING["partition"]: source_partition,
                SPRING["offset"]: source_offset,
                SPRING["fqcn"]: error_class,
                SPRING["message"]: error_message,
                SPRING["timestamp"]: timestamp_ms,
                CONNECT["topic"]: source_topic,
                CONNECT["partition"]: source_partition,
                CONNECT["offset"]: source_offset,
                CONNECT["fqcn"]: error_class,
                CONNECT["message"]: error_message,
                CONNECT["stage"]: stage,
                SOURCE_TOPIC: source_topic,
                SOURCE_PARTITION: source_partition,
                SOURCE_OFFSET: source_offset,
                ERROR_CLASS: error_class,
                LAST_ERROR: error_message,
                **extra,
            }
        )
    )
    return out
