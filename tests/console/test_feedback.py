"""Verdicts leave the console: `feedback export` to JSONL, that JSONL as a recipe source,
candidate vs current model on reviewed verdicts, and data-subject requests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from monitor.console.feedback import compare, judge
from monitor.model.manifest import Manifest
from monitor.schemas import Verdict, utcnow
from monitor.settings import Settings
from monitor.store import AlertLog, ReviewQueue, Store, UserIndex, VerdictLog
from tests.console.helpers import make_alert
from tests.fixtures import EVERYDAY, LOVELORN, run_cli
from trainer.data import load_recipe
from trainer.data.feedback import feedback_source
from trainer.data.sources import load_source

GROUPS = ["console:care"]


def _env(monkeypatch: pytest.MonkeyPatch, settings: Settings, home: Path) -> None:
    monkeypatch.setenv("LOVELORN_HOME", str(home))
    monkeypatch.setenv("LOVELORN_REDIS__URL", settings.redis.url or "")
    monkeypatch.setenv("LOVELORN_REDIS__KEY_PREFIX", settings.redis.key_prefix)


async def _review(settings: Settings, choices: Sequence[str]) -> None:
    """Alerts c0… reviewed in order with ``choices``; alert i is about user u{i % 2}."""
    async with Store(settings.redis) as store:
        await AlertLog(store).write([make_alert(i, user=f"u{i % 2}") for i in range(len(choices))])
        entries = await ReviewQueue(store, team="care", window=50).entries()
        for (entry_id, alert), choice in zip(entries, choices, strict=True):
            verdict = Verdict(
                alert_id=alert.alert_id, comment_id=alert.comment_id, user_id=alert.user_id,
                text=alert.text, score=alert.score, model_version="v1", policies=alert.policies,
                verdict=choice, reviewer="alice", team="care",  # type: ignore[arg-type]
            )  # fmt: skip
            await VerdictLog(store).record(verdict, entry_id, GROUPS)


def test_exported_verdicts_train_through_a_recipe(
    stack: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(_review(stack, ["lovelorn", "not_lovelorn", "unsure", "lovelorn"]))
    _env(monkeypatch, stack, tmp_path)
    out = tmp_path / "verdicts.jsonl"
    result = run_cli("feedback", "export", "--out", str(out))
    assert result.code == 0, result.err
    assert "4 verdicts" in result.out and "2 lovelorn" in result.out
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["verdict"] for r in rows] == ["lovelorn", "not_lovelorn", "unsure", "lovelorn"]
    assert all("user_id" not in r and r["text"] in LOVELORN for r in rows)

    negatives = tmp_path / "everyday.tsv"
    negatives.write_text("text\tlabel\n" + "".join(f"{t}\t0\n" for t in EVERYDAY), encoding="utf-8")
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(
        f"""
[[sources]]
name = "reviewer verdicts"
path = "{out}"
label_column = "verdict"
id_column = "comment_id"
label_map = {{ lovelorn = 1, not_lovelorn = 0 }}
weight = 3

