"""Console responsiveness under load: 100,000 alerts in the stream, 10 reviewers at once.

    python bench/console_load.py [--alerts 100000] [--reviewers 10] [--seconds 60] [--think-ms 0]

Starts its own Redis (loopback, memory only), writes the alerts through the scorer's Lua
write (``AlertLog.write``), starts `lovelorn console` as a separate process (one uvicorn
worker) and waits until its per-user index has caught up with the stream. Then each
reviewer (asyncio + httpx, its own cookie jar) logs in and, until time is up, lists its
team's queue, opens a random alert of its first 20 rows, and posts a verdict; every 20th
round it also opens the quality page. Half the reviewers are in team care, half in ads,
so each team's reviewers share one queue. Prints p50/p95/p99 per page kind, then what
became of the claims and verdicts: opening an alert claims it (``yours``) unless a teammate
got there first (``held``: no verdict is posted) or the team decided it meanwhile; each
verdict posted is ``saved``, ``second`` (the team had decided it: nothing written) or
``claimed`` (a teammate had it open: nothing written), and the verdict stream is checked
against the saved count and for any alert a team decided twice. Stops everything it
started. Every request goes to 127.0.0.1 only, and the loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.console.passwords import hash_password
from monitor.console.reviewers import add_reviewer
from monitor.embedded.processes import free_port
from monitor.embedded.services import redis_binary
from monitor.schemas import Alert, alert_id, utcnow
from monitor.settings import RedisSettings
from monitor.store import AlertLog, Store, UserIndex, VerdictLog

SECRET = "console-load-bench-secret-0123456789"
PASSWORD = "bench reviewer passphrase"
TEXTS = [  # invented for this benchmark
    "分手一个月了，每天下班路过他家楼下还是会停一下",
    "她把情侣头像换掉的那一刻，我就知道真的结束了",
    "今天把他送的围巾收进箱子里，哭到半夜",
    "说好一起去看海的人，现在陪别人去了",
    "凌晨三点还在等一条不会来的消息",
    "被分手的第七天，第一次一个人吃火锅",
    "五年的感情，一句性格不合就结束了",
    "这首歌太伤感了，单曲循环一整天",
    "考研二战又没上线，不知道怎么跟家里说",
    "养了八年的猫走了，家里突然好安静",
]
ROWS = re.compile(r'data-href="([^"]+)"')
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
ACTION = re.compile(r'action="(/review/[^"]+/verdict[^"]*)"')
CLAIM = re.compile(r'data-claim="(\w+)"')
DECIDED = re.compile(r"decided=(\w+)")


async def fill(redis: RedisSettings, n: int) -> None:
    rng, now = random.Random(1), utcnow()
    async with Store(redis) as store:
        log = AlertLog(store)
        for start in range(0, n, 2000):
            batch = []
            for i in range(start, min(n, start + 2000)):
                score = rng.uniform(0.2, 0.99)
                policies = (
                    ["default"]
                    + (["care"] if score >= 0.35 else [])
                    + (["ads"] if score >= 0.6 else [])
                )
                at = now - timedelta(seconds=(n - i) * 1.7)  # about two days of alerts
                batch.append(Alert(
                    alert_id=alert_id(f"b{i}", "v1"), comment_id=f"b{i}", post_id=f"p{i % 500}",
                    user_id=f"u_{i % 20000:05d}", text=f"{TEXTS[i % len(TEXTS)]}（{i}）", score=score,
                    threshold=0.2, policies=policies, model_version="v1",
                    created_at=at, fetched_at=at, emitted_at=at,
                ))  # fmt: skip
            await log.write(batch)
            print(f"\r  alerts written: {min(n, start + 2000):,}", end="", file=sys.stderr)
        print(file=sys.stderr)


async def indexed(redis: RedisSettings, timeout_s: float = 300) -> float:
    """Seconds until the console's per-user index reached the end of the stream."""
    started = time.monotonic()
    async with Store(redis) as store:
        last, index = await AlertLog(store).last_entry(), UserIndex(store)
        while await index.cursor() != last:
            if time.monotonic() - started > timeout_s:
                raise SystemExit("the console's index did not catch up")
            await asyncio.sleep(0.5)
    return time.monotonic() - started


class Timings:
    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.claims: Counter[str] = Counter()  # on opening: yours / held / decided
        self.verdicts: Counter[str] = Counter()  # of those posted: saved / second / claimed
        self.throttled = 0  # logins answered 429 (then tried again after Retry-After)

    async def call(self, kind: str, request) -> httpx.Response | None:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            response = await request
        except httpx.HTTPError:
            self.errors[kind] += 1
            return None
        self.times[kind].append(time.perf_counter() - started)
        if response.status_code >= 400 and not (kind == "login" and response.status_code == 429):
            self.errors[kind] += 1
        return response


