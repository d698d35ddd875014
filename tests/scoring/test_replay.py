"""Replay: re-score a range with v2, diff against v1, never touching the live group's offsets."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.bus import Consumer
from monitor.errors import ConfigError
from monitor.model import ModelRegistry, Thresholds
from monitor.model.predictor import PaddlePredictor
from monitor.schemas import Alert, Verdict, decode
from monitor.scoring.decider import flip
from monitor.scoring.replay import Replayer, parse_bound
from monitor.scoring.service import ScorerService
from monitor.settings import Settings
from monitor.store import Store, VerdictLog
from tests.fixtures import (
    EVERYDAY,
    LOVELORN,
    TEXTS,
    copy_home,
    fixture_examples,
    make_comment,
    produce_comments,
    read_topic,
    run_cli,
    scorer_settings,
    train_tiny,
    wait_for,
)


async def _committed(settings: Settings) -> dict[int, int | None]:
    async with Consumer(settings.kafka, group_id=settings.kafka.consumer_group) as consumer:
        tps = await consumer.partitions(settings.kafka.comments_topic)
        return {tp.partition: await consumer.committed(tp) for tp in tps}


def _decisions(settings: Settings, version: str, texts: list[str]) -> list[bool]:
    predictor = PaddlePredictor.from_registry(
        ModelRegistry(settings.registry_root), settings.scorer, version
    )
    try:
        threshold = Thresholds.from_manifest(predictor.manifest, settings.alerts).by_policy[
            "default"
        ]
        return [bool(p >= threshold) for p in predictor.probabilities(texts)]
    finally:
        predictor.close()


async def test_replay_diff_after_refresh_leaves_live_offsets_alone(
    stack: Settings, tiny_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = scorer_settings(stack, copy_home(tiny_home, tmp_path))
    registry = ModelRegistry(settings.registry_root)
    # v2 also calls three hard negatives lovelorn, so the two versions disagree on them
    positives = LOVELORN + EVERYDAY[9:12]
    data = fixture_examples(tmp_path / "forty.tsv", positives)
    train_tiny(settings, data, seed=11, promote=False, positives=positives)
    comments = [make_comment(i, TEXTS[(i * 7) % len(TEXTS)]) for i in range(120)]
    await produce_comments(settings.kafka, comments)

    live = ScorerService(settings)  # the live group scores the range with v1
    stop = asyncio.Event()
    task = asyncio.create_task(live.run(stop))
    await wait_for(lambda: live.stats.scored >= 120 or task.done(), timeout_s=60)
    await asyncio.sleep(0.5)
    stop.set()
    await task
    committed_before = await _committed(settings)
    assert sum(o or 0 for o in committed_before.values()) == 120

    registry.promote("v2", margin=1, force=True)
    replay_topic = f"{settings.kafka.alerts_topic}-replay"
    report = await Replayer(settings).run(
        settings.kafka.comments_topic, None, None, "v2", compare="v1", to_topic=replay_topic
    )
    assert (report.records, report.scored, report.invalid) == (120, 120, 0)

    by_id = {c.comment_id: c for c in comments}
    ordered = sorted(by_id)
    new = dict(
        zip(ordered, _decisions(settings, "v2", [by_id[i].text for i in ordered]), strict=True)
    )
    old = dict(
        zip(ordered, _decisions(settings, "v1", [by_id[i].text for i in ordered]), strict=True)
    )
    assert report.added == sum(new[i] and not old[i] for i in ordered)
    assert report.removed == sum(old[i] and not new[i] for i in ordered)
    assert report.unchanged_alerts == sum(old[i] and new[i] for i in ordered)
    assert [m.version for m in report.models] == ["v2", "v1"]
    assert report.models[0].alerts == sum(new.values()) and report.models[1].alerts == sum(
        old.values()
    )
    assert (
        report.added + report.removed > 0
    )  # the two models disagree somewhere, so the diff says something
    assert all(ex["comment_id"] in by_id for ex in report.added_examples + report.removed_examples)
    replayed = [decode(Alert, r.value) for r in await read_topic(settings.kafka, replay_topic)]
    assert sorted(a.comment_id for a in replayed) == sorted(i for i in ordered if new[i])
    assert {a.model_version for a in replayed} == {"v2"}

    assert await _committed(settings) == committed_before  # the live group never moved

    # a partial range by offsets: [10, 20) of every partition
    part = await Replayer(settings).run(settings.kafka.comments_topic, 10, 20, "v2")
    assert part.scored == sum(
        min(20, o or 0) - 10 for o in committed_before.values() if (o or 0) > 10
    )
    assert all(first >= 10 and last < 20 for first, last in part.partitions.values())

    monkeypatch.setenv("LOVELORN_HOME", str(settings.home))
    monkeypatch.setenv("LOVELORN_KAFKA__BOOTSTRAP_SERVERS", settings.kafka.bootstrap_servers or "")
    result = await asyncio.to_thread(
        run_cli,
        "replay",
        "--topic",
        settings.kafka.comments_topic,
        "--model",
        "v2",
        "--compare",
        "v1",
        "--report",
        str(tmp_path / "diff.json"),
    )
    assert result.code == 0, result.err
    assert f"diff v1 → v2: +{report.added} new alerts, −{report.removed} dropped" in result.out
    assert (tmp_path / "diff.json").is_file()

    # reviewers' verdicts: every changed decision and one unchanged one get a verdict
    changed = [i for i in ordered if new[i] != old[i]]
    reviewed = {i: n % 2 == 0 for n, i in enumerate(changed)}
    reviewed[next(i for i in ordered if new[i] == old[i])] = True
    expected = Counter(k for i, y in reviewed.items() if (k := flip(new[i], old[i], y)))
    assert sum(expected.values()) == len(changed) > 0
    flipped = await Replayer(settings).run(
        settings.kafka.comments_topic, None, None, "v2", compare="v1", verdicts=reviewed
    )
    assert flipped.reviewed_flips == dict(expected)

    store = Store(settings.redis)
    try:
        for n, (comment_id, lovelorn) in enumerate([*reviewed.items(), (changed[0], None)]):
            verdict = "unsure" if lovelorn is None else "lovelorn" if lovelorn else "not_lovelorn"
            await VerdictLog(store).record(
                Verdict(alert_id=f"a{n}", comment_id=comment_id, score=0.5, model_version="v1",
                        verdict=verdict, reviewer="r", team="care"),
                entry_id="0-1", groups=[],
            )  # fmt: skip
    finally:
        await store.aclose()
    monkeypatch.setenv("LOVELORN_REDIS__URL", settings.redis.url or "")
    monkeypatch.setenv("LOVELORN_REDIS__KEY_PREFIX", settings.redis.key_prefix)
    result = await asyncio.to_thread(
        run_cli, "replay", "--topic", settings.kafka.comments_topic,
        "--model", "v2", "--compare", "v1", "--flips",
    )  # fmt: skip
    assert result.code == 0, result.err
    # an "unsure" is no label: it neither counts nor replaces the earlier decided verdict
    flipped_n = sum(expected.values())
    assert f"reviewed: {flipped_n} of {len(reviewed)} verdicts flipped" in result.out, result.out


def test_bounds() -> None:
    assert parse_bound("42") == 42
    assert parse_bound("2026-11-22T10:00:00+08:00") == datetime.fromisoformat(
        "2026-11-22T10:00:00+08:00"
    )
    assert parse_bound("2026-11-22") == datetime(2026, 11, 22, tzinfo=UTC)
    assert parse_bound(None) is None
    with pytest.raises(ConfigError, match="neither an offset nor an ISO-8601 time"):
        parse_bound("yesterday")
