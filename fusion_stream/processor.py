"""One channel's pipeline for one record: decode, dedupe, route, send, then route the result.

``process`` never raises (except on cancellation): every failure becomes an outcome plus a
retry record or a dead letter, and only once those are on the broker may the input record
be acked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from fusion_stream import headers as h
from fusion_stream import metrics
from fusion_stream.bulkhead import Bulkhead
from fusion_stream.codec import RegistryUnavailableError
from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import ConfigurationError, DecodeError, DeliveryError
from fusion_stream.outcomes import Source, Status, build_outcome, now_ms
from fusion_stream.retry import Action, Decision, decide, expired
from fusion_stream.sms.segments import analyse
from fusion_stream.topics import ChannelSpec
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


def headers_dict(
    headers: Sequence[tuple[str, bytes]] | Mapping[str, bytes] | None,
) -> dict[str, bytes]:
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
            raise ConfigurationError(
                f"no provider named and no default for channel {job.channel!r}"
            )
        return self._pool.get(job.channel, name)


class Routes(Protocol):
    """Picks the adapter of a job (may raise RejectedError / ConfigurationError)."""

    def adapter_for(self, job: Job) -> Any: ...


class Ledger(Protocol):
    """Remembers which jobs were sent (or were in flight) so a redelivery is not re-sent."""

    def state(self, job: Job) -> str | None: ...

    async def mark(self, job: Job, state: str) -> None: ...

    async def forget(self, job: Job) -> None: ...

    async def sweep(self, owned: Collection[int]) -> int: ...


class Callbacks(Protocol):
    def post(self, url: str, outcome: Mapping[str, Any]) -> None: ...


#: ledger states: before the call, after a success, after any other terminal decision
IN_FLIGHT, SENT, SETTLED = "in-flight", "sent", "settled"


def is_replay(headers: Mapping[str, bytes]) -> bool:
    """A dead letter replayed by an operator: it may be tried again though already settled."""
    return h.REPLAYED in headers


class ChannelProcessor:
    """Processes the records of one channel topic (and its retries).

    :param in_flight_policy: what to do with a redelivered job found ``in-flight`` (the
        worker died during the provider call): ``resend`` or ``hold`` (``unknown`` outcome)
    """

    def __init__(
        self,
        *,
        channel: ChannelSpec,
        codec: Codec,
        router: Routes,
        publisher: Publisher,
        outcomes_topic: str,
        host: str,
        ledger: Ledger | None = None,
        callbacks: Callbacks | None = None,
        in_flight_policy: str = "hold",
        bulkhead: Bulkhead | None = None,
        otp_ttl: float | None = 600.0,
    ) -> None:
        self.spec = channel
        self.channel = channel.name
        self.codec = codec
        self.router = router
        self.publisher = publisher
        self.outcomes_topic = outcomes_topic
        self.host = host
        self.ledger = ledger
        self.callbacks = callbacks
        self.in_flight_policy = in_flight_policy
        self.bulkhead = bulkhead or Bulkhead(100, 25)
        self.one_per_job = Bulkhead(total=2**31, per_destination=1)
        self.otp_ttl_ms = int(otp_ttl * 1000) if otp_ttl else 0

    async def process(self, record: Record) -> None:
        key = record.key.decode("utf-8", "replace") if record.key else None
        try:
            job = await self.decode(record, key)
        except DecodeError as exc:
            await self.dead_letter(
                record,
                key or "",
                exc,
                Decision(Action.DEAD_LETTER, Status.REJECTED, "undecodable"),
                stage="deserialize",
                attempt=h.integer(record.headers, h.ATTEMPT, 0) + 1,
            )
            return
        attempt = h.integer(record.headers, h.ATTEMPT, 0) + 1
        if expired(now_ms=now_ms(), expires_at_ms=self.expires_at(job)):
            if not await self.settle(record, job, attempt):
                return
            await self.emit(
                record,
                job.job_id,
                Status.EXPIRED,
                job=job,
                attempt=attempt,
                message="expired: not sent after its expiry",
            )
            return
        try:
            adapter = self.router.adapter_for(job)
        except Exception as exc:  # unknown provider, invalid number, not whitelisted, ...
            await self.on_failure(record, job, job.provider_name, exc, attempt, 0.0)
            return
        provider: str = adapter.name
        skipped: tuple[Status, str] | None = None
        failure: Exception | None = None
        decided: tuple[Decision, int] | None = None
        result: SendResult | None = None
        # One copy of a job at a time in this worker: a copy redelivered while the first is
        # still in its call (a rebalance re-fetched it) waits, then finds it in the ledger.
        async with self.one_per_job.slot(job.job_id), self.bulkhead.slot(destination(adapter, job)):
            started = time.monotonic()
            if self.ledger is not None:
                skipped = await self.check_ledger(job)
            if skipped is None:
                try:
                    result = await adapter.send(job)
                except Exception as exc:  # every failure is routed, none escapes
                    failure = exc
                    decided = self.decide(record, job, exc, attempt)
                if self.ledger is not None:
                    if failure is None:
                        await self.ledger.mark(job, SENT)
                    elif decided is not None and decided[0].action is Action.RETRY:
                        await self.ledger.forget(job)  # the retry may send
                    else:
                        await self.ledger.mark(job, SETTLED)
        if skipped is not None:
            status, message = skipped
            await self.emit(record, job.job_id, status, job=job, attempt=attempt, message=message)
            return
        if failure is not None or result is None:
            assert failure is not None
            await self.on_failure(
                record, job, provider, failure, attempt, _ms_since(started), decided
            )
            return
        metrics.LATENCY.labels(self.channel, result.provider).observe(time.monotonic() - started)
        await self.emit(
            record,
            job.job_id,
            Status.SENT,
            job=job,
            result=result,
            attempt=attempt,
            latency_ms=_ms_since(started),
            extra=self.facts(job),
        )

    def facts(self, job: Job) -> dict[str, Any]:
        """Channel facts for the outcome: an SMS's encoding and billable segments."""
        if not self.channel.startswith("sms"):
            return {}
        info = analyse(str(job.payload.get("message") or ""))
        return {"segments": info.segments, "encoding": info.encoding}

    async def decode(self, record: Record, key: str | None) -> Job:
        if record.value is None:
            raise DecodeError("record has no value (tombstone)", raw=None)
        delay = 0.5
        while True:
            try:
                payload = self.codec.decode(record.value, self.spec.value_schema, key=key)
                break
            except RegistryUnavailableError as exc:
                # Not the record's fault: wait for the registry rather than dead-letter.
                log.warning("schema registry unavailable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
        return Job(
            job_id=str(
                payload.get("job_id") or key or f"{record.topic}-{record.partition}-{record.offset}"
            ),
            channel=self.channel,
            payload=payload,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            timestamp_ms=record.timestamp_ms,
            headers=record.headers,
            raw=record.value,
        )

    def expires_at(self, job: Job) -> int | None:
        """An OTP's expiry: its ``expires_at``, else its creation time plus the default TTL."""
        value = job.payload.get("expires_at")
        if value:
            return int(value)
        if self.otp_ttl_ms and (self.spec.otp or job.payload.get("isOTP")):
            born = int(job.payload.get("created_at") or job.timestamp_ms or 0)
            return born + self.otp_ttl_ms if born else None
        return None

    def decide(
        self, record: Record, job: Job, exc: Exception, attempt: int
    ) -> tuple[Decision, int]:
        """The retry decision for this failure, and the event's first-failure time."""
        first_failure = h.integer(record.headers, h.FIRST_FAILURE, now_ms())
        created = int(job.payload.get("created_at") or 0)
        decision = decide(
            exc,
            attempt=attempt,
            policy=self.spec.retry.for_task(job.task_type),
            now_ms=now_ms(),
            born_ms=created or first_failure,
            otp=self.spec.otp or bool(job.payload.get("isOTP")),
            expires_at_ms=self.expires_at(job),
        )
        return decision, first_failure

    async def settle(self, record: Record, job: Job, attempt: int) -> bool:
        """Record a terminal decision made without a send; False (and a ``duplicate``
        outcome) when a redelivered copy finds the job already decided."""
        if self.ledger is None:
            return True
        state = self.ledger.state(job)
        if state in (SENT, SETTLED) and not is_replay(record.headers):
            await self.emit(
                record,
                job.job_id,
                Status.DUPLICATE,
                job=job,
                attempt=attempt,
                message=f"duplicate: this job was already {state}",
            )
            return False
        await self.ledger.mark(job, SETTLED)
        return True

    async def check_ledger(self, job: Job) -> tuple[Status, str] | None:
        """None when the job may be sent now (marked in flight); else why it is skipped."""
        assert self.ledger is not None
        state = self.ledger.state(job)
        if state == SENT:
            return Status.DUPLICATE, "duplicate: already sent, not sent again"
        if state == SETTLED and not is_replay(job.headers):
            return Status.DUPLICATE, "duplicate: this job was already settled, not sent again"
        if self.in_flight_policy == "resend":
            return None  # an in-flight mark would change nothing: skip its round trip
        if state == IN_FLIGHT:
            await self.ledger.mark(job, SETTLED)  # reported once; a later copy is a duplicate
            return Status.UNKNOWN, (
                "unknown: a worker stopped during the provider call; "
                "not re-sent (reconcile with the provider)"
            )
        await self.ledger.mark(job, IN_FLIGHT)
        return None

    async def on_failure(
        self,
        record: Record,
        job: Job,
        provider: str | None,
        exc: Exception,
        attempt: int,
        latency_ms: float,
        decided: tuple[Decision, int] | None = None,
    ) -> None:
        if not isinstance(exc, DeliveryError | ConfigurationError):
            log.error("unexpected error in job %s (%s)", job.job_id, exc, exc_info=exc)
        if decided is None:  # failed before any call (routing): settle it here
            decided = self.decide(record, job, exc, attempt)
            if decided[0].action is not Action.RETRY and not await self.settle(
                record, job, attempt
            ):
                return
        decision, first_failure = decided
        if decision.alert:
            metrics.CONFIG_ALERTS.labels(self.channel, provider or job.provider_name or "").inc()
        if decision.action is Action.RETRY:
            await self.retry(
                record, job, provider, exc, decision, attempt, first_failure, latency_ms
            )
        elif decision.action is Action.DEAD_LETTER:
            await self.dead_letter(
                record,
                job.job_id,
                exc,
                decision,
                stage="process",
                job=job,
                provider=provider,
                attempt=attempt,
                first_failure=first_failure,
                latency_ms=latency_ms,
            )
        else:
            await self.emit(
                record,
                job.job_id,
                decision.status,
                job=job,
                provider=provider,
                error=exc,
                attempt=attempt,
                latency_ms=latency_ms,
            )

    async def retry(
        self,
        record: Record,
        job: Job,
        provider: str | None,
        exc: Exception,
        decision: Decision,
        attempt: int,
        first_failure: int,
        latency_ms: float,
    ) -> None:
        assert decision.tier is not None and decision.due_at_ms is not None
        retry_headers = dict(record.headers)
        retry_headers.update(
            h.encode(
                {
                    h.ATTEMPT: attempt,
                    h.FIRST_FAILURE: first_failure,
                    h.DUE: decision.due_at_ms,
                    h.TIER: decision.tier.topic,
                    h.LAST_ERROR: _one_line(exc),
                    h.ERROR_CLASS: type(exc).__name__,
                    h.PROVIDER: provider,
                    h.SOURCE_TOPIC: h.text(record.headers, h.SOURCE_TOPIC, record.topic),
                    h.SOURCE_PARTITION: h.integer(
                        record.headers, h.SOURCE_PARTITION, record.partition
                    ),
                    h.SOURCE_OFFSET: h.integer(record.headers, h.SOURCE_OFFSET, record.offset),
                }
            )
        )
        # The bytes go unchanged: the retried event is the same event.
        await self.publisher.publish(decision.tier.topic, record.key, record.value, retry_headers)
        metrics.RETRIES.labels(self.channel, decision.tier.topic).inc()
        await self.emit(
            record,
            job.job_id,
            Status.RETRYING,
            job=job,
            provider=provider,
            error=exc,
            attempt=attempt,
            latency_ms=latency_ms,
            extra={"retry_tier": decision.tier.topic, "due_at": decision.due_at_ms},
        )

    async def dead_letter(
        self,
        record: Record,
        job_id: str,
        exc: Exception,
        decision: Decision,
        *,
        stage: str,
        attempt: int,
        job: Job | None = None,
        provider: str | None = None,
        first_failure: int | None = None,
        latency_ms: float | None = None,
    ) -> None:
        dlq_headers = h.dead_letter(
            record.headers,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            timestamp_ms=record.timestamp_ms,
            error_class=_fqcn(exc),
            error_message=_one_line(exc),
            stage=stage,
            extra={
                h.ATTEMPT: attempt,
                h.FIRST_FAILURE: first_failure or now_ms(),
                h.PROVIDER: provider,
                h.STATUS: decision.status,
            },
        )
        key = record.key if record.key is not None else (job_id.encode() if job_id else None)
        await self.publisher.publish(self.spec.dlq, key, record.value, dlq_headers)
        metrics.DEAD_LETTERS.labels(self.channel, stage, decision.status).inc()
        await self.emit(
            record,
            job_id,
            decision.status,
            job=job,
            provider=provider,
            error=exc,
            attempt=attempt,
            latency_ms=latency_ms,
            message=getattr(exc, "outcome_message", None)
            or f"{decision.status} ({decision.reason}); dead letter in {self.spec.dlq}",
        )

    async def emit(self, record: Record, job_id: str, status: Status, **kw: Any) -> None:
        outcome = build_outcome(
            job_id=job_id,
            channel=self.channel,
            status=status,
            host=self.host,
            source=record.source,
            **kw,
        )
        value = self.codec.encode("outcome", outcome)
        # Status and channel also as headers: consumers of the outcomes can filter without decoding.
        await self.publisher.publish(
            self.outcomes_topic,
            job_id.encode() if job_id else None,
            value,
            {h.STATUS: str(status).encode(), h.CHANNEL: self.channel.encode()},
        )
        metrics.OUTCOMES.labels(self.channel, outcome["provider"] or "", str(status)).inc()
        if status in (Status.SENT, Status.DUPLICATE):
            await self.resolve_dead_letter(record, job_id)
        job = kw.get("job")
        if status is not Status.RETRYING and self.callbacks is not None and job is not None:
            url = job.callback_url
            if url and self.wants_outcome_callback(job):
                self.callbacks.post(url, outcome)

    async def resolve_dead_letter(self, record: Record, job_id: str) -> None:
        """A replayed copy got through (``sent``, or ``duplicate``: an earlier copy was sent):
        tombstone its dead letter, so the DLQ's compaction drops it and the compaction agent
        drops it from its index. Only replays can reach ``sent`` after a dead letter (the
        ledger settles dead jobs), so no other outcome needs a look."""
        origin = h.replayed_from(record.headers)
        if origin is None or not job_id:
            return
        dlq, partition = origin
        await self.publisher.publish(dlq, job_id.encode(), None, partition=partition)
        log.info(
            "dead letter %s in %s[%d] resolved: its replayed copy got through",
            job_id,
            dlq,
            partition,
        )

    def wants_outcome_callback(self, job: Job) -> bool:
        # The webhook channel keeps the old meaning of callback_url: its adapter posts the
        # HTTP response there when callback=1. Other channels get the terminal outcome.
        return self.channel != "webhook"


def destination(adapter: Any, job: Job) -> str:
    """Where a call goes, for the per-destination cap: the adapter says, else its name."""
    method = getattr(adapter, "destination", None)
    return str(method(job)) if callable(method) else str(adapter.name)


def _one_line(exc: BaseException) -> str:
    one_line = getattr(exc, "one_line", None)
    return str(one_line() if callable(one_line) else f"{type(exc).__name__}: {exc}")[:1000]


def _fqcn(exc: BaseException) -> str:
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)
