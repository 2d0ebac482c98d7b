"""Dead letters for operators: read a DLQ's live view, filter it, mask secrets, replay it.

``fusion-stream dlq`` (``fusion_stream/cli/dlq.py``) formats; this module decides. Kafka I/O
is in ``read_dlq`` (a consumer that assigns every partition, reads to the high watermark and
never commits) and ``replay`` (produces to the channel topic through the caller's producer).
"""

from __future__ import annotations

import asyncio
import fnmatch
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)

from fusion_stream import headers as h
from fusion_stream.errors import DecodeError, FusionError
from fusion_stream.ratelimit import TokenBucket
from fusion_stream.retry import expired
from fusion_stream.topics import ChannelSpec
from fusion_stream.types import Codec

#: the terminal statuses a dead letter can carry (``fusion.status``)
STATUSES = ("dead", "failed", "rejected")
#: headers a replayed copy must not carry: the retry history and the DLQ context. Without
#: them the worker treats the copy as a fresh event (attempt 1, source = its own offset).
STRIPPED = frozenset(
    {
        h.ATTEMPT,
        h.FIRST_FAILURE,
        h.DUE,
        h.TIER,
        h.LAST_ERROR,
        h.ERROR_CLASS,
        h.PROVIDER,
        h.STATUS,
        h.SOURCE_TOPIC,
        h.SOURCE_PARTITION,
        h.SOURCE_OFFSET,
        h.REPLAYED,
        *h.SPRING.values(),
        *h.CONNECT.values(),
    }
)
MASK = "***"


class DlqError(FusionError):
    """A DLQ could not be read (broker away, topic missing) or an argument is wrong."""

    reason = "dlq"


@dataclass(frozen=True)
class DeadLetter:
    """One record of a DLQ topic (``value`` None: a tombstone)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None
    headers: tuple[tuple[str, bytes], ...] = ()

    @cached_property
    def header_map(self) -> dict[str, bytes]:
        return dict(self.headers)  # a repeated name: the last value wins

    def header(self, name: str) -> str | None:
        return h.text(self.header_map, name)

    def _int(self, *names: str) -> int | None:
        for name in names:
            value = self.header_map.get(name)
            if value is not None and value.strip().lstrip(b"-").isdigit():
                return int(value)
        return None

    @property
    def job_id(self) -> str:
        return self.key.decode("utf-8", "replace") if self.key is not None else "-"

    @property
    def ref(self) -> str:
        """``partition:offset`` in the DLQ (the id of a keyless dead letter)."""
        return f"{self.partition}:{self.offset}"

    @property
    def status(self) -> str:
        return self.header(h.STATUS) or "-"

    @property
    def stage(self) -> str:
        return self.header(h.CONNECT["stage"]) or "-"

    @property
    def attempts(self) -> int | None:
        return self._int(h.ATTEMPT)

    @property
    def provider(self) -> str:
        return self.header(h.PROVIDER) or "-"

    @property
    def error_class_full(self) -> str:
        names = (h.ERROR_CLASS, h.SPRING["fqcn"], h.CONNECT["fqcn"])
        return next((v for n in names if (v := self.header(n))), "-")

    @property
    def error_class(self) -> str:
        return self.error_class_full.rsplit(".", 1)[-1]

    @property
    def error(self) -> str:
        names = (h.LAST_ERROR, h.SPRING["message"], h.CONNECT["message"])
        text = next((v for n in names if (v := self.header(n))), "")
        return " ".join(text.split())

    @property
    def original_partition(self) -> int | None:
        return self._int(h.SPRING["partition"], h.CONNECT["partition"], h.SOURCE_PARTITION)

    @property
    def original_timestamp_ms(self) -> int | None:
        return self._int(h.SPRING["timestamp"])

    def age_seconds(self, now_ms: int) -> float | None:
        return None if self.timestamp_ms is None else max(0.0, (now_ms - self.timestamp_ms) / 1e3)


def live(records: Iterable[DeadLetter]) -> list[DeadLetter]:
    """The dead letters still there: the latest record of each key (per partition, as
    compaction keeps it), minus tombstoned keys; keyless records each stand alone. Oldest
    first."""
    latest: dict[tuple[int, bytes], DeadLetter] = {}
    keyless: list[DeadLetter] = []
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        if r.key is None:
            if r.value is not None:
                keyless.append(r)
        elif r.value is None:
            latest.pop((r.partition, r.key), None)
        else:
            latest[(r.partition, r.key)] = r
    found = [*latest.values(), *keyless]
    return sorted(found, key=lambda r: (r.timestamp_ms or 0, r.partition, r.offset))


@dataclass(frozen=True)
class Filter:
    """What ``list`` and ``replay`` select; an empty filter selects everything."""

    statuses: frozenset[str] = frozenset()
    error_class: str | None = None  # short (PermanentError) or full name, any case
    provider: str | None = None
    since_seconds: float | None = None  # dead-lettered at most this long ago
    job_ids: tuple[str, ...] = ()  # exact ids or shell patterns (order-*)

    def matches(self, letter: DeadLetter, now_ms: int) -> bool:
        if self.statuses and letter.status not in self.statuses:
            return False
        if self.error_class and self.error_class.lower() not in (
            letter.error_class.lower(),
            letter.error_class_full.lower(),
        ):
            return False
        if self.provider and self.provider.lower() != letter.provider.lower():
            return False
        if self.since_seconds is not None:
            age = letter.age_seconds(now_ms)
            if age is None or age > self.since_seconds:
                return False
        if self.job_ids and not any(
            fnmatch.fnmatchcase(letter.job_id, p) or p == letter.ref for p in self.job_ids
        ):
            return False
        return True

    def select(self, letters: Iterable[DeadLetter], now_ms: int) -> list[DeadLetter]:
        return [d for d in letters if self.matches(d, now_ms)]


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_RATE = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|m|min|h))?$")
_RATE_PER = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}


def parse_duration(text: str) -> float:
    """``90s``, ``15m``, ``2h``, ``7d`` -> seconds."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise ValueError(f"bad duration {text!r} (e.g. 30s, 15m, 2h, 7d)")
    return float(match[1]) * _UNIT_SECONDS[match[2]]


