"""The quality page: is the live system still the model we validated, and how precise is it?

- alerts per hour by policy over two days (from the per-user index's hourly counts);
- live scores of the last 24 h against the model's validation scores, with PSI (also the
  Prometheus gauge ``lovelorn_console_score_psi``);
- reviewed precision per policy and model version with 95% Wilson intervals, and from the
  review lane (reviewed non-alerts) the share of misses and an estimate of recall.

PSI and the Wilson interval each get one plain sentence beside their plot (the template):
a care worker should not need statistics to read the page. Per-policy figures show only
the policies the reviewer's team sees (``Console.visible_policies``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from monitor.console.stats import Drift, drift, wilson
from monitor.console.svg import grouped_bars, intervals, lines
from monitor.model import Thresholds
from monitor.schemas import utcnow
from monitor.store import score_bin

__all__ = ["ROUTES", "refresh_psi"]


@dataclass
class Rate:
    """Reviewed verdicts of one kind: k lovelorn out of n decided (unsure aside)."""

    label: str
    k: int = 0
    n: int = 0
    unsure: int = 0

    @property
    def share(self) -> float | None:
        return self.k / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.k, self.n)

    def add(self, verdict: str, count: int) -> None:
        if verdict == "unsure":
            self.unsure += count
            return
        self.n += count
        self.k += count if verdict == "lovelorn" else 0


@dataclass
class VersionDrift:
    version: str
    live: dict[int, int]
    drift: Drift | None
    chart: Markup | None = None
    recall: float | None = None
    misses: Rate = field(default_factory=lambda: Rate("sample"))


def _hours(now: datetime, n: int) -> list[datetime]:
    top = now.replace(minute=0, second=0, microsecond=0)
    return [top - timedelta(hours=h) for h in range(n - 1, -1, -1)]


async def _drifts(console: Any) -> list[VersionDrift]:
    hours = _hours(utcnow(), 24)
    out = []
    for version in await console.lane.versions():
        live = await console.lane.histogram(version, hours)
        if live:
            manifest = console.manifest(version)
            out.append(
                VersionDrift(version, dict(live), drift(manifest, live) if manifest else None)
            )
    return out


async def refresh_psi(console: Any) -> list[VersionDrift]:
    drifts = await _drifts(console)
    console.psi.clear()
    for d in drifts:
        if d.drift is not None:
            console.psi.labels(d.version).set(d.drift.psi)
    return drifts


async def quality_data(console: Any, team: str) -> dict[str, Any]:
    """The page's figures, per policy only for the policies ``team`` sees."""
    hours = _hours(utcnow(), 48)
    days = sorted({h.replace(hour=0) for h in hours})
    hourly = await console.index.hourly(days)
    visible = console.visible_policies(team)
    per_hour = {p: [hourly.get((f"{h:%Y%m%d%H}", p), 0) for h in hours] for p in visible}
    precision: dict[tuple[str, str], Rate] = {}
    drifts = {d.version: d for d in await refresh_psi(console)}
    for key, count in (await console.verdicts.counts()).items():
        lane, policy, version, verdict = key.split("|", 3)
        if lane == "alerts":
            precision.setdefault((policy, version), Rate(f"{policy} · {version}")).add(
                verdict, count
            )
        elif version in drifts:
            drifts[version].misses.add(verdict, count)
    for d in drifts.values():
        d.recall = _recall(console, d, precision.get(("default", d.version)))
        if d.drift is not None:
            d.chart = grouped_bars(
                d.drift.labels,
                {"live (24 h)": d.drift.actual, "validation": d.drift.expected},
                f"score distribution of {d.version}",
            )
    rates = [precision[k] for k in sorted(precision) if k[0] in visible]
    return {
        "per_hour": lines([f"{h:%H}" for h in hours], per_hour, "alerts per hour by policy"),
        "per_hour_total": {p: sum(v) for p, v in per_hour.items()},
        "drifts": list(drifts.values()),
        "rates": rates,
        "rates_chart": intervals(
            [(r.label, r.share or 0.0, *r.interval) for r in rates if r.n], "reviewed precision"
        ),
    }


def _recall(console: Any, d: VersionDrift, alerts: Rate | None) -> float | None:
    """precision·A / (precision·A + miss share·N): A alerting and N other live scores."""
    manifest = console.manifest(d.version)
    if manifest is None or alerts is None or not alerts.n or not d.misses.n:
        return None
    lowest = score_bin(Thresholds.from_manifest(manifest, console.settings.alerts).lowest)
    flagged = sum(n for b, n in d.live.items() if b >= lowest)
    found = (alerts.share or 0.0) * flagged
    missed = (d.misses.share or 0.0) * (sum(d.live.values()) - flagged)
    return found / (found + missed) if found + missed else None


async def quality(request: Request) -> Response:
    console, session = request.app.state.console, request.state.session
    data = await quality_data(console, session.team)
    await console.audit.record(session.user, "view_quality", team=session.team)
    return console.page(request, "quality.html", **data)


async def api_quality(request: Request) -> Response:
    console, session = request.app.state.console, request.state.session
    data = await quality_data(console, session.team)
    await console.audit.record(session.user, "api_quality", team=session.team)
    return JSONResponse(
        {
            "alerts_per_hour_total": data["per_hour_total"],
            "drift": {
                d.version: {"psi": d.drift.psi if d.drift else None, "live_scores": sum(d.live.values()),
                            "recall_estimate": d.recall, "sample_reviewed": d.misses.n}
                for d in data["drifts"]
            },
            "precision": [
                {"label": r.label, "lovelorn": r.k, "reviewed": r.n, "unsure": r.unsure,
                 "precision": r.share, "interval": r.interval}
                for r in data["rates"]
            ],
        }
    )  # fmt: skip


ROUTES = [Route("/quality", quality), Route("/api/quality", api_quality)]
