"""One scorer against two in one consumer group: throughput side by side.

    python bench/scorer_pair.py                              # 6000 comments, 3 rounds
    python bench/scorer_pair.py --comments 1500 --rounds 1   # a smoke run

What a second scorer buys depends on the cores it gets, so this measures it rather than
claiming it. The embedded broker (Tansu) and Redis are started for the bench (memory only;
they die with it). Each trial has its own comments topic, created from the settings
(``prepare_topics``, ``--partitions`` partitions), consumer group and Redis key prefix, and
real ``lovelorn score`` processes serving the packaged model. Once every scorer is ready
(``/readyz``: it holds partitions) and the group has settled, ``--comments`` comments are
produced at once, and throughput is read from the group's committed offsets: records
committed between 10 % and 90 % of them over the time that took — a steady state, without
process start, model load or the rebalance a second member causes (the start-up is
reported apart). Trials alternate 1, 2, 1, 2, … for ``--rounds`` rounds, so the machine's
noise (other jobs, thermal state) falls on both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.bus import Consumer
from monitor.bus.admin import prepare_topics
from monitor.embedded import EmbeddedServices, free_port
from monitor.embedded.processes import end_services_with_this_process, popen
from monitor.settings import KafkaSettings, Settings
from tests.fixtures import make_comment, produce_comments
from tests.proctree import kill_tree

# the demo's hand-written stream: real-looking Weibo comments, some of which the packaged
# model alerts on, so alert writes are part of what is measured (as many as it catches)
TEXTS = [
    json.loads(line)["text"]
    for line in (ROOT / "monitor" / "demo_data" / "stream.jsonl").read_text("utf-8").splitlines()
    if line.strip()
]
SETTLE_S = 2.0


@dataclass
class Trial:
    scorers: int
    rate: float  # comments/s between 10 % and 90 % committed
    ready_s: float  # from starting the processes to every one holding partitions


@dataclass
class Bench:
    work: Path
    comments: int
    partitions: int
    threads: int | None
    timeout_s: float
    trials: list[Trial] = field(default_factory=list)

    async def run(self, rounds: int) -> None:
        end_services_with_this_process()
        base = Settings(home=self.work, kafka=KafkaSettings(partitions=self.partitions))
        services = EmbeddedServices(base, self.work / "services")
        await services.up(said=True)
        try:
            self.settings = services.endpoints()
            for n in range(rounds):
                for scorers in (1, 2):
                    trial = await self.trial(scorers, f"r{n}-{scorers}")
                    self.trials.append(trial)
                    print(
                        f"round {n + 1}: {scorers} scorer(s) {trial.rate:7.1f} comments/s, "
                        f"ready after {trial.ready_s:5.1f} s",
                        flush=True,
                    )
        finally:
            services.down()

    async def trial(self, scorers: int, name: str) -> Trial:
        kafka = self.settings.kafka.model_copy(
            update={"consumer_group": f"bench-{name}", "comments_topic": f"bench-{name}"}
        )
        await prepare_topics(kafka)
        env = self._environment(kafka, name)
        logs = [(self.work / f"{name}-{i}.log").open("ab") for i in range(scorers)]
        ports = [free_port() for _ in logs]
        started = time.monotonic()
        processes = [
            popen(
                [sys.executable, "-m", "monitor", "score"],
                env=env | {"LOVELORN_SCORER__METRICS_PORT": str(port)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            for log, port in zip(logs, ports, strict=True)
        ]
        try:
            await self._ready(ports, processes)
            ready_s = time.monotonic() - started
            await asyncio.sleep(SETTLE_S)  # the first member's side of the rebalance
            comments = [
                make_comment(i, TEXTS[i % len(TEXTS)], post=f"p{i % 64}")
                for i in range(self.comments)
            ]
            produced = time.monotonic()
            await produce_comments(kafka, comments)
            samples = await self._committed_over_time(kafka, processes, produced)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    kill_tree(process)
            for log in logs:
                log.close()
        return Trial(scorers, _rate(samples, self.comments), ready_s)

    async def _ready(self, ports: list[int], processes: list[subprocess.Popen[bytes]]) -> None:
        """Until every scorer's ``/readyz`` says it holds partitions."""
        deadline = time.monotonic() + self.timeout_s
        async with httpx.AsyncClient(timeout=2.0) as client:
            for port in ports:
                while True:
                    if any(p.poll() is not None for p in processes):
                        raise SystemExit(f"a scorer exited early: see {self.work}")
                    if time.monotonic() > deadline:
                        raise SystemExit(f"scorers not ready in {self.timeout_s:.0f} s")
                    with contextlib.suppress(httpx.HTTPError):
                        answer = await client.get(f"http://127.0.0.1:{port}/readyz")
                        if answer.status_code == 200:
                            break
                    await asyncio.sleep(0.2)

    async def _committed_over_time(
        self, kafka: KafkaSettings, processes: list[subprocess.Popen[bytes]], started: float
    ) -> list[tuple[float, int]]:
        """(seconds since start, records committed) until the whole topic is committed."""
        samples: list[tuple[float, int]] = []
        async with Consumer(kafka, group_id=kafka.consumer_group, client_id="bench") as group:
            tps = await group.partitions(kafka.comments_topic)
            while True:
                done = sum([(await group.committed(tp)) or 0 for tp in tps])
                samples.append((time.monotonic() - started, done))
                if done >= self.comments:
                    return samples
                if any(p.poll() is not None for p in processes):
                    raise SystemExit(f"a scorer exited early: see {self.work}")
                if samples[-1][0] > self.timeout_s:
                    raise SystemExit(f"not drained in {self.timeout_s:.0f} s: see {self.work}")
                await asyncio.sleep(0.1)

    def _environment(self, kafka: KafkaSettings, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOVELORN_")}
        env |= {
            "LOVELORN_HOME": str(self.work / "home"),
            "LOVELORN_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers or "",
            "LOVELORN_KAFKA__LAG_FROM_HIGHWATER": "true",
            "LOVELORN_KAFKA__PARTITIONS": str(kafka.partitions),
            "LOVELORN_KAFKA__COMMENTS_TOPIC": kafka.comments_topic,
            "LOVELORN_KAFKA__CONSUMER_GROUP": kafka.consumer_group,
            "LOVELORN_SCORER__COMMIT_INTERVAL_S": "0.2",  # the samples' resolution
            "LOVELORN_REDIS__URL": self.settings.redis.url or "",
            "LOVELORN_REDIS__KEY_PREFIX": f"bench-{name}:",  # no alert or claim seen before
            "LOVELORN_REGISTRY__BUNDLED": "true",
            "LOVELORN_LOG_FORMAT": "json",
        }
        if self.threads:
            env["LOVELORN_SCORER__CPU_THREADS"] = str(self.threads)
        return env


def _rate(samples: list[tuple[float, int]], total: int) -> float:
    """Records per second between the first samples at or past 10 % and 90 % of ``total``."""
    low = next(s for s in samples if s[1] >= 0.1 * total)
    high = next(s for s in samples if s[1] >= 0.9 * total)
    if high[0] <= low[0]:
        return float("nan")  # too few records to see it move: use more --comments
    return (high[1] - low[1]) / (high[0] - low[0])


def table(trials: list[Trial]) -> str:
    rows = [
        "| scorers | trials | comments/s (10–90 %) min / median / max | ready after, median |",
        "|---|---|---|---|",
    ]
    medians = {}
    for scorers in (1, 2):
        mine = [t for t in trials if t.scorers == scorers]
        rates = sorted(t.rate for t in mine)
        medians[scorers] = statistics.median(rates)
        rows.append(
            f"| {scorers} | {len(mine)} | {rates[0]:.1f} / {medians[scorers]:.1f} / "
            f"{rates[-1]:.1f} | {statistics.median(t.ready_s for t in mine):.1f} s |"
        )
    rows.append(f"\nspeed-up of the pair (median / median): {medians[2] / medians[1]:.2f}×")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=3, help="each round: 1, then 2 scorers")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None, help="scorer.cpu_threads of each")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per trial")
    parser.add_argument("--keep", type=Path, default=None, help="work folder to keep (logs)")
    args = parser.parse_args()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # probes of a starting broker
    if args.rounds < 3:
        print(f"note: {args.rounds} round(s): a smoke run; use ≥ 3 for min/median/max to mean much")
    work = args.keep or Path(tempfile.mkdtemp(prefix="scorer-pair-"))
    work.mkdir(parents=True, exist_ok=True)
    bench = Bench(work, args.comments, args.partitions, args.threads, args.timeout)
    print(
        f"{args.comments} comments, {args.partitions} partitions, {os.cpu_count()} CPUs, "
        f"threads per scorer: {args.threads or 'scorer.cpu_threads default'}; work: {work}"
    )
    asyncio.run(bench.run(args.rounds))
    print()
    print(table(bench.trials))


if __name__ == "__main__":
    main()
