"""One frozen settings object read from the environment (prefix ``FUSION_``)."""

from __future__ import annotations

import socket
import tempfile
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Worker settings. Every field is ``FUSION_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(
        env_prefix="FUSION_", frozen=True, env_nested_delimiter="__", extra="ignore"
    )

    #: Kafka bootstrap URL(s), faust style: ``kafka://host:port[;kafka://host2:port]``
    broker: str = "kafka://127.0.0.1:9092"
    #: Faust app id; also the consumer group id
    app_id: str = "fusion-stream"
    #: Schema Registry URL; when set, records are written with Confluent framing
    schema_registry_url: str | None = None
    #: Schema Registry credentials ``user:password`` (masked when printed)
    schema_registry_auth: SecretStr | None = None
    #: path of topics.yaml (every topic, its configs and value schema)
    topics_file: Path = ROOT / "topics.yaml"
    #: folder holding the Avro schemas (.avsc)
    schemas_dir: Path = ROOT / "schemas"
    #: provider calls in flight per channel agent (Little's law: rate x latency)
    max_in_flight: int = Field(default=100, ge=1)
    #: provider calls in flight to any one destination (webhook host, provider), so one
    #: that hangs holds only its share of ``max_in_flight``
    max_in_flight_per_destination: int = Field(default=25, ge=1)
    #: default HTTP timeout of a webhook call, seconds (the old worker used 15)
    webhook_timeout: float = Field(default=15.0, gt=0)
    #: channel agents this worker runs (default: all). Run the OTP lane in pods of its own
    #: (``FUSION_CHANNELS='["sms.otp"]'``) so no bulk campaign shares its event loop
    channels: list[str] | None = None
    #: seconds an OTP without ``expires_at`` stays worth sending (from its ``created_at``,
    #: else its Kafka timestamp); after that it is ``expired``, never sent or retried
    otp_ttl: float = Field(default=600.0, gt=0)
    #: default provider per channel when an event names none
    default_provider: dict[str, str] = Field(
        default_factory=lambda: {
            "sms": "console",
            "sms.otp": "console",
            "email": "console",
            "push": "console",
            "whatsapp": "console",
            "webhook": "http",
        }
    )
    #: consumer group session timeout, seconds (how long a dead worker keeps its partitions)
    session_timeout: float = Field(default=30.0, gt=0)
    #: consumer heartbeat interval, seconds (well under the session timeout)
    heartbeat_interval: float = Field(default=3.0, gt=0)
    #: replication factor of the changelog topics Faust creates (the delivery ledgers)
    table_replication_factor: int = Field(default=1, ge=1)
    #: how often the compaction agent tidies the dead letters, seconds (the old cron: 5 min)
    compaction_interval: float = Field(default=300.0, gt=0)
    #: dead letters older than this are tombstoned by the compaction agent, seconds
    dlq_retention: float = Field(default=14 * 24 * 3600, gt=0)
    #: a worker whose assigned partitions have lag but whose commits have not moved for this
    #: long reports itself not alive (Kubernetes restarts it), seconds
    stall_timeout: float = Field(default=300.0, gt=0)
    #: records fetched per poll, all partitions together. Faust stops fetching a partition
    #: when its agent's buffer passes 80% of ``stream_buffer``; the other 20% must hold a
    #: whole poll, or the delivery loop blocks on a full buffer and stalls every topic
    #: (the OTP lane behind a bulk backlog). Keep ``max_poll_records <= stream_buffer / 5``.
    max_poll_records: int = Field(default=500, ge=1)
    #: bytes fetched per partition per request. Small, so a backlog on one topic fills the
    #: fetch buffer with a few hundred records a partition, not thousands that every other
    #: topic's records (OTPs) would queue behind
    max_fetch_bytes_per_partition: int = Field(default=64 * 1024, ge=1024)
    #: events buffered per agent before Faust pauses fetching its partitions
    stream_buffer: int = Field(default=4096, ge=16)
    #: how often offsets are committed, seconds
    commit_interval: float = Field(default=1.0, gt=0)
    #: port of the worker's web server (health, metrics); 0 disables it
    web_port: int = 6066
    #: address the web server binds (health probes need the pod IP in Kubernetes)
    web_bind: str = "127.0.0.1"
    #: partitions of Faust's table changelogs (must equal the channel topics' partitions)
    table_partitions: int = Field(default=6, ge=1)
    #: how long the delivery ledger remembers a job id (dedupe window), seconds
    #: (about 200 bytes a job in memory: 6 h at 500 events/s is ~2 GB; redeliveries after a
    #: crash or rebalance come within minutes)
    ledger_ttl: float = Field(default=6 * 3600, gt=0)
    #: a redelivered job found in flight (the worker died mid-call): ``resend`` or ``hold``
    #: (``unknown`` outcome, reconcile with the provider). OTPs are resent: a login code that
    #: never arrives is worse than one that arrives twice.
    in_flight_policy: dict[str, str] = Field(
        default_factory=lambda: {"sms.otp": "resend", "default": "hold"}
    )
    #: tries of an outcome callback POST (never blocks the channel)
    callback_attempts: int = Field(default=3, ge=1)
    #: consumer group of the retry tiers (default: ``<app_id>-retry``)
    retry_group: str | None = None
    #: started-but-unacked events per channel agent (bounds memory and redelivery)
    max_pending: int = Field(default=1000, ge=1)
    #: host name reported in outcomes (the old log structure's ``host``)
    host: str = Field(default_factory=socket.gethostname)
    #: bytes of a provider response kept in an outcome
    response_excerpt: int = 300
    #: log level of the worker
    log_level: str = "info"
    #: Faust's working directory (its tables are in memory; it still writes a little here):
    #: default ``<temp dir>/fusion-stream/<app_id>``, so the working directory can stay
    #: read-only
    data_dir: Path | None = None

    def faust_data_dir(self) -> Path:
        return self.data_dir or Path(tempfile.gettempdir()) / "fusion-stream" / self.app_id


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
