"""Who is calling: the joint-meeting office's staff and each member bureau's system, by bearer token.

Tokens come from the environment (JSON objects); the development defaults below are for `caseline up`
and the tests only, and the service logs a warning when it runs with them.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Header, HTTPException
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.reference import Bureau

DEV_BUREAU_TOKENS: dict[Bureau, str] = {bureau: f"dev-bureau-{bureau.value}" for bureau in Bureau}
DEV_OFFICE_TOKENS: dict[str, str] = {"office-dev": "dev-office"}


class JointMeetingSettings(BaseSettings):
    """CASELINE_JOINTMEETING_BUREAU_TOKENS='{"fire_rescue": "..."}', ..._OFFICE_TOKENS='{"staff-id": "..."}'."""

    model_config = SettingsConfigDict(env_prefix="CASELINE_JOINTMEETING_", extra="ignore")

    bureau_tokens: dict[Bureau, str] = Field(default_factory=lambda: dict(DEV_BUREAU_TOKENS))
    office_tokens: dict[str, str] = Field(default_factory=lambda: dict(DEV_OFFICE_TOKENS))
    overdue_check_seconds: float = Field(default=60.0, gt=0)

    @property
    def uses_development_tokens(self) -> bool:
        return self.bureau_tokens == DEV_BUREAU_TOKENS or self.office_tokens == DEV_OFFICE_TOKENS


@dataclass(frozen=True)
class Tokens:
    bureaus: dict[Bureau, str]
    office: dict[str, str]

    def bureau(self, token: str) -> Bureau | None:
        return next((b for b, known in self.bureaus.items() if hmac.compare_digest(known, token)), None)

    def staff(self, token: str) -> str | None:
        return next((s for s, known in self.office.items() if hmac.compare_digest(known, token)), None)


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(
        401, {"error": "unauthorised", "detail": detail}, headers={"WWW-Authenticate": "Bearer"}
    )


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _unauthorised("send 'Authorization: Bearer <token>'")
    return token.strip()


@dataclass(frozen=True)
class Callers:
    """FastAPI dependencies: the calling office staff id, the calling bureau."""

    tokens: Tokens

    def office_staff(self, authorization: Annotated[str | None, Header()] = None) -> str:
        staff = self.tokens.staff(_bearer(authorization))
        if staff is None:
            raise _unauthorised("not a joint-meeting office token")
        return staff

    def calling_bureau(self, authorization: Annotated[str | None, Header()] = None) -> Bureau:
        bureau = self.tokens.bureau(_bearer(authorization))
        if bureau is None:
            raise _unauthorised("not a bureau token")
        return bureau
