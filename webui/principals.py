"""Who a credential speaks for: the workbenches' one seam between a bearer token and a principal.

Every sign-in of every workbench goes through `principal_for`. Today it asks the services' own token
books (routing's unit tokens, the joint meeting's office and bureau tokens), handed in by each service as
plain lookups so that this package names no service. When the shared token verifier arrives, this function
is the one place to point at it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class PrincipalKind(StrEnum):
    UNIT = "unit"  # the centre, a street or a community of a district
    OFFICE = "office"  # a member of a district joint-meeting office's staff
    BUREAU = "bureau"  # a district's member bureau


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    district: str
    code: str  # the unit code, the office staff id or the bureau code: each means something in its district


# token → (district, code), or None for a token the book does not know
Lookup = Callable[[str], tuple[str, str] | None]


@dataclass(frozen=True)
class CredentialBooks:
    """The lookups a service's workbench accepts; a kind the service does not serve is left out."""

    units: Lookup | None = None
    office: Lookup | None = None
    bureaus: Lookup | None = None


def principal_for(token: str, books: CredentialBooks) -> Principal | None:
    """The principal a bearer token speaks for, or None. The seam: repoint it to the shared verifier."""
    token = token.strip()
    if not token:
        return None
    for kind, lookup in (
        (PrincipalKind.UNIT, books.units),
        (PrincipalKind.OFFICE, books.office),
        (PrincipalKind.BUREAU, books.bureaus),
    ):
        found = lookup(token) if lookup is not None else None
        if found is not None:
            district, code = found
            return Principal(kind, district, code)
    return None
