"""``lovelorn score`` (the consumer group) and ``lovelorn classify`` (ad-hoc texts)."""

from __future__ import annotations

import sys

import click

from monitor.cli.context import AppContext
from monitor.cli.runner import run_until_signalled


@click.command("score")
@click.option(
    "--metrics-port", type=int, default=None, help="Serve Prometheus metrics on this port."
)
@click.pass_obj
def score(app: AppContext, metrics_port: int | None) -> None:
    """Score comments from Kafka and deliver alerts to Kafka and Redis until stopped (SIGTERM/SIGINT)."""
    from monitor.metrics import Metrics
    from monitor.scoring.runtime import import_paddle
    from monitor.scoring.service import ScorerService

    settings = app.services_settings()
    metrics = Metrics()
    port = metrics_port if metrics_port is not None else settings.scorer.metrics_port
    if port:
        metrics.serve(port)
    service = ScorerService(settings, metrics=metrics)
    import_paddle()
    run_until_signalled(service.run)


@click.command("classify")
@click.argument("texts", nargs=-1)
@click.option("--model", "version", default="current", show_default=True, help="Registry version.")
@click.pass_obj
def classify(app: AppContext, texts: tuple[str, ...], version: str) -> None:
    """Print P(lovelorn) and the alert decision for each TEXT (or each line of stdin)."""
    from monitor.registry import ModelRegistry
    from monitor.scoring.policies import Thresholds
    from monitor.scoring.predictor import PaddlePredictor
    from monitor.text import clean_text

    lines = list(texts) or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not lines:
        raise click.UsageError("give texts as arguments or one per line on stdin")
    settings = app.settings
    predictor = PaddlePredictor.from_registry(
        ModelRegistry(settings.registry_root), settings.scorer, version
    )
    try:
        thresholds = Thresholds.from_manifest(predictor.manifest, settings.alerts)
        cleaned = [clean_text(line) for line in lines]
        for text, p in zip(cleaned, predictor.probabilities(cleaned), strict=True):
            policies = ",".join(thresholds.satisfied(float(p))) or "-"
            click.echo(f"{p:.4f}\t{policies}\t{text}")
    finally:
        predictor.close()
    click.echo(
        f"model {predictor.version}; thresholds: "
        + ", ".join(f"{k} {v:.3f}" for k, v in sorted(thresholds.by_policy.items())),
        err=True,
    )


COMMANDS = [score, classify]
