"""Chaos soak: the whole pipeline at a fixed rate while the scorer, the poller, Redis and (on
Apache Kafka) a broker are killed and restarted, then an audit of what came out.

    python bench/soak.py --minutes 5 --rate 20                          # embedded broker
    python bench/soak.py --minutes 5 --rate 20 --broker kafka --exactly-once   # 3-node cluster

Loopback only: a local Weibo-shaped HTTP server gains ``rate`` comments per second on fresh
posts; ``lovelorn poll`` (keyword target) and ``lovelorn score`` run as real processes on the
embedded broker (Tansu) or a three-node Apache Kafka cluster (topics replicated three ways,
min.insync.replicas=2, idempotent producers), and a Redis with an append-only file (so a Redis
restart keeps its data, as in production). Every ``--chaos-every`` seconds one of scorer /
poller / Redis / broker gets SIGKILL and is restarted a moment later. The audit checks:

  - every input comment scored at least once             (scores topic)
  - every alert exactly once in Redis                    (stream entries, by alert id)
  - no alert without its comment
  - committed offsets never ahead of processed records  (sampled while running)
  - with --exactly-once: every alert once for a read_committed consumer of the alerts topic

and prints: input, scored, alerts, duplicates seen on the Kafka side, lost (must be 0),
max lag, p50/p99 latency, restarts survived. Exit status 1 if an invariant fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.bus import Consumer, ensure_topics
from monitor.bus.admin import topics_for
from monitor.embedded import EmbeddedServices, free_port
from monitor.embedded.apache_kafka import KafkaCluster
from monitor.embedded.services import redis_binary
from monitor.schemas import Alert, decode
from monitor.settings import KafkaSettings, RedisSettings, Settings
from monitor.store import Keys as RedisKeys
from monitor.store import connect as connect_redis
from tests.fake_weibo import FakeWeiboServer, weibo_comment

KEYWORD = "失恋"
TEXTS = [
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


@dataclass
class Soak:
    work: Path
    rate: float
    seconds: float
    chaos_every: float
    seed: int = 0
    broker: str = "embedded"  # or "kafka": a three-node Apache Kafka cluster
    exactly_once: bool = False
    inputs: set[str] = field(default_factory=set)
    restarts: dict[str, int] = field(default_factory=dict)
    max_lag: int = 0
    commit_violations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.redis_port = free_port()
        self.victims = ["scorer", "poller", "redis"] + (
            ["broker"] if self.broker == "kafka" else []
        )
        self.restarts = dict.fromkeys(self.victims, 0)
        self.cluster: KafkaCluster | None = None

    # -- processes -------------------------------------------------------------
    def start_redis(self) -> None:
        data = self.work / "redis"
        data.mkdir(exist_ok=True)
        self.procs["redis"] = subprocess.Popen(
            [
                str(redis_binary()),
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(data),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ],
            stdout=(self.work / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
        )

    def start(self, name: str) -> None:
        args = ["score"] if name == "scorer" else ["poll", "--keyword", KEYWORD, "--interval", "1"]
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "monitor", *args],
            env=self.env,
            stdout=(self.work / f"{name}.log").open("ab"),
            stderr=subprocess.STDOUT,
        )

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> None:
        for name in ("poller", "scorer", "redis"):
            proc = self.procs.get(name)
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()

    # -- the run ---------------------------------------------------------------
    async def _broker(self, base: Settings) -> tuple[Settings, EmbeddedServices | None]:
        """The embedded broker, or a three-node Apache Kafka cluster with replicated topics."""
        if self.broker == "embedded":
            services = EmbeddedServices(base, self.work / "services")
            await services.up()
            return services.endpoints(), None
        print("starting a three-node Apache Kafka cluster …", flush=True)
        self.cluster = await asyncio.to_thread(KafkaCluster(3, self.work / "kafka").start)
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
        return base.model_copy(update={"kafka": kafka}), None

    async def run(self) -> dict[str, object]:
        from monitor.settings import RegistrySettings
        from tests.fixtures import forty_examples, train_tiny

        home = self.work / "home"
        base = Settings(
            home=home,
            kafka=KafkaSettings(partitions=3, session_timeout_ms=3000),
            registry=RegistrySettings(bundled=False),
        )
        print("training a tiny model for the soak …", flush=True)
        await asyncio.to_thread(train_tiny, base, forty_examples(self.work / "forty.tsv"))
        live, services = await self._broker(base)
        self.start_redis()
        weibo = FakeWeiboServer()
        weibo.__enter__()
        live = live.model_copy(
            update={"redis": RedisSettings(url=f"redis://127.0.0.1:{self.redis_port}/0")}
        )
        self.settings = live
        k = live.kafka
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LOVELORN_")} | {
            "LOVELORN_HOME": str(home),
            "LOVELORN_REGISTRY__BUNDLED": "false",
            "LOVELORN_KAFKA__BOOTSTRAP_SERVERS": k.bootstrap_servers or "",
            "LOVELORN_KAFKA__LAG_FROM_HIGHWATER": str(k.lag_from_highwater).lower(),
            "LOVELORN_KAFKA__ENABLE_IDEMPOTENCE": str(k.enable_idempotence).lower(),
            "LOVELORN_KAFKA__EXACTLY_ONCE": str(k.exactly_once).lower(),
            "LOVELORN_KAFKA__TRANSACTION_TIMEOUT_MS": str(k.transaction_timeout_ms),
            "LOVELORN_KAFKA__SESSION_TIMEOUT_MS": "3000",
            "LOVELORN_REDIS__URL": live.redis.url or "",
            "LOVELORN_SCORER__EMIT_SCORES": "true",
            "LOVELORN_SCORER__COMMIT_INTERVAL_S": "0.5",
            "LOVELORN_WEIBO__BASE_URL": weibo.base_url,
            "LOVELORN_WEIBO__MIN_INTERVAL_S": "0.01",
            "LOVELORN_WEIBO__JITTER_S": "0",
            "LOVELORN_WEIBO__BACKOFF_BASE_S": "0.2",
            "LOVELORN_WEIBO__BACKOFF_CAP_S": "2",
            "LOVELORN_LOG_FORMAT": "json",
        }
        if k.transactional_id:
            self.env["LOVELORN_KAFKA__TRANSACTIONAL_ID"] = k.transactional_id
        try:
            for name in ("scorer", "poller"):
                self.start(name)
            stop = threading.Event()
            feeder = threading.Thread(target=self._feed, args=(weibo, stop), daemon=True)
            feeder.start()
            started = time.monotonic()
            victims = list(self.victims)
            self.rng.shuffle(victims)  # every kind of failure, in a seeded order
            kills = 0
            next_chaos = started + self.chaos_every
            next_check = started + 5
            while time.monotonic() - started < self.seconds:
                await asyncio.sleep(0.5)
                if time.monotonic() >= next_check:
                    await self._check_commits()
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
                        f"  chaos at {time.monotonic() - started:5.0f}s: SIGKILL {victim}",
                        flush=True,
                    )
                    await self._kill_and_restart(victim)
                    self.restarts[victim] += 1
                    next_chaos = time.monotonic() + self.chaos_every
            stop.set()
            feeder.join()
            print("feeding stopped; waiting for the pipeline to drain …", flush=True)
            return await self._drain_and_audit()
        finally:
            self.stop_all()
            weibo.__exit__(None, None, None)
            if services is not None:
                services.down()
            if self.cluster is not None:
                self.cluster.close()

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
            comments = [
                weibo_comment(post_id, n, TEXTS[(post_number * 7 + n) % len(TEXTS)])
                for n in range(count)
            ]
            with weibo.state.lock:
                weibo.state.posts[post_id] = comments
                recent = weibo.state.search_results.get(KEYWORD, [])
                weibo.state.search_results[KEYWORD] = (
                    [{"id": post_id, "comments_count": count}, *recent]
                )[:30]
            self.inputs.update(str(c["id"]) for c in comments)
            stop.wait(1.0)

    async def _check_commits(self) -> None:
        """Committed offsets must never be ahead of records that have a score (scores are written first)."""
        kafka = self.settings.kafka
        try:
            async with Consumer(
                kafka, group_id=kafka.consumer_group, client_id="soak-audit"
            ) as group:
                tps = await group.partitions(kafka.comments_topic)
                committed = {tp: await group.committed(tp) for tp in tps}
        except Exception:
            return  # the broker may be busy; the next sample will do
        if not any(committed.values()):
            return
        scored = await self._scored_ids(timeout_s=1.5)
        comments = await _read(kafka, kafka.comments_topic, timeout_s=1.5)
        for record in comments:
            position = committed.get(record.tp)
            if position is not None and record.offset < position:
                cid = json.loads(record.value)["comment_id"]
                if cid not in scored:
                    self.commit_violations.append(
                        f"{record.where} committed before {cid} was scored"
                    )
        for tp, position in committed.items():
            high = max((r.offset + 1 for r in comments if r.tp == tp), default=0)
            if position is not None:
                self.max_lag = max(self.max_lag, high - position)

    async def _scored_ids(self, timeout_s: float = 5.0) -> set[str]:
        records = await _read(
            self.settings.kafka, self.settings.kafka.scores_topic, timeout_s, self.exactly_once
        )
        return {json.loads(r.value)["comment_id"] for r in records}

    async def _drain_and_audit(self) -> dict[str, object]:
        deadline = time.monotonic() + 180
        scored: set[str] = set()
        while time.monotonic() < deadline:
            scored = await self._scored_ids()
            if self.inputs <= scored:
                break
            await asyncio.sleep(2)
        redis = connect_redis(self.settings.redis)
        try:
            entries = await redis.xrange(RedisKeys(self.settings.redis.key_prefix).stream)
        finally:
            await redis.aclose()
        in_redis = [decode(Alert, fields[b"alert"]) for _, fields in entries]
        kafka_alerts = [
            decode(Alert, r.value)
            for r in await _read(self.settings.kafka, self.settings.kafka.alerts_topic)
        ]
        committed_alerts = [
            decode(Alert, r.value)
            for r in await _read(
                self.settings.kafka, self.settings.kafka.alerts_topic, read_committed=True
            )
        ]
        ids = [a.alert_id for a in in_redis]
        latencies = np.array(
            [(a.emitted_at - a.fetched_at).total_seconds() for a in in_redis] or [0.0]
        )
        return {
            "input": len(self.inputs),
            "scored": len(self.inputs & scored),
            "alerts in Redis": len(in_redis),
            "duplicate alerts in Redis": len(ids) - len(set(ids)),
            "alerts without a comment": sum(a.comment_id not in self.inputs for a in in_redis),
            "Kafka alert records / unique": f"{len(kafka_alerts)} / {len({a.alert_id for a in kafka_alerts})}",
            "duplicate alerts for a read_committed consumer": len(committed_alerts)
            - len({a.alert_id for a in committed_alerts}),
            "lost": len(self.inputs - scored),
            "lost ids (first 5)": ", ".join(sorted(self.inputs - scored)[:5]) or "-",
            "commit ahead of processing": len(self.commit_violations),
            "max lag (records)": self.max_lag,
            "alert latency p50 / p99": f"{np.percentile(latencies, 50):.2f} s / {np.percentile(latencies, 99):.2f} s",
            "restarts survived": ", ".join(f"{k} {v}" for k, v in self.restarts.items()),
        }


async def _read(
    kafka: KafkaSettings, topic: str, timeout_s: float = 5.0, read_committed: bool = False
) -> list:  # type: ignore[type-arg]
    async with Consumer(
        kafka, group_id=None, client_id="soak-audit", read_committed=read_committed
    ) as consumer:
        tps = await consumer.partitions(topic)
        consumer.assign(tps)
        await consumer.seek_to_beginning(tps)
        records: list = []  # type: ignore[type-arg]
        quiet = 0
        deadline = time.monotonic() + timeout_s
        while quiet < 2 and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            got = [r for rs in batch.values() for r in rs]
            records += got
            quiet = 0 if got else quiet + 1
        return records


def audit_ok(result: dict[str, object], *, exactly_once: bool = False) -> bool:
    return (
        result["lost"] == 0
        and result["duplicate alerts in Redis"] == 0
        and result["alerts without a comment"] == 0
        and result["commit ahead of processing"] == 0
        and (not exactly_once or result["duplicate alerts for a read_committed consumer"] == 0)
    )


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
        soak = Soak(
            work,
            args.rate,
            args.minutes * 60,
            args.chaos_every,
            args.seed,
            broker=args.broker,
            exactly_once=args.exactly_once,
        )
        result = asyncio.run(soak.run())
    print(f"\n{' '.join(sys.argv)}\n\n| measure | value |\n|---|---|")
    for key, value in result.items():
        print(f"| {key} | {value} |")
    sys.exit(0 if audit_ok(result, exactly_once=args.exactly_once) else 1)


if __name__ == "__main__":
    main()