async def reviewer(
    base: str, name: str, until: float, think_s: float, timings: Timings, seed: int
) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for _ in range(10):  # all from 127.0.0.1 at once: the login throttle may ask to wait
            form = await timings.call("login form", client.get("/login"))
            token = CSRF.search(form.text).group(1)  # type: ignore[union-attr]
            data = {"csrf": token, "name": name, "password": PASSWORD, "next": "/queue"}
            answer = await timings.call("login", client.post("/login", data=data))
            if answer is None or answer.status_code != 429:
                break
            timings.throttled += 1
            await asyncio.sleep(float(answer.headers.get("retry-after", "1")))
        rounds = 0
        while time.monotonic() < until:
            rounds += 1
            queue = await timings.call("queue", client.get("/queue?sort=score"))
            rows = ROWS.findall(queue.text) if queue is not None else []
            if not rows:
                continue
            await asyncio.sleep(think_s)
            item = await timings.call("alert", client.get(html.unescape(rng.choice(rows[:20]))))
            if item is None or item.status_code != 200:
                continue
            claim = CLAIM.search(item.text)
            timings.claims[claim.group(1) if claim else "unknown"] += 1
            if claim is None or claim.group(1) != "yours":
                continue  # a teammate has it open, or it was decided meanwhile: no form
            await asyncio.sleep(think_s)
            action = html.unescape(ACTION.search(item.text).group(1))  # type: ignore[union-attr]
            verdict = rng.choice(["lovelorn", "not_lovelorn", "unsure"])
            form_data = {"csrf": CSRF.search(item.text).group(1), "verdict": verdict, "note": ""}  # type: ignore[union-attr]
            posted = await timings.call("verdict", client.post(action, data=form_data))
            if posted is not None:
                outcome = DECIDED.search(posted.headers.get("location", ""))
                timings.verdicts[outcome.group(1) if outcome else "unknown"] += 1
            if rounds % 20 == 0:
                await timings.call("quality", client.get("/quality"))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def ready(redis: RedisSettings) -> None:
    for _ in range(100):
        try:
            async with Store(redis) as store:
                await store.ping()
            break
        except Exception:
            await asyncio.sleep(0.1)


async def answering(base: str) -> None:
    async with httpx.AsyncClient() as probe:
        for _ in range(300):
            try:
                if (await probe.get(f"{base}/login")).status_code == 200:
                    return
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
    raise SystemExit("the console did not start")


async def load(args: argparse.Namespace, base: str, names: list[str]) -> Timings:
    timings = Timings()
    until = time.monotonic() + args.seconds
    started = time.monotonic()
    await asyncio.gather(
        *(reviewer(base, n, until, args.think_ms / 1000, timings, i) for i, n in enumerate(names))
    )
    print(f"\n{args.reviewers} reviewers, {time.monotonic() - started:.0f} s, {args.alerts:,} alerts in "
          f"the stream, think time {args.think_ms:.0f} ms")  # fmt: skip
    return timings


async def outcomes(redis: RedisSettings, timings: Timings) -> None:
    """What became of claims and verdicts, checked against the verdict stream itself."""
    async with Store(redis) as store:
        stream = [v async for _, v in VerdictLog(store).scan()]
    twice = sum(n - 1 for n in Counter((v.team, v.alert_id) for v in stream).values() if n > 1)
    c, v = timings.claims, timings.verdicts
    print(f"logins asked to wait by the throttle (then retried): {timings.throttled}")
    print(f"alerts opened: {sum(c.values()):,} — claimed: {c['yours']:,}, a teammate's "
          f"(no form shown): {c['held']:,}, decided meanwhile: {c['decided']:,}")  # fmt: skip
    print(f"verdicts posted: {sum(v.values()):,} — saved: {v['saved']:,}, second (team had "
          f"decided): {v['second']:,}, refused (a teammate had it open): {v['claimed']:,}, "
          f"other: {v['unknown']:,}")  # fmt: skip
    print(f"verdict stream: {len(stream):,} verdicts (saved answers: {v['saved']:,}); "
          f"alerts a team decided twice: {twice}")  # fmt: skip


def report(timings: Timings) -> None:
    print("| page | requests | p50 ms | p95 ms | p99 ms | max ms | errors |")
    print("|---|---|---|---|---|---|---|")
    rows = [(k, timings.times.get(k, []), timings.errors.get(k, 0))
            for k in ("login form", "login", "queue", "alert", "verdict", "quality")]  # fmt: skip
    pages = [k for k in timings.times if k not in ("login", "login form")]
    rows.append(("all pages after login", [v for k in pages for v in timings.times[k]],
                 sum(timings.errors.get(k, 0) for k in pages)))  # fmt: skip
    for kind, values, errors in rows:
        if values:
            ms = [v * 1000 for v in values]
            print(f"| {kind} | {len(ms)} | {statistics.median(ms):.0f} | {percentile(ms, 0.95):.0f} | "
                  f"{percentile(ms, 0.99):.0f} | {max(ms):.0f} | {errors} |")  # fmt: skip


def main(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="console-load-"))
    redis_port, console_port = free_port(), free_port()
    url, base = f"redis://127.0.0.1:{redis_port}/0", f"http://127.0.0.1:{console_port}"
    settings = RedisSettings(url=url)
    processes = [subprocess.Popen(
        [str(redis_binary()), "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )]  # fmt: skip
    try:
        asyncio.run(ready(settings))
        started = time.monotonic()
        asyncio.run(fill(settings, args.alerts))
        print(
            f"filled {args.alerts:,} alerts in {time.monotonic() - started:.1f} s", file=sys.stderr
        )
        hashed = hash_password(PASSWORD)
        names = [f"reviewer{i}" for i in range(args.reviewers)]
        for i, name in enumerate(names):
            add_reviewer(
                workdir / "console-users.json", name, hashed, "care" if i % 2 == 0 else "ads"
            )
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOVELORN_")} | {
            "LOVELORN_HOME": str(workdir),
            "LOVELORN_REDIS__URL": url,
            "LOVELORN_CONSOLE__SECRET_KEY": SECRET,
            "LOVELORN_REGISTRY__BUNDLED": "false",
        }
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "monitor", "console", "--port", str(console_port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
        asyncio.run(answering(base))
        caught_up = asyncio.run(indexed(settings))
        print(f"console up; its index caught up after {caught_up:.1f} s more", file=sys.stderr)
        timings = asyncio.run(load(args, base, names))
        report(timings)
        asyncio.run(outcomes(settings, timings))
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=15)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--reviewers", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--think-ms", type=float, default=0.0, help="pause before opening and deciding"
    )
    main(parser.parse_args())
