"""Interfaces the agents and providers depend on (no concrete classes here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

from fusion_stream.envelope import Job, SendResult


@runtime_checkable
class Provider(Protocol):
    """A provider adapter: sends one message of its channel."""

    name: ClassVar[str]
    channels: ClassVar[tuple[str, ...]]

    async def send(self, job: Job) -> SendResult:
        """Send one message; raise TransientError / PermanentError / ConfigurationError."""
        ...

    async def close(self) -> None: ...


class Codec(Protocol):
    """Encodes and decodes Avro records in one of the three framings."""

    def encode(self, schema: str, record: Mapping[str, Any]) -> bytes: ...

    def decode(self, data: bytes, schema: str, *, key: str | None = None) -> dict[str, Any]: ...


class Publisher(Protocol):
    """Produces a record and returns once the broker has acknowledged it."""

    async def publish(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Mapping[str, bytes] | None = None,
        partition: int | None = None,
    ) -> None: ...
