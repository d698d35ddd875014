"""`lovelorn run` as an operator runs it: a supervisor with poller and scorer children."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
from pathlib import Path

import httpx

from monitor.embedded import free_port
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


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[-1].split()
            except OSError:
                continue
            if int(stat[1]) == pid and stat[0] != "Z":
                found.append(int(entry))
    return found


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
        if process.poll() is None:
            process.kill()
        await redis.aclose()
    text = log.read_text()
    assert '"event": "child_exited"' in text and '"child": "scorer"' in text
    assert _children(process.pid) == []
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
