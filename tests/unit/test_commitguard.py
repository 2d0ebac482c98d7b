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

        async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
            assert set(tps) == {TP("guarded", 0), TP("guarded", 1), TP("guarded", 2)}
            return {TP("guarded", 0): 0, TP("guarded", 1): 40, TP("guarded", 2): 3}

    thread = Thread()
    committed = await AIOKafkaConsumerThread.seek_to_committed(thread)  # type: ignore[arg-type]
    assert set(thread.sought) == {TP("guarded", 0), TP("guarded", 1)}
    # The strict commit counts from the commit, or from the log start when there is none.
    assert committed[TP("guarded", 0)] == 0
    assert committed[TP("guarded", 1)] == 40
    assert committed[TP("guarded", 2)] == 7
    assert committed[TP("free", 0)] is None


async def test_a_commit_below_the_log_start_counts_from_the_log_start(caplog) -> None:  # type: ignore[no-untyped-def]
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    commitguard.install(["guarded"])

    class Aio:
        async def seek_to_committed(self) -> dict[TP, int | None]:
            return {TP("guarded", 0): 5}

    class Thread:
        def _ensure_consumer(self) -> Aio:
            return Aio()

        async def call_thread(self, fn, *args):  # type: ignore[no-untyped-def]
            return await fn(*args)

        async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
            return {TP("guarded", 0): 12}

    committed = await AIOKafkaConsumerThread.seek_to_committed(Thread())  # type: ignore[arg-type]
    assert committed[TP("guarded", 0)] == 12
    assert "7 records were deleted by retention" in caplog.text


GUARDED = TP("guarded", 0)


class OffsetState:
    """The state Faust's _new_offset reads and trims."""

    def __init__(self, committed: int | None, acked: list[int]) -> None:
        self._committed_offset = {GUARDED: committed}
        self._acked = {GUARDED: list(acked)}
        self._acked_index = {GUARDED: set(acked)}


def test_the_commit_moves_over_the_run_that_starts_at_the_last_commit() -> None:
    state = OffsetState(10, [12, 10, 11, 14])
    assert commitguard.strict_new_offset(state, GUARDED) == 13
    assert state._acked[GUARDED] == [14] and state._acked_index[GUARDED] == {14}


def test_a_missing_head_holds_the_commit_even_a_gap_of_one() -> None:
    # Faust's own rule lets this through (11 - 10 is not > 1) and commits past offset 10.
    state = OffsetState(10, [11, 12])
    assert commitguard.strict_new_offset(state, GUARDED) is None
    assert Consumer._new_offset(state, GUARDED) is None  # installed: the same rule
    assert state._acked[GUARDED] == [11, 12]


def test_before_the_first_commit_the_head_is_checked_from_zero() -> None:
    assert commitguard.strict_new_offset(OffsetState(None, [3, 4]), GUARDED) is None
    assert commitguard.strict_new_offset(OffsetState(None, [0, 1, 3]), GUARDED) == 2


def test_acks_below_the_commit_are_dropped_second_copies() -> None:
    state = OffsetState(10, [8, 9, 10])
    assert commitguard.strict_new_offset(state, GUARDED) == 11
    assert state._acked[GUARDED] == [] and state._acked_index[GUARDED] == set()
    assert commitguard.strict_new_offset(OffsetState(10, [8, 9]), GUARDED) is None


def test_no_record_of_a_guarded_topic_is_dropped_as_already_read() -> None:
    commitguard.install(["guarded"])
    offsets = commitguard.ReadOffsets()
    offsets.update({GUARDED: 500, TP("free", 0): 7})
    offsets[TP("guarded", 1)] = 9
    assert offsets[GUARDED] is None and offsets[TP("guarded", 1)] is None
    assert offsets[TP("free", 0)] == 7 and offsets[TP("free", 1)] is None


