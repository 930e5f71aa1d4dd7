"""Who a credential speaks for: the workbenches' one seam between a bearer token and a principal.

Every sign-in of every workbench goes through `principal_for`, which asks the service's own token verifier
(eventcore.auth: hashed tokens, compared in constant time, the same credentials the service's HTTP API
accepts) and says which of its principals may sign in as what. This package names no service: each service
hands in its verifier and the kinds of principal its workbench serves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from eventcore.auth import TokenVerifier


class PrincipalKind(StrEnum):
    UNIT = "unit"  # the centre, a street or a community of a district
    OFFICE = "office"  # a member of a district joint-meeting office's staff
    BUREAU = "bureau"  # a district's member bureau


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    district: str
    code: str  # the unit code, the office staff id or the bureau code: each means something in its district


@dataclass(frozen=True)
class CredentialBooks:
    """The service's verifier and, by the verifier's principal kind, what each may sign in as; a kind
    left out (intake's platforms, say) cannot sign in to this workbench."""

    verifier: TokenVerifier
    kinds: Mapping[str, PrincipalKind]


def principal_for(token: str, books: CredentialBooks) -> Principal | None:
    """The principal a bearer token speaks for, or None (unknown, another kind, or city-wide)."""
    token = token.strip()
    if not token:
        return None
    found = books.verifier.verify(token)
    if found is None or found.district is None or found.kind not in books.kinds:
        return None
    return Principal(books.kinds[found.kind], found.district, found.name)
