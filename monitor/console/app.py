"""The console application: shared state, routes, the login gate and background work.

``create_app(settings)`` is what uvicorn serves. Background, per process: the per-user
alert index follows the alert stream (``UserIndex.catch_up``: several consoles can run
it at once), and the live-score PSI gauge is refreshed for Prometheus.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import structlog
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from monitor.console.access import RequireLogin, unavailable
from monitor.console.reviewers import ReviewerDirectory, known_teams, unknown_team
from monitor.console.sessions import Session, SessionCodec
from monitor.console.views import ago
from monitor.console.why import Explainers
from monitor.errors import ConfigError, MonitorError, RegistryError
from monitor.metrics import Metrics, MetricsServer
from monitor.model import Manifest, registry_for
from monitor.schemas import Lane
from monitor.settings import Settings
from monitor.store import (
    AuditLog,
    Decisions,
    LoginThrottle,
    ReviewClaims,
    ReviewLane,
    ReviewQueue,
    SessionRecords,
    Store,
    UserIndex,
    VerdictLog,
    reader_group,
)

__all__ = ["Console", "create_app"]

log = structlog.get_logger()
INDEX_EVERY_S = 1.0
INDEX_STEP = 2000  # alerts indexed between two pauses (requests wait meanwhile)
PSI_EVERY_S = 60.0


class Console:
    """What every handler shares, built once per process."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        c = settings.console
        secret = c.secret_key.get_secret_value() if c.secret_key else ""
        if len(secret) < 16:
            raise ConfigError(
                "console.secret_key is unset or shorter than 16 characters: set "
                "LOVELORN_CONSOLE__SECRET_KEY to a long random string "
                "(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        if c.auth == "header" and (why := unknown_team(settings, c.default_team)):
            raise ConfigError(f"console.default_team: {why}")
        self.settings = settings
        self.teams = frozenset(known_teams(settings))
        self.store = store or Store(settings.redis)
        self._owns_store = store is None
        self.reviewers = ReviewerDirectory(settings)
        self.codec = SessionCodec(secret, c.session_max_age_s)
        self.records = SessionRecords(self.store, idle_s=c.session_idle_s)
        self.throttle = LoginThrottle(self.store, c.login)
        self.templates = Environment(
            loader=PackageLoader("monitor.console"),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
        )
        self.templates.globals["active"] = ""
        self.templates.filters["ago"] = ago
        self.audit = AuditLog(self.store, maxlen=c.audit_maxlen)
        self.verdicts = VerdictLog(self.store)
        self.decisions = Decisions(self.store)
        self.claims = ReviewClaims(self.store, lease_s=c.claim_lease_s)
        self.index = UserIndex(self.store)
        self.lane = ReviewLane(self.store)
        self.cache: dict[str, Any] = {}
        self.metrics = Metrics()
        self.psi = self.metrics.gauge(
            "console_score_psi",
            "PSI of live scores (last 24 h) against the model's validation scores",
            ("model_version",),
        )
        self.policies = sorted({"default", *settings.alerts.policies})
        self._registry = registry_for(settings)
        self._manifests: dict[str, Manifest] = {}
        self.explainers = Explainers(settings)

    def queue(
        self, team: str, lane: Lane, policy: str | None = None, reviewer: str | None = None
    ) -> ReviewQueue:
        """``team``'s queue; as ``reviewer`` sees it (without teammates' claims) if given."""
        return ReviewQueue(
            self.store,
            team=team,
            lane=lane,
            policy=policy,
            window=self.settings.console.queue_window,
            cache=self.cache,
            reviewer=reviewer,
        )

    def visible_policies(self, team: str) -> list[str]:
        """The policies whose tags ``team`` sees: ``console.team_policies`` (the care team
        has no business with the ads team's targeting), or all of them."""
        chosen = self.settings.console.team_policies.get(team)
        return self.policies if chosen is None else [p for p in self.policies if p in chosen]

    def groups(self, team: str, lane: Lane) -> list[str]:
        """Every group a team reads ``lane`` through: a verdict acknowledges it in each."""
        base = f"console:{team}"
        return [base] + ([reader_group(base, p) for p in self.policies] if lane == "alerts" else [])

    def manifest(self, version: str) -> Manifest | None:
        """A version's manifest (kept: versions are immutable), None while it is unknown."""
        if version not in self._manifests:
            try:
                self._registry.versions()  # seeds an empty registry with the bundled model
                self._manifests[version] = self._registry.manifest(version)
            except RegistryError:
                return None
        return self._manifests[version]

    def page(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        session: Session | None = request.state.session
        html = self.templates.get_template(template).render(
            session=session,
            csrf=session.csrf if session else "",
            privacy=self.settings.alerts.privacy_mode,
            header_auth=self.settings.console.auth == "header",
            **context,
        )
        return HTMLResponse(html, status_code=status)

    async def follow(self, stop: asyncio.Event) -> None:
        """Keep the per-user index current and the PSI gauge fresh until ``stop``."""
        from monitor.console.quality import refresh_psi

        next_psi = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            behind = False
            try:
                behind = await self.index.catch_up(limit=INDEX_STEP) == INDEX_STEP
                if loop.time() >= next_psi:
                    await refresh_psi(self)
                    next_psi = loop.time() + PSI_EVERY_S
            except MonitorError as exc:
                log.warning("console_background", error=str(exc))
            with contextlib.suppress(TimeoutError):  # no pause while far behind (a start-up)
                await asyncio.wait_for(stop.wait(), 0.01 if behind else INDEX_EVERY_S)

    async def aclose(self) -> None:
        self.explainers.close()
        if self._owns_store:
            await self.store.aclose()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return PlainTextResponse(f"{exc.detail}\n", status_code=exc.status_code)


async def _store_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MonitorError)
    return unavailable(request.url.path, exc)


def create_app(settings: Settings, *, store: Store | None = None) -> Starlette:
    from monitor.console import login, pages, quality, review, why

    console = Console(settings, store)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(console.follow(stop), name="console-follow")
        try:
            async with MetricsServer(
                console.metrics, settings.metrics_host, settings.console.metrics_port
            ):
                yield
        finally:
            stop.set()
            await asyncio.gather(task, return_exceptions=True)
            await console.aclose()

    app = Starlette(
        routes=[*login.ROUTES, *pages.ROUTES, *review.ROUTES, *why.ROUTES, *quality.ROUTES],
        middleware=[
            Middleware(
                RequireLogin,  # type: ignore[arg-type]
                codec=console.codec,
                reviewers=console.reviewers,
                records=console.records,
                console=settings.console,
                teams=console.teams,
            )
        ],
        exception_handlers={HTTPException: _http_error, MonitorError: _store_error},
        lifespan=lifespan,
    )
    app.state.console = console
    return app
