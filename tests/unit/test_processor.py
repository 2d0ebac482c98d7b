"""The channel processor routes every result: outcome, retry record, dead letter, ledger."""

from __future__ import annotations

import time
from typing import Any

import pytest

from fusion_stream import headers as h
from fusion_stream.errors import ConfigurationError, PermanentError, RejectedError, TransientError
from fusion_stream.ledger import TableLedger
from fusion_stream.processor import ChannelProcessor, Record
from fusion_stream.topics import ChannelSpec, RetryPolicy, RetryTier
from tests.support.fakes import (
    CODEC,
    FakeCallbacks,
    FakePublisher,
    FakeTable,
    FixedRouter,
    ScriptedAdapter,
)

TIERS = (RetryTier("t.retry.1", 1), RetryTier("t.retry.2", 2))
SMS = ChannelSpec("sms", "t.sms", "sms_request", "t.sms.dlq", RetryPolicy(TIERS, 3, 3600))
OTP = ChannelSpec(
    "sms.otp", "t.otp", "sms_request", "t.otp.dlq", RetryPolicy(TIERS, 3, 300), otp=True
)


def make(adapter: Any, spec: ChannelSpec = SMS, policy: str = "hold"):  # type: ignore[no-untyped-def]
    publisher, table, callbacks = FakePublisher(), FakeTable(), FakeCallbacks()
    processor = ChannelProcessor(
        channel=spec,
        codec=CODEC,
        router=FixedRouter(adapter),
        publisher=publisher,
        outcomes_topic="t.outcomes",
        host="test",
        ledger=TableLedger(table, 3600),
        callbacks=callbacks,
        in_flight_policy=policy,
    )
    return processor, publisher, table, callbacks


def record(job_id: str = "j1", headers: dict[str, bytes] | None = None, **fields: Any) -> Record:
    payload = {
        "job_id": job_id,
        "contact": "9876543210",
        "countryCode": "91",
        "message": "hello",
        **fields,
    }
    return Record(
        "t.sms", 2, 40, job_id.encode(), CODEC.encode("sms_request", payload), headers=headers or {}
    )


def outcomes(publisher: FakePublisher) -> list[dict[str, Any]]:
    return [CODEC.decode(r.value or b"", "outcome") for r in publisher.to("t.outcomes")]


async def test_success_marks_the_ledger_and_publishes_sent_with_sms_facts() -> None:
    processor, publisher, table, callbacks = make(ScriptedAdapter())
    await processor.process(record(callback_url="http://127.0.0.1:9/cb"))
    [out] = outcomes(publisher)
    assert (out["status"], out["segments"], out["encoding"]) == ("sent", 1, "GSM-7")
    assert [v.split(b"|")[0] for _, _, v in table.changelog if v] == [b"in-flight", b"sent"]
    assert publisher.to("t.outcomes")[0].headers[h.STATUS] == b"sent"
    assert callbacks.posted[0][0] == "http://127.0.0.1:9/cb"
    assert callbacks.posted[0][1]["status"] == "sent"


async def test_redelivered_sent_job_is_a_duplicate_and_not_sent_again() -> None:
    adapter = ScriptedAdapter()
    processor, publisher, _, _ = make(adapter)
    await processor.process(record())
    await processor.process(record())
    assert len(adapter.calls) == 1
    assert [o["status"] for o in outcomes(publisher)] == ["sent", "duplicate"]


@pytest.mark.parametrize(
    ("policy", "calls", "status"), [("hold", 0, "unknown"), ("resend", 1, "sent")]
)
async def test_job_found_in_flight_follows_the_channel_policy(
    policy: str, calls: int, status: str
) -> None:
    adapter = ScriptedAdapter()
    processor, publisher, table, _ = make(adapter, policy=policy)
    table.data[b"j1"] = f"in-flight|{int(time.time() * 1000)}|2".encode()  # a crash mid-call
    await processor.process(record())
    assert len(adapter.calls) == calls
    assert outcomes(publisher)[0]["status"] == status


