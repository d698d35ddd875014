"""Children the project spawns die with the process that spawned them (Linux's parent-death
signal), also when it is killed with SIGKILL, also when a worker thread forked them; the
embedded services outlive ``lovelorn services up`` unless told to end with their starter.

Each test starts a small Python process that spawns ``sleep 60``, kills that process with
SIGKILL, and looks whether the sleeper is still there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.proctree import gone, kill_tree, wait_gone

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only"),
]

ROOT = Path(__file__).resolve().parents[2]

STARTER = """
import sys, threading, time
from pathlib import Path
from monitor.embedded import processes

how = sys.argv[1]
if how == "main":
    pid = processes.popen(["sleep", "60"]).pid
elif how == "thread":
    box = []
    worker = threading.Thread(target=lambda: box.append(processes.popen(["sleep", "60"]).pid))
    worker.start()
    worker.join()  # the forking thread has ended before anyone looks
    pid = box[0]
else:
    if how == "tied-service":
        processes.end_services_with_this_process()
    log = Path(sys.argv[2])
    pid = processes.spawn(
        "sleeper", ["sleep", "60"], port=0, address="-", log_file=log, cwd=log.parent
    ).pid
print(pid, flush=True)
time.sleep(60)
"""


def _start(how: str, tmp_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, how, str(tmp_path / "sleeper.log")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    assert starter.stdout is not None
    line = starter.stdout.readline()
    assert line, f"the starter exited with {starter.wait()}"
    return starter, int(line)


@pytest.mark.parametrize("how", ["main", "thread", "tied-service"])
def test_a_child_dies_with_its_killed_parent(how: str, tmp_path: Path) -> None:
    starter, sleeper = _start(how, tmp_path)
    try:
        time.sleep(0.3)
        assert not gone(sleeper)  # alive while its parent lives (in "thread": past the thread)
        starter.send_signal(signal.SIGKILL)
        starter.wait()
        assert wait_gone([sleeper], 5.0) == []
    finally:
        kill_tree(starter)
        kill_tree(sleeper)


def test_a_service_outlives_its_starter_unless_told(tmp_path: Path) -> None:
    """What ``lovelorn services up`` relies on: its broker and Redis run on after it exits."""
    starter, sleeper = _start("service", tmp_path)
    try:
        starter.send_signal(signal.SIGKILL)
        starter.wait()
        time.sleep(0.5)
        assert not gone(sleeper)
    finally:
        kill_tree(starter)
        if not gone(sleeper):
            os.kill(sleeper, signal.SIGKILL)
        assert wait_gone([sleeper], 5.0) == []
