"""`fusion-stream dlq` logic: live view, filters, header stripping, refusals, masking, rate."""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from click.testing import CliRunner

from fusion_stream import dlq as d
from fusion_stream import headers as h
from fusion_stream.cli import dlq as cli
from fusion_stream.ratelimit import TokenBucket
from fusion_stream.settings import ROOT
from fusion_stream.topics import ChannelSpec, load_topics
from tests.support.fakes import CODEC

TOPICS = load_topics(ROOT / "topics.yaml")
WEBHOOK = TOPICS.channel("webhook")
OTP = TOPICS.channel("sms.otp")
SMS = TOPICS.channel("sms")
NOW = int(time.time() * 1000)
MINUTE = 60_000


def letter(
    job_id: str | None = "job-1",
    *,
    spec: ChannelSpec = WEBHOOK,
    value: bytes | None = None,
    record: dict[str, Any] | None = None,
    partition: int = 2,
    offset: int = 0,
    age_ms: int = MINUTE,
    status: str = "failed",
    error_class: str = "fusion_stream.errors.PermanentError",
    provider: str | None = "http",
    stage: str = "process",
    original: dict[str, bytes] | None = None,
    tombstone: bool = False,
) -> d.DeadLetter:
    """A dead letter as the processor writes it (headers from headers.dead_letter)."""
    if value is None and not tombstone:
        payload = record or {"job_id": job_id or "", "url": "http://127.0.0.1:9/x", "args": {}}
        value = CODEC.encode(spec.value_schema, payload)
    headers = h.dead_letter(
        original or {},
        topic=spec.topic,
        partition=partition,
        offset=100 + offset,
        timestamp_ms=NOW - age_ms - 1000,
        error_class=error_class,
        error_message=f"{error_class.rsplit('.', 1)[-1]}: provider=http status=400 bad request",
        stage=stage,
        extra={h.ATTEMPT: 1, h.FIRST_FAILURE: NOW - age_ms, h.PROVIDER: provider, h.STATUS: status},
    )
    return d.DeadLetter(
        spec.dlq,
        partition,
        offset,
        job_id.encode() if job_id is not None else None,
        None if tombstone else value,
        NOW - age_ms,
        () if tombstone else tuple(headers.items()),
    )


# --- live view -------------------------------------------------------------------------------


def test_live_view_keeps_the_latest_record_per_key_and_drops_tombstoned_keys() -> None:
    records = [
        letter("a", offset=0, age_ms=5 * MINUTE),
        letter("b", offset=1, age_ms=4 * MINUTE),
        letter("a", offset=2, age_ms=3 * MINUTE, status="dead"),  # a again: the latest wins
        letter("b", offset=3, tombstone=True),  # b resolved
        letter("c", offset=4, age_ms=2 * MINUTE),
        letter("c", offset=5, tombstone=True),
        letter("c", offset=6, age_ms=1 * MINUTE),  # c dead-lettered again after its tombstone
        letter(None, offset=7, stage="deserialize", age_ms=10 * MINUTE),  # keyless: kept
        letter("z", partition=3, offset=0, tombstone=True),  # a tombstone of nothing
    ]
    live = d.live(reversed(records))  # input order does not matter: offsets do
    assert [(x.job_id, x.offset) for x in live] == [("-", 7), ("a", 2), ("c", 6)]
    assert live[1].status == "dead"


def test_a_tombstone_only_removes_its_own_partition() -> None:
    records = [
        letter("a", partition=0),
        letter("a", partition=1),
        letter("a", partition=1, offset=1, tombstone=True),
    ]
    assert [x.partition for x in d.live(records)] == [0]


def test_dead_letter_fields_come_from_the_headers() -> None:
    x = letter("j", status="rejected", provider=None, partition=4, offset=9, age_ms=90_000)
    assert (x.status, x.provider, x.attempts, x.stage) == ("rejected", "-", 1, "process")
    assert (x.error_class, x.original_partition, x.ref) == ("PermanentError", 4, "4:9")
    assert x.error.startswith("PermanentError: provider=http status=400")
    assert x.age_seconds(NOW) == pytest.approx(90)


