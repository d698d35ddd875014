"""Processes the monitor starts for itself (embedded broker, Redis, Apache Kafka for tests,
the children of ``lovelorn run``): free ports, spawning into their own session, tying a
child's life to ours, and stopping exactly what was started."""

from __future__ import annotations

import ctypes
import functools
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "ServiceProcess",
    "die_with_this_process",
    "end_services_with_this_process",
    "free_port",
    "popen",
    "spawn",
    "stop_process",
]

T = TypeVar("T")
_PR_SET_PDEATHSIG = 1
_services_end_with_us = False


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


def end_services_with_this_process() -> None:
    """From now on ``spawn`` ties the embedded broker and Redis to this process instead of
    letting them outlive it: for test sessions, benchmarks and the demo, whose services must
    not survive a crash of theirs. ``lovelorn services up`` never calls it: outliving the
    command is what its services are for."""
    global _services_end_with_us
    _services_end_with_us = True


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
    """Start ``command`` in its own session (a Ctrl-C in the terminal is not for it); it
    outlives the CLI call that started it unless ``end_services_with_this_process`` was called."""
    with open(log_file, "ab") as out:
        proc = popen(
            command,
            die_with=signal.SIGKILL if _services_end_with_us else None,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=cwd,
            env=env,
        )
    return ServiceProcess(name, proc.pid, port, command[0], address, str(log_file))


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's prctl, looked up in the parent (the forked child only calls it); None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, *[ctypes.c_ulong] * 4]
    prctl.restype = ctypes.c_int
    return prctl


def die_with_this_process(sig: int = signal.SIGKILL) -> Callable[[], None] | None:
    """A ``preexec_fn`` after which Linux sends ``sig`` to the child when its parent dies, so
    a parent killed with SIGKILL or by the OOM killer leaves no orphans behind; None where
    there is no parent-death signal.

    The kernel ties the child to the *thread* that forked it: use it from the main thread
    (or an event loop's thread that lives as long as the child should), else via ``popen``.
    """
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the line above took hold
            os.kill(os.getpid(), sig)

    return preexec


def popen(
    command: list[str], *, die_with: int | None = signal.SIGKILL, **options: Any
) -> subprocess.Popen[bytes]:
    """``subprocess.Popen`` whose child gets ``die_with`` when this process ends (None: the
    child may outlive it).

    A fork from a thread other than the main one runs on one long-lived spawner thread
    instead: the parent-death signal follows the forking thread, so a Kafka node restarted
    from ``asyncio.to_thread`` would otherwise die when that worker thread ends.
    """
    if die_with is None:
        return subprocess.Popen(command, **options)
    options["preexec_fn"] = die_with_this_process(die_with)
    if threading.current_thread() is threading.main_thread():
        return subprocess.Popen(command, **options)
    return _spawner().call(lambda: subprocess.Popen(command, **options))


class _Spawner:
    """A daemon thread that runs calls handed to it; it ends only when the process does."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="lovelorn-spawner", daemon=True).start()

    def _serve(self) -> None:
        while True:
            call, future = self._calls.get()
            try:
                future.set_result(call())
            except BaseException as exc:
                future.set_exception(exc)

    def call(self, call: Callable[[], T]) -> T:
        future: Future[T] = Future()
        self._calls.put((call, future))
        return future.result()


@functools.cache
def _spawner() -> _Spawner:
    return _Spawner()


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
