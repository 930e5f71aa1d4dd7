"""Per-unit bearer tokens for the staff API.

Production: `CASELINE_ROUTING_TOKENS_FILE` names a YAML file mapping unit code to token
(`centre: s3cret`, `ST01: ...`, `ST01-CM01: ...`). Without it the development set is used: the token
of a unit is `dev-` plus its code (`dev-centre`, `dev-ST01`, `dev-ST01-CM01`), which is what `make run`
serves; the service logs a warning so nobody mistakes it for a real set-up.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic_settings import BaseSettings, SettingsConfigDict

from district.directory import Directory
from services.routing.domain.access import CENTRE

DEV_PREFIX = "dev-"


class TokenSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASELINE_ROUTING_", extra="ignore")

    tokens_file: Path | None = None


class TokensError(ValueError):
    """The tokens file is unusable; the message names the file and the entry."""


def units_of(directory: Directory) -> list[str]:
    """Every unit that may hold a token: the centre, the streets and the communities."""
    return [CENTRE, *(s.code for s in directory.streets), *(c.code for c in directory.communities)]


def development_tokens(directory: Directory) -> dict[str, str]:
    return {f"{DEV_PREFIX}{unit}": unit for unit in units_of(directory)}


def load_tokens(path: Path, directory: Directory) -> dict[str, str]:
    """token → unit code, refusing unknown units, empty or shared tokens."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise TokensError(f"{path}: cannot read the tokens file: {error}") from error
    if not isinstance(raw, dict):
        raise TokensError(f"{path}: expected a mapping of unit code to token")
    known = set(units_of(directory))
    tokens: dict[str, str] = {}
    for unit, token in raw.items():
        if str(unit) not in known:
            raise TokensError(f"{path}: unit {unit!r} is not the centre, a street or a community")
        if not isinstance(token, str) or len(token) < 16:
            raise TokensError(f"{path}: the token of {unit!r} must be a string of at least 16 characters")
        if token in tokens:
            raise TokensError(f"{path}: {unit!r} shares its token with {tokens[token]!r}")
        tokens[token] = str(unit)
    return tokens


def configured_tokens(
    directory: Directory, settings: TokenSettings | None = None
) -> tuple[dict[str, str], bool]:
    """The tokens in force and whether they are the development set."""
    settings = settings or TokenSettings()
    if settings.tokens_file is None:
        return development_tokens(directory), True
    return load_tokens(settings.tokens_file, directory), False
