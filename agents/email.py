"""Email channel agent: SES emails, as the old worker's ``send_plain_email`` and
``send_template_attachment_email`` tasks sent them."""

from typing import Any

from fusion_stream.app import app, channel_topic, ledger_table
from fusion_stream.runner import run_channel

ledger = ledger_table("email")


@app.agent(channel_topic("email"), name="fusion.agents.email")
async def email(stream: Any) -> None:
    await run_channel(stream, "email", ledger)
