"""Faust agents: one module per channel, plus the retry and compaction agents."""

from agents import webhook

__all__ = ["webhook"]
