"""`caseline up`, exactly as `make run` starts it: embedded PostgreSQL and broker, three processes, the sample."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from caseline.cli import SAMPLE_HOTLINE
from caseline.embedded import free_port

pytestmark = pytest.mark.e2e
EXPECTED = json.loads(SAMPLE_HOTLINE.with_suffix(".expected.json").read_text(encoding="utf-8"))


def _up(data_dir: Path) -> str:
    env = {
        **os.environ,
        "CASELINE_DATA_DIR": str(data_dir),
        "CASELINE_BROKER_PORT": str(free_port()),
        "CASELINE_INTAKE_PORT": str(free_port()),
        "CASELINE_ROUTING_PORT": str(free_port()),
        "CASELINE_JOINTMEETING_PORT": str(free_port()),
        "COLUMNS": "160",
    }
    env.pop("DATABASE_URL", None)
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    done = subprocess.run(
        [sys.executable, "-m", "caseline", "up", "--exit-when-idle", "3"],
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _row(output: str, label: str) -> int:
    match = re.search(rf"{re.escape(label)}\s*│\s*(\d+)", output)
    assert match, f"no row {label!r} in:\n{output}"
    return int(match.group(1))


def test_caseline_up_runs_the_sample_end_to_end_and_a_second_run_resumes_without_duplicates() -> None:
    with tempfile.TemporaryDirectory(prefix="clup-", dir="/tmp") as scratch:
        first = _up(Path(scratch))
        assert _row(first, "accepted (new complaints)") == EXPECTED["unique_valid"]
        escalated = _row(first, "escalated to the joint meeting")
        assert EXPECTED["escalated_at_least"] <= escalated <= EXPECTED["cross_department"]
        assert f"handled {EXPECTED['unique_valid']} of {EXPECTED['unique_valid']} complaints" in first

        second = _up(Path(scratch))  # fresh in-memory broker, same stored events
        assert _row(second, "accepted (new complaints)") == 0
        assert _row(second, "complaints received") == EXPECTED["unique_valid"]
        assert _row(second, "escalated to the joint meeting") == escalated
        assert f"handled {EXPECTED['unique_valid']} of {EXPECTED['unique_valid']} complaints" in second
