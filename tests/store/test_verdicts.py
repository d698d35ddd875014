"""The console's Redis side on a real Redis: team queues on consumer groups (nothing
acknowledged before a verdict, policy views that swallow nothing), verdicts, the review
lane, the per-user index and data-subject requests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from monitor.schemas import Sampled, Score, Verdict, alert_id
from monitor.settings import Settings
from monitor.store import (
    AlertLog,
    DataSubjects,
    ReviewLane,
    ReviewQueue,
    Store,
    UserIndex,
    VerdictLog,
    reader_group,
    score_bin,
)
from tests.console.helpers import make_alert


def _verdict(entry_item, team: str = "care", verdict: str = "lovelorn", **extra) -> Verdict:  # type: ignore[no-untyped-def]
    return Verdict(
        alert_id=entry_item.alert_id,
        comment_id=entry_item.comment_id,
        user_id=entry_item.user_id,
        text=entry_item.text,
        score=entry_item.score,
        model_version=entry_item.model_version,
        policies=entry_item.policies,
        verdict=verdict,  # type: ignore[arg-type]
        reviewer="alice",
        team=team,
        **extra,
    )


def _groups(team: str) -> list[str]:
    base = f"console:{team}"
    return [base, *(reader_group(base, p) for p in ("ads", "care", "default"))]


async def test_queue_holds_entries_until_a_verdict_and_survives_a_restart(stack: Settings) -> None:
    async with Store(stack.redis) as store:
        await AlertLog(store).write([make_alert(i) for i in range(30)])
        queue = ReviewQueue(store, team="care", window=10)
        first = await queue.entries()
        assert len(first) == 10 and [a.comment_id for _, a in first] == [f"c{i}" for i in range(10)]
        pending = await store.redis.xpending(store.keys.stream, "console:care")
        assert pending["pending"] == 10  # delivered, none acknowledged
        # a console restart (fresh objects, empty cache) sees the very same queue
        again = await ReviewQueue(store, team="care", window=10).entries()
        assert [e for e, _ in again] == [e for e, _ in first]
        assert await queue.waiting() == 30

        log = VerdictLog(store)
        entry_id, item = first[0]
        assert await log.record(_verdict(item), entry_id, _groups("care"))
        assert await log.record(_verdict(item, verdict="unsure"), entry_id, _groups("care")) is None
        after = await queue.entries()
        assert entry_id not in [e for e, _ in after] and len(after) == 10  # topped up with c10
        assert await queue.waiting() == 29
        # another team decides on its own
        other = await ReviewQueue(store, team="ads", window=10).entries()
        assert entry_id in [e for e, _ in other]
        assert await log.record(_verdict(item, team="ads"), entry_id, _groups("ads"))
        verdicts = [v async for _, v in log.scan()]
        assert [(v.team, v.verdict) for v in verdicts] == [
            ("care", "lovelorn"),
            ("ads", "lovelorn"),
        ]
        counts = await log.counts()
        assert counts["alerts|care|v1|lovelorn"] == 2 and counts["alerts|default|v1|lovelorn"] == 2


async def test_a_policy_view_swallows_nothing_of_other_views_or_teams(stack: Settings) -> None:
    async with Store(stack.redis) as store:
        alerts = [
            make_alert(i, ["care", "default"] + (["ads"] if i % 3 == 0 else [])) for i in range(12)
        ]
        await AlertLog(store).write(alerts)
        ads_view = ReviewQueue(store, team="care", policy="ads", window=50)
        got = await ads_view.entries()
        assert [a.comment_id for _, a in got] == ["c0", "c3", "c6", "c9"]
        # the skipped alerts were acknowledged in care:ads only; the team's main view and
        # another team still get all twelve
        everything = await ReviewQueue(store, team="care", window=50).entries()
        assert len(everything) == 12
        assert len(await ReviewQueue(store, team="ads", window=50).entries()) == 12
        # a verdict in the main view takes the alert out of the policy view too
        entry_id, item = next((e, a) for e, a in everything if a.comment_id == "c3")
        await VerdictLog(store).record(_verdict(item), entry_id, _groups("care"))
        assert [a.comment_id for _, a in await ads_view.entries()] == ["c0", "c6", "c9"]


async def test_decided_alerts_are_skipped_when_a_later_view_reads_them(stack: Settings) -> None:
    async with Store(stack.redis) as store:
        await AlertLog(store).write([make_alert(i, ["care", "default"]) for i in range(3)])
        main = await ReviewQueue(store, team="care", window=10).entries()
        for entry_id, item in main[:2]:
            await VerdictLog(store).record(_verdict(item), entry_id, _groups("care"))
        # the care policy view is opened only now: its group has never delivered them
        late = await ReviewQueue(store, team="care", policy="care", window=10).entries()
        assert [a.comment_id for _, a in late] == ["c2"]


async def test_review_lane_is_idempotent_and_counts_scores(stack: Settings) -> None:
    async with Store(stack.redis) as store:
        lane, now = ReviewLane(store), datetime.now(UTC)
        samples = [
            Sampled(
                sample_id=alert_id(f"s{i}", "v1"),
                comment_id=f"s{i}",
                post_id="p",
                user_id="u1",
                text=f"今天也很平常{i}",
                score=0.1,
                threshold=0.5,
                model_version="v1",
                created_at=now,
                fetched_at=now,
            )
            for i in range(3)
        ]
        scores = [
            Score(comment_id=f"s{i}", post_id="p", score=s, model_version="v1", fetched_at=now)
            for i, s in enumerate([0.1, 0.1, 0.9, 0.5])
        ]
        assert await lane.write(samples, scores) == 3
        assert await lane.write(samples, scores) == 0  # a redelivered batch adds no sample
        assert await store.redis.xlen(store.keys.review_lane) == 3
        histogram = await lane.histogram("v1", [now])
        assert histogram[score_bin(0.1)] == 4 and sum(histogram.values()) == 8  # counted twice
        assert await lane.versions() == ["v1"]
        queue = ReviewQueue(store, team="care", lane="sample", window=10)
        assert [s.comment_id for _, s in await queue.entries()] == ["s0", "s1", "s2"]


async def test_user_index_history_hourly_counts_and_parallel_indexers(stack: Settings) -> None:
    async with Store(stack.redis) as store:
        alerts = [make_alert(i, user=f"u{i % 2}") for i in range(40)]
        await AlertLog(store).write(alerts)
        index = UserIndex(store)
        done = await asyncio.gather(index.catch_up(chunk=7), UserIndex(store).catch_up(chunk=5))
        assert sum(done) >= 40
        assert await index.catch_up() == 0
        history = await index.history("u1", limit=5)
        assert [a.comment_id for _, a in history] == ["c39", "c37", "c35", "c33", "c31"]
        now = datetime.now(UTC)
        hourly = await index.hourly([now])
        assert hourly[(f"{now:%Y%m%d%H}", "care")] == 40  # never counted twice


async def test_data_subject_export_and_forget(stack: Settings) -> None:
    async with Store(stack.redis) as store:
        await AlertLog(store).write([make_alert(i, user=f"u{i % 2}") for i in range(6)])
        entries = await ReviewQueue(store, team="care", window=10).entries()
        entry_id, item = next((e, a) for e, a in entries if a.user_id == "u1")
        await VerdictLog(store).record(_verdict(item, urgent=True), entry_id, _groups("care"))
        await UserIndex(store).catch_up()
        subjects = DataSubjects(store)
        data = await subjects.export(["u1"])
        assert sorted(a["comment_id"] for a in data["alerts"]) == ["c1", "c3", "c5"]
        assert len(data["verdicts"]) == 1 and len(data["urgent"]) == 1
        assert data["state"]["u1"]["alerts"] == "3"
        removed = await subjects.forget(["u1"])
        assert removed["alerts"] == 3 and removed["verdicts"] == 1 and removed["urgent"] == 1
        assert removed["keys"] >= 2
        after = await subjects.export(["u1"])
        assert not after["alerts"] and not after["verdicts"] and after["state"]["u1"] == {}
        # no queue shows the erased alerts again, nor the index
        left = await ReviewQueue(store, team="care", window=10).entries()
        assert {a.user_id for _, a in left} == {"u0"}
        assert await UserIndex(store).history("u1") == []
        assert (await subjects.export(["u0"]))["alerts"]  # the other user is untouched
