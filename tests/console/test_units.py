"""The console's pure parts: statistics, passwords, signed sessions, CSRF, views, charts."""

from __future__ import annotations

import itertools
import json
import math
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.console.passwords import check_password, fingerprint, hash_password
from monitor.console.sessions import SessionCodec, csrf_matches
from monitor.console.stats import drift, psi, reference_shares, wilson
from monitor.console.svg import grouped_bars, lines
from monitor.console.views import View, neighbours, to_row
from monitor.model.manifest import Manifest
from monitor.scoring.decider import sampled
from monitor.store import score_bin
from tests.console.helpers import make_alert

BUNDLED = Path(__file__).resolve().parents[2] / "monitor" / "bundled_model" / "manifest.json"


def test_wilson_interval_matches_the_textbook_values() -> None:
    lo, hi = wilson(8, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.4902, 0.9433)  # Wilson 1927 / Newcombe 1998
    assert wilson(0, 0) == (0.0, 1.0)
    assert wilson(0, 5)[0] == 0.0 and wilson(5, 5)[1] == 1.0
    assert wilson(50, 100)[1] - wilson(50, 100)[0] > wilson(500, 1000)[1] - wilson(500, 1000)[0]


def test_psi_is_zero_for_equal_distributions_and_grows_with_shift() -> None:
    base = [0.1] * 10
    assert psi(base, base) == pytest.approx(0.0)
    small = psi(base, [0.12, 0.08] * 5)
    large = psi(base, [0.3, 0.3, 0.2, 0.1, 0.1, 0, 0, 0, 0, 0])
    assert 0 < small < 0.1 < 0.25 < large
    # the textbook formula: sum (a - e) ln(a / e)
    e, a = [0.5, 0.5], [0.7, 0.3]
    assert psi(e, a) == pytest.approx(0.2 * math.log(1.4) - 0.2 * math.log(0.6))
    with pytest.raises(ValueError):
        psi([0.5, 0.5], [1.0])


def test_validation_distribution_from_the_manifest_and_drift_of_live_scores() -> None:
    manifest = Manifest.model_validate(json.loads(BUNDLED.read_text()))
    shares = reference_shares(manifest)
    assert shares is not None and len(shares) > 10
    assert all(a[0] <= b[0] and a[1] >= b[1] for a, b in itertools.pairwise(shares))
    # live scores drawn like the validation curve says: PSI small; everything high: PSI large
    thresholds = list(shares)
    same: Counter[int] = Counter()
    for (x0, s0), (x1, s1) in itertools.pairwise(thresholds):
        # spread each segment's share evenly in logit, as the reference interpolates it (a
        # thinned curve's low segments are wide: their midpoint alone would misplace mass)
        for k in range(20):
            x = x0 + (x1 - x0) * (k + 0.5) / 20
            same[score_bin(1 / (1 + math.exp(-x)))] += round((s0 - s1) * 100_000 / 20)
    same[score_bin(0.001)] += round((1 - thresholds[0][1]) * 100_000)
    close = drift(manifest, same)
    assert close is not None and close.psi < 0.05
    assert sum(close.expected) == pytest.approx(1.0) and sum(close.actual) == pytest.approx(1.0)
    far = drift(manifest, Counter({score_bin(0.6): 1000}))
    assert far is not None and far.psi > 1.0
    assert drift(manifest, Counter()) is None
    assert drift(manifest.model_copy(update={"metrics": {}}), same) is None


def test_password_hashes_are_salted_and_checked_in_constant_time() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert check_password("correct horse", first) and check_password("correct horse", second)
    assert not check_password("Correct horse", first)
    assert not check_password("correct horse", None)  # unknown user: dummy hash, still False
    assert not check_password("x", "md5$abc") and not check_password("x", "scrypt$bad")
    assert fingerprint(first) != fingerprint(second)
    with pytest.raises(ValueError):
        hash_password("")


def test_sessions_are_signed_expire_and_refuse_tampering() -> None:
    codec = SessionCodec("s" * 32, max_age_s=60)
    session = codec.new("alice", "care", "fp")
    cookie = codec.dumps(session)
    assert codec.loads(cookie) == session
    body, _, mac = cookie.rpartition(".")
    forged = json.dumps({**session.__dict__, "user": "mallory"}).encode()
    import base64

    tampered = "v1." + base64.urlsafe_b64encode(forged).decode().rstrip("=") + "." + mac
    assert codec.loads(tampered) is None
    assert codec.loads(body + ".AAAA") is None and codec.loads("junk") is None
    assert SessionCodec("t" * 32, 60).loads(cookie) is None  # another secret
    expired = codec.new("alice", "care", ttl_s=-1)
    assert codec.loads(codec.dumps(expired)) is None
    assert csrf_matches(session, session.csrf)
    assert not csrf_matches(session, "other") and not csrf_matches(session, None)
    assert not csrf_matches(None, session.csrf)
    assert codec.new().csrf != codec.new().csrf and not codec.new().logged_in
    assert session.expires > time.time()


def test_views_parse_sort_and_find_neighbours() -> None:
    policies = ["ads", "care", "default"]
    assert View.parse({}, policies) == View("alerts", None, "score")
    for bad in (
        {"lane": "x"},
        {"policy": "nope"},
        {"sort": "random"},
        {"lane": "sample", "policy": "care"},
    ):
        with pytest.raises(ValueError):
            View.parse(bad, policies)
    now = datetime.now(UTC)
    rows = [
        to_row(
            f"1-{i}",
            make_alert(i, score=s).model_copy(update={"emitted_at": now - timedelta(minutes=m)}),
        )
        for i, (s, m) in enumerate([(0.7, 1), (0.9, 3), (0.8, 2)])
    ]
    assert [r.entry_id for r in View(sort="score").order(rows)] == ["1-1", "1-2", "1-0"]
    assert [r.entry_id for r in View(sort="score_asc").order(rows)] == ["1-0", "1-2", "1-1"]
    assert [r.entry_id for r in View(sort="oldest").order(rows)] == ["1-1", "1-2", "1-0"]
    assert [r.entry_id for r in View(sort="newest").order(rows)] == ["1-0", "1-2", "1-1"]
    ordered = View().order(rows)
    assert neighbours(ordered, "1-2") == (ordered[0], ordered[2])
    assert neighbours(ordered, "9-9") == (None, ordered[0])
    assert View("alerts", "care", "oldest").query() == "lane=alerts&policy=care&sort=oldest"


def test_review_sample_is_a_stable_share_of_comment_ids() -> None:
    ids = [f"c{i}" for i in range(20_000)]
    picked = [i for i in ids if sampled(i, 0.01)]
    assert 140 < len(picked) < 260  # 1% of 20,000 ± 4 sigma
    assert picked == [i for i in ids if sampled(i, 0.01)]  # the same comments every time
    assert not any(sampled(i, 0.0) for i in ids[:1000])
    assert all(sampled(i, 1.0) for i in ids[:1000])


def test_charts_escape_their_labels() -> None:
    chart = lines(["<b>"], {"<script>": [1.0]}, 'a "title"')
    assert "<script>" not in chart and "&lt;script&gt;" in chart and "&lt;b&gt;" in chart
    bars = grouped_bars(["0-0.1"], {"live": [0.2], "validation": [0.3]}, "scores")
    assert bars.count("<rect") >= 4 and bars.startswith("<svg")
