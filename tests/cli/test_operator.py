"""Issue 25 item 7: operator defects seen in a walkthrough (scorer start-up signals, lag)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from monitor.settings import Settings
from tests.fixtures import copy_home, scorer_env, scorer_settings, start_cli


@pytest.mark.parametrize("after_s", [1.0, 2.0, 3.0, 5.0])
def test_sigterm_while_the_scorer_loads_paddle_and_the_model_exits_cleanly(
    stack: Settings, tiny_home: Path, tmp_path: Path, after_s: float
) -> None:
    """SIGTERM in the scorer's first seconds printed Paddle's C++ traceback
    ("FatalError: Termination signal") and exited 143."""
    settings = scorer_settings(stack, copy_home(tiny_home, tmp_path))
    log = tmp_path / "score.log"
    scorer = start_cli(["score", "--metrics-port", "0"], scorer_env(settings), log)
    try:
        time.sleep(after_s)
        scorer.send_signal(signal.SIGTERM)
        code = scorer.wait(timeout=30)
    finally:
        if scorer.poll() is None:
            scorer.kill()
            scorer.wait()
    text = log.read_text(errors="replace")
    assert code == 0, text
    assert "FatalError" not in text and "Traceback" not in text, text


def test_lag_is_reported_from_the_first_fetch_before_any_commit() -> None:
    """The status line showed "lag 0" for 8 s while 183 records waited."""
    from monitor.bus import TopicPartition
    from monitor.metrics import Metrics
    from monitor.scoring.stats import ScorerMetrics, ScorerStats, publish_fetch_lag
    from monitor.status_counts import parse_counts

    metrics, stats = Metrics(), ScorerStats()
    first, second = TopicPartition("comments", 0), TopicPartition("comments", 1)
    publish_fetch_lag(
        {first: 119, second: 7}, {first: 64, second: 0}.get, {}, stats, ScorerMetrics(metrics)
    )
    assert parse_counts(metrics.render().decode()).lag == 183 + 7
    assert stats.lag == {"comments[0]": 183, "comments[1]": 7}
    # a partition a commit has measured keeps the commit's figure
    ScorerMetrics(metrics).lag.labels("comments", "1").set(3)
    publish_fetch_lag(
        {first: 0, second: 50}, {first: 0}.get, {second: 3}, stats, ScorerMetrics(metrics)
    )
    assert parse_counts(metrics.render().decode()).lag == 0 + 3
