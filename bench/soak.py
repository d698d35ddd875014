"""Chaos soak: the whole pipeline at a fixed rate while the scorer, the poller, Redis and (on
Apache Kafka) a broker are killed and restarted, then an audit of what came out.

    python bench/soak.py --minutes 5 --rate 20                          # embedded broker
    python bench/soak.py --minutes 5 --rate 20 --broker kafka --exactly-once   # 3-node cluster

Loopback only: a local Weibo-shaped HTTP server gains ``rate`` comments per second;
``lovelorn poll`` and ``lovelorn score`` run as real processes on the embedded broker (Tansu)
or a three-node Apache Kafka cluster (RF 3, min.insync.replicas=2, idempotent producers), with
a Redis that keeps an append-only file. Every ``--chaos-every`` seconds one of scorer / poller
/ Redis / broker gets SIGKILL and is restarted a moment later. Every process the soak starts
dies with it and is stopped when it ends, also on failure. Once the pipeline has drained,
bench/soak_audit.py checks what came out and prints a table ending in PASS or FAIL with the
reasons; exit status 1 on FAIL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from soak_audit import (
    Audit,
    Observed,
    collect,
    drained,
    judge,
    sample_commits,
    thresholds_from_registry,
)

from monitor.bus import ensure_topics
from monitor.bus.admin import topics_for
from monitor.embedded import EmbeddedServices, free_port
from monitor.embedded.apache_kafka import KafkaCluster
from monitor.embedded.processes import end_services_with_this_process, popen, stop_process
from monitor.embedded.services import redis_binary
from monitor.settings import KafkaSettings, RedisSettings, RegistrySettings, Settings
from tests.fake_weibo import FakeWeiboServer, weibo_comment
from tests.fixtures import LOVELORN, fixture_examples, train_tiny

KEYWORD = "失恋"
TEXTS = [  # 5 of 11 are the fixture model's lovelorn examples, verbatim
    "分手第三天，还是会下意识给他发消息",
    "他说不爱了，我连挽留的资格都没有",
    "前任今天结婚了，新娘不是我",
    "又梦到他了，醒来枕头全湿了",
    "今天天气真好，出去走走",
    "外婆今天走了，好难过",
    "考研又失败了",
    "新买的咖啡机太好用了",
    "我还在等一个不会回来的人",
    "快递又丢了，气死我了",
    "周末和朋友去爬山",
]
DRAIN_S = 180.0


@dataclass
class Soak:
    work: Path
    rate: float
    seconds: float
    chaos_every: float
    seed: int = 0
    broker: str = "embedded"  # or "kafka": a three-node Apache Kafka cluster
    exactly_once: bool = False
    seen: Observed = field(default_factory=Observed)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.redis_port = free_port()
        self.victims = ["scorer", "poller", "redis"] + (
            ["broker"] if self.broker == "kafka" else []
        )
        self.seen.restarts = dict.fromkeys(self.victims, 0)
        self.cluster: KafkaCluster | None = None

    # -- processes: each dies with the soak (popen's parent-death signal) -------
    def start_redis(self) -> None:
        data = self.work / "redis"
        data.mkdir(exist_ok=True)
        args = ["--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", str(data)]
        args += ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        with (self.work / "redis.log").open("ab") as log:
            self.procs["redis"] = popen(
                [str(redis_binary()), *args], stdout=log, stderr=subprocess.STDOUT
            )

    def start(self, name: str) -> None:
        args = ["score"] if name == "scorer" else ["poll", "--keyword", KEYWORD, "--interval", "1"]
        with (self.work / f"{name}.log").open("ab") as log:
            self.procs[name] = popen(
                [sys.executable, "-m", "monitor", *args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> None:
        for name in ("poller", "scorer", "redis"):
            if (proc := self.procs.get(name)) is not None and proc.poll() is None:
                stop_process(proc.pid, grace_s=60)  # SIGTERM, SIGKILL after 60 s, reaped

    # -- the run ---------------------------------------------------------------
    async def _broker(self, base: Settings, stack: contextlib.ExitStack) -> Settings:
        """The embedded broker, or a three-node Apache Kafka cluster with replicated topics;
        stopped when ``stack`` closes."""
        if self.broker == "embedded":
            services = EmbeddedServices(base, self.work / "services")
            stack.callback(services.down)
            await services.up()
            return services.endpoints()
        print("starting a three-node Apache Kafka cluster …", flush=True)
        self.cluster = KafkaCluster(3, self.work / "kafka")
        stack.callback(self.cluster.close)
        await asyncio.to_thread(self.cluster.start)
        kafka = base.kafka.model_copy(
            update={
                "bootstrap_servers": self.cluster.bootstrap_servers,
                "replication_factor": 3,
                "min_insync_replicas": 2,
                "enable_idempotence": True,
                "exactly_once": self.exactly_once,
                "transactional_id": "lovelorn-soak-scorer" if self.exactly_once else None,
                "transaction_timeout_ms": 10000,
            }
        )
        await ensure_topics(kafka, topics_for(kafka))
        return base.model_copy(update={"kafka": kafka})

    async def run(self) -> Audit:
        end_services_with_this_process()  # the broker and Redis must not outlive the soak
        home = self.work / "home"
        base = Settings(
            home=home,
            kafka=KafkaSettings(partitions=3, session_timeout_ms=3000),
            registry=RegistrySettings(bundled=False),
        )
        print("training a tiny model for the soak …", flush=True)
        await asyncio.to_thread(train_tiny, base, fixture_examples(self.work / "forty.tsv"))
        with contextlib.ExitStack() as stack:  # closes in reverse: pipeline, Weibo, broker
            live = await self._broker(base, stack)
            weibo = stack.enter_context(FakeWeiboServer())
            stack.callback(self.stop_all)
            self.start_redis()
            self.settings = live.model_copy(
                update={"redis": RedisSettings(url=f"redis://127.0.0.1:{self.redis_port}/0")}
            )
            self.env = self._environment(home, weibo.base_url)
            for name in ("scorer", "poller"):
                self.start(name)
            stop = threading.Event()
            stack.callback(stop.set)
            feeder = threading.Thread(target=self._feed, args=(weibo, stop), daemon=True)
            feeder.start()
            await self._chaos()
            stop.set()
            feeder.join()
            print("feeding stopped; waiting for the pipeline to drain …", flush=True)
            await self._drain()
            return await self._audit()

    def _environment(self, home: Path, weibo_url: str) -> dict[str, str]:
        k = self.settings.kafka
        env = {n: v for n, v in os.environ.items() if not n.startswith("LOVELORN_")} | {
            "LOVELORN_HOME": str(home),
            "LOVELORN_REGISTRY__BUNDLED": "false",
            "LOVELORN_KAFKA__BOOTSTRAP_SERVERS": k.bootstrap_servers or "",
            "LOVELORN_KAFKA__LAG_FROM_HIGHWATER": str(k.lag_from_highwater).lower(),
            "LOVELORN_KAFKA__ENABLE_IDEMPOTENCE": str(k.enable_idempotence).lower(),
            "LOVELORN_KAFKA__EXACTLY_ONCE": str(k.exactly_once).lower(),
            "LOVELORN_KAFKA__TRANSACTION_TIMEOUT_MS": str(k.transaction_timeout_ms),
            "LOVELORN_KAFKA__SESSION_TIMEOUT_MS": "3000",
            "LOVELORN_REDIS__URL": self.settings.redis.url or "",
            "LOVELORN_SCORER__EMIT_SCORES": "true",
            "LOVELORN_SCORER__COMMIT_INTERVAL_S": "0.5",
            "LOVELORN_WEIBO__BASE_URL": weibo_url,
            "LOVELORN_WEIBO__MIN_INTERVAL_S": "0.01",
            "LOVELORN_WEIBO__JITTER_S": "0",
            "LOVELORN_WEIBO__BACKOFF_BASE_S": "0.2",
            "LOVELORN_WEIBO__BACKOFF_CAP_S": "2",
            "LOVELORN_LOG_FORMAT": "json",
        }
        if k.transactional_id:
            env["LOVELORN_KAFKA__TRANSACTIONAL_ID"] = k.transactional_id
        return env

    async def _chaos(self) -> None:
        """Kill one victim every ``chaos_every`` seconds, each kind in turn in a seeded order,
        sampling the committed offsets every 5 s; a process that exits by itself fails the run."""
        started = time.monotonic()
        victims = list(self.victims)
        self.rng.shuffle(victims)
        kills = 0
        next_chaos = started + self.chaos_every
        next_check = started + 5
        while time.monotonic() - started < self.seconds:
            await asyncio.sleep(0.5)
            if time.monotonic() >= next_check:
                await sample_commits(
                    self.settings.kafka, self.seen, read_committed=self.exactly_once
                )
                next_check = time.monotonic() + 5
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited by itself with {proc.returncode}; see {self.work / (name + '.log')}"
                    )
            if time.monotonic() >= next_chaos:
                victim = victims[kills % len(victims)]
                kills += 1
                print(
                    f"  chaos at {time.monotonic() - started:5.0f}s: SIGKILL {victim}", flush=True
                )
                await self._kill_and_restart(victim)
                self.seen.restarts[victim] += 1
                next_chaos = time.monotonic() + self.chaos_every

    async def _kill_and_restart(self, victim: str) -> None:
        if victim == "broker":
            assert self.cluster is not None
            index = self.rng.randrange(len(self.cluster.nodes))
            self.cluster.kill_node(index)
            await asyncio.sleep(self.rng.uniform(3.0, 8.0))  # long enough to be fenced
            await asyncio.to_thread(self.cluster.restart_node, index)
            return
        self.kill(victim)
        await asyncio.sleep(self.rng.uniform(0.5, 3.0))
        if victim == "redis":
            self.start_redis()
        else:
            self.start(victim)

    def _feed(self, weibo: FakeWeiboServer, stop: threading.Event) -> None:
        """``rate`` new comments per second, on a new post every second. Search shows the newest
        30 posts, enough to cover a poller restart (like Weibo, older posts drop out of search)."""
        post_number = 0
        while not stop.is_set():
            post_number += 1
            post_id = f"51{post_number:014d}"
            count = max(1, round(self.rate))
            texts = [TEXTS[(post_number * 7 + n) % len(TEXTS)] for n in range(count)]
            comments = [weibo_comment(post_id, n, text) for n, text in enumerate(texts)]
            with weibo.state.lock:
                weibo.state.posts[post_id] = comments
                recent = weibo.state.search_results.get(KEYWORD, [])
                weibo.state.search_results[KEYWORD] = (
                    [{"id": post_id, "comments_count": count}, *recent]
                )[:30]
            self.seen.inputs.update(str(c["id"]) for c in comments)
            self.seen.lovelorn_inputs += sum(text in LOVELORN for text in texts)
            stop.wait(1.0)

    async def _drain(self) -> None:
        deadline = time.monotonic() + DRAIN_S
        while time.monotonic() < deadline:
            kafka, inputs = self.settings.kafka, self.seen.inputs
            if await drained(kafka, inputs, read_committed=self.exactly_once):
                return
            await asyncio.sleep(2)
        print(f"  not drained after {DRAIN_S:.0f} s; auditing what is there", flush=True)

    async def _audit(self) -> Audit:
        stores = await collect(self.settings, exactly_once=self.exactly_once)
        thresholds = thresholds_from_registry(self.settings)
        return judge(stores, self.seen, thresholds, exactly_once=self.exactly_once)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=20.0, help="new comments per second")
    parser.add_argument("--chaos-every", type=float, default=20.0, help="seconds between kills")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--broker", choices=["embedded", "kafka"], default="embedded")
    parser.add_argument(
        "--exactly-once", action="store_true", help="kafka.exactly_once on (Apache Kafka only)"
    )
    parser.add_argument("--keep", type=Path, default=None, help="work folder to keep (logs)")
    args = parser.parse_args()
    if args.exactly_once and args.broker != "kafka":
        parser.error(
            "--exactly-once needs --broker kafka (the embedded broker has no transactions)"
        )
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        options = {"broker": args.broker, "exactly_once": args.exactly_once}
        soak = Soak(work, args.rate, args.minutes * 60, args.chaos_every, args.seed, **options)
        audit = asyncio.run(soak.run())
    print(f"\n{' '.join(sys.argv)}\n\n{audit.table()}")
    sys.exit(0 if audit.passed else 1)


if __name__ == "__main__":
    main()
