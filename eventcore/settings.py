"""Settings from environment variables (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob Caseline reads from the environment; README lists them."""

    model_config = SettingsConfigDict(env_prefix="CASELINE_", extra="ignore")

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
    intake_port: int = 8001
    routing_port: int = 8002
    jointmeeting_port: int = 8003
    sla_port: int = 8004
    topic_partitions: int = 8
    log_json: bool | None = None  # None: JSON unless stderr is a terminal
    log_level: str = "INFO"
    pseudonym_secret: str = "caseline-dev-pseudonym-secret"
    relay_batch_size: int = 1000
    relay_idle_seconds: float = 0.5
    consumer_batch_size: int = 500
    # The district registry (tenants); None: district/districts.yaml. Read by district.registry too.
    districts_file: Path | None = None
    # The district of input that names none (a district-run intake); None: the registry's founding district.
    default_district: str | None = None
    # Where routing's workbench reads the SLA clocks (GET /v1/clocks); None: this host's SLA port.
    workbench_sla_url: str | None = None

    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap_servers or f"{self.broker_host}:{self.broker_port}"

    def http_port(self, service: str) -> int:
        ports = {
            "intake": self.intake_port,
            "routing": self.routing_port,
            "jointmeeting": self.jointmeeting_port,
            "sla": self.sla_port,
        }
        return ports[service]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
