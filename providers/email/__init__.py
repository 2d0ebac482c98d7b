"""Email provider adapters (Amazon SES)."""
