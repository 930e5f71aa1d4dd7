"""API fuzzing of the four services with Schemathesis: no server error, no undocumented status, every response as
its OpenAPI says.

    .venv/bin/python bench/fuzz.py [--examples 25] [--seed 1]

Starts embedded PostgreSQL, a Tansu broker and the four services as real processes (development mode, the
development credentials of the README, each operation called with the token its policy wants), loads each
service's OpenAPI document, and sends every operation `--examples` generated requests in each of Schemathesis'
modes: positive (valid by the schema) and negative (invalid on purpose). Checks: not_a_server_error,
status_code_conformance, content_type_conformance, response_headers_conformance and
response_schema_conformance. An operation whose success is an endless text/event-stream is judged by its
status and headers when it opens (its body never ends) and by every check when it refuses. Prints each failure
and a summary; exits 1 when anything failed. Writes bench/out/fuzz-<timestamp>.json. tests/test_api_fuzz.py runs it with a small budget.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from caseline.embedded import free_port, start_broker, start_postgres
from caseline.supervisor import start_service, stop_all, wait_healthy
from services import SERVICE_NAMES

HOST = "127.0.0.1"
EVENT_STREAM = "text/event-stream"
OUT_DIR = Path(__file__).resolve().parent / "out"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def token_for(service: str, path: str, path_parameters: dict[str, Any]) -> str | None:
    """The development token the route's policy wants (docs/security.md), so the fuzz gets past the door."""
    if service in ("routing", "sla"):
        return "dev-centre"
    if service == "jointmeeting":
        if path.startswith("/jointmeeting/bureaus/"):
            return f"dev-bureau-{path_parameters.get('bureau', 'fire_rescue')}"
        return "dev-office"
    return {
        "/v1/hotline/orders": "dev-hotline-platform",
        "/v1/petitions": "dev-petition-office",
        "/v1/walk-ins": "dev-walk-in-desk",
    }.get(path)


@dataclass
class Tally:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[dict[str, Any]] = field(default_factory=list)

    def fail(self, service: str, operation: Any, mode: str, status: int, failure: str) -> None:
        self.failures.append(
            {
                "service": service,
                "operation": f"{operation.method.upper()} {operation.path}",
                "mode": mode,
                "status": status,
                "failure": " ".join(failure.split())[:400],
            }
        )


def is_streaming(operation: Any) -> bool:
    """An operation whose success is an endless text/event-stream (the ops page's live feed)."""
    success = operation.definition.raw.get("responses", {}).get("200", {})
    return EVENT_STREAM in success.get("content", {})


def _streams(service: str, case: Any, base: str, headers: dict[str, str], tally: Tally) -> bool:
    """Open a streaming operation and judge it by its status and headers: its body never ends, so reading it
    (what Schemathesis' call does) would wait for the timeout. A refusal has a finite body and is left to the
    ordinary call and checks; an opened stream must say it is one."""
    kwargs = case.as_transport_kwargs(base_url=base, headers=headers)
    with requests.request(**kwargs, stream=True, timeout=30) as response:
        if response.status_code != 200:
            return False
        tally.requests += 1
        tally.statuses[200] += 1
        content_type = response.headers.get("content-type", "")
        if not content_type.startswith(EVENT_STREAM):
            tally.fail(
                service,
                case.operation,
                "stream",
                200,
                f"a stream answered with content-type {content_type!r}",
            )
        return True


def fuzz_operation(
    service: str, base: str, operation: Any, examples: int, mode: GenerationMode, tally: Tally
) -> None:
    strategy = operation.as_strategy(generation_mode=mode)
    streaming = is_streaming(operation)

    @seed(1)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(case: Any) -> None:
        token = token_for(service, operation.path, case.path_parameters or {})
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if operation.path == "/v1/web/complaints":
            headers["Idempotency-Key"] = uuid.uuid4().hex
        if streaming and _streams(service, case, base, headers, tally):
            return
        response = case.call(base_url=base, headers=headers, timeout=30)
        tally.requests += 1
        tally.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as failure:  # noqa: BLE001 - every failure is reported
            tally.fail(service, operation, mode.value, response.status_code, str(failure))

    try:
        run()
    except Unsatisfiable:
        pass  # nothing to make invalid (an operation without parameters or body, in negative mode)


def fuzz_service(service: str, base: str, examples: int, tally: Tally) -> int:
    document = httpx.get(f"{base}/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz_operation(service, base, operation, examples, mode, tally)
    return len(operations)


def run_fuzz(examples: int, log: Callable[[str], None] = print) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix="clf-", dir="/tmp"))
    broker = start_broker(HOST, free_port(), scratch / "broker.log")
    processes = []
    try:
        database_url = start_postgres(scratch)
        ports = {name: free_port() for name in SERVICE_NAMES}
        for name in SERVICE_NAMES:
            env = {
                "DATABASE_URL": database_url,
                "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
                f"CASELINE_{name.upper()}_PORT": str(ports[name]),
                "CASELINE_LOG_JSON": "true",
                "CASELINE_ENV": "development",
                "CASELINE_WEB_RATE_LIMIT": "100000/minute",
            }
            processes.append(start_service(name, env, scratch / "logs", HOST, ports[name]))
        wait_healthy(processes, timeout=120)
        tally, operations, started = Tally(), 0, time.monotonic()
        for name in SERVICE_NAMES:
            operations += fuzz_service(name, f"http://{HOST}:{ports[name]}", examples, tally)
        seconds = time.monotonic() - started
    finally:
        stop_all(processes)
        broker.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    result = {
        "examples_per_operation_and_mode": examples,
        "operations": operations,
        "requests": tally.requests,
        "seconds": round(seconds, 1),
        "statuses": dict(sorted(tally.statuses.items())),
        "failures": tally.failures,
    }
    for failure in tally.failures:
        log(
            f"FAIL {failure['service']} {failure['operation']} [{failure['mode']}] {failure['status']}: "
            f"{failure['failure']}"
        )
    log(
        f"fuzzed {operations} operations of {len(SERVICE_NAMES)} services with {tally.requests} requests in "
        f"{seconds:.0f} s; statuses {result['statuses']}; {len(tally.failures)} failures"
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=25, help="generated requests per operation and mode")
    args = parser.parse_args()
    os.environ.setdefault("CASELINE_MERGE_WINDOW_HOURS", "0")
    result = run_fuzz(args.examples)
    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / f"fuzz-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(result, indent=2))
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
