"""Each ``lovelorn run`` keeps its exit snapshots in a folder of its own
(``run/<host>-<pid>``): two runs sharing a home must not read each other's counts, and no
folder is left behind."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from monitor.cli.run_cmd import run_directory

pytestmark = pytest.mark.unit  # the fast layer: no broker, Redis, Paddle or network


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_each_run_has_its_own_folder_and_removes_it(tmp_path: Path) -> None:
    with run_directory(tmp_path) as mine:
        expected = tmp_path / "run" / f"{socket.gethostname()}-{os.getpid()}"
        assert mine == expected.resolve() and mine.is_dir()
        (mine / "scorer.metrics").write_text("lovelorn_comments_scored_total 3\n")
    assert not mine.exists()


def test_folders_of_runs_that_died_hard_are_swept_and_live_ones_kept(tmp_path: Path) -> None:
    run, host, gone = tmp_path / "run", socket.gethostname(), _dead_pid()
    dead = run / f"{host}-{gone}"
    live = run / f"{host}-{os.getppid()}"  # another run, still going
    elsewhere = run / f"another-host-{gone}"  # its pids mean nothing here
    other = run / "notes"
    for folder in (dead, live, elsewhere, other):
        folder.mkdir(parents=True)
        (folder / "scorer.metrics").write_text("x")
    with run_directory(tmp_path):
        assert not dead.exists()
        assert all((f / "scorer.metrics").exists() for f in (live, elsewhere, other))
