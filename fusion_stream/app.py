"""The Faust app and the topics it consumes, declared from topics.yaml."""

from __future__ import annotations

from typing import Any

import faust

from fusion_stream import commitguard, fetchpriority
from fusion_stream.settings import get_settings
from fusion_stream.topics import get_topics

settings = get_settings()
topics = get_topics()

datadir = settings.faust_data_dir()
datadir.mkdir(parents=True, exist_ok=True)

app = faust.App(
    settings.app_id,
    broker=settings.broker,
    key_serializer="raw",
    value_serializer="raw",
    # Topics are created by `fusion-stream topics apply` from topics.yaml; Faust only
    # declares its own internal topics (table changelogs).
    topic_allow_declare=True,
    topic_disable_leader=True,
    topic_partitions=settings.table_partitions,
    consumer_auto_offset_reset="earliest",
    broker_commit_interval=settings.commit_interval,
    broker_max_poll_records=min(settings.max_poll_records, settings.stream_buffer // 5),
    stream_buffer_maxsize=settings.stream_buffer,
    consumer_max_fetch_size=settings.max_fetch_bytes_per_partition,
    broker_session_timeout=settings.session_timeout,
    broker_heartbeat_interval=settings.heartbeat_interval,
    topic_replication_factor=settings.table_replication_factor,
    producer_acks=-1,
    store="memory://",
    table_standby_replicas=0,
    web_enabled=settings.web_port != 0,
    web_port=settings.web_port or 6066,
    web_bind=settings.web_bind,
    web_in_thread=False,
    datadir=str(datadir),
)


def ledger_table(channel: str) -> Any:
    """The delivery ledger of a channel, co-partitioned with its topic."""
    spec = topics.topic(topics.channel(channel).topic)
    return app.Table(
        f"ledger-{channel}",
        partitions=spec.partitions,
        key_type=bytes,
        value_type=bytes,
        help=f"Delivery ledger of {channel}: job_id -> in-flight|sent",
    )


def channel_topic(channel: str) -> faust.TopicT:
    """The raw-bytes Faust topic of a channel (agents decode values themselves)."""
    spec = topics.channel(channel)
    commitguard.install([spec.topic])  # only events the window finished get committed
    if spec.otp:
        fetchpriority.install([spec.topic])  # its records are handed over before bulk ones
    return app.topic(
        spec.topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
