"""Faust agents: one module per channel, plus the retry and compaction agents."""

from agents import retry, webhook

__all__ = ["retry", "webhook"]
