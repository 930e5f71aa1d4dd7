"""The development credentials (README) as request headers, for the tests that call the services."""

from __future__ import annotations

from schemas.reference import FOUNDING_DISTRICT


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _prefix(district: str) -> str:
    return "dev-" if district == FOUNDING_DISTRICT else f"dev-{district}-"


HOTLINE_PLATFORM = bearer("dev-hotline-platform")  # city-wide: any district's work orders


def petition_office(district: str = FOUNDING_DISTRICT) -> dict[str, str]:
    return bearer(f"{_prefix(district)}petition-office")


def walk_in_desk(district: str = FOUNDING_DISTRICT) -> dict[str, str]:
    return bearer(f"{_prefix(district)}walk-in-desk")


def unit(code: str, district: str = FOUNDING_DISTRICT) -> dict[str, str]:
    return bearer(f"{_prefix(district)}{code}")
