"""Who is calling: bearer tokens that answer for a principal, kept only as hashes and looked up by hash.

A *principal* is whoever holds a credential: a kind (what sort of holder it is, chosen by the service that
verifies it), a name, and the district it belongs to (None: city-wide). Services map principals to what they
may do; this module only answers "which principal, if any, does this token speak for".

Configured secrets may be given as the token itself (at least MIN_TOKEN_LENGTH characters) or as
`sha256:<64 hex digits>`, the token's SHA-256; either way only the digest is kept in memory. Each principal
may hold two tokens at once, so a token can be rotated without downtime: add the new one, hand it out,
remove the old one. A failed authentication is counted (`caseline_auth_failures_total{service,reason}`) and
logged with its reason and path, never with the token.

The layout every token family shares (JSON in an environment variable, or YAML in a file):

    {"<district>": {"<holder>": "<token>" | ["<token>", "<token>"]}, "<holder>": "<token>", "*": {...}}

A holder at the top level belongs to the founding district (the layout from before tenancy); a section
named `*` holds city-wide principals (district None), for families that allow them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import Counter

from eventcore.logging import get_logger

log = get_logger(__name__)

MIN_TOKEN_LENGTH = 32
HASH_PREFIX = "sha256:"
MAX_TOKENS_PER_PRINCIPAL = 2
CITY_WIDE = "*"
_HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")
# Longest accepted bearer token: anything longer is refused before it is hashed.
MAX_PRESENTED_LENGTH = 512

AUTH_FAILURES = Counter(
    "caseline_auth_failures",
    "Requests refused because their credential was missing, malformed, unknown or not allowed",
    ["service", "reason"],
    registry=None,  # registered on each service's own registry (eventcore.metrics)
)


class CredentialError(ValueError):
    """A configured credential is unusable; the message names the setting and the holder, never the secret."""


class FailureReason(StrEnum):
    MISSING = "missing"  # no Authorization header
    MALFORMED = "malformed"  # not "Bearer <token>", or too long
    UNKNOWN = "unknown"  # a token no principal holds
    WRONG_KIND = "wrong_kind"  # a valid token of a principal this route does not serve
    FORBIDDEN = "forbidden"  # a known principal, refused by the route's policy


@dataclass(frozen=True)
class Principal:
    kind: str
    name: str
    district: str | None = None  # None: city-wide

    @property
    def label(self) -> str:
        """How logs and events name the principal, e.g. `unit:luzhou/ST01`."""
        return f"{self.kind}:{self.district or CITY_WIDE}/{self.name}"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def stored_digest(secret: str, where: str) -> str:
    """The digest to keep for a configured secret: a plain token of sufficient length, or `sha256:<hex>`."""
    if not isinstance(secret, str):
        raise CredentialError(f"{where}: a token must be a string")
    if secret.startswith(HASH_PREFIX):
        digest = secret.removeprefix(HASH_PREFIX).lower()
        if not _HEX_DIGEST.match(digest):
            raise CredentialError(f"{where}: a hashed token is 'sha256:' followed by 64 hex digits")
        return digest
    if len(secret) < MIN_TOKEN_LENGTH:
        raise CredentialError(
            f"{where}: a token must have at least {MIN_TOKEN_LENGTH} characters "
            f"(`caseline secrets generate` makes them), or be given as sha256:<hex>"
        )
    return token_digest(secret)


@dataclass(frozen=True)
class _Held:
    digest: bytes
    principal: Principal


@dataclass
class TokenVerifier:
    """Every token a service accepts, as digests; `verify` looks the presented token's digest up."""

    held: list[_Held] = field(default_factory=list)
    development: bool = False  # built from the development set, not from configuration
    _by_digest: dict[bytes, Principal] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_digest = {held.digest: held.principal for held in self.held}

    @classmethod
    def of(
        cls, entries: Iterable[tuple[Principal, Sequence[str]]], *, setting: str, development: bool = False
    ) -> TokenVerifier:
        verifier = cls(development=development)
        for principal, secrets in entries:
            verifier.add(principal, secrets, setting=setting, check_length=not development)
        return verifier

    def add(
        self, principal: Principal, secrets: Sequence[str], *, setting: str, check_length: bool = True
    ) -> None:
        where = f"{setting}: {principal.label}"
        if not secrets:
            raise CredentialError(f"{where} has no token")
        if len(secrets) > MAX_TOKENS_PER_PRINCIPAL:
            raise CredentialError(
                f"{where} has {len(secrets)} tokens; at most {MAX_TOKENS_PER_PRINCIPAL} (the current and the next)"
            )
        for secret in secrets:
            digest = stored_digest(secret, where) if check_length else token_digest(secret)
            for other in self.held:
                if hmac.compare_digest(other.digest, bytes.fromhex(digest)) and other.principal != principal:
                    raise CredentialError(f"{where} shares a token with {other.principal.label}")
            self.held.append(_Held(bytes.fromhex(digest), principal))
            self._by_digest[bytes.fromhex(digest)] = principal

    def merged(self, other: TokenVerifier) -> TokenVerifier:
        return TokenVerifier([*self.held, *other.held], self.development or other.development)

    def verify(self, token: str) -> Principal | None:
        """The principal the token speaks for, by its SHA-256 digest.

        A dictionary look-up, not a comparison with every held digest (intake holds every unit's tokens,
        and that loop cost a request a fifth of a millisecond): how long a look-up takes depends on the
        presented digest, and to steer that towards a held one a caller would have to invert SHA-256."""
        return self._by_digest.get(hashlib.sha256(token.encode("utf-8", errors="surrogatepass")).digest())

    def principals(self) -> list[Principal]:
        return list(dict.fromkeys(h.principal for h in self.held))

    def __len__(self) -> int:
        return len(self.held)


