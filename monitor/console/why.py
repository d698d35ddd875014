"""Why was this flagged: the entry's text with the characters that pushed its score up
marked, computed on demand by the model version that scored it (occlusion over its
characters: model/explain.py), so a reviewer sees "分手" and "放不下" lit up, not a bare 0.43.

The version is loaded on the first request for it (seconds) and kept; one explanation at a
time, off the event loop, so the queue stays responsive while a page waits.
"""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from monitor.console.pages import entry_of, view_of
from monitor.console.views import View, shown
from monitor.detector import Detector
from monitor.errors import MonitorError
from monitor.model import Explanation
from monitor.settings import Settings

__all__ = ["ROUTES", "Explainers"]


class Explainers:
    """One detector per model version, loaded on first use and kept until ``close``."""

    def __init__(self, settings: Settings) -> None:
        plain = settings.scorer.model_copy(update={"cascade": False})  # the version itself
        self._settings = settings.model_copy(update={"scorer": plain})
        self._loaded: dict[str, Detector] = {}
        self._lock = asyncio.Lock()

    async def explain(self, version: str, text: str) -> Explanation:
        async with self._lock:
            if version not in self._loaded:
                self._loaded[version] = await asyncio.to_thread(
                    Detector.load, version, settings=self._settings
                )
            return await asyncio.to_thread(self._loaded[version].explain, text)

    def close(self) -> None:
        for detector in self._loaded.values():
            detector.close()
        self._loaded.clear()


async def why(request: Request) -> Response:
    console, session, view = request.app.state.console, request.state.session, view_of(request)
    lane, entry_id, row = await entry_of(request)
    explanation = None
    if row.text:
        try:
            explanation = await console.explainers.explain(row.model_version, row.text)
        except MonitorError as exc:
            raise HTTPException(
                503,
                f"model {row.model_version}, which scored this entry, cannot be loaded here: {exc}",
            ) from None
    await console.audit.record(
        session.user, "view_explanation", team=session.team, lane=lane, entry=entry_id,
        id=row.item_id,
    )  # fmt: skip
    return console.page(
        request,
        "why.html",
        row=shown(row, console.visible_policies(session.team)),
        view=View(lane, view.policy if lane == "alerts" else None, view.sort),
        explanation=explanation,
        segments=explanation.segments() if explanation else [],
        spans=[(explanation.text[a:b], w) for a, b, w in explanation.spans()]
        if explanation
        else [],
    )


ROUTES = [Route("/review/{lane}/{entry_id}/why", why)]
