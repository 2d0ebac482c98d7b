"""Webhook adapters: outbound HTTP calls to tenants' endpoints."""
