"""The detector without Kafka: the bundled model classifies at once, in micro-batches, with the
policies each score satisfies."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor import Detector
from monitor.errors import ModelNotFound
from monitor.settings import ScorerSettings, Settings

HEARTBREAK = "分手三个月了，还是忘不了他，每天晚上都睡不着"
FOUR = [HEARTBREAK, "春天来了，樱花都开了", "奶奶已经认不出我了", ""]


def test_the_bundled_model_ranks_heartbreak_first_and_blank_text_nowhere() -> None:
    with Detector.load() as detector:
        found = detector(FOUR)
    scores = [d.score for d in found]
    assert scores[0] > max(scores[1:]), scores
    assert found[0].lovelorn and found[0].policies == detector.thresholds.satisfied(scores[0])
    assert found[3].score == 0.0 and found[3].policies == [] and not found[3].lovelorn
    assert detector.manifest.provenance["bundled_from"].startswith("v")


def test_batches_do_not_change_scores(tmp_path: Path) -> None:
    texts = FOUR * 5
    with Detector.load() as one_batch:
        whole = [d.score for d in one_batch(texts)]
    small = Settings(home=tmp_path, scorer=ScorerSettings(max_batch=3))
    with Detector.load(settings=small) as batched:
        assert [d.score for d in batched(texts)] == pytest.approx(whole, abs=1e-5)


def test_a_registry_version_or_an_exported_directory_loads(tiny_home: Path) -> None:
    settings = Settings(home=tiny_home)
    with Detector.load("v1", settings=settings) as by_version:
        expected = [d.score for d in by_version(FOUR)]
    directory = tiny_home / "models" / "versions" / "v1"
    with Detector.load(directory) as by_directory:
        assert [d.score for d in by_directory(FOUR)] == pytest.approx(expected, abs=1e-6)


def test_a_directory_without_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="not an exported model"):
        Detector.load(tmp_path)
