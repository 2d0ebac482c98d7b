"""Fault-test fixtures: topic sets with short retry tiers, workers that notice a dead peer fast."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import TopicSet, apply_topic_set, make_topic_set

#: the production tiers (10 s, 1 min, 10 min, 1 h) shortened so a fault test takes seconds
FAST_TIERS = {"10s": "1s", "1m": "2s", "10m": "2s", "1h": "3s", "otp.2s": "1s", "otp.10s": "1s"}
FAST_ENV = {"FUSION_SESSION_TIMEOUT": "6", "FUSION_HEARTBEAT_INTERVAL": "1"}


def fast_tiers(text: str) -> str:
    def shorten(m: re.Match[str]) -> str:
        return f"{m.group(1)}{{delay: {FAST_TIERS[m.group(2)]}"

    return re.sub(r"(fusion\.retry\.((?:otp\.)?\w+): )\{delay: \w+", shorten, text)


@pytest.fixture
def fast_topic_set(broker: str, tmp_path: Path) -> TopicSet:
    ts = make_topic_set(tmp_path, edit=fast_tiers)
    apply_topic_set(ts)
    return ts
