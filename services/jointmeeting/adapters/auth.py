"""Who is calling: a district joint-meeting office's staff or a district member bureau's system, by token.

Each district has its own joint meeting, so a token answers for one (district, bureau) or one
(district, staff member) and sees only that district. Tokens come from the environment (JSON objects);
a string value means the founding district (the layout from before Caseline served several districts),
an object under a district code means that district:

    CASELINE_JOINTMEETING_BUREAU_TOKENS='{"fire_rescue": "s1", "shangdang": {"fire_rescue": "s2"}}'
    CASELINE_JOINTMEETING_OFFICE_TOKENS='{"staff-7": "s3", "shangdang": {"staff-9": "s4"}}'

Unset, the development set is used (for `caseline up` and the tests only; the service logs a warning):
the founding district's `dev-bureau-<bureau>` / `dev-office`, another district's
`dev-<district>-bureau-<bureau>` / `dev-<district>-office`.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Header, HTTPException
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from district.registry import Districts, UnknownDistrict
from schemas.reference import Bureau

DEV_OFFICE_STAFF = "office-dev"
TokenLayout = dict[str, str | dict[str, str]]


class JointMeetingSettings(BaseSettings):
    """Token layouts as in the module docstring; None: the development set."""

    model_config = SettingsConfigDict(env_prefix="CASELINE_JOINTMEETING_", extra="ignore")

    bureau_tokens: TokenLayout | None = None
    office_tokens: TokenLayout | None = None
    overdue_check_seconds: float = Field(default=60.0, gt=0)

    @property
    def uses_development_tokens(self) -> bool:
        return self.bureau_tokens is None or self.office_tokens is None


class TokensError(ValueError):
    """The token settings are unusable; the message names the setting and the entry."""


@dataclass(frozen=True)
class BureauCaller:
    district: str
    bureau: Bureau


@dataclass(frozen=True)
class OfficeCaller:
    district: str
    staff: str


def _dev_prefix(districts: Districts, district: str) -> str:
    return "dev-" if district == districts.founding.code else f"dev-{district}-"


def development_bureau_tokens(districts: Districts) -> dict[str, BureauCaller]:
    return {
        f"{_dev_prefix(districts, d.code)}bureau-{bureau.value}": BureauCaller(d.code, bureau)
        for d in districts
        for bureau in Bureau
    }


def development_office_tokens(districts: Districts) -> dict[str, OfficeCaller]:
    return {
        f"{_dev_prefix(districts, d.code)}office": OfficeCaller(d.code, DEV_OFFICE_STAFF) for d in districts
    }


def _entries(setting: str, layout: TokenLayout, districts: Districts) -> Iterator[tuple[str, str, str]]:
    """(district, holder, token) for each entry: a flat entry is the founding district's."""
    for key, value in layout.items():
        if isinstance(value, str):
            yield districts.founding.code, key, value
            continue
        try:
            district = districts.get(key).code
        except UnknownDistrict as error:
            raise TokensError(f"{setting}: {error}") from error
        for holder, token in value.items():
            yield district, holder, token


def _unique(setting: str, entries: Iterable[tuple[str, str, str]]) -> dict[str, tuple[str, str]]:
    """token → (district, holder); a shared token would answer for two callers, so it is refused."""
    found: dict[str, tuple[str, str]] = {}
    for district, holder, token in entries:
        if not token:
            raise TokensError(f"{setting}: the token of {district}/{holder} is empty")
        if token in found:
            raise TokensError(
                f"{setting}: {district}/{holder} shares its token with {'/'.join(found[token])}"
            )
        found[token] = (district, holder)
    return found


def bureau_tokens(settings: JointMeetingSettings, districts: Districts) -> dict[str, BureauCaller]:
    if settings.bureau_tokens is None:
        return development_bureau_tokens(districts)
    setting = "CASELINE_JOINTMEETING_BUREAU_TOKENS"
    tokens: dict[str, BureauCaller] = {}
    for token, (district, holder) in _unique(
        setting, _entries(setting, settings.bureau_tokens, districts)
    ).items():
        try:
            tokens[token] = BureauCaller(district, Bureau(holder))
        except ValueError:
            known = ", ".join(b.value for b in Bureau)
            raise TokensError(
                f"{setting}: {holder!r} ({district}) is not a bureau; bureaus: {known}"
            ) from None
    return tokens


def office_tokens(settings: JointMeetingSettings, districts: Districts) -> dict[str, OfficeCaller]:
    if settings.office_tokens is None:
        return development_office_tokens(districts)
    setting = "CASELINE_JOINTMEETING_OFFICE_TOKENS"
    entries = _unique(setting, _entries(setting, settings.office_tokens, districts))
    return {token: OfficeCaller(district, staff) for token, (district, staff) in entries.items()}


@dataclass(frozen=True)
class Tokens:
    bureaus: dict[str, BureauCaller]  # token → caller
    office: dict[str, OfficeCaller]

    @classmethod
    def configured(cls, settings: JointMeetingSettings, districts: Districts) -> Tokens:
        return cls(bureau_tokens(settings, districts), office_tokens(settings, districts))

    def bureau(self, token: str) -> BureauCaller | None:
        return next((c for known, c in self.bureaus.items() if hmac.compare_digest(known, token)), None)

    def staff(self, token: str) -> OfficeCaller | None:
        return next((c for known, c in self.office.items() if hmac.compare_digest(known, token)), None)


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
    """FastAPI dependencies: the calling office staff member, the calling bureau, each with its district."""

    tokens: Tokens

    def office_staff(self, authorization: Annotated[str | None, Header()] = None) -> OfficeCaller:
        staff = self.tokens.staff(_bearer(authorization))
        if staff is None:
            raise _unauthorised("not a joint-meeting office token")
        return staff

    def calling_bureau(self, authorization: Annotated[str | None, Header()] = None) -> BureauCaller:
        bureau = self.tokens.bureau(_bearer(authorization))
        if bureau is None:
            raise _unauthorised("not a bureau token")
        return bureau
