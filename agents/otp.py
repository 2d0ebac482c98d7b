"""OTP lane agent: login codes on their own topic, window and call slots, never behind bulk SMS."""

from typing import Any

from fusion_stream.app import app, channel_topic, ledger_table
from fusion_stream.runner import run_channel

ledger = ledger_table("sms.otp")


@app.agent(channel_topic("sms.otp"), name="fusion.agents.otp")
async def otp(stream: Any) -> None:
    await run_channel(stream, "sms.otp", ledger)
