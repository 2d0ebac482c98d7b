"""Prometheus metrics of the worker (exposed at /metrics on the worker's web port)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

OUTCOMES = Counter(
    "fusion_outcomes_total",
    "Outcomes published, by channel, provider and status",
    ["channel", "provider", "status"],
)
LATENCY = Histogram(
    "fusion_provider_latency_seconds",
    "Provider call latency",
    ["channel", "provider"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RETRIES = Counter("fusion_retries_total", "Events sent to a retry tier", ["channel", "tier"])
DEAD_LETTERS = Counter(
    "fusion_dead_letters_total",
    "Events dead-lettered, by channel, stage and status",
    ["channel", "stage", "status"],
)
CONFIG_ALERTS = Counter(
    "fusion_configuration_errors_total",
    "Configuration errors (unknown provider, missing credential): an operator must act",
    ["channel", "provider"],
)
IN_FLIGHT = Gauge("fusion_in_flight", "Events started and not yet acked", ["channel"])
DLQ_DEPTH = Gauge("fusion_dlq_dead_letters", "Unresolved dead letters per channel", ["channel"])
DLQ_OLDEST = Gauge(
    "fusion_dlq_oldest_age_seconds", "Age of the oldest unresolved dead letter", ["channel"]
)
CALLBACKS = Counter("fusion_callbacks_total", "Outcome callbacks, by result", ["result"])
CONSUMER_LAG = Gauge(
    "fusion_consumer_lag", "End offset minus committed offset", ["topic", "partition"]
)
REREADS = Counter(
    "fusion_partition_rereads_total",
    "Partitions read again from the commit because Faust dropped an event before the agent",
    ["topic"],
)
