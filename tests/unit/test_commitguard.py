"""The commit guard: Faust's acks of skipped events do not count; finished events do."""

from __future__ import annotations

from faust.transport.consumer import Consumer
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from fusion_stream import commitguard


class FakeConsumer:
    """Just the state Faust's Consumer.ack touches."""

    def __init__(self) -> None:
        self._unacked_messages: set[ConsumerMessage] = set()
        self._committed_offset = {TP("guarded", 0): 10}
        self._acked_index: dict[TP, set[int]] = {TP("guarded", 0): set(), TP("free", 0): set()}
        self._acked: dict[TP, list[int]] = {TP("guarded", 0): [], TP("free", 0): []}
        self._n_acked = 0
        self._waiting_for_ack = None
        self.app = type(
            "App",
            (),
            {"topics": type("T", (), {"acks_enabled_for": staticmethod(lambda t: True)})()},
        )()


def message(topic: str, offset: int) -> ConsumerMessage:
    return ConsumerMessage(topic, 0, offset, 0.0, 0, [], b"k", b"v", None, tp=TP(topic, 0))


def test_skipped_events_are_not_counted_and_finished_ones_are() -> None:
    commitguard.install(["guarded"])
    consumer = FakeConsumer()
    skipped, finished = message("guarded", 10), message("guarded", 11)
    consumer._unacked_messages.update({skipped, finished})
    assert Consumer.ack(consumer, skipped) is False  # what Faust does for a stale event
    assert consumer._acked[TP("guarded", 0)] == [] and skipped not in consumer._unacked_messages
    commitguard.mark_done(finished)
    assert Consumer.ack(consumer, finished) is True
    assert consumer._acked[TP("guarded", 0)] == [11]


def test_other_topics_are_acked_as_faust_always_did() -> None:
    commitguard.install(["guarded"])
    consumer = FakeConsumer()
    consumer._committed_offset[TP("free", 0)] = None
    assert Consumer.ack(consumer, message("free", 3)) is True
    assert consumer._acked[TP("free", 0)] == [3]


async def test_after_a_rebalance_never_committed_partitions_are_read_from_the_start() -> None:
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    commitguard.install(["guarded"])

    class Aio:
        async def seek_to_committed(self) -> dict[TP, int | None]:
            return {
                TP("guarded", 0): None,
                TP("guarded", 1): 0,
                TP("guarded", 2): 7,
                TP("free", 0): None,
            }

    class Thread:
        sought: tuple[TP, ...] = ()

        def _ensure_consumer(self) -> Aio:
            return Aio()

        async def call_thread(self, fn, *args):  # type: ignore[no-untyped-def]
            return await fn(*args)

        async def seek_to_beginning(self, *tps: TP) -> None:
            self.sought = tps

    thread = Thread()
    committed = await AIOKafkaConsumerThread.seek_to_committed(thread)  # type: ignore[arg-type]
    assert committed[TP("guarded", 2)] == 7
    assert set(thread.sought) == {TP("guarded", 0), TP("guarded", 1)}
