"""``lovelorn score`` (the consumer group) and ``lovelorn classify`` (ad-hoc texts)."""

from __future__ import annotations

import sys

import click

from monitor.cli.context import AppContext


@click.command("score")
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve /metrics, /healthz and /readyz on this port (default: scorer.metrics_port).",
)
@click.pass_obj
def score(app: AppContext, metrics_port: int | None) -> None:
    """Score comments from Kafka and deliver alerts to Kafka and Redis until stopped (SIGTERM/SIGINT)."""
    from monitor.bus.admin import prepare_topics
    from monitor.cli.serving import exit_now, serve_until_signalled, snapshot_writer
    from monitor.metrics import Metrics
    from monitor.model.runtime import import_paddle
    from monitor.retry import Stopped
    from monitor.scoring.service import ScorerService

    settings = app.services_settings()
    metrics = Metrics()
    service = ScorerService(settings, metrics=metrics, after_commit=snapshot_writer(metrics))
    import_paddle()

    async def run(stop):  # type: ignore[no-untyped-def]
        try:
            # before the consumer or producer can make the broker auto-create them
            await prepare_topics(settings.kafka, stop=stop)
            await service.run(stop)
        except Stopped:  # stopped while waiting for the broker
            pass

    serve_until_signalled(
        settings,
        metrics,
        metrics_port if metrics_port is not None else settings.scorer.metrics_port,
        run,
        ready=service.ready.is_set,
        info=lambda: {"model": service.stats.model_version},
    )
    exit_now(0)


@click.command("classify")
@click.argument("texts", nargs=-1)
@click.option("--model", "version", default="current", show_default=True, help="Registry version.")
@click.pass_obj
def classify(app: AppContext, texts: tuple[str, ...], version: str) -> None:
    """Print P(lovelorn) and the policies satisfied for each TEXT (or each line of stdin)."""
    from monitor.detector import Detector

    lines = list(texts) or [line.rstrip("\n") for line in sys.stdin]
    if not lines:
        raise click.UsageError("give texts as arguments or one per line on stdin")
    with Detector.load(version, settings=app.settings) as detector:
        for d in detector(lines):
            click.echo(f"{d.score:.4f}\t{','.join(d.policies) or '-'}\t{d.text}")
        click.echo(
            f"model {detector.manifest.version} ({detector.manifest.base_model}); thresholds: "
            + ", ".join(f"{k} {v:.3f}" for k, v in sorted(detector.thresholds.by_policy.items())),
            err=True,
        )


COMMANDS = [score, classify]
