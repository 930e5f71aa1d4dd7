"""Settings from environment variables (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """The shared runtime's knobs (eventcore, district, the CLI); each service's own (its port, its secrets)
    are in services/<service>/settings.py. README lists them all."""

    model_config = SettingsConfigDict(env_prefix="CASELINE_", extra="ignore")

    # development: the development credentials of the README work; production: they, placeholders and missing
    # secrets stop every service at start (eventcore.production).
    env: Literal["development", "production"] = "development"

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "CASELINE_DATABASE_URL")
    )
    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "CASELINE_KAFKA_BOOTSTRAP_SERVERS"),
    )
    data_dir: Path = Path(".local")
    broker_host: str = "127.0.0.1"
    broker_port: int = 9092
    http_host: str = "127.0.0.1"
    topic_partitions: int = 8
    log_json: bool | None = None  # None: JSON unless stderr is a terminal
    log_level: str = "INFO"
    relay_batch_size: int = 1000
    relay_idle_seconds: float = 0.5
    consumer_batch_size: int = 500
    # Intake's HTTP requests: transactions committing at once (services/intake/adapters/group_commit.py);
    # requests arriving while they run wait and share the next one.
    group_commit_transactions: int = Field(default=2, ge=1, le=8)
    # The longest a consumer's fetch waits on a quiet partition (CASELINE_CONSUMER_FETCH_WAIT_MS); see
    # eventcore.service. Lower is quicker on a broker that answers at the deadline, at a little idle CPU.
    consumer_fetch_wait_ms: int = Field(default=20, ge=1, le=5000)
    # How long a consumer's poll waits for records; an empty poll is followed by a sleep as long (FastStream),
    # in which arriving records wait (CASELINE_CONSUMER_BATCH_TIMEOUT_MS; eventcore.service).
    consumer_batch_timeout_ms: int = Field(default=10, ge=1, le=1000)
    # How often each relay checks that the broker still holds what it published (a lost log is re-driven).
    relay_log_check_seconds: float = 5.0
    # Published outbox rows are kept this long (0: forever): what a re-drive after a lost log can resend.
    outbox_retention_hours: float = 168.0
    # A consumed message whose handling fails this often (with back-off) is dead-lettered with the reason.
    consumer_max_attempts: int = 5
    consumer_retry_backoff_seconds: float = 0.2  # the first back-off; it doubles, up to 5 s
    # The background delivery check: how often, and how long a gap may stay open before it is reported.
    audit_check_seconds: float = 15.0
    audit_grace_seconds: float = 120.0
    # Bearer token(s) Prometheus scrapes /metrics with, comma-separated (two during a rotation); required in
    # production, where /metrics answers nobody else.
    metrics_token: str | None = None
    # Kafka client security, passed to every client (eventcore.kafka, the FastStream broker). None: plaintext,
    # which production accepts only when set explicitly.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] | None = None
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ssl_cafile: Path | None = (
        None  # CA bundle that signed the brokers' certificates; None: the system's
    )
    kafka_ssl_certfile: Path | None = None  # client certificate (mutual TLS)
    kafka_ssl_keyfile: Path | None = None
    # Refused input larger than this is kept truncated in dead letters, with its original size recorded.
    dead_letter_max_payload_bytes: int = Field(default=256 * 1024, ge=1024)  # eventcore.deadletters
    # The district registry (tenants); None: district/districts.yaml. Read by district.registry too.
    districts_file: Path | None = None
    # The district of input that names none (a district-run intake); None: the registry's founding district.
    default_district: str | None = None

    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap_servers or f"{self.broker_host}:{self.broker_port}"

    def metrics_tokens(self) -> list[str]:
        return [token.strip() for token in (self.metrics_token or "").split(",") if token.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
