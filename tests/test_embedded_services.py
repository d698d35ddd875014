"""`lovelorn services up|status|down` as a user runs them, in a scratch home directory."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOVELORN_")}
    env["LOVELORN_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-c", "from monitor.cli.main import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_up_status_down_leaves_nothing(tmp_path: Path) -> None:
    up = _cli(tmp_path, "services", "up")
    try:
        assert up.returncode == 0, up.stderr
        assert "memory only" in up.stderr
        state = json.loads((tmp_path / "services" / "state.json").read_text())
        pids = [entry["pid"] for entry in state.values()]
        assert sorted(state) == ["kafka", "redis"] and all(_running(p) for p in pids)

        status = _cli(tmp_path, "services", "status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert status.stdout.count("healthy") == 2

        again = _cli(tmp_path, "services", "up")  # idempotent: reuses the running pair
        assert again.returncode == 0
        assert json.loads((tmp_path / "services" / "state.json").read_text()) == state
    finally:
        down = _cli(tmp_path, "services", "down")
    assert down.returncode == 0, down.stderr
    deadline = time.monotonic() + 10
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(p) for p in pids)
    status = _cli(tmp_path, "services", "status")
    assert status.returncode == 1 and "not started" in status.stdout


def test_status_reports_a_dead_service(tmp_path: Path) -> None:
    assert _cli(tmp_path, "services", "up").returncode == 0
    try:
        state = json.loads((tmp_path / "services" / "state.json").read_text())
        os.kill(state["redis"]["pid"], 9)
        time.sleep(0.3)
        status = _cli(tmp_path, "services", "status")
        assert status.returncode == 1
        assert "redis  down" in status.stdout and "kafka  healthy" in status.stdout
    finally:
        _cli(tmp_path, "services", "down")
