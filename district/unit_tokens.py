"""Per-unit bearer tokens (centre, streets, communities): routing's staff API and the SLA commands use them.

A token answers for one unit of one district (a principal of kind `unit`). Configured in the shared layout
(eventcore.auth), as JSON in `CASELINE_UNIT_TOKENS` or YAML in the file `CASELINE_ROUTING_TOKENS_FILE`:

    luzhou:
      centre: sha256:9f86d08...        # or the token itself (at least 32 characters)
      ST01: [old-token..., new-token...]   # two during a rotation
    shangdang:
      centre: ...

A unit at the top level means the founding district (the layout from before tenancy). Unknown districts and
units are refused at start-up. Unset in development, the development set is used: the founding district's
`dev-<unit>` (`dev-centre`, `dev-ST01`, `dev-ST01-CM01`), another district's `dev-<district>-<unit>`; in
production an unset family stops the service (eventcore.production).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from district.directory import Directory
from district.registry import Districts
from eventcore.auth import CredentialError, Principal, TokenVerifier, read_layout_file
from eventcore.credentials import Family, family_verifier
from eventcore.production import SecretChecks

CENTRE = "centre"  # the district property-management centre: every district has one

UNIT = "unit"
UNIT_TOKENS = "CASELINE_UNIT_TOKENS"
TokensError = CredentialError


class TokenSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASELINE_ROUTING_", extra="ignore")

    tokens_file: Path | None = None


@dataclass(frozen=True)
class StaffUnit:
    """Who a token speaks for: a unit code, which only means something within its district."""

    district: str
    unit_code: str

    @classmethod
    def of(cls, principal: Principal) -> StaffUnit:
        assert principal.kind == UNIT and principal.district is not None
        return cls(principal.district, principal.name)


def units_of(directory: Directory) -> list[str]:
    """Every unit that may hold a token: the centre, the streets and the communities."""
    return [CENTRE, *(s.code for s in directory.streets), *(c.code for c in directory.communities)]


def development_unit_tokens(districts: Districts) -> Iterator[tuple[Principal, str]]:
    founding = districts.founding.code
    for district in districts:
        prefix = "dev-" if district.code == founding else f"dev-{district.code}-"
        for unit in units_of(district.directory):
            yield Principal(UNIT, unit, district.code), f"{prefix}{unit}"


def unit_family(districts: Districts, setting: str = UNIT_TOKENS) -> Family:
    def problem(district: str | None, unit: str) -> str | None:
        assert district is not None
        if unit not in units_of(districts.directory(district)):
            return f"{unit!r} is not the centre, a street or a community of {district}"
        return None

    return Family(
        UNIT,
        setting,
        districts.codes,
        districts.founding.code,
        lambda: development_unit_tokens(districts),
        holder_problem=problem,
    )


def unit_tokens(
    districts: Districts, settings: TokenSettings | None = None, *, checks: SecretChecks | None = None
) -> TokenVerifier:
    """The unit tokens in force: `CASELINE_UNIT_TOKENS`, else the tokens file, else (development only) the
    development set. `checks` (production) collects problems instead of falling back."""
    settings = settings or TokenSettings()
    if (raw := os.environ.get(UNIT_TOKENS)) is not None:
        return family_verifier(unit_family(districts), raw, checks=checks)
    if settings.tokens_file is not None:
        setting = "CASELINE_ROUTING_TOKENS_FILE"
        layout = read_layout_file(setting, settings.tokens_file)
        return family_verifier(unit_family(districts, setting), layout, checks=checks)
    return family_verifier(unit_family(districts), None, checks=checks)


def development_units(districts: Districts) -> TokenVerifier:
    """The development set itself (tests, `make run`)."""
    return family_verifier(unit_family(districts), None, checks=None)
