"""`lovelorn services up|status|down` as a user runs them, in a scratch home directory."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from monitor.embedded import EmbeddedServices
from monitor.schemas import Alert
from monitor.settings import RegistrySettings, Settings
from monitor.sinks import RedisSink
from monitor.store import AlertLog, Store


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


def test_a_restarted_redis_keeps_the_alert_stream_and_its_readers(tmp_path: Path) -> None:
    """Issue 25 item 4: without persistence a restart dropped the stream, the reader
    recreated its group at `$` and saw 0 of 105 later alerts. Killed hard (no shutdown
    save) and started again by `up`, Redis still has the stream, the group with what it
    acknowledged, and the dedupe keys; a reader after the restart sees exactly the later
    alerts."""
    from tests.store.test_alerts import _alert

    services = EmbeddedServices(Settings(home=tmp_path, registry=RegistrySettings(bundled=False)))

    async def write(settings: Settings, numbers: range) -> tuple[int, int]:
        async with Store(settings.redis) as store:
            sink = RedisSink(store, cooldown_s=0)
            outcome = await sink.write([_alert(i, ["care"]) for i in numbers], [])
        return outcome.written, outcome.duplicates

    async def read(settings: Settings, consumer: str, n: int) -> tuple[list[str], int]:
        seen: list[str] = []

        async def record(alert: Alert) -> None:
            seen.append(alert.comment_id)

        async with Store(settings.redis) as store:
            await AlertLog(store).read("care", consumer, record, limit=n, block_ms=100)
            return seen, int(await store.redis.xlen(store.keys.stream))

    asyncio.run(services.up())
    try:
        before = services.endpoints()
        assert asyncio.run(write(before, range(5))) == (5, 0)
        assert asyncio.run(read(before, "reader-1", 5)) == ([f"c{i}" for i in range(5)], 5)
        redis_pid = services.recorded()["redis"].pid
        os.kill(redis_pid, signal.SIGKILL)
        while _running(redis_pid):
            time.sleep(0.05)

        asyncio.run(services.up())  # starts Redis again (on another port), from its AOF
        after = services.endpoints()
        assert after.redis.url != before.redis.url
        assert asyncio.run(write(after, range(5))) == (0, 5)  # the dedupe keys survived
        assert asyncio.run(write(after, range(5, 8))) == (3, 0)
        assert asyncio.run(read(after, "reader-2", 3)) == (["c5", "c6", "c7"], 8)
    finally:
        services.down()
    assert any((tmp_path / "services").glob("appendonly*"))