def test_stats_count_by_status_error_class_provider_and_stage() -> None:
    letters = [
        letter("a", age_ms=9 * MINUTE),
        letter("b", status="dead", error_class="fusion_stream.errors.TransientError"),
        letter("c", provider="twilio"),
        letter(
            None,
            stage="deserialize",
            error_class="fusion_stream.errors.DecodeError",
            provider=None,
            status="rejected",
        ),
    ]
    s = d.stats(letters)
    assert s.live == 4 and s.oldest_ms == NOW - 9 * MINUTE
    assert s.by_status == {"failed": 2, "dead": 1, "rejected": 1}
    assert s.by_error_class == {"PermanentError": 2, "TransientError": 1, "DecodeError": 1}
    assert s.by_provider == {"http": 2, "twilio": 1, "-": 1}
    assert s.by_stage == {"process": 3, "deserialize": 1}


# --- filters ---------------------------------------------------------------------------------


LETTERS = [
    letter("order-1", status="failed", provider="http", age_ms=5 * MINUTE),
    letter("order-2", status="dead", error_class="fusion_stream.errors.TransientError"),
    letter("signup-1", status="rejected", provider="twilio", age_ms=3 * 24 * 60 * MINUTE),
]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (d.Filter(), ["order-1", "order-2", "signup-1"]),
        (d.Filter(statuses=frozenset({"dead", "rejected"})), ["order-2", "signup-1"]),
        (d.Filter(error_class="transienterror"), ["order-2"]),
        (d.Filter(error_class="fusion_stream.errors.PermanentError"), ["order-1", "signup-1"]),
        (d.Filter(provider="TWILIO"), ["signup-1"]),
        (d.Filter(since_seconds=3600), ["order-1", "order-2"]),
        (d.Filter(since_seconds=120), ["order-2"]),
        (d.Filter(job_ids=("order-*",)), ["order-1", "order-2"]),
        (d.Filter(job_ids=("signup-1", "order-2")), ["order-2", "signup-1"]),
        (d.Filter(job_ids=("order",)), []),
        (d.Filter(statuses=frozenset({"failed"}), provider="http"), ["order-1"]),
    ],
)
def test_filters(flt: d.Filter, expected: list[str]) -> None:
    assert [x.job_id for x in flt.select(LETTERS, NOW)] == expected


def test_a_keyless_dead_letter_is_selected_by_partition_and_offset() -> None:
    keyless = letter(None, partition=5, offset=42)
    assert d.Filter(job_ids=("5:42",)).select([keyless, *LETTERS], NOW) == [keyless]


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("2h", 7200), ("7d", 604800), ("500ms", 0.5)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert d.parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "per_second"),
    [("50/s", 50), ("50", 50), ("600/m", 10), ("0.5/s", 0.5), ("3600 / h", 1)],
)
def test_parse_rate(text: str, per_second: float) -> None:
    assert d.parse_rate(text) == per_second


@pytest.mark.parametrize("bad", ["", "fast", "0/s", "-1/s", "10/d", "5 days"])
def test_bad_rate_and_duration_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        d.parse_rate(bad)
    with pytest.raises(ValueError):
        d.parse_duration(bad)


# --- replay: headers and refusals -------------------------------------------------------------


def test_replay_headers_drop_retry_history_and_dlq_context_and_say_where_from() -> None:
    original = {
        "traceparent": b"00-abc-def-01",
        h.ATTEMPT: b"3",
        h.DUE: b"1",
        h.TIER: b"fusion.retry.1m",
        h.SOURCE_TOPIC: WEBHOOK.topic.encode(),
        h.REPLAYED: b"old:0:1",
    }
    x = letter("job-1", partition=2, offset=7, original=original)
    names = {k for k, _ in x.headers}
    assert names >= {*h.SPRING.values(), *h.CONNECT.values(), h.STATUS, h.LAST_ERROR}
    out = d.replay_headers(x)
    assert out == [("traceparent", b"00-abc-def-01"), (h.REPLAYED, f"{WEBHOOK.dlq}:2:7".encode())]


