"""CASELINE_ENV=production: a service with a missing, development or placeholder secret exits naming it; a set
from `caseline secrets generate` starts every service's configuration."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from caseline.cli import app as cli
from eventcore.auth import token_digest
from eventcore.production import ProductionConfigError
from eventcore.service import ServiceSpec
from eventcore.settings import Settings, get_settings

DEV_UNIT_HASH = f"sha256:{token_digest('dev-centre')}"


def read_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines() if line)
    return {key: value.strip("'") for key, value in pairs}


async def run_service(name: str, env: dict[str, str]) -> tuple[int, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CASELINE_") and k != "DATABASE_URL"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "caseline",
        "service",
        name,
        env={**clean, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, output.decode()


async def test_every_service_started_in_production_with_development_credentials_exits_naming_them() -> None:
    env = {
        "CASELINE_ENV": "production",
        "DATABASE_URL": "postgresql://caseline:caseline@127.0.0.1:9/caseline",
        "CASELINE_PSEUDONYM_SECRET": "caseline-dev-pseudonym-secret",
        "CASELINE_OPEN311_API_KEY": "REPLACE_ME",
        "CASELINE_UNIT_TOKENS": json.dumps({"luzhou": {"centre": DEV_UNIT_HASH}}),
        "CASELINE_LOG_JSON": "true",
    }
    results = await asyncio.gather(
        *(run_service(s, env) for s in ("intake", "routing", "jointmeeting", "sla"))
    )
    intake, routing, jointmeeting, sla = results
    assert all(code != 0 for code, _ in results)
    for _, output in results:
        assert "refusing to start with CASELINE_ENV=production" in output
        assert "DATABASE_URL carries a development or placeholder password" in output
        assert "KAFKA_BOOTSTRAP_SERVERS is not set" in output
        assert "CASELINE_METRICS_TOKEN is not set" in output
        assert "service_started" not in output
    assert "CASELINE_PSEUDONYM_SECRET is a development value" in intake[1]
    assert "CASELINE_OPEN311_API_KEY: key 1 is a placeholder" in intake[1]
    assert "CASELINE_HOTLINE_PLATFORM_TOKENS is not set" in intake[1]
    assert "CASELINE_WALK_IN_DESK_TOKENS is not set" in intake[1]
    for output in (routing[1], sla[1]):  # a development token given as its hash is still one
        assert "CASELINE_UNIT_TOKENS holds a development token (given as its sha256 hash)" in output
    assert "CASELINE_JOINTMEETING_BUREAU_TOKENS is not set" in jointmeeting[1]
    assert "CASELINE_JOINTMEETING_OFFICE_TOKENS is not set" in jointmeeting[1]


def test_a_generated_set_configures_every_service_for_production_and_holds_only_token_hashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "secrets"
    result = CliRunner().invoke(cli, ["secrets", "generate", "--out", str(out)])
    assert result.exit_code == 0, result.output
    tokens = json.loads((out / "tokens.json").read_text(encoding="utf-8"))
    centre_token = tokens["units"]["luzhou"]["centre"]
    assert len(tokens["units"]["shangdang"]) > 10 and set(tokens["bureaus"]) == {"luzhou", "shangdang"}
    assert (out / "intake.env").stat().st_mode & 0o077 == 0  # readable by its owner only
    from services.intake.app import spec as intake_spec
    from services.jointmeeting.app import spec as jointmeeting_spec
    from services.routing.app import spec as routing_spec
    from services.sla.app import spec as sla_spec

    makers: dict[str, Callable[[Settings], ServiceSpec]] = {
        "intake": intake_spec,
        "routing": routing_spec,
        "jointmeeting": lambda _: jointmeeting_spec(),
        "sla": lambda settings: sla_spec(settings=settings),
    }
    for service, make in makers.items():
        env = read_env(out / f"{service}.env")
        assert centre_token not in (out / f"{service}.env").read_text()
        with monkeypatch.context() as patch:
            for key, value in {**env, "CASELINE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}.items():
                patch.setenv(key, value)
            get_settings.cache_clear()
            spec = make(Settings())
            assert spec.authenticator is not None
            if service in ("routing", "sla"):
                assert spec.authenticator.verifier.verify(centre_token) is not None
                assert spec.authenticator.verifier.verify("dev-centre") is None
        get_settings.cache_clear()
    again = CliRunner().invoke(cli, ["secrets", "generate", "--out", str(out)])
    assert again.exit_code == 1 and "--force" in again.output


def test_a_production_check_names_every_problem_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.routing.app import spec as routing_spec

    monkeypatch.setenv("CASELINE_UNIT_TOKENS", json.dumps({"luzhou": {"centre": "changeme"}}))
    with pytest.raises(ProductionConfigError) as refused:
        routing_spec(Settings(env="production", kafka_security_protocol="PLAINTEXT"))
    message = str(refused.value)
    assert "CASELINE_UNIT_TOKENS: luzhou/centre is a placeholder" in message
    assert "DATABASE_URL is not set" in message and "CASELINE_METRICS_TOKEN is not set" in message
