"""The supervisor's status counts: parsed from exposition text, summed over a child's lives.

No child process is started: lives are simulated by setting ``Child.current`` (what a
scrape saw) and writing the exit snapshot a child leaves behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.metrics import Metrics
from monitor.scoring.stats import ScorerMetrics
from monitor.status_line import status_line
from monitor.supervisor import Child, Counts, Supervisor, parse_counts

pytestmark = pytest.mark.unit  # the fast layer: no broker, Redis, Paddle or network


def scorer_text(scored: int, *, lag: int = 0, batches: tuple[int, ...] = ()) -> str:
    """Exposition text as a scorer serves it (the real metric definitions)."""
    metrics = Metrics()
    m = ScorerMetrics(metrics)
    m.scored.inc(scored)
    for size in batches:
        m.batch.observe(size)
    m.lag.labels("comments", "0").set(lag)
    return metrics.render().decode()


def test_parse_counts_reads_every_status_field() -> None:
    metrics = Metrics()
    m = ScorerMetrics(metrics)
    m.scored.inc(10)
    m.batch.observe(4)
    m.batch.observe(6)
    m.alerts.labels("redis", "written").inc(5)
    m.alerts.labels("redis", "duplicate").inc(2)  # not new alerts
    m.alerts.labels("kafka", "written").inc(5)  # the same alerts again, on the other sink
    m.dead.inc(1)
    m.lag.labels("comments", "0").set(4)
    m.lag.labels("comments", "1").set(6)
    published = metrics.counter("comments_published", "", ("source",))
    published.labels("weibo").inc(3)
    published.labels("file").inc(4)
    metrics.counter("comments_dead_lettered", "", ("source",)).labels("weibo").inc(2)
    counts = parse_counts(metrics.render().decode())
    assert counts == Counts(
        published=7, scored=10, batches=2, batch_sum=10, alerts=5, dead_letters=3, lag=10
    )


def test_parse_counts_of_nothing() -> None:
    assert parse_counts("") == Counts()


def child(tmp_path: Path) -> Child:
    return Child("scorer", ["score"], metrics_port=9, snapshot=tmp_path / "scorer.metrics")


def test_totals_never_go_back_across_restarts_and_end_as_the_sum_of_lives(
    tmp_path: Path,
) -> None:
    c = child(tmp_path)
    sup = Supervisor([c])
    seen: list[float] = []

    # life 1: last scrape saw 8; the exit snapshot says 10 (the last second counted too)
    c.current = parse_counts(scorer_text(8, lag=5))
    seen.append(sup.totals().scored)
    assert c.snapshot is not None
    c.snapshot.write_text(scorer_text(10, lag=3))
    c.life_ended()
    assert not c.snapshot.exists()  # consumed: a later crash cannot count it twice
    seen.append(sup.totals().scored)

    # life 2 crashes without a snapshot: its last scrape is all there is
    c.current = parse_counts(scorer_text(4, lag=9))
    seen.append(sup.totals().scored)
    c.life_ended()
    seen.append(sup.totals().scored)

    # life 3 starts from zero again
    c.current = parse_counts(scorer_text(2, lag=7))
    seen.append(sup.totals().scored)
    assert sup.totals().lag == 7  # only the running life's lag, never a sum of lives
    c.snapshot.write_text(scorer_text(3, lag=1))
    c.life_ended()
    seen.append(sup.totals().scored)

    assert seen == [8, 10, 14, 14, 16, 17]
    assert seen == sorted(seen)
    assert sup.totals().scored == 10 + 4 + 3
    assert c.earlier.lag == 0 and sup.totals().lag == 0  # nothing runs, nothing lags
    assert c.current == Counts()


def test_totals_add_up_children(tmp_path: Path) -> None:
    poller = Child("poller", ["poll"], metrics_port=8)
    scorer = child(tmp_path)
    poller.earlier = Counts(published=30)
    poller.current = Counts(published=5)
    scorer.current = Counts(scored=20, lag=4)
    totals = Supervisor([poller, scorer]).totals()
    assert (totals.published, totals.scored, totals.lag) == (35, 20, 4)


def test_line_shows_rates_over_the_window(tmp_path: Path) -> None:
    c = child(tmp_path)
    c.restarts = 2
    sup = Supervisor([c])
    now = Counts(published=100, scored=50, batches=5, batch_sum=50, alerts=3, dead_letters=1, lag=7)
    before = Counts(published=80, scored=30, batches=3, batch_sum=20)
    assert status_line(now, before, 10.0, sup.restarts) == (
        "published 100 (2.0/s)  scored 50 (2.0/s)  batch 15.0  lag 7  "
        "alerts 3  dead letters 1  restarts 2"
    )
    # no window: no rates, and the mean batch over everything
    assert status_line(now, None, 0.0, sup.restarts) == (
        "published 100  scored 50  batch 10.0  lag 7  alerts 3  dead letters 1  restarts 2"
    )
    assert "(" not in status_line(now, before, 0.0, sup.restarts)
    assert "batch 0.0" in status_line(Counts(), None, 0.0, sup.restarts)
