"""Long-running commands under outages, as an operator meets them (first-hour items 2 and 3):
a frozen Redis or an unreachable broker is waited out with one log line, a wrong password is
one error line, SIGTERM is obeyed within 2 s, and no traceback or client noise reaches the
terminal."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from monitor.embedded import EmbeddedServices, free_port
from monitor.embedded.services import redis_binary
from monitor.schemas import Alert, Comment, alert_id, decode, utcnow
from monitor.settings import Settings
from monitor.sinks import RedisSink
from monitor.store import Store
from tests.fixtures import (
    LOVELORN,
    capture_info_logs,
    copy_home,
    make_comment,
    read_topic,
    scorer_env,
    scorer_settings,
    start_cli,
)

NOISE = ("Traceback", "Unable connect", "Unclosed", "Task exception")


@contextmanager
def frozen(settings: Settings, service: str) -> Iterator[None]:
    """An embedded service stops answering (SIGSTOP): worse than a refused connection."""
    pid = EmbeddedServices(settings, settings.services_dir).recorded()[service].pid
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


async def test_a_frozen_broker_is_one_line_and_its_late_answer_another(
    stack: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: 20-25 s of a frozen broker printed nothing (Redis got an "unavailable" line)."""
    import monitor.bus.connection as connection
    from monitor.bus import Producer, watch_silence

    monkeypatch.setattr(connection, "SILENT_S", 1.0)
    async with Producer(stack.kafka) as producer:
        await producer.send_and_wait(stack.kafka.comments_topic, b"warm-up")
        with capture_info_logs() as logs:
            with frozen(stack, "kafka"):
                acks = [await producer.send(stack.kafka.comments_topic, b"x") for _ in range(20)]
                waiting = asyncio.ensure_future(_all(acks, watch_silence))
                await asyncio.sleep(2.5)
                assert not waiting.done()
            await asyncio.wait_for(waiting, 30)
    said = [(e["event"], e.get("what", "")) for e in logs if e["log_level"] in ("warning", "info")]
    assert said == [
        ("unavailable", "kafka (acknowledging 20 records)"),
        ("kafka_answered", "acknowledging 20 records"),
    ], said  # one line for the batch, not one per record


async def _all(acks, watch_silence) -> None:  # type: ignore[no-untyped-def]
    with watch_silence("acknowledging 20 records"):
        await asyncio.gather(*acks)


def _stop_within(process: subprocess.Popen[bytes], seconds: float) -> float:
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    return time.monotonic() - started


def _comment_file(path: Path, n: int) -> Path:
    path.write_text(
        "\n".join(make_comment(i, LOVELORN[i % len(LOVELORN)]).model_dump_json() for i in range(n)),
        encoding="utf-8",
    )
    return path


def test_file_replay_waits_out_a_frozen_redis(stack: Settings, tmp_path: Path) -> None:
    """Item 2: `poll --from-file` used to die with a 90-line traceback after 109 of 636."""
    env = scorer_env(scorer_settings(stack, tmp_path))
    log = tmp_path / "poll.log"
    with frozen(stack, "redis"):
        process = start_cli(
            ["poll", "--from-file", str(_comment_file(tmp_path / "c.jsonl", 636))], env, log
        )
        time.sleep(8)  # beyond the 5 s socket timeout: the first publish has failed by now
        assert process.poll() is None, log.read_text()
    assert process.wait(timeout=90) == 0, log.read_text()
    text = log.read_text()
    assert "read 636, published 636 new" in text
    assert text.count('"event": "unavailable"') == 1 and '"event": "recovered"' in text
    assert not any(word in text for word in NOISE), text
    records = asyncio.run(read_topic(stack.kafka, stack.kafka.comments_topic))
    ids = [decode(Comment, r.value).comment_id for r in records]
    assert sorted(ids) == sorted(f"c{i}" for i in range(636))  # each comment once


