"""Faust agents: one module per channel, plus the retry and compaction agents."""

from agents import compaction, retry, webhook

__all__ = ["compaction", "retry", "webhook"]
