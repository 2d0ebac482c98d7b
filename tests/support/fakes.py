"""Fakes of the edges the processor talks to: a Faust table, the publisher, a codec, adapters."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fusion_stream.codec import AvroCodec
from fusion_stream.envelope import Job, SendResult
from fusion_stream.settings import ROOT


class _Topic:
    def get_topic_name(self) -> str:
        return "app-ledger-changelog"


class FakeTable:
    """The slice of a Faust table the ledger uses: ``data``, its changelog topic and the app's
    producer; every changelog write is recorded as (partition, key, value)."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.changelog: list[tuple[int, bytes, bytes | None]] = []
        self.changelog_topic = _Topic()
        self.app = self

    async def maybe_start_producer(self) -> FakeTable:
        return self

    async def send(self, topic: str, key: bytes, value: bytes | None, **kw: Any) -> Any:
        self.changelog.append((kw["partition"], key, value))
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut


@dataclass
class Published:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]
    partition: int | None


@dataclass
class FakePublisher:
    records: list[Published] = field(default_factory=list)

    async def publish(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Mapping[str, bytes] | None = None,
        partition: int | None = None,
    ) -> None:
        self.records.append(Published(topic, key, value, dict(headers or {}), partition))

    def to(self, topic: str) -> list[Published]:
        return [r for r in self.records if r.topic == topic]


CODEC = AvroCodec(ROOT / "schemas")


class ScriptedAdapter:
    """An adapter whose ``send`` raises or returns what the test scripted, and counts calls."""

    name = "scripted"

    def __init__(self, *outcomes: BaseException | SendResult) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[Job] = []

    async def send(self, job: Job) -> SendResult:
        self.calls.append(job)
        outcome = self.outcomes.pop(0) if self.outcomes else SendResult("scripted", "id-1", 200)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class FixedRouter:
    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter

    def adapter_for(self, job: Job) -> Any:
        if isinstance(self.adapter, BaseException):
            raise self.adapter
        return self.adapter


@dataclass
class FakeCallbacks:
    posted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def post(self, url: str, outcome: Mapping[str, Any]) -> None:
        self.posted.append((url, dict(outcome)))
