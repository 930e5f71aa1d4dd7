"""The watch's own settings (CASELINE_SLA_*); the shared ones are in eventcore.settings."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class SlaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASELINE_SLA_", extra="ignore")

    policy_file: Path | None = None  # default: services/sla/sla_policy.yaml
    calendar_file: Path | None = None  # default: services/sla/calendar_overrides.yaml
    metrics_refresh_seconds: float = 10.0
