"""Production mode: a service started with `CASELINE_ENV=production` refuses missing, development or placeholder
secrets, and says which ones, before it opens a port.

Development (the default of `caseline up` and the tests) keeps the development credentials documented in the
README; production accepts nothing that anybody reading the repository could know.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from eventcore.auth import HASH_PREFIX, token_digest
from eventcore.settings import Settings

PRODUCTION = "production"
DEVELOPMENT = "development"

# Whole values that only a template or an example would hold.
_PLACEHOLDER = re.compile(
    r"^(replace[_-]?me.*|change[_-]?me.*|todo|tbd|fixme|placeholder|secret|password|passw0rd|example|"
    r"x+|\*+|<[^>]*>|\$\{[^}]*\})$",
    re.IGNORECASE,
)
_PLACEHOLDER_INSIDE = re.compile(r"replace[_-]?me|change[_-]?me", re.IGNORECASE)
# Development values are named so: `dev-centre`, `dev-bureau-fire_rescue`, `caseline-dev-open311-key`.
_DEVELOPMENT = re.compile(r"^(dev-|caseline-dev)", re.IGNORECASE)
_DEVELOPMENT_DB_PASSWORDS = frozenset({"caseline", "postgres", "password"})


class ProductionConfigError(SystemExit):
    """Raised at start in production when a secret is unusable; the message lists every problem."""

    def __init__(self, service: str, problems: Iterable[str]) -> None:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(
            f"{service}: refusing to start with CASELINE_ENV=production:\n{listed}\n"
            "Generate a fresh set with `caseline secrets generate` (see docs/security.md)."
        )
        self.service = service


def is_production(settings: Settings) -> bool:
    return settings.env == PRODUCTION


def unusable_reason(value: str | None) -> str | None:
    """Why a secret cannot serve in production, or None when it can."""
    if value is None or not value.strip():
        return "is not set"
    text = value.strip()
    if text.startswith(HASH_PREFIX):
        return None  # a digest: checked against the development set by the verifier's owner
    if _PLACEHOLDER.match(text) or _PLACEHOLDER_INSIDE.search(text):
        return "is a placeholder"
    if _DEVELOPMENT.match(text):
        return "is a development value"
    return None


@dataclass
class SecretChecks:
    """Collects every problem first, so one start names them all instead of one per attempt."""

    service: str
    problems: list[str] = field(default_factory=list)

    def secret(self, name: str, value: str | None) -> None:
        if (reason := unusable_reason(value)) is not None:
            self.problems.append(f"{name} {reason}")

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def not_development_digests(self, name: str, digests: Iterable[bytes], development: Iterable[str]) -> None:
        """A configured hash of a development token is still a development token."""
        known = {bytes.fromhex(token_digest(token)) for token in development}
        if any(digest in known for digest in digests):
            self.problems.append(f"{name} holds a development token (given as its sha256 hash)")

    def raise_if_any(self) -> None:
        if self.problems:
            raise ProductionConfigError(self.service, self.problems)


def check_shared(settings: Settings, checks: SecretChecks) -> None:
    """What every service needs in production: its database, its broker, the metrics token."""
    if not settings.database_url:
        checks.problem("DATABASE_URL is not set (production runs no embedded PostgreSQL)")
    else:
        password = urlsplit(settings.database_url).password
        if password is not None and (
            password.lower() in _DEVELOPMENT_DB_PASSWORDS or unusable_reason(password) is not None
        ):
            checks.problem("DATABASE_URL carries a development or placeholder password")
    if not settings.kafka_bootstrap_servers:
        checks.problem("KAFKA_BOOTSTRAP_SERVERS is not set (production runs no embedded broker)")
    if settings.kafka_security_protocol is None:
        checks.problem(
            "CASELINE_KAFKA_SECURITY_PROTOCOL is not set: choose SASL_SSL, SASL_PLAINTEXT or SSL "
            "(or PLAINTEXT, on a network only Caseline reaches)"
        )
    elif settings.kafka_security_protocol.startswith("SASL"):
        checks.secret("CASELINE_KAFKA_SASL_USERNAME", settings.kafka_sasl_username)
        checks.secret("CASELINE_KAFKA_SASL_PASSWORD", settings.kafka_sasl_password)
    for token in settings.metrics_tokens():
        checks.secret("CASELINE_METRICS_TOKEN", token)
    if not settings.metrics_tokens():
        checks.problem("CASELINE_METRICS_TOKEN is not set (Prometheus scrapes /metrics with it)")


def production_checks(settings: Settings, service: str) -> SecretChecks | None:
    """The checks a service collects its problems in, with the shared ones done; None in development."""
    if not is_production(settings):
        return None
    checks = SecretChecks(service)
    check_shared(settings, checks)
    return checks