async def test_transient_failure_goes_to_the_first_tier_unchanged_with_history() -> None:
    processor, publisher, table, callbacks = make(
        ScriptedAdapter(TransientError("HTTP 503", provider="scripted", status=503))
    )
    rec = record()
    await processor.process(rec)
    [retry] = publisher.to("t.retry.1")
    assert retry.value == rec.value and retry.key == b"j1"
    assert retry.headers[h.ATTEMPT] == b"1" and retry.headers[h.SOURCE_TOPIC] == b"t.sms"
    assert (
        retry.headers[h.SOURCE_PARTITION] == b"2" and b"status=503" in retry.headers[h.LAST_ERROR]
    )
    assert int(retry.headers[h.DUE]) > int(time.time() * 1000)
    [out] = outcomes(publisher)
    assert (out["status"], out["retry_tier"]) == ("retrying", "t.retry.1")
    assert b"j1" not in table.data  # forgotten: the retry may send
    assert callbacks.posted == []  # retrying is not terminal


async def test_last_attempt_is_dead_lettered_with_the_source_of_the_first_try() -> None:
    processor, publisher, _, callbacks = make(ScriptedAdapter(TransientError("timeout")))
    history = h.encode(
        {
            h.ATTEMPT: 2,
            h.SOURCE_TOPIC: "t.sms",
            h.SOURCE_PARTITION: 2,
            h.SOURCE_OFFSET: 7,
            h.FIRST_FAILURE: 1,
        }
    )
    await processor.process(record(headers=history, callback_url="http://127.0.0.1:9/cb"))
    [dead] = publisher.to("t.sms.dlq")
    assert dead.headers["kafka_dlt-original-offset"] == b"7"  # the first try, not the retry
    assert dead.headers["__connect.errors.stage"] == b"process"
    assert dead.headers[h.STATUS] == b"dead" and dead.headers[h.ATTEMPT] == b"3"
    assert outcomes(publisher)[0]["status"] == "dead"
    assert callbacks.posted[0][1]["status"] == "dead"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (PermanentError("HTTP 400"), "failed"),
        (RejectedError("bad number"), "rejected"),
        (ConfigurationError("missing authkey"), "failed"),
    ],
)
async def test_permanent_rejected_and_configuration_errors_are_dead_lettered(error, status) -> None:  # type: ignore[no-untyped-def]
    processor, publisher, _, _ = make(ScriptedAdapter(error))
    await processor.process(record())
    assert len(publisher.to("t.sms.dlq")) == 1
    assert outcomes(publisher)[0]["status"] == status


async def test_routing_errors_never_reach_a_provider() -> None:
    processor, publisher, table, _ = make(ConfigurationError("unknown provider 'x'"))
    await processor.process(record())
    assert outcomes(publisher)[0]["status"] == "failed"
    assert [v.split(b"|")[0] for _, _, v in table.changelog if v] == [b"settled"]  # never in flight


async def test_undecodable_record_is_dead_lettered_as_deserialize() -> None:
    processor, publisher, _, _ = make(ScriptedAdapter())
    bad = Record("t.sms", 0, 3, b"k", b"\xc3\x01garbage")
    await processor.process(bad)
    [dead] = publisher.to("t.sms.dlq")
    assert dead.value == bad.value and dead.headers["__connect.errors.stage"] == b"deserialize"
    assert outcomes(publisher)[0]["status"] == "rejected"


async def test_expired_otp_is_never_sent_nor_retried() -> None:
    adapter = ScriptedAdapter()
    processor, publisher, _, _ = make(adapter, OTP)
    await processor.process(record(expires_at=int(time.time() * 1000) - 1, isOTP=True))
    assert adapter.calls == [] and outcomes(publisher)[0]["status"] == "expired"


async def test_otp_out_of_budget_is_expired_and_not_dead_lettered() -> None:
    processor, publisher, _, _ = make(ScriptedAdapter(TransientError("503")), OTP)
    old = int(time.time() * 1000) - 301_000
    await processor.process(record(created_at=old, isOTP=True))
    assert publisher.to("t.otp.dlq") == [] and outcomes(publisher)[0]["status"] == "expired"


async def test_otp_without_expires_at_gets_the_default_ttl() -> None:
    adapter = ScriptedAdapter()
    processor, publisher, _, _ = make(adapter, OTP)  # default TTL: 600 s
    stale = int(time.time() * 1000) - 601_000
    await processor.process(record("old-otp", created_at=stale, isOTP=True))
    await processor.process(record("new-otp", created_at=int(time.time() * 1000), isOTP=True))
    assert [j.job_id for j in adapter.calls] == ["new-otp"]
    assert [o["status"] for o in outcomes(publisher)] == ["expired", "sent"]


