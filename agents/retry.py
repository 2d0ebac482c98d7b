"""Retry agent: re-publishes retry-tier records to their channel topic when they are due."""

from fusion_stream.app import app, settings, topics
from fusion_stream.retrier import RetryScheduler, run_forever
from fusion_stream.runtime import get_runtime
from fusion_stream.topics import bootstrap_servers


@app.task
async def retry_tiers() -> None:
    runtime = await get_runtime(app, settings, topics)
    await run_forever(
        lambda: RetryScheduler(
            bootstrap=bootstrap_servers(settings.broker),
            group=settings.retry_group or f"{settings.app_id}-retry",
            tiers=list(topics.retry_tiers),
            publisher=runtime.publisher,
            consumer_config={
                "session_timeout_ms": int(settings.session_timeout * 1000),
                "heartbeat_interval_ms": int(settings.heartbeat_interval * 1000),
            },
        )
    )
