"""Routing's own settings (CASELINE_ROUTING_*); the shared runtime's are in eventcore.settings, the policy and
calendar files in deadlines.settings."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class RoutingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASELINE_ROUTING_", extra="ignore")

    port: int = 8002  # the staff API and the unit workbench
