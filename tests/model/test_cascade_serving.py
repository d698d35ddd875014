"""A cascade end to end: `lovelorn models cascade` records a band, and a detector with
scorer.cascade=true scores with the fast version outside it and the recorded one inside."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from monitor import Detector
from monitor.errors import ScoringError
from monitor.model import registry_for
from monitor.settings import ScorerSettings, Settings
from tests.conftest import UNSEEDED
from tests.fixtures import TEXTS, fixture_examples, run_cli, train_tiny


def test_cascade_is_chosen_recorded_and_served(
    tiny_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    shutil.copytree(tiny_home, home)
    settings = Settings(home=home, registry=UNSEEDED)
    train_tiny(settings, fixture_examples(tmp_path / "forty.tsv"), seed=11, promote=False)  # v2
    with pytest.raises(ScoringError, match="no cascade recorded: run `lovelorn models cascade"):
        Detector.load(
            "v1", settings=settings.model_copy(update={"scorer": ScorerSettings(cascade=True)})
        )

    monkeypatch.setenv("LOVELORN_HOME", str(home))
    result = run_cli("models", "cascade", "v2", "v1", "--max-ap-loss", "0")
    assert result.code == 0, result.err
    assert "v2 → v1: v1 re-scores first scores in [" in result.out
    plan = registry_for(settings).manifest("v1").cascade
    assert plan is not None and plan.first == "v2" and plan.low <= plan.high
    assert plan.measured["ap_cascade"] >= plan.measured["ap_second"]

    with (
        Detector.load("v1", settings=settings) as second,
        Detector.load("v2", settings=settings) as first,
    ):
        s2 = np.array([d.score for d in second(TEXTS)])
        s1 = np.array([d.score for d in first(TEXTS)])
    served = settings.model_copy(update={"scorer": ScorerSettings(cascade=True)})
    with Detector.load("v1", settings=served) as cascade:
        got = np.array([d.score for d in cascade(TEXTS)])
        assert cascade.manifest.version == "v1"  # the second stage's thresholds decide
    unsure = (s1 >= plan.low) & (s1 <= plan.high)
    np.testing.assert_allclose(got, np.where(unsure, s2, s1), atol=1e-5)
    assert run_cli("models", "cascade", "v1", "v1").code != 0  # two versions, or nothing