class Guarded:
    """The consumer state the head repair reads, and the seeks it makes."""

    def __init__(self, committed: int | None, acked: list[int]) -> None:
        self._committed_offset = {GUARDED: committed}
        self._acked = {GUARDED: list(acked)}
        self.sought: list[dict[TP, int]] = []

    def assignment(self) -> set[TP]:
        return {GUARDED}

    async def seek_wait(self, partitions: dict[TP, int]) -> None:
        self.sought.append(partitions)


def window_has(offset: int, topic: str = "guarded") -> ConsumerMessage:
    m = message(topic, offset)
    commitguard.mark_started(m)
    return m


async def test_a_head_dropped_before_the_window_is_read_again_after_a_while() -> None:
    commitguard.install(["guarded"])
    consumer = Guarded(10, [11, 12])  # 10 never reached the agent; 11 and 12 are done
    assert await commitguard.repair(consumer, now=100.0, after=30) == []  # noticed
    assert await commitguard.repair(consumer, now=120.0, after=30) == []
    assert await commitguard.repair(consumer, now=131.0, after=30) == [GUARDED]
    assert consumer.sought == [{GUARDED: 10}]


async def test_a_head_still_in_the_window_is_late_not_lost() -> None:
    commitguard.install(["guarded"])
    consumer = Guarded(20, [21])
    head = window_has(20)  # e.g. a hanging provider call: the stall detector's business
    assert await commitguard.repair(consumer, now=0.0, after=30) == []
    assert await commitguard.repair(consumer, now=100.0, after=30) == []
    commitguard.mark_left(head)  # cancelled (shutdown) or done: no longer in the window
    assert await commitguard.repair(consumer, now=200.0, after=30) == []  # noticed now
    assert await commitguard.repair(consumer, now=231.0, after=30) == [GUARDED]


async def test_a_commit_about_to_move_or_a_moving_one_is_left_alone() -> None:
    commitguard.install(["guarded"])
    ready = Guarded(30, [31, 30])  # the head is done: the next commit takes it
    assert await commitguard.repair(ready, now=0.0, after=0) == []
    moving = Guarded(40, [42])
    assert await commitguard.repair(moving, now=0.0, after=30) == []
    moving._committed_offset[GUARDED] = 41  # committed meanwhile: the clock starts again
    assert await commitguard.repair(moving, now=29.0, after=30) == []
    assert await commitguard.repair(moving, now=40.0, after=30) == []
    assert moving.sought == []


def test_offsets_without_events_are_counted_as_done() -> None:
    commitguard._holes.clear()
    commitguard._holes[GUARDED].extend([(10, 11), (13, 14)])  # two transaction markers
    state = OffsetState(10, [11, 12, 14])
    assert commitguard.strict_new_offset(state, GUARDED) == 15
    assert not commitguard._holes[GUARDED]
    commitguard._holes[GUARDED].append((3, 5))  # behind the commit: nothing to add
    assert commitguard.strict_new_offset(OffsetState(15, [16]), GUARDED) is None


class Fetched:
    """aiokafka's PartitionRecords: a fetch from ``start`` whose batches end at ``end``."""

    def __init__(self, topic: str, start: int, offsets: list[int], end: int) -> None:
        self._tp, self.next_fetch_offset, self.offsets, self.end = TP(topic, 0), start, offsets, end

    def records(self):  # type: ignore[no-untyped-def]
        for offset in self.offsets:
            self.next_fetch_offset = offset + 1
            yield type("Record", (), {"offset": offset})()
        self.next_fetch_offset = self.end


def test_fetched_offsets_that_yield_no_record_are_noted_as_holes() -> None:
    commitguard.install(["guarded"])
    commitguard._holes.clear()
    unpack = commitguard.unpack_noting_holes(Fetched.records)
    fetched = Fetched("guarded", 100, [101, 102, 105], end=107)  # markers at 100, 103-104, 106
    assert [r.offset for r in unpack(fetched)] == [101, 102, 105]
    assert list(commitguard._holes[TP("guarded", 0)]) == [(100, 101), (103, 105), (106, 107)]
    assert [r.offset for r in unpack(Fetched("free", 0, [1, 5], end=6))] == [1, 5]
    assert TP("free", 0) not in commitguard._holes
