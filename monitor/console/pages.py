"""The review queue and one alert in context (the verdict and its undo: ``review``).

Reading a page acknowledges nothing; only a verdict does, so an alert a reviewer opened and
left stays in the team's queue. Opening an alert claims it for the reviewer (a lease,
``ReviewClaims``): a teammate's queue leaves it out and a teammate who opens it anyway is
told who has it, with no verdict form, so one team never decides an alert twice. Leaving it
by j/k or back to the queue gives it back at once; a closed tab gives it back when the lease
runs out. Every view is audited, with what the claim said.
"""

from __future__ import annotations

from importlib.resources import files

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from monitor.console.views import (
    ENTRY_ID,
    SORTS,
    VERDICTS,
    Feedback,
    Row,
    View,
    neighbours,
    shown,
    to_row,
)
from monitor.schemas import Lane

__all__ = ["ROUTES", "entry_of", "queue_rows", "view_of"]

SHOWN = 50  # rows on the queue page: the top of the sorted window (a page renders in ms)
STATIC = {"console.js": "text/javascript", "console.css": "text/css"}


def view_of(request: Request) -> View:
    """The reviewer's view from the query; policies only among those their team sees."""
    console, session = request.app.state.console, request.state.session
    try:
        return View.parse(dict(request.query_params), console.visible_policies(session.team))
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


async def queue_rows(request: Request, view: View) -> list[Row]:
    """The queue as this reviewer sees it: sorted, without what teammates have open."""
    console, session = request.app.state.console, request.state.session
    queue = console.queue(session.team, view.lane, view.policy, reviewer=session.user)
    visible = console.visible_policies(session.team)
    return view.order([shown(to_row(i, item), visible) for i, item in await queue.entries()])


def _context(request: Request) -> dict[str, object]:
    """What every review page shows about the last action (``_feedback.html``)."""
    return {
        "feedback": Feedback.parse(request.query_params),
        "undo_s": round(request.app.state.console.settings.console.undo_s),
        "verdicts": VERDICTS,
    }


async def index(request: Request) -> Response:
    return RedirectResponse("/queue", status_code=303)


async def queue(request: Request) -> Response:
    console, session, view = request.app.state.console, request.state.session, view_of(request)
    rows = await queue_rows(request, view)
    waiting = await console.queue(session.team, view.lane, view.policy).waiting()
    await console.audit.record(
        session.user, "view_queue", team=session.team, lane=view.lane, shown=str(len(rows))
    )
    return console.page(
        request,
        "queue.html",
        rows=rows[:SHOWN],
        held=len(rows),
        view=view,
        waiting=waiting,
        policies=console.visible_policies(session.team),
        sorts=SORTS,
        leaving=None,
        **_context(request),
    )


async def api_queue(request: Request) -> Response:
    console, session, view = request.app.state.console, request.state.session, view_of(request)
    rows = await queue_rows(request, view)
    await console.audit.record(session.user, "api_queue", team=session.team, lane=view.lane)
    return JSONResponse(
        [
            {
                "entry_id": r.entry_id,
                "lane": r.lane,
                "id": r.item_id,
                "score": r.score,
                "policies": r.policies,
                "model_version": r.model_version,
                "at": r.at.isoformat(),
                "text": r.text,
            }
            for r in rows
        ]
    )


def _lane_and_entry(request: Request) -> tuple[Lane, str]:
    lane, entry_id = request.path_params["lane"], request.path_params["entry_id"]
    if lane not in ("alerts", "sample") or not ENTRY_ID.fullmatch(entry_id):
        raise HTTPException(404, "no such entry")
    return lane, entry_id


async def entry_of(request: Request, entry_id: str | None = None) -> tuple[Lane, str, Row]:
    """The entry of the path (or ``entry_id`` in the path's lane), with every policy tag."""
    console, session = request.app.state.console, request.state.session
    lane, path_entry = _lane_and_entry(request)
    entry_id = entry_id or path_entry
    item = await console.queue(session.team, lane).get(entry_id)
    if item is None:
        raise HTTPException(404, "no such entry: trimmed from the stream, or erased")
    return lane, entry_id, to_row(entry_id, item)


async def item(request: Request) -> Response:
    """One entry in context, claimed for the reviewer unless a teammate has it or the team
    decided it. Its neighbours are found only when asked (``step``): no queue read here."""
    console, session, view = request.app.state.console, request.state.session, view_of(request)
    lane, entry_id, row = await entry_of(request)
    claim = await console.claims.take(session.team, row.item_id, session.user)
    visible = console.visible_policies(session.team)
    history = []
    if row.user_id:
        history = [
            shown(to_row(i, a), visible)
            for i, a in await console.index.history(row.user_id)
            if i != entry_id
        ]
    holder = {"holder": claim.holder} if claim.status == "held" else {}
    await console.audit.record(
        session.user, "view_item", team=session.team, lane=lane, entry=entry_id,
        id=row.item_id, claim=claim.status, **holder,
    )  # fmt: skip
    return console.page(
        request,
        "item.html",
        row=shown(row, visible),
        view=View(lane, view.policy if lane == "alerts" else None, view.sort),
        history=history,
        claim=claim,
        lease_ms=console.claims.lease_ms,
        leaving=entry_id,
        **_context(request),
    )


async def step(request: Request) -> Response:
    """j / k from an entry (or back to the queue): to the next or previous one in the
    reviewer's sort order. The entry left is given back to the team first."""
    console, session, view = request.app.state.console, request.state.session, view_of(request)
    lane, entry_id = _lane_and_entry(request)
    item = await console.queue(session.team, lane).get(entry_id)
    if item is not None:
        released = await console.claims.release(
            session.team, to_row(entry_id, item).item_id, session.user
        )
        if released:
            await console.audit.record(
                session.user, "claim_released", team=session.team, lane=lane, entry=entry_id
            )
    view = View(lane, view.policy if lane == "alerts" else None, view.sort)
    to = request.query_params.get("to")
    if to == "queue":
        return RedirectResponse(f"/queue?{view.query()}", status_code=303)
    previous, following = neighbours(await queue_rows(request, view), entry_id)
    target = previous if to == "previous" else following
    where = f"/review/{lane}/{target.entry_id}" if target else "/queue"
    return RedirectResponse(f"{where}?{view.query()}", status_code=303)


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in STATIC:
        raise HTTPException(404, "not found")
    body = (files("monitor.console") / "static" / name).read_bytes()
    return Response(
        body, media_type=STATIC[name], headers={"Cache-Control": "private, max-age=300"}
    )


ROUTES = [
    Route("/", index),
    Route("/queue", queue),
    Route("/api/queue", api_queue),
    Route("/review/{lane}/{entry_id}", item),
    Route("/review/{lane}/{entry_id}/step", step),
    Route("/static/{name}", static),
]
