"""Intake's own settings (environment variables, like every Caseline setting)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The key `make run` and the tests use; README names it. Production sets CASELINE_OPEN311_API_KEY.
DEVELOPMENT_OPEN311_KEY = "caseline-dev-open311-key"


class IntakeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASELINE_", extra="ignore")

    intake_port: int = 8001  # the channels' HTTP API (CASELINE_INTAKE_PORT)
    # The key complainants' pseudonyms are derived with; production refuses this development one.
    pseudonym_secret: str = "caseline-dev-pseudonym-secret"

    # Two days: long enough to gather the neighbours who call about the same broken gate or blocked
    # fire lane, short enough that a new problem of the same kind opens a case of its own.
    merge_window_hours: float = Field(
        default=48, ge=0, description="Co-complainant merge window; 0 turns merging off"
    )
    merge_min_confidence: float = Field(default=0.7, ge=0, le=1)
    future_tolerance_seconds: float = Field(
        default=600, ge=0, description="How far ahead of intake's clock a complaint time may be"
    )
    # Comma-separated keys (plain, at least 32 characters, or sha256:<hex>); unset: the development key in
    # development, a refusal to start in production.
    open311_api_key: str | None = Field(default=None, description="Comma-separated keys")
    http_batch_limit: int = Field(default=1000, ge=1, description="Most records one HTTP push may carry")
    # The classifier's probability below which its category goes to the centre's triage, and above which
    # it contradicts a mapped label (docs/intake-classification.md: how they were chosen).
    classifier_min_confidence: float = Field(default=0.45, ge=0, le=1)
    classifier_contradiction_confidence: float = Field(default=0.8, ge=0, le=1)
    # Token layouts (eventcore.auth) of intake's channel principals; unset: the development set.
    hotline_platform_tokens: str | None = None
    petition_office_tokens: str | None = None
    walk_in_desk_tokens: str | None = None
    # The public web form's and Open311's per-client limits (`limits` notation, `;`-separated), per replica.
    web_rate_limit: str = "20/minute;200/hour"
    # Personal data in intake is purged this long after its case closes (`caseline privacy purge`).
    personal_data_retention_days: int = Field(default=365, ge=1)

    @property
    def merge_window(self) -> timedelta:
        return timedelta(hours=self.merge_window_hours)

    @property
    def future_tolerance(self) -> timedelta:
        return timedelta(seconds=self.future_tolerance_seconds)

    @property
    def open311_api_keys(self) -> list[str] | None:
        """The configured keys; None when unset."""
        if self.open311_api_key is None:
            return None
        return [key.strip() for key in self.open311_api_key.split(",") if key.strip()]
