"""Faust agents: one module per channel, plus the retry, compaction and health agents."""

from agents import compaction, email, health, otp, retry, sms, webhook

__all__ = ["compaction", "email", "health", "otp", "retry", "sms", "webhook"]
