"""Who is calling: a district joint-meeting office's staff or a district member bureau's system, by token.

Each district has its own joint meeting, so a token answers for one (district, bureau) or one
(district, staff member) and sees only that district. Tokens come from the environment in the shared layout
(eventcore.auth: plain tokens of at least 32 characters or `sha256:<hex>`, up to two per holder); a holder at
the top level means the founding district, a section under a district code that district:

    CASELINE_JOINTMEETING_BUREAU_TOKENS='{"fire_rescue": "…", "shangdang": {"fire_rescue": ["…", "…"]}}'
    CASELINE_JOINTMEETING_OFFICE_TOKENS='{"staff-7": "…", "shangdang": {"staff-9": "sha256:…"}}'

Unset in development, the development set is used (for `caseline up` and the tests only; the service logs a
warning): the founding district's `dev-bureau-<bureau>` / `dev-office`, another district's
`dev-<district>-bureau-<bureau>` / `dev-<district>-office`. Unset in production, the service refuses to start.
"""

# No `from __future__ import annotations`: FastAPI must see the closures' dependency types at runtime.

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from district.registry import Districts
from eventcore.auth import Authenticator, CredentialError, Principal, TokenVerifier
from eventcore.credentials import Family, family_verifier
from eventcore.production import SecretChecks
from schemas.reference import Bureau
from services.jointmeeting.settings import JointMeetingSettings, TokenLayout

DEV_OFFICE_STAFF = "office-dev"
BUREAU = "bureau"
OFFICE = "office"
TokensError = CredentialError


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


def development_bureau_tokens(districts: Districts) -> Iterator[tuple[Principal, str]]:
    for d in districts:
        for bureau in Bureau:
            yield Principal(BUREAU, bureau.value, d.code), f"{_dev_prefix(districts, d.code)}bureau-{bureau.value}"


def development_office_tokens(districts: Districts) -> Iterator[tuple[Principal, str]]:
    for d in districts:
        yield Principal(OFFICE, DEV_OFFICE_STAFF, d.code), f"{_dev_prefix(districts, d.code)}office"


def _not_a_bureau(district: str | None, holder: str) -> str | None:
    if holder in {b.value for b in Bureau}:
        return None
    return f"{holder!r} ({district}) is not a bureau; bureaus: {', '.join(b.value for b in Bureau)}"


def bureau_family(districts: Districts) -> Family:
    return Family(
        BUREAU,
        "CASELINE_JOINTMEETING_BUREAU_TOKENS",
        districts.codes,
        districts.founding.code,
        lambda: development_bureau_tokens(districts),
        holder_problem=_not_a_bureau,
    )


def office_family(districts: Districts) -> Family:
    return Family(
        OFFICE,
        "CASELINE_JOINTMEETING_OFFICE_TOKENS",
        districts.codes,
        districts.founding.code,
        lambda: development_office_tokens(districts),
    )


@dataclass(frozen=True)
class Tokens:
    """The office's and the bureaus' tokens, as one verifier (the kinds tell them apart)."""

    verifier: TokenVerifier

    @classmethod
    def configured(
        cls, settings: JointMeetingSettings, districts: Districts, checks: SecretChecks | None = None
    ) -> "Tokens":
        bureaus = family_verifier(bureau_family(districts), _layout(settings.bureau_tokens), checks=checks)
        office = family_verifier(office_family(districts), _layout(settings.office_tokens), checks=checks)
        return cls(bureaus.merged(office))

    def bureau(self, token: str) -> BureauCaller | None:
        principal = self.verifier.verify(token)
        return _bureau_caller(principal) if principal is not None and principal.kind == BUREAU else None

    def staff(self, token: str) -> OfficeCaller | None:
        principal = self.verifier.verify(token)
        return _office_caller(principal) if principal is not None and principal.kind == OFFICE else None


def _layout(layout: TokenLayout | None) -> str | None:
    return json.dumps(layout) if layout is not None else None


def _bureau_caller(principal: Principal) -> BureauCaller:
    assert principal.district is not None
    return BureauCaller(principal.district, Bureau(principal.name))


def _office_caller(principal: Principal) -> OfficeCaller:
    assert principal.district is not None
    return OfficeCaller(principal.district, principal.name)


class Callers:
    """FastAPI dependencies: the calling office staff member, the calling bureau, each with its district."""

    def __init__(self, tokens: Tokens, service: str = "jointmeeting") -> None:
        self.tokens = tokens
        self.auth = Authenticator(service, tokens.verifier)
        office, bureau = self.auth.requiring(OFFICE), self.auth.requiring(BUREAU)

        def office_staff(principal: Annotated[Principal, Depends(office)]) -> OfficeCaller:
            return _office_caller(principal)

        def calling_bureau(principal: Annotated[Principal, Depends(bureau)]) -> BureauCaller:
            return _bureau_caller(principal)

        self.office_staff = office_staff
        self.calling_bureau = calling_bureau