[[sources]]
name = "everyday"
path = "{negatives}"
""",
        encoding="utf-8",
    )
    examples, reports = load_recipe(recipe).examples()
    reviewed = [e for e in examples if e.source == "reviewer verdicts"]
    assert sorted((e.id, e.label, e.weight) for e in reviewed) == [
        ("c0", 1, 3.0),
        ("c1", 0, 3.0),
        ("c3", 1, 3.0),
    ]
    assert reports[0].unmapped_label == 1  # unsure is dropped, and counted
    assert len(examples) == 3 + len(EVERYDAY)
    same, _ = load_source(feedback_source(out, weight=3))
    assert sorted((e.id, e.label) for e in same) == [("c0", 1), ("c1", 0), ("c3", 1)]


def test_user_export_and_forget(
    stack: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(_review(stack, ["lovelorn", "not_lovelorn", "lovelorn", "unsure"]))
    _env(monkeypatch, stack, tmp_path)
    exported = run_cli("user", "export", "u1")
    assert exported.code == 0, exported.err
    data = json.loads(exported.out)
    assert sorted(a["comment_id"] for a in data["alerts"]) == ["c1", "c3"]
    assert sorted(v["comment_id"] for v in data["verdicts"]) == ["c1", "c3"]
    assert data["state"]["u1"]["alerts"] == "2"
    refused = run_cli("user", "forget", "u1")  # no confirmation on a closed stdin
    assert refused.code != 0
    forgot = run_cli("user", "forget", "u1", "--yes")
    assert forgot.code == 0 and "2 alerts" in forgot.out and "2 verdicts" in forgot.out
    after = json.loads(run_cli("user", "export", "u1").out)
    assert after["alerts"] == [] and after["verdicts"] == [] and after["state"]["u1"] == {}
    assert len(json.loads(run_cli("user", "export", "u0").out)["alerts"]) == 2

    async def audited() -> list[str]:
        async with Store(stack.redis) as store:
            await UserIndex(store).catch_up()
            from monitor.store import AuditLog

            return [e["action"] for e in await AuditLog(store).recent()]

    actions = asyncio.run(audited())
    assert "user_forget" in actions and actions.count("user_export") == 3


def test_privacy_mode_finds_the_pseudonym(
    stack: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.scoring.decider import Decider
    from monitor.settings import AlertSettings

    alerts = AlertSettings(privacy_mode=True, pseudonym_key="k" * 16)  # type: ignore[arg-type]
    pseudonym = Decider(alerts, max_text_chars=100).user_ref("12345")

    async def write() -> None:
        async with Store(stack.redis) as store:
            await AlertLog(store).write([make_alert(0, user=pseudonym)])

    asyncio.run(write())
    _env(monkeypatch, stack, tmp_path)
    monkeypatch.setenv("LOVELORN_ALERTS__PRIVACY_MODE", "true")
    monkeypatch.setenv("LOVELORN_ALERTS__PSEUDONYM_KEY", "k" * 16)
    data = json.loads(run_cli("user", "export", "12345").out)
    assert data["user_ids"] == ["12345", pseudonym] and len(data["alerts"]) == 1


def _verdict(i: int, text: str, choice: str) -> Verdict:
    return Verdict(alert_id=f"a{i}", comment_id=f"c{i}", text=text, score=0.5, model_version="v1",
                   verdict=choice, reviewer="alice", team="care")  # type: ignore[arg-type]  # fmt: skip


def test_judge_counts_precision_on_held_out_verdicts_and_flips() -> None:
    verdicts = [_verdict(i, t, c) for i, (t, c) in enumerate(
        [("a", "lovelorn"), ("b", "lovelorn"), ("c", "not_lovelorn"), ("d", "not_lovelorn"), ("e", "lovelorn")]
    )]  # fmt: skip
    candidate = [0.9, 0.9, 0.1, 0.2, 0.9]
    current = [0.9, 0.1, 0.9, 0.9, 0.9]
    result = judge(verdicts, [candidate, current], [0.5, 0.5], ["v2", "v1"], trained={"e"})
    assert (result.reviewed, result.held_out) == (5, 4)
    assert (result.candidate.alerts, result.candidate.true_alerts, result.candidate.precision) == (
        2,
        2,
        1.0,
    )
    assert (result.current.alerts, result.current.true_alerts, result.current.precision) == (
        3,
        1,
        1 / 3,
    )
    flips = result.flips
    assert (flips.caught, flips.missed, flips.cleared, flips.raised, flips.total) == (1, 0, 2, 0, 3)


async def test_compare_loads_both_models_and_leaves_out_their_training_texts(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    for version, threshold in (("v1", 0.5), ("v2", 0.3)):
        folder = home / "models" / "versions" / version
        folder.mkdir(parents=True)
        manifest = Manifest(version=version, created_at=utcnow(), base_model="words", max_seq_len=64,
                            threshold=threshold, data_hash="x")  # fmt: skip
        (folder / "manifest.json").write_text(manifest.model_dump_json())
    (home / "models" / "CURRENT").write_text("v1")
    split = home / "models" / "versions" / "v2" / "split.jsonl"
    split.write_text(
        json.dumps({"part": "train", "text": LOVELORN[0], "label": 1}, ensure_ascii=False) + "\n"
    )
    settings = Settings(home=home)
    verdicts = [_verdict(i, LOVELORN[i], "lovelorn") for i in range(3)]
    verdicts += [_verdict(10 + i, EVERYDAY[i], "not_lovelorn") for i in range(3)]
    verdicts.append(_verdict(20, EVERYDAY[5], "unsure"))

    class Scores:
        def __init__(self, version: str) -> None:
            self.version = version
            self.manifest = Manifest.model_validate_json(
                (home / "models" / "versions" / version / "manifest.json").read_text()
            )

        async def predict(self, texts: Sequence[str]) -> np.ndarray:
            return np.array([0.4 if t in LOVELORN else 0.2 for t in texts])

        def close(self) -> None:
            pass

    async def load(version: str) -> Scores:
        return Scores(version)

    result, unknown = await compare(settings, verdicts, "v2", load=load)
    assert unknown == ["v1"]  # no split file: its training texts are unknown
    assert (result.reviewed, result.held_out) == (6, 5)
    assert (result.candidate.version, result.candidate.alerts, result.candidate.precision) == (
        "v2",
        2,
        1.0,
    )
    assert (result.current.version, result.current.alerts) == ("v1", 0)
    assert result.flips.caught == 3


def test_feedback_compare_scores_with_the_registered_models(
    stack: Settings, tiny_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.console.scenes import LOVELORN as UNSEEN_LOVELORN
    from tests.console.scenes import OTHER
    from tests.fixtures import copy_home

    home = copy_home(tiny_home, tmp_path)

    async def review() -> None:
        async with Store(stack.redis) as store:
            texts = [(t, "lovelorn") for t in UNSEEN_LOVELORN[:6]] + [
                (t, "not_lovelorn") for t in OTHER[:4]
            ]
            texts += [(LOVELORN[0], "lovelorn")]  # the tiny model trained on this one
            alerts = [make_alert(i, text=t) for i, (t, _) in enumerate(texts)]
            await AlertLog(store).write(alerts)
            entries = await ReviewQueue(store, team="care", window=50).entries()
            for (entry_id, alert), (_, choice) in zip(entries, texts, strict=True):
                verdict = Verdict(
                    alert_id=alert.alert_id, comment_id=alert.comment_id, text=alert.text, score=alert.score,
                    model_version="v1", verdict=choice, reviewer="alice", team="care",  # type: ignore[arg-type]
                )  # fmt: skip
                await VerdictLog(store).record(verdict, entry_id, GROUPS)

    asyncio.run(review())
    _env(monkeypatch, stack, home)
    result = run_cli("feedback", "compare", "v1", "--against", "current")
    assert result.code == 0, result.err
    assert (
        "reviewed: 11 comments" in result.out and "10 never trained or validated on" in result.out
    )
    assert "candidate v1" in result.out and "current   v1" in result.out
    assert "flips (default policy, all 11 reviewed): 0 decisions change" in result.out
    missing = run_cli("feedback", "compare", "v9")
    assert missing.code == 1 and "v9" in missing.err and missing.err.count("\n") == 1
