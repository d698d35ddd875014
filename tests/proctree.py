"""Process trees for tests: end a process together with everything it started, and find
what the session started that still runs.

Read from /proc (Linux): a process whose parent died is re-parented, so "what X started"
is only knowable while X lives, or when the session is the subreaper that inherits it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path

__all__ = [
    "become_subreaper",
    "children",
    "cmdline",
    "descendants",
    "gone",
    "kill_tree",
    "reap_orphans",
    "wait_gone",
]

_PR_SET_CHILD_SUBREAPER = 36


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid), None when there is no such process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def _parents() -> dict[int, int]:
    """Every live (not zombie) process and its parent."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None and stat[0] != "Z":
            found[int(entry)] = stat[1]
    return found


def children(pid: int) -> list[int]:
    return sorted(p for p, parent in _parents().items() if parent == pid)


def descendants(pid: int) -> list[int]:
    """Children, grandchildren … of ``pid`` that run now (zombies excluded)."""
    parents = _parents()
    found: list[int] = []
    frontier = [pid]
    while frontier:
        level = [p for p, parent in parents.items() if parent in frontier]
        found += level
        frontier = level
    return found


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def gone(pid: int) -> bool:
    """No such process, or only its exit status is left (collected here when it is ours)."""
    stat = _stat(pid)
    if stat is not None and stat[0] == "Z":
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return True
    return stat is None


def wait_gone(pids: list[int], seconds: float) -> list[int]:
    """The pids still running after up to ``seconds``."""
    deadline = time.monotonic() + seconds
    left = [p for p in pids if not gone(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if not gone(p)]
    return left


def kill_tree(process: subprocess.Popen[bytes] | int) -> None:
    """SIGKILL a process and all it started, root first (so it cannot start new ones).
    A Popen already waited for is left alone: its pid may be someone else's by now."""
    if not isinstance(process, int) and process.poll() is not None:
        return
    pid = process if isinstance(process, int) else process.pid
    tree = [pid, *descendants(pid)]
    for member in tree:
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if not isinstance(process, int):
        process.wait()
    wait_gone(tree, 5.0)


def reap_orphans() -> None:
    """Collect the exit status of every child of ours that has ended: the orphans a
    subreaper inherited have no Popen to do it, and an init that reaps nothing would keep
    them as zombies once we are gone."""
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _stat(int(entry)) == ("Z", me):
            try:
                os.waitpid(int(entry), os.WNOHANG)
            except ChildProcessError:
                pass


def become_subreaper() -> bool:
    """Make this process inherit its descendants' orphans instead of init: an orphan stays
    findable as a descendant. False where the kernel has no such thing."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    prctl = getattr(libc, "prctl", None)
    return prctl is not None and prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
