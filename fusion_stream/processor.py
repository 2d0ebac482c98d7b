"""One channel's pipeline for one record: decode, route, send, publish the outcome.

``process`` never raises (except on cancellation): every failure becomes an outcome,
a retry record or a dead letter, and only then may the input record be acked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import (
    ConfigurationError,
    DecodeError,
    DeliveryError,
    PermanentError,
    RejectedError,
    TransientError,
)
from fusion_stream.outcomes import Source, Status, build_outcome
from fusion_stream.types import Codec, Publisher

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Record:
    """A raw Kafka record as the agent received it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None
    headers: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def source(self) -> Source:
        return Source(self.topic, self.partition, self.offset, self.timestamp_ms)


def headers_dict(headers: Sequence[tuple[str, bytes]] | Mapping[str, bytes] | None) -> dict[str, bytes]:
    """Kafka headers as a dict (the last value of a repeated name wins)."""
    if not headers:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {str(k): (v if isinstance(v, bytes) else str(v).encode()) for k, v in items}


class Router:
    """Picks the adapter for a job (``config.provider`` or the channel default)."""

    def __init__(self, pool: Any, default_provider: Mapping[str, str]) -> None:
        self._pool = pool
        self._default = default_provider

    def adapter_for(self, job: Job) -> Any:
        name = job.provider_name or self._default.get(job.channel)
        if not name:
            raise ConfigurationError(f"no provider named and no default for channel {job.channel!r}")
        return self._pool.get(job.channel, name)


class ChannelProcessor:
    """Processes the records of one channel topic.

    :param channel: channel name (topics.yaml)
    :param schema: Avro schema name of the channel's values
    :param outcomes_topic: where outcomes go
    """

    def __init__(
        self,
        *,
        channel: str,
        schema: str,
        codec: Codec,
        router: Router,
        publisher: Publisher,
        outcomes_topic: str,
        host: str,
    ) -> None:
        self.channel = channel
        self.schema = schema
        self.codec = codec
        self.router = router
        self.publisher = publisher
        self.outcomes_topic = outcomes_topic
        self.host = host

    async def process(self, record: Record) -> None:
        started = time.monotonic()
        key = record.key.decode("utf-8", "replace") if record.key else None
        try:
            job = self.decode(record, key)
        except DecodeError as exc:
            await self.on_undecodable(record, key, exc)
            return
        provider: str | None = None
        try:
            adapter = self.router.adapter_for(job)
            provider = adapter.name
            result = await adapter.send(job)
        except Exception as exc:  # every failure is routed, none escapes
            await self.on_failure(record, job, provider, exc, _ms_since(started))
            return
        await self.on_success(record, job, result, _ms_since(started))

    def decode(self, record: Record, key: str | None) -> Job:
        if record.value is None:
            raise DecodeError("record has no value (tombstone)", raw=None)
        payload = self.codec.decode(record.value, self.schema, key=key)
        return Job(
            job_id=str(payload.get("job_id") or key or f"{record.topic}-{record.partition}-{record.offset}"),
            channel=self.channel,
            payload=payload,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            timestamp_ms=record.timestamp_ms,
            headers=record.headers,
            raw=record.value,
        )

    async def on_success(self, record: Record, job: Job, result: SendResult, latency_ms: float) -> None:
        await self.emit(record, job.job_id, Status.SENT, job=job, result=result, latency_ms=latency_ms)

    async def on_failure(
        self, record: Record, job: Job, provider: str | None, exc: Exception, latency_ms: float
    ) -> None:
        status = classify(exc)
        if status is Status.FAILED and not isinstance(exc, DeliveryError | ConfigurationError):
            log.exception("unexpected error processing job %s", job.job_id, exc_info=exc)
        await self.emit(
            record, job.job_id, status, job=job, provider=provider, error=exc, latency_ms=latency_ms
        )

    async def on_undecodable(self, record: Record, key: str | None, exc: DecodeError) -> None:
        await self.emit(record, key or "", Status.REJECTED, error=exc)

    async def emit(self, record: Record, job_id: str, status: Status, **kw: Any) -> None:
        outcome = build_outcome(
            job_id=job_id, channel=self.channel, status=status, host=self.host, source=record.source, **kw
        )
        value = self.codec.encode("outcome", outcome)
        await self.publisher.publish(self.outcomes_topic, job_id.encode() if job_id else None, value)


def classify(exc: BaseException) -> Status:
    """The terminal status of an error when it is not retried."""
    if isinstance(exc, RejectedError):
        return Status.REJECTED
    if isinstance(exc, PermanentError | TransientError | ConfigurationError):
        return Status.FAILED
    return Status.FAILED


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)
