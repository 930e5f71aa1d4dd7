"""`caseline up`, exactly as `make run` starts it: embedded PostgreSQL and broker, three processes, the sample."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from caseline.cli import SAMPLE_HOTLINE
from caseline.embedded import free_port

pytestmark = pytest.mark.e2e
EXPECTED = json.loads(SAMPLE_HOTLINE.with_suffix(".expected.json").read_text(encoding="utf-8"))


PORTS = ("BROKER", "INTAKE", "ROUTING", "JOINTMEETING", "SLA")


def _environment(data_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "CASELINE_DATA_DIR": str(data_dir),
        **{f"CASELINE_{name}_PORT": str(free_port()) for name in PORTS},
        "COLUMNS": "160",
    }
    env.pop("DATABASE_URL", None)
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    return env


def _up(data_dir: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "caseline", "up", "--exit-when-idle", "3"],
        env=_environment(data_dir),
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


def _port_free(port: str) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", int(port))) != 0


def _sigterm_once_the_flow_shows(
    data_dir: Path, line: str
) -> tuple[str, list[psutil.Process], dict[str, str]]:
    """`caseline up` off a terminal, as systemd or a script runs it; SIGTERM once a line matches `line`."""
    env = _environment(data_dir)
    up = subprocess.Popen(
        [sys.executable, "-m", "caseline", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert up.stdout is not None
    output, deadline = "", time.monotonic() + 180
    while not re.search(line, output):
        assert time.monotonic() < deadline and up.poll() is None, output
        output += up.stdout.readline()
    started = psutil.Process(up.pid).children(recursive=True)  # services and broker, all running now
    up.send_signal(signal.SIGTERM)
    rest, _ = up.communicate(timeout=30)
    assert up.returncode == 0, output + rest
    return output + rest, started, env


def test_caseline_up_runs_the_sample_end_to_end_and_a_second_run_resumes_without_duplicates() -> None:
    with tempfile.TemporaryDirectory(prefix="clup-", dir="/tmp") as scratch:
        first = _up(Path(scratch))
        assert _row(first, "accepted (new complaints)") == EXPECTED["unique_valid"]
        escalated = _row(first, "escalated to the joint meeting")
        assert EXPECTED["escalated_at_least"] <= escalated <= EXPECTED["cross_department"]
        assert f"handled {EXPECTED['unique_valid']} of {EXPECTED['unique_valid']} complaints" in first

        # fresh in-memory broker, same stored events; off a terminal the flow comes as plain lines
        flow = rf"flow: {EXPECTED['unique_valid']} complaints received, .*, {escalated} escalated"
        second, started, env = _sigterm_once_the_flow_shows(Path(scratch), flow)
        assert _row(second, "accepted (new complaints)") == 0
        assert len(started) >= len(PORTS)  # four services and the broker
        assert not [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert all(_port_free(env[f"CASELINE_{name}_PORT"]) for name in PORTS)
        assert not (Path(scratch) / "pg" / "postmaster.pid").exists()  # PostgreSQL stopped too