async def test_a_task_type_override_changes_the_attempts() -> None:
    spec = ChannelSpec(
        "sms",
        "t.sms",
        "sms_request",
        "t.sms.dlq",
        RetryPolicy(TIERS, 3, 3600, task_types={"marketing": RetryPolicy(TIERS, 1, 3600)}),
    )
    processor, publisher, _, _ = make(ScriptedAdapter(TransientError("503")), spec)
    await processor.process(record(task_type="marketing"))
    assert outcomes(publisher)[0]["status"] == "dead"  # one attempt only: no retry


async def test_the_sms_context_travels_into_the_outcome() -> None:
    processor, publisher, _, _ = make(ScriptedAdapter())
    await processor.process(record(context="appointment-reminder"))
    assert outcomes(publisher)[0]["job_result"]["context"] == "appointment-reminder"


async def test_a_copy_redelivered_during_the_call_waits_and_is_a_duplicate() -> None:
    import asyncio

    gate = asyncio.Event()

    class SlowAdapter(ScriptedAdapter):
        async def send(self, job):  # type: ignore[no-untyped-def]
            self.calls.append(job)
            await gate.wait()
            return (
                await super().send(job)
                if False
                else __import__("fusion_stream.envelope", fromlist=["SendResult"]).SendResult(
                    "scripted", "id-1", 200
                )
            )

    adapter = SlowAdapter()
    processor, publisher, _, _ = make(adapter)
    first = asyncio.create_task(processor.process(record()))
    await asyncio.sleep(0.01)
    second = asyncio.create_task(processor.process(record()))  # a rebalance re-fetched it
    await asyncio.sleep(0.01)
    assert len(adapter.calls) == 1
    gate.set()
    await asyncio.gather(first, second)
    assert len(adapter.calls) == 1
    assert sorted(o["status"] for o in outcomes(publisher)) == ["duplicate", "sent"]


async def test_a_settled_job_redelivered_is_a_duplicate_but_a_replay_is_tried_again() -> None:
    adapter = ScriptedAdapter(PermanentError("HTTP 400"), PermanentError("HTTP 400"))
    processor, publisher, _, _ = make(adapter)
    await processor.process(record())  # failed: settled
    await processor.process(record())  # redelivered after a crash
    replay = record(headers={h.REPLAYED: b"t.sms.dlq:0:5"})
    await processor.process(replay)  # an operator's replay is tried again
    assert len(adapter.calls) == 2
    assert [o["status"] for o in outcomes(publisher)] == ["failed", "duplicate", "failed"]


async def test_unknown_is_reported_once() -> None:
    processor, publisher, table, _ = make(ScriptedAdapter())
    table.data[b"j1"] = f"in-flight|{int(time.time() * 1000)}|2".encode()
    await processor.process(record())
    await processor.process(record())
    assert [o["status"] for o in outcomes(publisher)] == ["unknown", "duplicate"]


async def test_a_replayed_copy_that_gets_through_tombstones_its_dead_letter() -> None:
    adapter = ScriptedAdapter(PermanentError("HTTP 400"))
    processor, publisher, _, _ = make(adapter)
    await processor.process(record())  # failed: a dead letter
    assert [r.value is not None for r in publisher.to("t.sms.dlq")] == [True]
    replay = record(headers={h.REPLAYED: b"t.sms.dlq:3:17"})
    await processor.process(replay)  # sent this time
    await processor.process(replay)  # redelivered: duplicate, and the tombstone again
    tombs = publisher.to("t.sms.dlq")[1:]
    assert [(r.key, r.value, r.partition) for r in tombs] == [(b"j1", None, 3)] * 2
    assert [o["status"] for o in outcomes(publisher)] == ["failed", "sent", "duplicate"]


@pytest.mark.parametrize(
    "header",
    [b"t.sms.dlq:x:17", b"17", b"", b":3:17"],
)
async def test_a_garbled_replay_header_resolves_nothing(header: bytes) -> None:
    processor, publisher, _, _ = make(ScriptedAdapter())
    await processor.process(record(headers={h.REPLAYED: header}))
    assert [o["status"] for o in outcomes(publisher)] == ["sent"]
    assert [r.topic for r in publisher.records] == ["t.outcomes"]


def test_the_replay_header_reads_back_what_dlq_replay_writes() -> None:
    origin = h.replay_origin("fusion.sms.dlq", 4, 1234)
    assert h.replayed_from({h.REPLAYED: origin}) == ("fusion.sms.dlq", 4)
    assert h.replayed_from({h.REPLAYED: b"a:b.dlq:0:1"}) == ("a:b.dlq", 0)
    assert h.replayed_from({}) is None