def plan(letters: list[d.DeadLetter], spec: ChannelSpec = WEBHOOK, **kw: Any) -> tuple[Any, Any]:
    kw.setdefault("partitions", 6)
    return d.plan_replay(letters, spec, codec=CODEC, now_ms=NOW, otp_ttl_seconds=600, **kw)


def test_plan_sends_each_to_its_original_partition_and_refuses_undecodable() -> None:
    good = letter("ok", partition=4)
    garbage = letter(None, value=b"\x07garbage", stage="deserialize", partition=1, offset=1)
    planned, refused = plan([good, garbage])
    assert [(p.letter, p.partition) for p in planned] == [(good, 4)]
    assert [(r.letter, r.reason.split(" ")[0]) for r in refused] == [(garbage, "undecodable")]
    planned, refused = plan([good, garbage], include_undecodable=True)
    assert [p.partition for p in planned] == [4, 1] and not refused


def test_plan_refuses_a_record_that_no_longer_decodes_and_a_bad_partition() -> None:
    changed = letter("x", value=b"\xc3\x01" + b"\x00" * 8 + b"junk")
    outside = letter("y", partition=9)
    _, refused = plan([changed, outside])
    assert [r.reason.split(":")[0] for r in refused] == [
        "does not decode",
        f"original partition 9 is not a partition of {WEBHOOK.topic}",
    ]


def otp_record(job_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "contact": "9999999999",
        "message": "Your code is 482913",
        "isOTP": True,
        **fields,
    }


def test_expired_otps_are_refused_fresh_ones_replayed() -> None:
    fresh = letter("fresh", spec=OTP, record=otp_record("fresh", created_at=NOW - MINUTE))
    old = letter("old", spec=OTP, record=otp_record("old", created_at=NOW - 11 * MINUTE))
    own_expiry = letter(
        "own", spec=OTP, record=otp_record("own", created_at=NOW, expires_at=NOW - 1)
    )
    # created_at 0: the original record's timestamp counts (the worker would use the
    # replayed copy's, so the CLI must refuse); without that header the age is unknown
    stale = letter("stale", spec=OTP, record=otp_record("stale"), age_ms=20 * MINUTE)
    fresh_ts = letter("fresh-ts", spec=OTP, record=otp_record("fresh-ts"))
    unknown = letter("unknown", spec=OTP, record=otp_record("unknown"))
    unknown = replace(
        unknown, headers=tuple((k, v) for k, v in unknown.headers if k != h.SPRING["timestamp"])
    )
    garbage = letter("g", spec=OTP, value=b"garbage", stage="deserialize")
    letters = [fresh, old, own_expiry, stale, fresh_ts, unknown, garbage]
    planned, refused = plan(letters, OTP, partitions=12, include_undecodable=True)
    assert [p.letter.job_id for p in planned] == ["fresh", "fresh-ts"]
    assert {r.letter.job_id: r.reason.split(" (")[0].split(":")[0] for r in refused} == {
        "old": "expired OTP",
        "own": "expired OTP",
        "stale": "expired OTP",
        "unknown": "OTP of unknown age",
        "g": "OTP whose expiry cannot be read",
    }


def test_an_otp_on_the_bulk_sms_channel_is_an_otp_too() -> None:
    record = {**otp_record("s", created_at=NOW - 20 * MINUTE), "isOTP": True}
    _, refused = plan([letter("s", spec=SMS, record=record)], SMS)
    assert refused and refused[0].reason.startswith("expired OTP")
    record["isOTP"] = False
    planned, _ = plan([letter("s", spec=SMS, record=record)], SMS)
    assert planned


def test_limit_counts_dead_letters_replayed_not_refused() -> None:
    garbage = [letter(None, value=b"x", stage="deserialize", offset=i) for i in range(3)]
    good = [letter(f"g{i}", offset=10 + i) for i in range(5)]
    planned, refused = plan([*garbage, *good], limit=2)
    assert [p.letter.job_id for p in planned] == ["g0", "g1"] and len(refused) == 3


# --- replay: producing -----------------------------------------------------------------------


