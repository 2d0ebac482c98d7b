"""Per-worker services, built once inside the event loop: codec, providers, publisher."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from fusion_stream.bulkhead import Bulkhead
from fusion_stream.callbacks import CallbackPoster
from fusion_stream.codec import AvroCodec
from fusion_stream.ledger import TableLedger
from fusion_stream.processor import ChannelProcessor, Router
from fusion_stream.provider_config import ProviderConfigReader
from fusion_stream.publisher import KafkaPublisher
from fusion_stream.ratelimit import RateLimiter
from fusion_stream.routing import SmsRouter
from fusion_stream.settings import Settings
from fusion_stream.topics import TopicsConfig, bootstrap_servers
from providers.base import ProviderContext
from providers.config import AccountPool, make_lookup
from providers.registry import discover

#: channels routed by SmsRouter (number validation, whitelists, msg91 -> sns)
SMS_CHANNELS = ("sms", "sms.otp")


@dataclass
class Runtime:
    """Everything the channel agents share inside one worker process."""

    settings: Settings
    topics: TopicsConfig
    codec: AvroCodec
    session: aiohttp.ClientSession
    pool: AccountPool
    publisher: KafkaPublisher
    executor: ThreadPoolExecutor
    callbacks: CallbackPoster
    provider_config: ProviderConfigReader | None = None
    processors: dict[str, ChannelProcessor] = field(default_factory=dict)

    def processor(self, channel: str, ledger_table: Any | None = None) -> ChannelProcessor:
        if channel not in self.processors:
            policies = self.settings.in_flight_policy
            self.processors[channel] = ChannelProcessor(
                channel=self.topics.channel(channel),
                codec=self.codec,
                router=SmsRouter(self.pool, self.settings.default_provider, self.provider_config)
                if channel in SMS_CHANNELS
                else Router(self.pool, self.settings.default_provider),
                publisher=self.publisher,
                outcomes_topic=self.topics.outcomes,
                host=self.settings.host,
                ledger=TableLedger(ledger_table, self.settings.ledger_ttl)
                if ledger_table is not None
                else None,
                callbacks=self.callbacks,
                in_flight_policy=policies.get(channel, policies.get("default", "hold")),
                otp_ttl=self.settings.otp_ttl,
                bulkhead=Bulkhead(
                    self.settings.max_in_flight, self.settings.max_in_flight_per_destination
                ),
            )
        return self.processors[channel]

    async def close(self) -> None:
        if self.provider_config is not None:
            await self.provider_config.stop()
        await self.callbacks.close()
        await self.pool.close()
        await self.session.close()
        self.executor.shutdown(wait=False, cancel_futures=True)


_runtime: Runtime | None = None
_lock = asyncio.Lock()


async def get_runtime(app: Any, settings: Settings, topics: TopicsConfig) -> Runtime:
    """The worker's runtime, created on first use (inside the running loop)."""
    global _runtime
    async with _lock:
        if _runtime is None:
            connector = aiohttp.TCPConnector(limit=settings.max_in_flight * 2, ttl_dns_cache=300)
            session = aiohttp.ClientSession(connector=connector)
            executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="fusion-blocking")
            codec = AvroCodec.from_settings(settings)
            # every provider-config record is read before the first event is routed
            provider_config = ProviderConfigReader(
                bootstrap_servers(settings.broker), topics.provider_config, codec
            )
            await provider_config.start()
            context = ProviderContext(
                session=session,
                settings=settings,
                config=make_lookup(provider_config),
                executor=executor,
                limiter=RateLimiter(),
            )
            _runtime = Runtime(
                settings=settings,
                topics=topics,
                codec=codec,
                session=session,
                pool=AccountPool(discover(), context),
                provider_config=provider_config,
                publisher=KafkaPublisher(app),
                executor=executor,
                callbacks=CallbackPoster(session, attempts=settings.callback_attempts),
            )
        return _runtime


async def close_runtime() -> None:
    global _runtime
    if _runtime is not None:
        runtime, _runtime = _runtime, None
        await runtime.close()
