"""A service's token families, read from configuration in the one layout (eventcore.auth) and checked for
production: a family not configured falls back to its development set in development, and is a refusal in
production, as is any development or placeholder token in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eventcore.auth import (
    CredentialError,
    LayoutEntry,
    Principal,
    TokenVerifier,
    layout_entries,
    read_layout,
    stored_digest,
)
from eventcore.logging import get_logger
from eventcore.production import SecretChecks, unusable_reason

log = get_logger(__name__)

HolderCheck = Callable[[str | None, str], str | None]  # (district, holder) → why it is not a holder, or None


@dataclass(frozen=True)
class Family:
    """One kind of principal and where its tokens are configured."""

    kind: str
    setting: str  # the environment variable (or file setting) named in every message
    districts: Sequence[str]
    founding: str
    development: Callable[[], Iterable[tuple[Principal, str]]]  # the development set: principal and token
    city_wide: bool = False
    holder_problem: HolderCheck | None = None


def family_verifier(
    family: Family, raw: str | Mapping[str, Any] | None, *, checks: SecretChecks | None
) -> TokenVerifier:
    """The family's verifier. `checks` is given in production: problems are collected there, not raised."""
    if raw is None:
        if checks is not None:
            checks.problem(f"{family.setting} is not set")
            return TokenVerifier()
        log.warning("development_tokens_in_use", family=family.kind, hint=f"set {family.setting} in production")
        return TokenVerifier.of(
            ((p, [token]) for p, token in family.development()), setting=family.setting, development=True
        )
    try:
        entries = layout_entries(
            family.setting, read_layout(family.setting, raw), family.districts, family.founding,
            city_wide=family.city_wide,
        )
        return _verified(family, entries, checks)
    except CredentialError as error:
        if checks is None:
            raise
        checks.problem(str(error))
        return TokenVerifier()


def _verified(family: Family, entries: Sequence[LayoutEntry], checks: SecretChecks | None) -> TokenVerifier:
    verifier = TokenVerifier()
    for entry in entries:
        where = f"{family.setting}: {entry.district or '*'}/{entry.holder}"
        if family.holder_problem and (problem := family.holder_problem(entry.district, entry.holder)):
            raise CredentialError(f"{where}: {problem}")
        if checks is not None:
            for secret in entry.secrets:
                if (reason := unusable_reason(secret)) is not None:
                    checks.problem(f"{where} {reason}")
        verifier.add(Principal(family.kind, entry.holder, entry.district), entry.secrets, setting=family.setting)
    if checks is not None:
        checks.not_development_digests(
            family.setting, (h.digest for h in verifier.held), (token for _, token in family.development())
        )
    return verifier


def secret_list(raw: str | None) -> list[str]:
    """Comma-separated secrets (the Open311 keys, the metrics tokens)."""
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def digest_of(secret: str, where: str) -> str:
    return stored_digest(secret, where)
