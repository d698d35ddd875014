"""`lovelorn run` as an operator runs it: a supervisor with poller and scorer children."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
from datetime import timedelta
from pathlib import Path

import httpx

from monitor.embedded import free_port
from monitor.embedded.processes import popen
from monitor.embedded.services import redis_binary
from monitor.settings import Settings
from monitor.store import AlertLog, Store
from monitor.store import Keys as RedisKeys
from monitor.store import connect as connect_redis
from tests.fixtures import (
    EVERYDAY,
    LOVELORN,
    copy_home,
    make_comment,
    read_topic,
    scorer_env,
    scorer_settings,
    start_cli,
)
from tests.proctree import children as _children
from tests.proctree import cmdline, kill_tree, wait_gone


async def test_run_supervises_restarts_and_stops_cleanly(
    stack: Settings, tiny_home: Path, tmp_path: Path
) -> None:
    settings = scorer_settings(stack, copy_home(tiny_home, tmp_path))
    texts = LOVELORN + EVERYDAY
    stream = tmp_path / "stream.jsonl"
    stream.write_text(
        "\n".join(make_comment(i, texts[i % len(texts)]).model_dump_json() for i in range(300)),
        encoding="utf-8",
    )
    log = tmp_path / "run.log"
    metrics_port = free_port()
    process = start_cli(
        ["run", "--from-file", str(stream)],
        scorer_env(settings) | {"LOVELORN_SCORER__METRICS_PORT": str(metrics_port)},
        log,
    )
    redis = connect_redis(settings.redis)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 90
        while await redis.xlen(RedisKeys(settings.redis.key_prefix).stream) == 0:
            assert process.poll() is None, log.read_text()[-2000:]
            assert loop.time() < deadline, log.read_text()[-2000:]
            await asyncio.sleep(0.2)
        children = _children(process.pid)
        assert len(children) >= 1
        # item 6: the scorer child serves on scorer.metrics_port, with readiness and the model
        async with httpx.AsyncClient() as client:
            ready = await client.get(f"http://127.0.0.1:{metrics_port}/readyz")
            assert ready.status_code == 200 and ready.json() == {"ready": True, "model": "v1"}
            exposed = (await client.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
            assert 'lovelorn_model_info{version="v1"} 1.0' in exposed
        scorer = next(p for p in children if b"score" in Path(f"/proc/{p}/cmdline").read_bytes())
        os.kill(scorer, signal.SIGKILL)  # the supervisor must bring it back
        deadline = loop.time() + 90
        while True:
            scores = {
                json.loads(r.value)["comment_id"]
                for r in await read_topic(settings.kafka, settings.kafka.scores_topic, timeout_s=3)
            }
            if len(scores) == 300:
                break
            assert process.poll() is None, log.read_text()[-2000:]
            assert loop.time() < deadline, f"{len(scores)} scored; " + log.read_text()[-2000:]
            await asyncio.sleep(1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log.read_text()[-2000:]
    finally:
        kill_tree(process)  # the supervisor and its children, also when an assert failed
        await redis.aclose()
    text = log.read_text()
    assert '"event": "child_exited"' in text and '"child": "scorer"' in text
    assert _children(process.pid) == []
    assert not any((settings.home / "run").iterdir())  # this run's snapshot folder is gone
    # item 5: the final figures are the truth, also after a scorer was killed and restarted
    final = re.search(
        r"final: published (\d+), scored (\d+), alerts (\d+), dead letters (\d+), restarts (\d+)",
        text,
    )
    assert final is not None, text[-2000:]
    published, scored, alerts, dead, restarts = map(int, final.groups())
    async with Store(settings.redis) as store:
        in_redis = await AlertLog(store).total_written()
    assert published == 300 and dead == 0 and restarts >= 1
    assert alerts == in_redis > 0  # distinct alerts: a re-scored tail adds none
    assert scored >= 300  # scoring work: the tail the killed scorer had not committed counts twice


async def test_children_die_with_a_supervisor_killed_hard(
    stack: Settings, tiny_home: Path, tmp_path: Path
) -> None:
    """SIGKILL (or the OOM killer) gives the supervisor no chance to stop its children: the
    kernel's parent-death signal must, or a scorer lives on as a zombie group member."""
    settings = scorer_settings(stack, copy_home(tiny_home, tmp_path))
    first = make_comment(0, LOVELORN[0])
    later = make_comment(1, EVERYDAY[0]).model_copy(
        update={"created_at": first.created_at + timedelta(hours=1)}
    )
    stream = tmp_path / "stream.jsonl"  # at --speed 1 the poller waits an hour between them
    stream.write_text(f"{first.model_dump_json()}\n{later.model_dump_json()}\n", encoding="utf-8")
    log = tmp_path / "run.log"
    process = start_cli(
        ["run", "--from-file", str(stream), "--speed", "1"], scorer_env(settings), log
    )
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while True:  # both children have exec'd (so their parent-death signal is set)
            kids = {pid: cmdline(pid) for pid in _children(process.pid)}
            if sum("monitor poll" in c or "monitor score" in c for c in kids.values()) == 2:
                break
            assert process.poll() is None, log.read_text()[-2000:]
            assert loop.time() < deadline, f"{kids}; " + log.read_text()[-2000:]
            await asyncio.sleep(0.1)
        process.send_signal(signal.SIGKILL)
        process.wait()
        left = wait_gone(list(kids), 5.0)
        assert left == [], [kids[p] for p in left]
    finally:
        kill_tree(process)


async def test_a_refused_redis_password_ends_run_with_one_error(
    stack: Settings, tiny_home: Path, tmp_path: Path
) -> None:
    """Not a restart loop: a wrong password is a setting no restart can fix."""
    settings = scorer_settings(stack, copy_home(tiny_home, tmp_path))
    port = free_port()
    server = [str(redis_binary()), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    server += ["--appendonly", "no", "--requirepass", "the-right-one"]
    redis = popen(server, stdout=subprocess.DEVNULL, cwd=tmp_path)
    for _ in range(100):  # listening, so the run meets a refusal rather than an outage
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
            break
        await asyncio.sleep(0.05)
    stream = tmp_path / "stream.jsonl"
    stream.write_text(make_comment(0, LOVELORN[0]).model_dump_json() + "\n", encoding="utf-8")
    log = tmp_path / "run.log"
    env = scorer_env(settings) | {
        "LOVELORN_REDIS__URL": f"redis://127.0.0.1:{port}/0",
        "LOVELORN_REDIS__PASSWORD": "a-wrong-one",
    }
    process = start_cli(["run", "--from-file", str(stream)], env, log)
    try:
        assert process.wait(timeout=90) == 1, log.read_text()[-2000:]
    finally:
        kill_tree(process)
        kill_tree(redis)
    text = log.read_text()
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "refused the credentials" in errors[0], text[-2000:]
    assert "a-wrong-one" not in text
    assert '"child_started"' not in text and "child_exited" not in text
