"""The provider-config table: the compacted ``fusion.provider-config`` topic, read whole.

Every worker holds every record (key = ``provider_id``; a tombstone deletes): allowed country
codes, provider settings and fallbacks of each provider account.

Why a reader task and not a Faust GlobalTable: the records are written by
``fusion-stream providers set`` straight into the topic, and a GlobalTable does not reliably
apply records produced directly into its changelog on every worker
(https://github.com/robinhood/faust/issues/541); its recovery is also tied to consumer-group
rebalances, while routing must never run before the whole topic is read. So each worker
runs one group-less aiokafka consumer that reads the (one-partition) topic from the
beginning, sets ``ready`` once it reached the end offsets it saw at start, and keeps
following it. The CLI reads the topic with the same class.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from fusion_stream.errors import ConfigurationError, DecodeError
from fusion_stream.types import Codec
from providers.config import applies

log = logging.getLogger(__name__)

SCHEMA = "provider_config"


class ProviderConfigView:
    """Decoded provider-config records by provider_id (a plain dict underneath).

    :param records: initial records (tests, a snapshot); ``provider_id -> record``
    """

    def __init__(self, records: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._records: dict[str, dict[str, Any]] = {}
        for key, record in (records or {}).items():
            self.apply(key, record)

    def get(self, provider_id: str) -> dict[str, Any] | None:
        """The decoded record of ``provider_id`` (do not mutate it), or None."""
        return self._records.get(provider_id)

    def for_provider(self, name: str) -> dict[str, str]:
        """Settings of the provider's own record (``provider_id == name``); see providers.config."""
        record = self._records.get(name)
        return dict(record.get("settings") or {}) if record and applies(record, name) else {}

    def apply(self, key: str, record: Mapping[str, Any] | None) -> None:
        """Store a record under ``key``; ``None`` (a tombstone) deletes it."""
        if record is None:
            self._records.pop(key, None)
        else:
            self._records[key] = {**record, "provider_id": key}

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._records))

    def __len__(self) -> int:
        return len(self._records)


class ProviderConfigReader(ProviderConfigView):
    """Reads the topic into the view and keeps following it (one per worker).

    :param bootstrap: ``host:port[,host:port]`` (``fusion_stream.topics.bootstrap_servers``)
    """

    def __init__(self, bootstrap: str, topic: str, codec: Codec) -> None:
        super().__init__()
        self.bootstrap, self.topic, self.codec = bootstrap, topic, codec
        self.ready = asyncio.Event()
        self._consumer: Any = None
        self._task: asyncio.Task[None] | None = None
        self._end: dict[Any, int] = {}

    async def start(self, within: float = 60.0) -> None:
        """Read the topic to its current end (in at most ``within`` seconds), then follow it.

        :raises ConfigurationError: the topic does not exist or could not be read in time
        """
        from aiokafka import AIOKafkaConsumer, TopicPartition

        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="fusion-stream-provider-config",
        )
        try:
            await asyncio.wait_for(self._consumer.start(), within)
            # partitions_for_topic() only knows topics the client already tracks, and
            # topics() keeps the metadata it fetched to itself (aiokafka 0.14)
            cluster = await self._consumer._client.fetch_all_metadata()
            partitions = cluster.partitions_for_topic(self.topic)
            if not partitions:
                raise ConfigurationError(
                    f"provider-config topic {self.topic!r} does not exist "
                    "(run `fusion-stream topics apply`)"
                )
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            self._consumer.assign(tps)
            await self._consumer.seek_to_beginning(*tps)
            self._end = await self._consumer.end_offsets(tps)
            self._task = asyncio.create_task(self._follow(), name="provider-config-reader")
            await asyncio.wait_for(self.ready.wait(), within)
        except TimeoutError:
            await self.stop()
            raise ConfigurationError(
                f"provider-config topic {self.topic!r} not read within {within:g}s "
                f"from {self.bootstrap}"
            ) from None
        except BaseException:
            await self.stop()
            raise
        log.info("provider-config: %d record(s) from %s", len(self), self.topic)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()

    async def _follow(self) -> None:
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for message in records:
                        self._apply_message(message.key, message.value, message.offset)
                if not self.ready.is_set() and await self._caught_up():
                    self.ready.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker comes back; never let the reader die
                log.warning("provider-config reader: %r; retrying", exc)
                await asyncio.sleep(1.0)

    async def _caught_up(self) -> bool:
        for tp, end in self._end.items():
            if await self._consumer.position(tp) < end:
                return False
        return True

    def _apply_message(self, key: bytes | None, value: bytes | None, offset: int) -> None:
        provider_id = key.decode("utf-8", "replace") if key else None
        if value is None:
            if provider_id:
                self.apply(provider_id, None)
            return
        try:
            record = self.codec.decode(value, SCHEMA, key=provider_id)
        except DecodeError as exc:
            # Keep the previous record of this key: a bad write must not drop a whitelist.
            log.error("provider-config offset %d undecodable, skipped: %s", offset, exc)
            return
        self.apply(provider_id or str(record.get("provider_id") or ""), record)


async def read_provider_config(
    bootstrap: str, topic: str, codec: Codec, within: float = 30.0
) -> dict[str, dict[str, Any]]:
    """Every record of the topic, read to its end (the CLI's ``providers show``)."""
    reader = ProviderConfigReader(bootstrap, topic, codec)
    await reader.start(within)
    try:
        return {key: reader.get(key) or {} for key in reader}
    finally:
        await reader.stop()
