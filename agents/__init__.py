"""Faust agents: one module per channel, plus the retry, compaction and health agents.

Importing this package registers the agents on the app; ``FUSION_CHANNELS`` limits the
channel agents to a subset (a worker pool per lane).
"""

import importlib

from fusion_stream.errors import ConfigurationError
from fusion_stream.settings import get_settings

#: channel name -> module under agents/
CHANNEL_AGENTS = {"webhook": "webhook", "sms": "sms", "sms.otp": "otp", "email": "email"}
ALWAYS = ("retry", "compaction", "health")


def enabled_channels() -> list[str]:
    wanted = get_settings().channels
    if wanted is None:
        return list(CHANNEL_AGENTS)
    unknown = sorted(set(wanted) - set(CHANNEL_AGENTS))
    if unknown:
        known = ", ".join(CHANNEL_AGENTS)
        raise ConfigurationError(
            f"FUSION_CHANNELS names unknown channels {unknown}; known: {known}"
        )
    return list(wanted)


for _name in [CHANNEL_AGENTS[c] for c in enabled_channels()] + list(ALWAYS):
    importlib.import_module(f"agents.{_name}")
