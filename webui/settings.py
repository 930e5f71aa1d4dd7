"""The workbenches' settings (environment variables `CASELINE_WORKBENCH_*`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from eventcore.auth import MIN_TOKEN_LENGTH
from eventcore.production import SecretChecks

# The development default: `caseline up` and the tests sign sessions with it. Production must set its own
# (a long random value); the service logs a warning while the default is in use.
DEVELOPMENT_SECRET = "caseline-dev-workbench-session-secret"


class WorkbenchSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASELINE_WORKBENCH_", extra="ignore")

    secret: str = Field(default=DEVELOPMENT_SECRET, min_length=16, description="Signs the session cookies")
    session_hours: float = Field(default=10.0, gt=0, le=24, description="A session ends after this long")
    sign_in_failures: int = Field(default=10, ge=1, description="Failed sign-ins per client per window")
    sign_in_window_seconds: float = Field(default=300.0, gt=0)

    @property
    def uses_development_secret(self) -> bool:
        return self.secret == DEVELOPMENT_SECRET

    def check_production(self, checks: SecretChecks | None) -> None:
        """Production signs sessions with a secret of its own, long enough that it cannot be guessed."""
        if checks is None:
            return
        checks.secret("CASELINE_WORKBENCH_SECRET", self.secret)
        if len(self.secret) < MIN_TOKEN_LENGTH:
            checks.problem(f"CASELINE_WORKBENCH_SECRET must have at least {MIN_TOKEN_LENGTH} characters")
