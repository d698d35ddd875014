"""``lovelorn replay``: re-score a topic range with a model version, optionally diffed against another."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor.cli.context import AppContext

if TYPE_CHECKING:
    from monitor.settings import Settings


@click.command("replay")
@click.option("--topic", default=None, help="Topic to re-read (default: the comments topic).")
@click.option(
    "--from",
    "start",
    default=None,
    help="First offset (per partition) or ISO time; default: the beginning.",
)
@click.option(
    "--to",
    "end",
    default=None,
    help="End offset (exclusive, per partition) or ISO time; default: now.",
)
@click.option(
    "--model",
    "version",
    default="current",
    show_default=True,
    help="Registry version to score with.",
)
@click.option(
    "--compare", default=None, help="Also score with this version and diff the alert decisions."
)
@click.option(
    "--policy", default="default", show_default=True, help="Alert policy whose threshold decides."
)
@click.option(
    "--flips",
    is_flag=True,
    help="With --compare: count the reviewers' verdicts (from Redis) the candidate would flip.",
)
@click.option("--to-topic", default=None, help="Write the replay's alerts to this topic.")
@click.option(
    "--to-redis",
    is_flag=True,
    help="Write the replay's alerts to Redis under <prefix>replay: (not the live stream).",
)
@click.option(
    "--report",
    "report_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the report as JSON.",
)
@click.pass_obj
def replay(
    app: AppContext,
    topic: str | None,
    start: str | None,
    end: str | None,
    version: str,
    compare: str | None,
    flips: bool,
    policy: str,
    to_topic: str | None,
    to_redis: bool,
    report_file: Path | None,
) -> None:
    """Re-score history without touching any consumer group's offsets."""
    from monitor.model import import_paddle
    from monitor.scoring.replay import Replayer, parse_bound

    if flips and not compare:
        raise click.UsageError("--flips needs --compare")
    settings = app.services_settings(redis=to_redis or flips)
    import_paddle()
    verdicts = asyncio.run(_reviewed(settings)) if flips else None
    if to_topic:  # shaped by the settings, not auto-created with the broker's one partition
        from monitor.bus.admin import prepare_topics

        asyncio.run(
            prepare_topics(settings.kafka, extra=[to_topic], timeout_s=30.0, warn_narrow=False)
        )
    report = asyncio.run(
        Replayer(settings, policy=policy).run(
            topic or settings.kafka.comments_topic,
            parse_bound(start),
            parse_bound(end),
            version,
            compare=compare,
            to_topic=to_topic,
            to_redis=to_redis,
            progress=sys.stderr.isatty(),
            verdicts=verdicts,
        )
    )
    click.echo(
        f"{report.topic}: {report.records} records, {report.scored} scored, {report.invalid} not comments"
    )
    for model in report.models:
        click.echo(
            f"  {model.version}: {model.alerts} alerts at {policy} threshold {model.threshold:.3f}"
        )
    if compare:
        new, old = report.models[0].version, report.models[1].version
        click.echo(
            f"diff {old} → {new}: +{report.added} new alerts, −{report.removed} dropped, {report.unchanged_alerts} kept"
        )
        if verdicts is not None:
            counts = ", ".join(f"{n} {k}" for k, n in sorted(report.reviewed_flips.items()))
            click.echo(
                f"reviewed: {sum(report.reviewed_flips.values())} of {len(verdicts)} verdicts"
                f" flipped ({counts or 'none'}): caught/missed = lovelorn verdicts,"
                " raised/cleared = not-lovelorn ones"
            )
        for sign, examples in (("+", report.added_examples), ("-", report.removed_examples)):
            for ex in examples:
                click.echo(f"  {sign} {ex['score_old']:.3f} → {ex['score_new']:.3f}  {ex['text']}")
    if report_file:
        report_file.write_text(
            json.dumps(report.as_dict(), ensure_ascii=False, indent=2), encoding="utf-8"
        )
        click.echo(f"report: {report_file}")


async def _reviewed(settings: Settings) -> dict[str, bool]:
    """The reviewers' decided verdicts (comment id → lovelorn?) for ``--flips``."""
    from monitor.store import Store, VerdictLog

    async with Store(settings.redis) as store:
        return await VerdictLog(store).labels()


COMMANDS = [replay]
