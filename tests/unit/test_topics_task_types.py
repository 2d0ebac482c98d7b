"""Retry policies overridable per task_type in topics.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusion_stream.errors import TopicsFileError
from fusion_stream.settings import ROOT
from fusion_stream.topics import load_topics


def test_the_shipped_file_overrides_marketing_sms() -> None:
    config = load_topics(ROOT / "topics.yaml")
    sms = config.channel("sms").retry
    marketing = sms.for_task("marketing")
    assert (marketing.max_attempts, marketing.budget_seconds) == (3, 7200)
    assert marketing.tiers == sms.tiers  # not set: the channel's
    assert sms.for_task("appointment") is sms and sms.for_task(None) is sms


def test_overrides_follow_a_prefix(tmp_path: Path) -> None:
    config = load_topics(ROOT / "topics.yaml").with_prefix("t1.")
    marketing = config.channel("sms").retry.for_task("marketing")
    assert all(t.topic.startswith("t1.fusion.retry.") for t in marketing.tiers)


def test_an_override_with_an_unknown_key_names_its_line(tmp_path: Path) -> None:
    text = (
        (ROOT / "topics.yaml")
        .read_text()
        .replace("marketing: {max_attempts: 3, budget: 2h}", "marketing: {max_attempt: 3}")
    )
    path = tmp_path / "topics.yaml"
    path.write_text(text)
    (tmp_path / "schemas").symlink_to(ROOT / "schemas")
    with pytest.raises(
        TopicsFileError, match=r"topics.yaml:\d+: .*task_types.marketing.*max_attempt"
    ):
        load_topics(path)
