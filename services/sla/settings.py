"""The watch's own settings (CASELINE_SLA_*); the shared ones are in eventcore.settings, and the policy and
calendar files (read by every service that computes with deadlines) in deadlines.settings."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from deadlines.settings import DeadlineSettings


class SlaSettings(DeadlineSettings):
    model_config = SettingsConfigDict(env_prefix="CASELINE_SLA_", extra="ignore")

    port: int = 8004  # the ops page and its API (CASELINE_SLA_PORT)
    metrics_refresh_seconds: float = 10.0
    # A case called back with every clock stopped leaves the watch's memory after this long unchanged.
    archive_after_hours: float = 72.0