def parse_rate(text: str) -> float:
    """``50/s``, ``50``, ``600/m`` -> records per second (> 0)."""
    match = _RATE.match(text.strip().lower())
    if not match or float(match[1]) <= 0:
        raise ValueError(f"bad rate {text!r} (e.g. 50/s, 600/m)")
    return float(match[1]) / _RATE_PER[match[2]]


def human_age(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return (
                f"{seconds / size:.0f}{unit}"
                if seconds >= 10 * size
                else f"{seconds / size:.1f}{unit}"
            )
    return f"{seconds:.0f}s"


@dataclass
class Stats:
    live: int = 0
    oldest_ms: int | None = None
    by_status: Counter[str] = field(default_factory=Counter)
    by_error_class: Counter[str] = field(default_factory=Counter)
    by_provider: Counter[str] = field(default_factory=Counter)
    by_stage: Counter[str] = field(default_factory=Counter)


def stats(letters: Iterable[DeadLetter]) -> Stats:
    out = Stats()
    for d in letters:
        out.live += 1
        if d.timestamp_ms is not None and (out.oldest_ms is None or d.timestamp_ms < out.oldest_ms):
            out.oldest_ms = d.timestamp_ms
        out.by_status[d.status] += 1
        out.by_error_class[d.error_class] += 1
        out.by_provider[d.provider] += 1
        out.by_stage[d.stage] += 1
    return out


# --- secrets: never printed ------------------------------------------------------------------

_SECRET_PARTS = (
    "authkey", "token", "password", "passwd", "secret", "apikey", "authorization",
    "credential", "privatekey", "accesskey", "sessionkey", "cookie", "signature",
)  # fmt: skip
_SECRET_EXACT = frozenset({"otp", "pin", "pwd", "auth"})
_SECRET_IN_TEXT = re.compile(
    r"(?i)([\w-]*(?:authkey|token|passw(?:or)?d|secret|api[_-]?key|authorization)[\w-]*"
    r"\\?[\"']?\s*[:=]\s*\\?[\"']?)(?:(?:bearer|basic)\s+)?[^\s\"'\\&,;}]+"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]{6,}")
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@")
_OTP_CODE = re.compile(r"\d{4,}")


def is_secret_key(name: str) -> bool:
    """A field or header name that holds a credential (authkey, api_key, X-Auth-Token...)."""
    norm = re.sub(r"[^a-z0-9]", "", name.lower())
    return norm in _SECRET_EXACT or norm.endswith("auth") or any(p in norm for p in _SECRET_PARTS)


def mask_text(text: str) -> str:
    """Credentials inside free text (``token=...``, ``Bearer ...``, ``user:pw@host``)."""
    text = _URL_PASSWORD.sub(rf"\1{MASK}@", text)
    text = _BEARER.sub(rf"\1 {MASK}", text)
    return _SECRET_IN_TEXT.sub(rf"\1{MASK}", text)


def mask(value: Any) -> Any:
    """``value`` with the values of credential-like keys replaced, recursively."""
    if isinstance(value, Mapping):
        return {
            k: (MASK if v not in (None, "") and is_secret_key(str(k)) else mask(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    return mask_text(value) if isinstance(value, str) else value


def mask_payload(payload: Mapping[str, Any], *, otp: bool) -> Any:
    """A decoded event fit to print: credentials masked; an OTP's code hidden in its text."""
    out = mask(payload)
    if otp and isinstance(out.get("message"), str):
        out["message"] = _OTP_CODE.sub(MASK, out["message"])
    return out


# --- replay ----------------------------------------------------------------------------------


def is_otp(spec: ChannelSpec, payload: Mapping[str, Any] | None) -> bool:
    return spec.otp or bool(payload and payload.get("isOTP"))


def otp_expires_at(
    payload: Mapping[str, Any], born_fallback_ms: int | None, ttl_seconds: float
) -> int | None:
    """As the worker decides it: ``expires_at``, else creation (``created_at``, else the
    original record's timestamp) plus ``FUSION_OTP_TTL``."""
    if payload.get("expires_at"):
        return int(payload["expires_at"])
    born = int(payload.get("created_at") or born_fallback_ms or 0)
    return born + int(ttl_seconds * 1000) if born else None


def replay_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    """The original headers without the retry history and DLQ context, plus
    ``fusion.replayed-from: <dlq topic>:<partition>:<offset>``."""
    kept = [(k, v) for k, v in letter.headers if k not in STRIPPED]
    return [*kept, (h.REPLAYED, h.replay_origin(letter.topic, letter.partition, letter.offset))]


@dataclass(frozen=True)
class Planned:
    letter: DeadLetter
    partition: int  # the original partition: where the job's delivery ledger lives
    headers: list[tuple[str, bytes]]


@dataclass(frozen=True)
class Refused:
    letter: DeadLetter
    reason: str


def plan_replay(
    letters: Iterable[DeadLetter],
    spec: ChannelSpec,
    *,
    codec: Codec,
    partitions: int,
    now_ms: int,
    otp_ttl_seconds: float,
    include_undecodable: bool = False,
    limit: int | None = None,
) -> tuple[list[Planned], list[Refused]]:
    """Which dead letters go back to ``spec.topic`` (at most ``limit``), and why the rest do
    not. Refused: undecodable records (unless ``include_undecodable``), OTPs past their expiry
    or of unknown expiry, records without a valid original partition."""
    planned: list[Planned] = []
    refused: list[Refused] = []
    for letter in letters:
        if limit is not None and len(planned) >= limit:
            break
        reason = _refusal(
            letter, spec, codec, partitions, now_ms, otp_ttl_seconds, include_undecodable
        )
        if reason:
            refused.append(Refused(letter, reason))
        else:
            assert letter.original_partition is not None
            planned.append(Planned(letter, letter.original_partition, replay_headers(letter)))
    return planned, refused


def _refusal(
    letter: DeadLetter,
    spec: ChannelSpec,
    codec: Codec,
    partitions: int,
    now_ms: int,
    otp_ttl_seconds: float,
    include_undecodable: bool,
) -> str | None:
    partition = letter.original_partition
    if partition is None or not 0 <= partition < partitions:
        return f"original partition {partition} is not a partition of {spec.topic}"
    if letter.stage == "deserialize" and not include_undecodable:
        return "undecodable (stage=deserialize): it would be dead-lettered again"
    payload: dict[str, Any] | None = None
    key = letter.job_id if letter.key is not None else None
    try:
        payload = codec.decode(letter.value or b"", spec.value_schema, key=key)
    except DecodeError as exc:
        if not include_undecodable:
            return f"does not decode: {exc}"
    if spec.otp or is_otp(spec, payload):
        if payload is None:
            return "OTP whose expiry cannot be read: never sent late"
        expires = otp_expires_at(payload, letter.original_timestamp_ms, otp_ttl_seconds)
        if expires is None:
            return "OTP of unknown age (no created_at, no original timestamp): never sent late"
        if expired(now_ms=now_ms, expires_at_ms=expires):
            return "expired OTP: worthless now, never sent late"
    return None


@dataclass
class ReplayResult:
    total: int = 0
    produced: int = 0
    delivered: int = 0
    failed: list[tuple[DeadLetter, str]] = field(default_factory=list)
    unconfirmed: int = 0  # still queued when the flush timed out

    @property
    def ok(self) -> bool:
        return not self.failed and not self.unconfirmed and self.delivered == self.produced


async def replay(
    planned: list[Planned],
    producer: Producer,
    topic: str,
    *,
    bucket: TokenBucket | None = None,
    progress: Callable[[ReplayResult], None] | None = None,
    result: ReplayResult | None = None,
    flush_timeout: float = 60.0,
) -> ReplayResult:
    """Produce each planned dead letter's original key and bytes to its original partition
    of ``topic``, paced by ``bucket``; returns once the broker acknowledged every record (or
    the flush timed out). ``result`` is filled as it goes (an interrupted caller keeps it)."""
    result = result if result is not None else ReplayResult()
    result.total = len(planned)

    def delivered(item: Planned) -> Callable[[Any, Any], None]:
        def on_delivery(err: Any, _msg: Any) -> None:
            if err is None:
                result.delivered += 1
            else:
                result.failed.append((item.letter, str(err)))

        return on_delivery

    try:
        for item in planned:
            if bucket is not None:
                await bucket.acquire()
            else:
                await asyncio.sleep(0)  # a point where Ctrl-C (task cancellation) lands
            while True:
                try:
                    producer.produce(
                        topic,
                        value=item.letter.value,
                        key=item.letter.key,
                        partition=item.partition,
                        headers=list(item.headers),
                        on_delivery=delivered(item),
                    )
                    break
                except BufferError:  # local queue full: let deliveries drain
                    producer.poll(0.1)
            result.produced += 1
            producer.poll(0)
            if progress is not None:
                progress(result)
    finally:
        result.unconfirmed = producer.flush(flush_timeout)
        if progress is not None:
            progress(result)
    return result


# --- reading a DLQ ---------------------------------------------------------------------------


def read_dlq(
    bootstrap: str,
    topic: str,
    *,
    idle_timeout: float = 30.0,
    config: Mapping[str, Any] | None = None,
) -> list[DeadLetter]:
    """Every record of ``topic`` up to the high watermarks seen at the start.

    A consumer of a fresh group id, assigned every partition from the beginning; it never
    commits, so it leaves no trace and moves no one's offsets.

    :raises DlqError: the topic does not exist, or no progress for ``idle_timeout`` seconds
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"fusion-dlq-cli-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            **(config or {}),
        }
    )
    records: list[DeadLetter] = []
    try:
        meta = consumer.list_topics(topic, timeout=idle_timeout).topics.get(topic)
        if meta is None or meta.error is not None or not meta.partitions:
            problem = meta.error if meta is not None and meta.error else "no such topic"
            raise DlqError(f"cannot read {topic}: {problem}")
        ends: dict[int, int] = {}
        for p in meta.partitions:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, p), timeout=idle_timeout
            )
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        pending = set(ends)
        last_progress = time.monotonic()
        while pending:
            if time.monotonic() - last_progress > idle_timeout:
                raise DlqError(f"reading {topic}: no progress on partitions {sorted(pending)}")
            for msg in consumer.consume(1000, 0.5):
                p, offset, err = msg.partition(), msg.offset(), msg.error()
                if p is None or offset is None or p not in ends:
                    continue
                last_progress = time.monotonic()
                if err is not None:
                    if err.code() != KafkaError._PARTITION_EOF:
                        raise DlqError(f"reading {topic}[{p}]: {err.str()}")
                    if offset >= ends[p]:
                        pending.discard(p)
                    continue
                if offset >= ends[p]:
                    pending.discard(p)
                    continue  # produced after we started: not part of this snapshot
                records.append(_letter(topic, msg))
                if offset >= ends[p] - 1:
                    pending.discard(p)
    finally:
        consumer.close()
    return records


def _letter(topic: str, msg: Message) -> DeadLetter:
    _, ts = msg.timestamp()
    raw = msg.headers() or []
    items = raw.items() if isinstance(raw, dict) else raw
    headers = tuple((k, v if isinstance(v, bytes) else (v or "").encode()) for k, v in items)
    return DeadLetter(
        topic,
        msg.partition() or 0,
        msg.offset() or 0,
        msg.key(),
        msg.value(),
        ts if ts > 0 else None,
        headers,
    )
