"""The review queue, one alert in context, and the verdict that takes it out of the queue.

Reading a page acknowledges nothing; only a verdict does (``VerdictLog.record``), so an
alert a reviewer opened and left stays in the team's queue. A verdict redirects to the
next entry in the reviewer's sort order, which is what makes 1/2/3 on the keyboard a fast
queue. Every view and verdict is audited.
"""

from __future__ import annotations

from importlib.resources import files

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from monitor.console.forms import read_form
from monitor.console.views import ENTRY_ID, SORTS, Row, View, neighbours, to_row
from monitor.store import Lane, Verdict

__all__ = ["ROUTES"]

VERDICTS = {"lovelorn": "Lovelorn", "not_lovelorn": "Not lovelorn", "unsure": "Unsure"}
SHOWN = 50  # rows on the queue page: the top of the sorted window (a page renders in ms)
STATIC = {"console.js": "text/javascript", "console.css": "text/css"}


def _view(request: Request) -> View:
    try:
        return View.parse(dict(request.query_params), request.app.state.console.policies)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


async def _rows(request: Request, view: View) -> list[Row]:
    console, session = request.app.state.console, request.state.session
    entries = await console.queue(session.team, view.lane, view.policy).entries()
    return view.order([to_row(entry_id, item) for entry_id, item in entries])


async def index(request: Request) -> Response:
    return RedirectResponse("/queue", status_code=303)


async def queue(request: Request) -> Response:
    console, session, view = request.app.state.console, request.state.session, _view(request)
    rows = await _rows(request, view)
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
        policies=console.policies,
        sorts=SORTS,
        decided=request.query_params.get("decided"),
    )


async def api_queue(request: Request) -> Response:
    console, session, view = request.app.state.console, request.state.session, _view(request)
    rows = await _rows(request, view)
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


async def _entry(request: Request) -> tuple[Lane, str, Row]:
    console, session = request.app.state.console, request.state.session
    lane, entry_id = request.path_params["lane"], request.path_params["entry_id"]
    if lane not in ("alerts", "sample") or not ENTRY_ID.fullmatch(entry_id):
        raise HTTPException(404, "no such entry")
    item = await console.queue(session.team, lane).get(entry_id)
    if item is None:
        raise HTTPException(404, "no such entry: trimmed from the stream, or erased")
    return lane, entry_id, to_row(entry_id, item)


async def item(request: Request) -> Response:
    """One entry in context. Its neighbours are found only when asked (``step``), so opening
    an alert costs no queue read."""
    console, session, view = request.app.state.console, request.state.session, _view(request)
    lane, entry_id, row = await _entry(request)
    history = []
    if row.user_id:
        history = [
            to_row(i, a) for i, a in await console.index.history(row.user_id) if i != entry_id
        ]
    await console.audit.record(
        session.user, "view_item", team=session.team, lane=lane, entry=entry_id, id=row.item_id
    )
    return console.page(
        request,
        "item.html",
        row=row,
        view=View(lane, view.policy if lane == "alerts" else None, view.sort),
        history=history,
        verdicts=VERDICTS,
        decided=request.query_params.get("decided"),
    )


async def step(request: Request) -> Response:
    """j / k from an entry: to the next or previous one in the reviewer's sort order."""
    view = _view(request)
    lane, entry_id = request.path_params["lane"], request.path_params["entry_id"]
    if lane not in ("alerts", "sample") or not ENTRY_ID.fullmatch(entry_id):
        raise HTTPException(404, "no such entry")
    view = View(lane, view.policy if lane == "alerts" else None, view.sort)
    previous, following = neighbours(await _rows(request, view), entry_id)
    target = previous if request.query_params.get("to") == "previous" else following
    where = f"/review/{lane}/{target.entry_id}" if target else "/queue"
    return RedirectResponse(f"{where}?{view.query()}", status_code=303)


async def verdict(request: Request) -> Response:
    console, session, view = request.app.state.console, request.state.session, _view(request)
    form = await read_form(request)
    lane, entry_id, row = await _entry(request)
    choice = form.get("verdict", "")
    if choice not in VERDICTS:
        raise HTTPException(400, f"verdict must be one of {', '.join(VERDICTS)}")
    view = View(lane, view.policy if lane == "alerts" else None, view.sort)
    rows = await _rows(request, view)
    _, following = neighbours(rows, entry_id)
    record = Verdict(
        alert_id=row.item_id,
        lane=lane,
        comment_id=row.comment_id,
        post_id=row.post_id,
        user_id=row.user_id,
        text=row.text,
        score=row.score,
        model_version=row.model_version,
        policies=row.policies,
        verdict=choice,  # type: ignore[arg-type]
        note=form.get("note", "").strip()[:2000],
        urgent=form.get("urgent") in ("on", "1", "true"),
        reviewer=session.user,
        team=session.team,
    )
    written = await console.verdicts.record(record, entry_id, console.groups(session.team, lane))
    await console.audit.record(
        session.user,
        "verdict" if written else "verdict_refused_already_decided",
        team=session.team,
        lane=lane,
        entry=entry_id,
        id=row.item_id,
        verdict=choice,
        urgent=str(record.urgent).lower(),
    )
    if request.headers.get("accept", "").startswith("application/json"):
        return JSONResponse(
            {"recorded": bool(written), "next": following.entry_id if following else None}
        )
    target = f"/review/{lane}/{following.entry_id}" if following else "/queue"
    status = "done" if written else "already"
    return RedirectResponse(f"{target}?{view.query()}&decided={status}", status_code=303)


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
    Route("/review/{lane}/{entry_id}/verdict", verdict, methods=["POST"]),
    Route("/review/{lane}/{entry_id}/step", step),
    Route("/static/{name}", static),
]