def test_alerts_tail_waits_out_a_frozen_redis(stack: Settings, tmp_path: Path) -> None:
    """Item 2: `alerts tail` used to die with a traceback when Redis froze."""
    env = scorer_env(scorer_settings(stack, tmp_path))
    log = tmp_path / "tail.log"
    process = start_cli(["alerts", "tail", "--group", "care", "--count", "2", "--json"], env, log)
    time.sleep(3)  # the group exists and the reader blocks on new entries
    with frozen(stack, "redis"):
        time.sleep(8)
        assert process.poll() is None, log.read_text()

    async def write() -> None:
        now = utcnow()
        alerts = [
            Alert(
                alert_id=alert_id(f"t{i}", "v1"),
                comment_id=f"t{i}",
                post_id="p",
                score=0.9,
                threshold=0.5,
                policies=["default"],
                model_version="v1",
                created_at=now,
                fetched_at=now,
            )
            for i in range(2)
        ]
        async with Store(stack.redis) as store:
            await RedisSink(store, cooldown_s=0).write(alerts, [])

    asyncio.run(write())
    assert process.wait(timeout=60) == 0, log.read_text()
    text = log.read_text()
    assert text.count('"comment_id":"t') == 2
    assert '"event": "unavailable"' in text and not any(word in text for word in NOISE), text


def test_a_wrong_redis_password_is_one_line(tmp_path: Path) -> None:
    """Item 2: an AuthenticationError traceback, while `services status` said "redis down"."""
    port = free_port()
    server = subprocess.Popen(
        [
            str(redis_binary()),
            "--port",
            str(port),
            "--requirepass",
            "right-pw",
            "--save",
            "",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOVELORN_")}
        env |= {
            "LOVELORN_HOME": str(tmp_path),
            "LOVELORN_REDIS__URL": f"redis://127.0.0.1:{port}/0",
            "LOVELORN_REDIS__PASSWORD": "wrong-pw",
        }
        done = subprocess.run(
            [sys.executable, "-m", "monitor", "alerts", "tail", "--count", "1"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and lines[0].startswith("error: ") and "refused the credentials" in lines[0]
    )
    assert "wrong-pw" not in done.stderr


def test_services_status_names_a_refused_password(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOVELORN_")}
    env |= {"LOVELORN_HOME": str(tmp_path), "LOVELORN_REDIS__PASSWORD": "right-pw"}

    def cli(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "monitor", *args],
            env=env | extra,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert cli("services", "up").returncode == 0
    try:
        status = cli("services", "status", LOVELORN_REDIS__PASSWORD="wrong-pw")
    finally:
        cli("services", "down")
    assert status.returncode == 1
    assert "redis  not answering" in status.stdout and "refused the credentials" in status.stdout
    assert "Traceback" not in status.stderr


def test_unreachable_broker_is_waited_for_and_sigterm_obeyed(
    stack: Settings, tiny_home: Path, tmp_path: Path
) -> None:
    """Item 3: the poller retried silently for ever and took 26 s to obey SIGTERM, while the
    scorer gave up after 4 s, both with aiokafka noise around their error lines."""
    settings = scorer_settings(stack, copy_home(tiny_home, tmp_path))
    nowhere = {"LOVELORN_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    env = scorer_env(settings) | nowhere
    comments = _comment_file(tmp_path / "c.jsonl", 10)
    poller = start_cli(["poll", "--from-file", str(comments)], env, tmp_path / "poll.log")
    scorer = start_cli(["score"], env, tmp_path / "score.log")
    deadline = time.monotonic() + 120  # the scorer loads Paddle and a model first
    while time.monotonic() < deadline and not all(
        '"event": "unavailable"' in (tmp_path / log).read_text()
        for log in ("poll.log", "score.log")
    ):
        time.sleep(0.5)
    time.sleep(8)  # well past the old scorer's 4 s give-up
    for process, log in ((poller, "poll.log"), (scorer, "score.log")):
        text = (tmp_path / log).read_text()
        assert process.poll() is None, text
        assert _stop_within(process, 2.0) < 2.0, text
        text = (tmp_path / log).read_text()
        assert process.returncode == 0, text
        unavailable = [line for line in text.splitlines() if '"event": "unavailable"' in line]
        assert len(unavailable) == 1 and '"what": "Kafka"' in unavailable[0], text
        assert not any(word in text for word in NOISE), text
