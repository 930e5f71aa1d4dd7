"""Runs the three services as separate processes and waits until each reports healthy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass
class ServiceProcess:
    name: str
    process: subprocess.Popen[bytes]
    health_url: str
    log_file: Path

    def stop(self, timeout: float = 15) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def kill(self) -> None:
        """kill -9: no shutdown hooks, no flush, exactly like a crash."""
        self.process.kill()
        self.process.wait(5)


def start_service(
    name: str, env: Mapping[str, str], log_dir: Path, host: str, port: int, *, replica: int = 1
) -> ServiceProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / (f"{name}.log" if replica == 1 else f"{name}-{replica}.log")
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "caseline", "service", name],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    label = name if replica == 1 else f"{name}#{replica}"
    return ServiceProcess(label, process, f"http://{host}:{port}/healthz", log_file)


def wait_healthy(services: list[ServiceProcess], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    pending = list(services)
    while pending:
        for service in list(pending):
            if service.process.poll() is not None:
                raise RuntimeError(
                    f"{service.name} exited with {service.process.returncode}; see {service.log_file}"
                )
            if _healthy(service.health_url):
                pending.remove(service)
        if pending and time.monotonic() > deadline:
            names = ", ".join(s.name for s in pending)
            raise RuntimeError(
                f"not healthy after {timeout:.0f}s: {names}; see their logs in {pending[0].log_file.parent}"
            )
        if pending:
            time.sleep(0.2)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def stop_all(services: list[ServiceProcess]) -> None:
    for service in services:
        if service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)
    for service in services:
        service.stop()
