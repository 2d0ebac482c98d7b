"""SMS channel agent: bulk and transactional SMS, as the old worker's ``sendSMS`` sent them."""

from typing import Any

from fusion_stream.app import app, channel_topic, ledger_table
from fusion_stream.runner import run_channel

ledger = ledger_table("sms")


@app.agent(channel_topic("sms"), name="fusion.agents.sms")
async def sms(stream: Any) -> None:
    await run_channel(stream, "sms", ledger)
