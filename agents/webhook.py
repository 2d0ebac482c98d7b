"""Webhook channel agent: HTTP calls, as the old worker's ``POST`` task made them."""

from typing import Any

from fusion_stream.app import app, channel_topic, ledger_table
from fusion_stream.runner import run_channel

ledger = ledger_table("webhook")


@app.agent(channel_topic("webhook"), name="fusion.agents.webhook")
async def webhook(stream: Any) -> None:
    await run_channel(stream, "webhook", ledger)
