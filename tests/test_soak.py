"""The chaos soak (bench/soak.py) and its audit (bench/soak_audit.py): the audit's rules on
made-up stores, then a 45-second soak with scorer, poller and Redis each killed once."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from soak import Soak
from soak_audit import Observed, Stores, judge

from monitor.model.thresholds import Thresholds
from monitor.schemas import Alert, Score, alert_id

VERSION = "v1"
NOW = datetime(2024, 5, 1, tzinfo=UTC)


def thresholds(version: str) -> Thresholds:
    return Thresholds({"default": 0.6, "care": 0.4})  # alerts from 0.4, the lowest


def score(cid: str, value: float) -> Score:
    return Score(comment_id=cid, post_id="p", score=value, model_version=VERSION, fetched_at=NOW)


def alert(cid: str) -> Alert:
    return Alert(
        alert_id=alert_id(cid, VERSION),
        comment_id=cid,
        post_id="p",
        score=0.9,
        threshold=0.4,
        model_version=VERSION,
        created_at=NOW,
        fetched_at=NOW,
    )


def stores(scores: list[Score], alerts: list[Alert], **changes: list[Alert]) -> Stores:
    parts = {"redis_alerts": alerts, "kafka_alerts": alerts, "committed_alerts": alerts}
    return Stores(scores=scores, **(parts | changes))


# Ten comments: "c0".."c4" at or above a threshold (0.4 is the care policy's edge), the rest under.
INPUTS = {f"c{i}" for i in range(10)}
SCORES = [score(f"c{i}", v) for i, v in enumerate([0.9, 0.7, 0.6, 0.5, 0.4] + [0.39] * 5)]
OWED = [alert(f"c{i}") for i in range(5)]


def verdict(s: Stores, *, exactly_once: bool = False) -> list[str]:
    return judge(s, Observed(inputs=set(INPUTS)), thresholds, exactly_once=exactly_once).failures


def test_a_complete_run_passes_and_the_table_says_so() -> None:
    audit = judge(stores(SCORES, OWED), Observed(inputs=set(INPUTS)), thresholds, exactly_once=True)
    assert audit.passed, audit.failures
    assert audit.rows["expected alerts (scores at or above a policy threshold)"].startswith("5 ")
    assert audit.table().endswith("| **verdict** | **PASS** |")


def test_a_run_without_alerts_proves_nothing() -> None:
    quiet = [score(f"c{i}", 0.1) for i in range(10)]
    assert any("proves nothing" in f for f in verdict(stores(quiet, [])))


def test_every_owed_alert_must_reach_redis_once() -> None:
    assert any("1 expected alerts missing in Redis" in f for f in verdict(stores(SCORES, OWED[1:])))
    doubled = stores(SCORES, OWED, redis_alerts=[*OWED, OWED[0]])
    assert any("1 duplicates in Redis" in f for f in verdict(doubled))
    unowed = stores(SCORES, [*OWED, alert("c9")])
    assert any("without a score at or above" in f for f in verdict(unowed))


def test_kafka_duplicates_fail_only_read_committed_under_exactly_once() -> None:
    doubled = stores(SCORES, OWED, kafka_alerts=[*OWED, OWED[0]], committed_alerts=[*OWED, OWED[0]])
    assert verdict(doubled) == []  # at least once: readers dedupe on alert_id
    assert any(
        "duplicates for a read_committed reader" in f for f in verdict(doubled, exactly_once=True)
    )
    missing = stores(SCORES, OWED, kafka_alerts=OWED[1:], committed_alerts=OWED[1:])
    assert any("missing in Kafka" in f for f in verdict(missing))
    assert any("missing for a read_committed" in f for f in verdict(missing, exactly_once=True))


def test_lost_comments_and_short_reads_fail_and_duplicate_scores_are_counted() -> None:
    assert any("1 comments never scored" in f for f in verdict(stores(SCORES[:-1], OWED)))
    cut = stores(SCORES, OWED)
    cut.incomplete = ["scores"]
    assert any("scores read stopped" in f for f in verdict(cut))
    audit = judge(
        stores([*SCORES, SCORES[0]], OWED),
        Observed(inputs=set(INPUTS)),
        thresholds,
        exactly_once=False,
    )
    assert audit.rows["score records / duplicates (all records)"] == "11 / 1"


@pytest.mark.timeout(600)
def test_short_soak_survives_chaos(tmp_path: Path) -> None:
    soak = Soak(tmp_path, rate=5, seconds=45, chaos_every=12, seed=1)
    audit = asyncio.run(soak.run())
    print(audit.table())
    assert audit.passed, audit.table()
    assert len(soak.seen.inputs) >= 200
    assert all(count >= 1 for count in soak.seen.restarts.values()), soak.seen.restarts
