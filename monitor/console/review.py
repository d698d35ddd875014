"""Deciding: the verdict, its undo, and the claim an open alert page keeps renewed.

A verdict is recorded by ``Decisions.record`` or refused, and the reviewer is told which:
``saved`` (with an undo button for ``console.undo_s``), ``second`` (a teammate decided it
first: nothing written) or ``claimed`` (a teammate has it open). Pages get this in the
redirect's query (``views.Feedback``); API clients (``Accept: application/json``) get it as
``status`` with 200 or 409, so a script cannot mistake a refused verdict for a saved one.
The redirect goes to the next entry in the reviewer's sort order, which is what makes
1/2/3 on the keyboard a fast queue. An undo takes the verdict back and gives the alert
back to the reviewer; it is audited like the verdict.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from monitor.console.forms import read_form
from monitor.console.pages import entry_of, queue_rows, view_of
from monitor.console.views import ENTRY_ID, VERDICTS, View, neighbours
from monitor.schemas import Verdict

__all__ = ["ROUTES"]


def _wants_json(request: Request) -> bool:
    return request.headers.get("accept", "").startswith("application/json")


async def verdict(request: Request) -> Response:
    console, session, view = request.app.state.console, request.state.session, view_of(request)
    form = await read_form(request)
    lane, entry_id, row = await entry_of(request)
    choice = form.get("verdict", "")
    if choice not in VERDICTS:
        raise HTTPException(400, f"verdict must be one of {', '.join(VERDICTS)}")
    view = View(lane, view.policy if lane == "alerts" else None, view.sort)
    _, following = neighbours(await queue_rows(request, view), entry_id)
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
    undo_s = console.settings.console.undo_s
    decision = await console.decisions.record(
        record, entry_id, console.groups(session.team, lane), undo_s=undo_s
    )
    status = "saved" if decision.status == "recorded" else decision.status
    await console.audit.record(
        session.user,
        "verdict" if status == "saved" else f"verdict_refused_{status}",
        team=session.team,
        lane=lane,
        entry=entry_id,
        id=row.item_id,
        verdict=choice,
        urgent=str(record.urgent).lower(),
        **({"by": decision.by} if decision.by and status != "saved" else {}),
    )
    following_id = following.entry_id if following else None
    if _wants_json(request):
        return JSONResponse(
            {
                "recorded": status == "saved",
                "status": status,
                "by": decision.by if status != "saved" else None,
                "verdict_id": decision.verdict_id,
                "undo_s": undo_s if status == "saved" else None,
                "next": following_id,
            },
            status_code=200 if status == "saved" else 409,
        )
    target = f"/review/{lane}/{following_id}" if following_id else "/queue"
    query = f"{view.query()}&decided={status}"
    if status == "saved":
        query += f"&as={choice}&item={lane}/{entry_id}"
    elif decision.by:
        query += f"&by={decision.by}"
    return RedirectResponse(f"{target}?{query}", status_code=303)


async def undo(request: Request) -> Response:
    """Take back this reviewer's verdict on the entry while the undo window is open; the
    entry the page was showing (``leaving``) is given back to the team."""
    console, session, view = request.app.state.console, request.state.session, view_of(request)
    form = await read_form(request)
    lane, entry_id, row = await entry_of(request)
    leaving = form.get("leaving", "")
    if leaving and leaving != entry_id and ENTRY_ID.fullmatch(leaving):
        _, _, left = await entry_of(request, leaving)
        await console.claims.release(session.team, left.item_id, session.user)
    result = await console.decisions.undo(
        session.team,
        lane,
        row.item_id,
        session.user,
        lease_s=console.settings.console.claim_lease_s,
    )
    await console.audit.record(
        session.user,
        "verdict_undone" if result.status == "undone" else f"undo_refused_{result.status}",
        team=session.team,
        lane=lane,
        entry=entry_id,
        id=row.item_id,
        **({"verdict_id": result.verdict_id} if result.verdict_id else {}),
    )
    if _wants_json(request):
        body = {"undone": result.status == "undone", "status": result.status}
        return JSONResponse(body, status_code=200 if result.status == "undone" else 409)
    view = View(lane, view.policy if lane == "alerts" else None, view.sort)
    return RedirectResponse(
        f"/review/{lane}/{entry_id}?{view.query()}&undo={result.status}", status_code=303
    )


async def claim(request: Request) -> Response:
    """Claim the entry, or renew this reviewer's claim: what an open alert page calls every
    third of a lease while it is in use, and an API client before deciding."""
    console, session = request.app.state.console, request.state.session
    await read_form(request)
    _, _, row = await entry_of(request)
    held = await console.claims.take(session.team, row.item_id, session.user)
    return JSONResponse(
        {"status": held.status, "holder": held.holder or None, "seconds_left": held.seconds_left},
        status_code=200 if held.yours else 409,
    )


ROUTES = [
    Route("/review/{lane}/{entry_id}/verdict", verdict, methods=["POST"]),
    Route("/review/{lane}/{entry_id}/undo", undo, methods=["POST"]),
    Route("/review/{lane}/{entry_id}/claim", claim, methods=["POST"]),
]