@dataclass
class FakeProducer:
    """confluent_kafka.Producer's produce/poll/flush; deliveries reported on poll/flush."""

    fail: set[bytes] = field(default_factory=set)
    queue_limit: int = 1000
    produced: list[dict[str, Any]] = field(default_factory=list)
    pending: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    buffer_errors: int = 0

    def produce(self, topic: str, **kw: Any) -> None:
        if len(self.pending) >= self.queue_limit:
            self.buffer_errors += 1
            raise BufferError("queue full")
        record = {"topic": topic, **kw}
        self.produced.append(record)
        self.pending.append((kw.pop("on_delivery"), record))

    def poll(self, timeout: float = 0) -> int:
        if timeout == 0:
            return 0  # still in flight
        done, self.pending = self.pending, []
        for callback, record in done:
            callback("broker said no" if record["key"] in self.fail else None, None)
        return len(done)

    def flush(self, timeout: float = 0) -> int:
        self.poll(timeout or 1)
        return 0


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def test_replay_produces_original_key_bytes_partition_and_stripped_headers() -> None:
    letters = [letter(f"j{i}", partition=i % 3, offset=i) for i in range(4)]
    planned, _ = plan(letters)
    producer = FakeProducer(fail={b"j2"}, queue_limit=1)
    seen: list[int] = []
    result = await d.replay(
        planned, producer, WEBHOOK.topic, progress=lambda r: seen.append(r.produced)
    )
    assert [(r["key"], r["partition"], r["value"]) for r in producer.produced] == [
        (x.key, x.partition, x.value) for x in letters
    ]
    assert all(r["topic"] == WEBHOOK.topic for r in producer.produced)
    assert {k for k, _ in producer.produced[0]["headers"]} == {h.REPLAYED}
    assert producer.buffer_errors > 0  # a full local queue waits for deliveries, loses nothing
    assert (result.produced, result.delivered, result.total) == (4, 3, 4)
    assert [x.job_id for x, _ in result.failed] == ["j2"] and not result.ok
    assert seen == [1, 2, 3, 4, 4]


async def test_replay_honours_the_rate() -> None:
    planned, _ = plan([letter(f"j{i}", offset=i) for i in range(11)])
    fake = FakeTime()
    bucket = TokenBucket(5, clock=fake.clock, sleep=fake.sleep)
    producer = FakeProducer()
    times: list[float] = []
    result = await d.replay(
        planned,
        producer,
        WEBHOOK.topic,
        bucket=bucket,
        progress=lambda r: times.append(fake.now),
    )
    assert result.ok and result.delivered == 11
    # the bucket starts with one token: 11 records at 5/s take 10 / 5 = 2 s, evenly spaced
    assert times[:11] == pytest.approx([i * 0.2 for i in range(11)])


# --- masking ---------------------------------------------------------------------------------


def test_mask_hides_credential_like_keys_at_any_depth() -> None:
    payload = {
        "authkey": "s3cr3t",
        "config": {"api_key": "k", "apiKey": "k2", "route": "4", "password": ""},
        "headers": {"Authorization": "Bearer abc.def", "X-Auth-Token": "t", "Accept": "a"},
        "flowAuth": {"x": 1},
        "otp": "123456",
        "list": [{"client_secret": "c"}, "plain"],
        "token_count": None,
    }
    assert d.mask(payload) == {
        "authkey": "***",
        "config": {"api_key": "***", "apiKey": "***", "route": "4", "password": ""},
        "headers": {"Authorization": "***", "X-Auth-Token": "***", "Accept": "a"},
        "flowAuth": "***",
        "otp": "***",
        "list": [{"client_secret": "***"}, "plain"],
        "token_count": None,
    }


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("https://h/cb?token=abc123&x=1", "https://h/cb?token=***&x=1"),
        ("https://user:pa55@h/x", "https://user:***@h/x"),
        ('body={"access_token": "eyJabc", "ok": 1}', 'body={"access_token": "***", "ok": 1}'),
        ("Authorization: Bearer eyJhbGciOi.x.y", "Authorization: ***"),
        ("sent with bearer eyJhbGciOiJI", "sent with bearer ***"),
        ("api-key=XYZ password:hunter2", "api-key=*** password:***"),
        ("status=400 bad request", "status=400 bad request"),
    ],
)
def test_mask_text(text: str, masked: str) -> None:
    assert d.mask_text(text) == masked


