"""SMS provider adapters: one module per provider (OTP adapters live here too)."""
