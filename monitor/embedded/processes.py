"""Processes the monitor starts for itself (embedded broker, Redis, Apache Kafka for tests):
free ports, spawning into their own session, and stopping exactly what was started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ServiceProcess", "free_port", "spawn", "stop_process"]


@dataclass(frozen=True)
class ServiceProcess:
    name: str
    pid: int
    port: int
    binary: str
    address: str
    log_file: str

    def alive(self) -> bool:
        try:
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes()
        except OSError:
            return False
        # A recycled pid running something else is not ours.
        return (
            _state(self.pid) not in (None, "Z")
            and os.path.basename(self.binary).encode() in cmdline
        )


def free_port() -> int:
    """A loopback port nobody listens on right now (the caller binds it soon after)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(
    name: str,
    command: list[str],
    *,
    port: int,
    address: str,
    log_file: Path,
    cwd: Path,
    env: dict[str, str] | None = None,
) -> ServiceProcess:
    """Start ``command`` in its own session (it outlives the CLI call that started it)."""
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=cwd,
            env=env,
        )
    return ServiceProcess(name, proc.pid, port, command[0], address, str(log_file))


def stop_process(pid: int, grace_s: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if the process is still there after ``grace_s``; reaped."""
    _terminate(pid, grace_s)
    _reap(pid)


def _terminate(pid: int, grace_s: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if the process is still there after ``grace_s``."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if _wait_gone(pid, wait_s):
            return


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _reap(pid)
        if _state(pid) in (None, "Z"):
            return True
        time.sleep(0.05)
    return False


def _state(pid: int) -> str | None:
    """The process state letter from /proc (Z = zombie), None when there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return None


def _reap(pid: int) -> None:
    """Collect the exit status when the process is our own child (tests, the demo)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
