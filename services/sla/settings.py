"""The watch's own settings (CASELINE_SLA_*); the shared ones are in eventcore.settings."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class SlaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASELINE_SLA_", extra="ignore")

    policy_file: Path | None = None  # default: services/sla/sla_policy.yaml
    calendar_file: Path | None = None  # default: services/sla/calendar_overrides.yaml
    metrics_refresh_seconds: float = 10.0
    # A case called back with every clock stopped leaves the watch's memory after this long unchanged.
    archive_after_hours: float = 72.0
