"""`caseline secrets generate`: a fresh set of every credential and secret a production deployment needs.

The services are given only the SHA-256 of each bearer token (`sha256:<hex>`), so their configuration cannot be
used to call them; the tokens themselves go to `tokens.json`, to hand to each holder (a unit, a bureau system,
a hotline platform...) and then delete. Written, all mode 0600:

    <dir>/<service>.env            what each service reads (docker compose `env_file`), least privilege
    <dir>/caseline-secrets.yaml    the same as one Kubernetes Secret per service
    <dir>/tokens.json              the plain tokens, per holder
    <dir>/postgres.env             the database password (the compose PostgreSQL)
    <dir>/kafka.env, admin.properties, kafka-acls.sh   SASL users, the admin client config, the ACL plan
    <dir>/admin.env                the admin's client settings (`caseline topics ensure`, the operator CLI)
    <dir>/metrics-token            Prometheus' bearer token for /metrics (mode 0644: Prometheus runs as nobody)
"""

from __future__ import annotations

import json
import secrets as random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from caseline.kafka_acls import ADMIN, PRINCIPALS, acl_commands
from district.registry import Districts
from district.unit_tokens import units_of
from eventcore.auth import token_digest
from schemas.reference import Bureau
from services import SERVICE_NAMES

NAMESPACE = "caseline"


def new_token() -> str:
    return random.token_urlsafe(32)  # 43 characters, 256 bits


def hashed(token: str) -> str:
    return f"sha256:{token_digest(token)}"


@dataclass
class SecretSet:
    """Every token (plain, by holder) and what each service is configured with (hashed)."""

    tokens: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)  # family → district → holder
    service_env: dict[str, dict[str, str]] = field(default_factory=lambda: {s: {} for s in SERVICE_NAMES})
    kafka_passwords: dict[str, str] = field(default_factory=dict)
    database_password: str = ""
    metrics_token: str = ""

    def family(self, name: str, holders: dict[str, list[str]]) -> str:
        """Tokens for every holder of every district section; returns the hashed layout as JSON."""
        plain = {section: {h: new_token() for h in names} for section, names in holders.items()}
        self.tokens[name] = plain
        layout = {section: {h: hashed(t) for h, t in names.items()} for section, names in plain.items()}
        return json.dumps(layout, ensure_ascii=False, separators=(",", ":"))


def generate(districts: Districts, database_host: str, kafka_bootstrap: str) -> SecretSet:
    made = SecretSet(database_password=new_token(), metrics_token=new_token())
    codes = list(districts.codes)
    units = made.family("units", {d.code: units_of(d.directory) for d in districts})
    # Intake serves full numbers to the centre's callback staff only: it holds the centres' tokens, no others.
    centres = json.dumps(
        {d.code: {"centre": hashed(made.tokens["units"][d.code]["centre"])} for d in districts},
        separators=(",", ":"),
    )
    bureaus = made.family("bureaus", {code: [b.value for b in Bureau] for code in codes})
    office = made.family("joint_meeting_office", {code: ["office-staff-1"] for code in codes})
    platforms = made.family("hotline_platforms", {"*": ["12345"]})
    petition = made.family("petition_offices", {code: ["petition-office"] for code in codes})
    desks = made.family("walk_in_desks", {code: ["desk-1"] for code in codes})
    open311 = new_token()
    made.tokens["open311_api_keys"] = {"*": {"open311-client-1": open311}}
    made.kafka_passwords = {p.name: new_token() for p in PRINCIPALS}
    shared = {
        "CASELINE_ENV": "production",
        "DATABASE_URL": f"postgresql://caseline:{made.database_password}@{database_host}/caseline",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "CASELINE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "CASELINE_METRICS_TOKEN": hashed(made.metrics_token),
    }
    per_service: dict[str, dict[str, str]] = {
        "intake": {
            "CASELINE_PSEUDONYM_SECRET": new_token(),
            "CASELINE_HOTLINE_PLATFORM_TOKENS": platforms,
            "CASELINE_PETITION_OFFICE_TOKENS": petition,
            "CASELINE_WALK_IN_DESK_TOKENS": desks,
            "CASELINE_OPEN311_API_KEY": hashed(open311),
            "CASELINE_UNIT_TOKENS": centres,
        },
        # Each workbench signs its own session cookies, so the two services share no secret.
        "routing": {"CASELINE_UNIT_TOKENS": units, "CASELINE_WORKBENCH_SECRET": new_token()},
        "jointmeeting": {
            "CASELINE_JOINTMEETING_BUREAU_TOKENS": bureaus,
            "CASELINE_JOINTMEETING_OFFICE_TOKENS": office,
            "CASELINE_WORKBENCH_SECRET": new_token(),
        },
        "sla": {"CASELINE_UNIT_TOKENS": units},
    }
    for service in SERVICE_NAMES:
        made.service_env[service] = {
            **shared,
            "CASELINE_KAFKA_SASL_USERNAME": service,
            "CASELINE_KAFKA_SASL_PASSWORD": made.kafka_passwords[service],
            **per_service[service],
        }
    return made


def write(made: SecretSet, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)
    files: dict[str, str] = {f"{s}.env": _env(made.service_env[s]) for s in SERVICE_NAMES}
    files["caseline-secrets.yaml"] = _kubernetes(made)
    files["tokens.json"] = json.dumps(made.tokens, ensure_ascii=False, indent=2) + "\n"
    files["postgres.env"] = _env({"POSTGRES_PASSWORD": made.database_password})
    files["metrics-token"] = made.metrics_token + "\n"  # made readable below: Prometheus runs as nobody
    files["kafka.env"] = _env(_kafka_env(made))
    files["admin.properties"] = _client_properties(ADMIN, made.kafka_passwords[ADMIN])
    files["admin.env"] = _env(
        {
            "KAFKA_BOOTSTRAP_SERVERS": made.service_env["intake"]["KAFKA_BOOTSTRAP_SERVERS"],
            "CASELINE_KAFKA_SASL_MECHANISM": "PLAIN",  # the admin is the broker's own PLAIN user
            "CASELINE_KAFKA_SASL_USERNAME": ADMIN,
            "CASELINE_KAFKA_SASL_PASSWORD": made.kafka_passwords[ADMIN],
        }
    )
    files["kafka-acls.sh"] = "#!/bin/sh\nset -e\n" + "\n".join(acl_commands()) + "\n"
    written = []
    for name, text in files.items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644 if name == "metrics-token" else 0o600)
        written.append(path)
    return written


def _env(values: dict[str, str]) -> str:
    # Single quotes: docker compose takes the value literally (the JSON layouts hold double quotes).
    return "".join(f"{key}='{value}'\n" for key, value in values.items())


def _kafka_env(made: SecretSet) -> dict[str, str]:
    """For the compose `sasl` profile: the admin's PLAIN login and every principal's SCRAM password."""
    users = ",".join(f"{name}:{password}" for name, password in made.kafka_passwords.items() if name != ADMIN)
    return {"CASELINE_KAFKA_ADMIN_PASSWORD": made.kafka_passwords[ADMIN], "CASELINE_KAFKA_USERS": users}


def _client_properties(user: str, password: str) -> str:
    return (
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="{user}" password="{password}";\n'
    )


def _kubernetes(made: SecretSet) -> str:
    documents: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"caseline-{service}-secrets", "namespace": NAMESPACE},
            "type": "Opaque",
            "stringData": made.service_env[service],
        }
        for service in SERVICE_NAMES
    ]
    return yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True)
