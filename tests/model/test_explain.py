"""Why was this flagged: on a model trained here to key on one word, the explanation of a new
text lights up that word and nothing else, in the library and in `lovelorn classify --explain`."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor import Detector
from monitor.settings import Settings
from tests.conftest import UNSEEDED
from tests.fixtures import EVERYDAY, SIGNAL, run_cli, train_keyword_model, with_signal


@pytest.fixture(scope="module")
def keyword_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("keyword-home")
    train_keyword_model(home)
    return home


def test_the_word_that_carries_the_signal_is_highlighted(keyword_home: Path) -> None:
    settings = Settings(home=keyword_home, registry=UNSEEDED)
    with Detector.load("v1", settings=settings) as detector:
        for text in EVERYDAY[:6]:
            at = 2  # a position no training text had the word at
            why = detector.explain(with_signal(text, at))
            assert why.score >= detector.manifest.threshold, why
            signal = why.weights[at : at + len(SIGNAL)]
            rest = why.weights[:at] + why.weights[at + len(SIGNAL) :]
            assert min(signal) > max(rest) + 0.5, (text, why.weights)  # a wide margin on any CPU
            start, end, _ = why.spans()[0]
            assert start <= at and end >= at + len(SIGNAL) - 1, why.marked()
            assert why.marked().count("【") >= 1


def test_classify_explain_prints_the_marked_text(
    keyword_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOVELORN_HOME", str(keyword_home))
    monkeypatch.setenv("LOVELORN_REGISTRY__BUNDLED", "false")
    text = with_signal(EVERYDAY[0], 2)
    result = run_cli("classify", "--model", "v1", "--explain", text)
    assert result.code == 0, result.err
    score_line, why_line = result.out.splitlines()[:2]
    assert score_line.endswith(text)
    assert why_line.startswith("\twhy: ") and f"{SIGNAL}" in why_line.split("(")[-1]
