"""The joint meeting's own settings (CASELINE_JOINTMEETING_*); the shared runtime's are in eventcore.settings.

Token layouts as described in services.jointmeeting.adapters.auth; None: the development set (development
only)."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

TokenLayout = dict[str, Any]


class JointMeetingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASELINE_JOINTMEETING_", extra="ignore")

    port: int = 8003  # the office and bureau APIs and the joint-meeting workbench
    bureau_tokens: TokenLayout | None = None
    office_tokens: TokenLayout | None = None
    overdue_check_seconds: float = Field(default=60.0, gt=0)

    @property
    def uses_development_tokens(self) -> bool:
        return self.bureau_tokens is None or self.office_tokens is None