def bearer_token(authorization: str | None) -> tuple[str | None, FailureReason | None]:
    """The token of an `Authorization: Bearer <token>` header, or why there is none."""
    if not authorization:
        return None, FailureReason.MISSING
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_PRESENTED_LENGTH:
        return None, FailureReason.MALFORMED
    return token, None


def record_failure(service: str, reason: FailureReason, path: str, client: str | None) -> None:
    AUTH_FAILURES.labels(service, reason.value).inc()
    log.warning("authentication_failed", reason=reason.value, path=path, client=client)


# -- the shared layout -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayoutEntry:
    district: str | None  # None: city-wide (the `*` section)
    holder: str
    secrets: tuple[str, ...]


def read_layout(setting: str, raw: str | Mapping[str, Any]) -> Mapping[str, Any]:
    """A layout given as JSON text (an environment variable) or already parsed."""
    if isinstance(raw, Mapping):
        return raw
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as error:
        raise CredentialError(f"{setting}: not valid JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(parsed, dict):
        raise CredentialError(f"{setting}: expected a JSON object of holders and their tokens")
    return parsed


def read_layout_file(setting: str, path: Path) -> Mapping[str, Any]:
    try:
        parsed = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise CredentialError(f"{setting}: cannot read {path}: {type(error).__name__}") from None
    if not isinstance(parsed, dict) or not parsed:
        raise CredentialError(f"{setting}: {path} must map districts (or holders) to tokens")
    return parsed


def layout_entries(
    setting: str,
    layout: Mapping[str, Any],
    districts: Sequence[str],
    founding: str,
    *,
    city_wide: bool = False,
) -> list[LayoutEntry]:
    """Every (district, holder, tokens) of a layout; unknown districts and empty holders are refused."""
    entries: list[LayoutEntry] = []
    for key, value in layout.items():
        if isinstance(value, str | list):
            entries.append(LayoutEntry(founding, str(key), _secrets(setting, f"{founding}/{key}", value)))
            continue
        if not isinstance(value, Mapping):
            raise CredentialError(f"{setting}: {key!r} must be a token, a list of tokens or a section")
        district = _section(setting, str(key), districts, city_wide)
        for holder, secrets in value.items():
            where = f"{key}/{holder}"
            if not str(holder).strip():
                raise CredentialError(f"{setting}: an empty holder name in {key!r}")
            entries.append(LayoutEntry(district, str(holder), _secrets(setting, where, secrets)))
    return entries


def _section(setting: str, key: str, districts: Sequence[str], city_wide: bool) -> str | None:
    if key == CITY_WIDE:
        if not city_wide:
            raise CredentialError(f"{setting}: this family has no city-wide ('*') holders")
        return None
    if key not in districts:
        raise CredentialError(f"{setting}: {key!r} is not a served district (serving {', '.join(districts)})")
    return key


def _secrets(setting: str, where: str, value: Any) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise CredentialError(f"{setting}: {where}: give a token or a list of up to two tokens")
    return tuple(values)


# -- HTTP: the bearer dependency every service's routes use ----------------------------------------------


class AuthRefused(HTTPException):
    """401 (no valid credential) or 403 (a credential this route does not serve); the body says why."""

    def __init__(self, status: int, code: str, message: str) -> None:
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        super().__init__(status, {"error": code, "message": message}, headers=headers)
        self.code, self.message = code, message


_bearer_scheme = HTTPBearer(auto_error=False, description="A Caseline token (see docs/security.md)")


@dataclass
class Authenticator:
    """Turns `Authorization: Bearer <token>` into a Principal of the kinds a route serves, or refuses."""

    service: str
    verifier: TokenVerifier

    def principal(self, request: Request, authorization: str | None) -> Principal:
        """Any principal this service knows; FailureReason counted and logged on refusal."""
        token, reason = bearer_token(authorization)
        if token is not None:
            principal = self.verifier.verify(token)
            if principal is not None:
                return principal
            reason = FailureReason.UNKNOWN
        assert reason is not None
        self.refuse(request, reason)
        raise AssertionError("unreachable")

    def refuse(self, request: Request, reason: FailureReason, message: str | None = None) -> None:
        record_failure(self.service, reason, request.url.path, request.client.host if request.client else None)
        if reason in (FailureReason.WRONG_KIND, FailureReason.FORBIDDEN):
            raise AuthRefused(403, "forbidden", message or "this credential may not do this")
        raise AuthRefused(401, "unauthorized", _MESSAGES[reason])

    def requiring(self, *kinds: str) -> Callable[..., Awaitable[Principal]]:
        """A FastAPI dependency: the calling principal, which must be of one of `kinds`."""
        wanted = frozenset(kinds)

        async def dependency(
            request: Request,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)],
        ) -> Principal:
            header = request.headers.get("authorization")
            principal = self.principal(request, header if credentials is not None or header else None)
            if principal.kind not in wanted:
                self.refuse(request, FailureReason.WRONG_KIND, f"a {principal.kind} token cannot do this")
            return principal

        return dependency


_MESSAGES = {
    FailureReason.MISSING: "send 'Authorization: Bearer <token>'",
    FailureReason.MALFORMED: "the Authorization header must be 'Bearer <token>'",
    FailureReason.UNKNOWN: "unknown token",
}
