"""Per-unit bearer tokens for the staff API; a token answers for one unit of one district.

Production: `CASELINE_ROUTING_TOKENS_FILE` names a YAML file. Its per-district layout maps district code to
that district's units and their tokens:

    luzhou:
      centre: s3cret...
      ST01: ...
    shangdang:
      centre: ...
      ST01-CM01: ...

The older flat layout (`centre: s3cret`, `ST01: ...`) still works and means the founding district.
Without a file the development set is used: the founding district's tokens are `dev-` plus the unit code
(`dev-centre`, `dev-ST01`, `dev-ST01-CM01`, as before tenancy), another district's `dev-<district>-<unit>`
(`dev-shangdang-centre`, `dev-shangdang-ST01`); the service logs a warning so nobody mistakes it for a real
set-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

import yaml
from pydantic_settings import BaseSettings, SettingsConfigDict

from district.directory import Directory
from district.registry import Districts, UnknownDistrict
from services.routing.domain.access import CENTRE

DEV_PREFIX = "dev-"
MIN_TOKEN_LENGTH = 16


class TokenSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASELINE_ROUTING_", extra="ignore")

    tokens_file: Path | None = None


class TokensError(ValueError):
    """The tokens file is unusable; the message names the file and the entry."""


@dataclass(frozen=True)
class StaffUnit:
    """Who a token speaks for: a unit code, which only means something within its district."""

    district: str
    unit_code: str


class TokenBook(Protocol):
    def unit_for(self, token: str) -> StaffUnit | None: ...


def units_of(directory: Directory) -> list[str]:
    """Every unit that may hold a token: the centre, the streets and the communities."""
    return [CENTRE, *(s.code for s in directory.streets), *(c.code for c in directory.communities)]


@dataclass(frozen=True)
class FixedTokens:
    """The tokens of a tokens file."""

    tokens: Mapping[str, StaffUnit]

    def unit_for(self, token: str) -> StaffUnit | None:
        return self.tokens.get(token)


class DevelopmentTokens:
    """`dev-<unit>` (founding district) and `dev-<district>-<unit>`; a district's directory is read only when
    one of its tokens is first used."""

    def __init__(self, districts: Districts) -> None:
        self.districts = districts

    @cached_property
    def _others(self) -> list[str]:
        # Longest first, so a district whose code starts another's would still be told apart.
        founding = self.districts.founding.code
        return sorted((c for c in self.districts.codes if c != founding), key=len, reverse=True)

    def unit_for(self, token: str) -> StaffUnit | None:
        if not token.startswith(DEV_PREFIX):
            return None
        rest = token.removeprefix(DEV_PREFIX)
        for code in self._others:
            if rest.startswith(f"{code}-"):
                return self._known(code, rest.removeprefix(f"{code}-"))
        return self._known(self.districts.founding.code, rest)

    def _known(self, district: str, unit: str) -> StaffUnit | None:
        return StaffUnit(district, unit) if unit in _units(self.districts, district) else None


def _units(districts: Districts, district: str) -> frozenset[str]:
    return frozenset(units_of(districts.directory(district)))


def load_tokens(path: Path, districts: Districts) -> dict[str, StaffUnit]:
    """token → (district, unit), refusing unknown districts and units, empty, short or shared tokens."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise TokensError(f"{path}: cannot read the tokens file: {error}") from error
    if not isinstance(raw, dict) or not raw:
        raise TokensError(f"{path}: expected a mapping of district to unit tokens (or of unit code to token)")
    nested = [isinstance(value, dict) for value in raw.values()]
    if all(nested):
        per_district = {str(district): units for district, units in raw.items()}
    elif not any(nested):
        per_district = {districts.founding.code: raw}  # the layout from before tenancy
    else:
        raise TokensError(
            f"{path}: mixes district sections with unit tokens at the top level; "
            "put every unit under its district"
        )
    tokens: dict[str, StaffUnit] = {}
    for district, units in per_district.items():
        try:
            districts.get(district)
        except UnknownDistrict as unknown:
            raise TokensError(f"{path}: {unknown}") from unknown
        _add_district(path, district, units, _units(districts, district), tokens)
    return tokens


def _add_district(
    path: Path,
    district: str,
    units: Mapping[object, object],
    known: frozenset[str],
    tokens: dict[str, StaffUnit],
) -> None:
    for unit, token in units.items():
        where = f"{district}/{unit}"
        if str(unit) not in known:
            raise TokensError(
                f"{path}: unit {where!r} is not the centre, a street or a community of {district}"
            )
        if not isinstance(token, str) or len(token) < MIN_TOKEN_LENGTH:
            raise TokensError(
                f"{path}: the token of {where!r} must be a string of at least {MIN_TOKEN_LENGTH} characters"
            )
        if token in tokens:
            other = tokens[token]
            shared = f"{other.district}/{other.unit_code}"
            raise TokensError(f"{path}: {where!r} shares its token with {shared!r}")
        tokens[token] = StaffUnit(district, str(unit))


def configured_tokens(districts: Districts, settings: TokenSettings | None = None) -> tuple[TokenBook, bool]:
    """The tokens in force and whether they are the development set."""
    settings = settings or TokenSettings()
    if settings.tokens_file is None:
        return DevelopmentTokens(districts), True
    return FixedTokens(load_tokens(settings.tokens_file, districts)), False
