"""``lovelorn feedback export|compare``: reviewers' verdicts as training data and as a test."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from monitor.cli.context import AppContext


@click.group("feedback")
def feedback_group() -> None:
    """Reviewers' verdicts from the console."""


@feedback_group.command("export")
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="JSONL file to write.",
)
@click.option("--lane", type=click.Choice(["all", "alerts", "sample"]), default="all", show_default=True,
              help="Verdicts on alerts, on the review lane's sampled non-alerts, or both.")  # fmt: skip
@click.pass_obj
def export(app: AppContext, out: Path, lane: str) -> None:
    """Write every verdict as one JSON line (text, verdict, comment_id, model_version, …)."""
    from monitor.console.feedback import export_verdicts
    from monitor.store import AuditLog, Store

    settings = app.services_settings(kafka=False)
    lanes = ("alerts", "sample") if lane == "all" else (lane,)

    async def run():  # type: ignore[no-untyped-def]
        async with Store(settings.redis) as store:
            counts = await export_verdicts(store, out, lanes)
            await AuditLog(store, maxlen=settings.console.audit_maxlen).record(
                _who(), "feedback_export", lanes=",".join(lanes), file=str(out)
            )
            return counts

    counts = asyncio.run(run())
    detail = ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "none yet"
    click.echo(f"{sum(counts.values())} verdicts → {out} ({detail})")


@feedback_group.command("compare")
@click.argument("candidate")
@click.option(
    "--against", default="current", show_default=True, help="The version to compare with."
)
@click.option(
    "--policy", default="default", show_default=True, help="Alert policy whose threshold decides."
)
@click.pass_obj
def compare_cmd(app: AppContext, candidate: str, against: str, policy: str) -> None:
    """Precision of CANDIDATE and the current model on reviewed alerts neither trained on,
    and how many reviewed verdicts the candidate would flip."""
    from monitor.console.feedback import compare
    from monitor.model import import_paddle
    from monitor.store import Store, VerdictLog

    settings = app.services_settings(kafka=False)

    async def verdicts():  # type: ignore[no-untyped-def]
        async with Store(settings.redis) as store:
            return [v async for _, v in VerdictLog(store).scan()]

    reviewed = asyncio.run(verdicts())
    import_paddle()
    result, unknown = asyncio.run(compare(settings, reviewed, candidate, against, policy=policy))
    click.echo(f"reviewed: {result.reviewed} comments with a lovelorn / not-lovelorn verdict; "
               f"{result.held_out} never trained or validated on by either model")  # fmt: skip
    for version in unknown:
        click.echo(
            f"warning: {version} has no split.jsonl: its training texts are unknown", err=True
        )
    click.echo(
        f"  {'':9} {'version':<10} {'alerts':>6} {'true':>5} {'precision':>9}  95% interval  lovelorn found"
    )
    for name, m in (("candidate", result.candidate), ("current", result.current)):
        p = f"{m.precision:.3f}" if m.precision is not None else "–"
        lo, hi = m.interval
        click.echo(
            f"  {name:<9} {m.version:<10} {m.alerts:>6} {m.true_alerts:>5} {p:>9}  {lo:.2f}–{hi:.2f}     {m.true_alerts}/{m.lovelorn}"
        )
    f = result.flips
    click.echo(f"flips ({policy} policy, all {result.reviewed} reviewed): {f.total} decisions change: "
               f"{f.caught} lovelorn newly alerted, {f.missed} lovelorn no longer alerted, "
               f"{f.cleared} false alarms gone, {f.raised} new false alarms")  # fmt: skip


def _who() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"


COMMANDS = [feedback_group]
