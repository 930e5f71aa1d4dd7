"""Intake's callers: hotline platforms, petition offices, walk-in desks (bearer tokens) and Open311 clients
(an `api_key` form field, as GeoReport v2 has it). The web form is public and rate-limited per client.

Each is a principal (eventcore.auth) in the shared token layout. A principal of a district may only submit
that district's complaints (a record naming none is placed in it); a hotline platform may also be city-wide
(the `*` section), as the city's 12345 platform dispatches to every district. The actor on the events is
the principal, never a header or a body field the caller chooses: `X-Hotline-Platform` is ignored, a
petition's `X-Staff-Id` and a walk-in's `staff_id` are recorded beside the office or desk
(`<office>/<staff>`), as routing records `<unit>/<staff>`.

Development sets (`make run`, the tests): `dev-hotline-platform` (city-wide platform `12345`); the founding
district's `dev-petition-office` / `dev-walk-in-desk` and another district's `dev-<district>-petition-office`
/ `dev-<district>-walk-in-desk`; Open311 `caseline-dev-open311-key`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from district.registry import Districts
from eventcore.auth import CredentialError, Principal, TokenVerifier, stored_digest, token_digest
from eventcore.credentials import Family, family_verifier
from eventcore.production import SecretChecks, unusable_reason
from services.intake.settings import DEVELOPMENT_OPEN311_KEY, IntakeSettings

HOTLINE_PLATFORM = "hotline_platform"
PETITION_OFFICE = "petition_office"
WALK_IN_DESK = "walk_in_desk"
OPEN311_CLIENT = "open311_client"
DEV_PLATFORM = "12345"
DEV_OFFICE = "petition-office"
DEV_DESK = "desk-1"


def _prefix(districts: Districts, district: str) -> str:
    return "dev-" if district == districts.founding.code else f"dev-{district}-"


def development_platforms(districts: Districts) -> Iterator[tuple[Principal, str]]:
    yield Principal(HOTLINE_PLATFORM, DEV_PLATFORM, None), "dev-hotline-platform"


def development_offices(districts: Districts) -> Iterator[tuple[Principal, str]]:
    for d in districts:
        yield Principal(PETITION_OFFICE, DEV_OFFICE, d.code), f"{_prefix(districts, d.code)}petition-office"


def development_desks(districts: Districts) -> Iterator[tuple[Principal, str]]:
    for d in districts:
        yield Principal(WALK_IN_DESK, DEV_DESK, d.code), f"{_prefix(districts, d.code)}walk-in-desk"


def families(districts: Districts) -> dict[str, Family]:
    codes, founding = districts.codes, districts.founding.code
    return {
        HOTLINE_PLATFORM: Family(
            HOTLINE_PLATFORM,
            "CASELINE_HOTLINE_PLATFORM_TOKENS",
            codes,
            founding,
            lambda: development_platforms(districts),
            city_wide=True,
        ),
        PETITION_OFFICE: Family(
            PETITION_OFFICE,
            "CASELINE_PETITION_OFFICE_TOKENS",
            codes,
            founding,
            lambda: development_offices(districts),
        ),
        WALK_IN_DESK: Family(
            WALK_IN_DESK, "CASELINE_WALK_IN_DESK_TOKENS", codes, founding, lambda: development_desks(districts)
        ),
    }


def channel_tokens(
    districts: Districts, settings: IntakeSettings, checks: SecretChecks | None
) -> TokenVerifier:
    """Every bearer token intake accepts: platforms, petition offices and walk-in desks."""
    family = families(districts)
    raw = {
        HOTLINE_PLATFORM: settings.hotline_platform_tokens,
        PETITION_OFFICE: settings.petition_office_tokens,
        WALK_IN_DESK: settings.walk_in_desk_tokens,
    }
    verifier = TokenVerifier()
    for kind, layout in raw.items():
        verifier = verifier.merged(family_verifier(family[kind], layout, checks=checks))
    return verifier


@dataclass(frozen=True)
class Open311Keys:
    """GeoReport v2 API keys: each client is named by its key's digest, so events never hold the key."""

    verifier: TokenVerifier

    @classmethod
    def configured(cls, settings: IntakeSettings, checks: SecretChecks | None) -> Open311Keys:
        setting = "CASELINE_OPEN311_API_KEY"
        keys = settings.open311_api_keys
        if keys is None or not keys:
            if checks is not None:
                checks.problem(f"{setting} is not set")
                return cls(TokenVerifier())
            dev = Principal(OPEN311_CLIENT, token_digest(DEVELOPMENT_OPEN311_KEY)[:8], None)
            return cls(TokenVerifier.of([(dev, [DEVELOPMENT_OPEN311_KEY])], setting=setting, development=True))
        verifier = TokenVerifier()
        for index, key in enumerate(keys, start=1):
            where = f"{setting}: key {index}"
            if checks is not None and (reason := unusable_reason(key)) is not None:
                checks.problem(f"{where} {reason}")
                continue
            try:
                digest = stored_digest(key, where)
            except CredentialError as error:
                if checks is None:
                    raise
                checks.problem(str(error))
                continue
            verifier.add(Principal(OPEN311_CLIENT, digest[:8], None), [f"sha256:{digest}"], setting=setting)
        if checks is not None:
            checks.not_development_digests(setting, (h.digest for h in verifier.held), [DEVELOPMENT_OPEN311_KEY])
        return cls(verifier)

    def client(self, api_key: str | None) -> Principal | None:
        return self.verifier.verify(api_key) if api_key else None