def test_an_otp_message_hides_its_code() -> None:
    out = d.mask_payload({"message": "Your code is 482913", "otp": "482913"}, otp=True)
    assert out == {"message": "Your code is ***", "otp": "***"}
    assert d.mask_payload({"message": "Order 123456 shipped"}, otp=False)["message"].endswith(
        "123456 shipped"
    )


# --- the CLI on canned records (no broker) ---------------------------------------------------


@pytest.fixture
def canned(monkeypatch: pytest.MonkeyPatch) -> list[d.DeadLetter]:
    records: list[d.DeadLetter] = []
    monkeypatch.setattr(d, "read_dlq", lambda _bootstrap, _topic, **_: list(records))
    return records


def test_show_prints_decoded_headers_and_payload_with_secrets_masked(canned: list) -> None:
    record = {
        "job_id": "j-1",
        "url": "https://hooks.example/cb?token=abcdef",
        "headers": {"Authorization": "Bearer very-secret", "X-Tenant": "t1"},
        "args": {"password": "hunter2", "name": "Ann"},
    }
    canned.append(letter("j-1", record=record, original={"x-api-key": b"k-123"}))
    result = CliRunner().invoke(cli.dlq, ["show", "webhook", "j-1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.output
    for secret in ("very-secret", "hunter2", "abcdef", "k-123"):
        assert secret not in out
    assert "kafka_dlt-original-partition: 2" in out and "fusion.status: failed" in out
    assert re.search(r"fusion\.first-failure-ms: \d+  \(\d{4}-\d\d-\d\dT[\d:.]+\+00:00\)", out)
    payload = json.loads(out[out.index("{") :])
    assert payload["headers"] == {"Authorization": "***", "X-Tenant": "t1"}
    assert payload["args"] == {"password": "***", "name": "Ann"}


def test_show_an_undecodable_record_says_why_and_prints_an_excerpt(canned: list) -> None:
    canned.append(letter("bad", value=b'{"payload": {"authkey": "zz9"}, "x"', stage="deserialize"))
    result = CliRunner().invoke(cli.dlq, ["show", "webhook", "bad"], catch_exceptions=False)
    assert "payload: undecodable as webhook_request: webhook_request: invalid JSON" in result.output
    assert "first bytes hex: 7b 22 70" in result.output
    assert "zz9" not in result.output and '"authkey": "***"' in result.output


def test_show_a_resolved_dead_letter_says_so(canned: list) -> None:
    canned.extend([letter("gone"), letter("gone", offset=1, tombstone=True)])
    result = CliRunner().invoke(cli.dlq, ["show", "webhook", "gone"])
    assert result.exit_code == 1 and "resolved: tombstoned" in result.output


def test_list_and_stats_on_canned_records(canned: list) -> None:
    canned.extend(LETTERS)
    runner = CliRunner()
    result = runner.invoke(cli.dlq, ["list", "webhook", "--since", "1h"], catch_exceptions=False)
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "JOB_ID",
        "P:OFFSET",
        "AGE",
        "STATUS",
        "ATTEMPTS",
        "PROVIDER",
        "ERROR",
    ]
    assert [line.split()[0] for line in lines[1:]] == ["order-1", "order-2"]
    assert "2 of 3 live dead letters" in result.stderr
    rows = [
        json.loads(line)
        for line in runner.invoke(
            cli.dlq, ["list", "webhook", "--json", "--limit", "1"]
        ).stdout.splitlines()
    ]
    assert [r["job_id"] for r in rows] == ["signup-1"]  # oldest first
    assert rows[0]["status"] == "rejected" and rows[0]["provider"] == "twilio"
    result = runner.invoke(cli.dlq, ["stats", "webhook", "--json"], catch_exceptions=False)
    doc = json.loads(result.stdout)
    assert doc["live"] == 3 and doc["by_status"] == {"failed": 1, "dead": 1, "rejected": 1}
    # the CLI measures age from the real clock; the canned records were dated at import
    elapsed = time.time() - NOW / 1000
    assert doc["oldest_age_seconds"] == pytest.approx(3 * 86400 + elapsed, abs=60)
