"""``lovelorn score`` (the consumer group) and ``lovelorn classify`` (ad-hoc texts)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

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
    from monitor.cli.runner import defer_stop_signals

    defer_stop_signals()  # a SIGTERM while Paddle and the model load ends the scorer cleanly
    from monitor.model import import_paddle

    import_paddle()  # before the loop's handlers, which must replace Paddle's
    import structlog

    from monitor.bus.admin import prepare_topics
    from monitor.cli.serving import exit_now, serve_until_signalled, snapshot_writer
    from monitor.metrics import Metrics
    from monitor.model import Predictor, open_predictor, registry_for
    from monitor.retry import Stopped
    from monitor.scoring.service import ScorerService
    from monitor.scoring.stats import ScorerMetrics, publish_fetch_lag

    settings = app.services_settings()
    metrics = Metrics()
    registry = registry_for(settings)
    stopping = asyncio.Event()  # replaced by the loop's stop event

    async def load(version: str) -> Predictor:
        return await until_stopped(
            lambda: open_predictor(registry, settings.scorer, version), stopping
        )

    service = ScorerService(
        settings, metrics=metrics, load_predictor=load, after_commit=snapshot_writer(metrics)
    )

    async def fetch_lag(stop: asyncio.Event) -> None:
        """Lag from the first fetch on, until commits measure it (every commit interval)."""
        scorer_metrics = ScorerMetrics(metrics)
        while not stop.is_set():
            await asyncio.sleep(0.5)
            checkpoint = getattr(service, "checkpoint", None)  # set once the service runs
            if checkpoint is not None:
                with contextlib.suppress(Exception):  # not started, or between assignments
                    publish_fetch_lag(
                        checkpoint.unfetched(),
                        checkpoint.pending,
                        checkpoint.lag,
                        service.stats,
                        scorer_metrics,
                    )

    async def run(stop):  # type: ignore[no-untyped-def]
        nonlocal stopping
        stopping = stop
        lag = asyncio.create_task(fetch_lag(stop), name="fetch-lag")
        try:
            # before the consumer or producer can make the broker auto-create them
            await prepare_topics(settings.kafka, stop=stop)
            await service.run(stop)
        except Stopped:  # stopped while waiting for the broker or loading the model
            structlog.get_logger().info("scorer_stopped", before="start")
        finally:
            lag.cancel()

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
@click.option(
    "--explain",
    is_flag=True,
    help="Also show which characters pushed each score up (occlusion: ~3 model calls per character).",
)
@click.pass_obj
def classify(app: AppContext, texts: tuple[str, ...], version: str, explain: bool) -> None:
    """Print P(lovelorn) and the policies satisfied for each TEXT (or each line of stdin)."""
    from monitor.detector import Detector

    lines = list(texts) or [line.rstrip("\n") for line in sys.stdin]
    if not lines:
        raise click.UsageError("give texts as arguments or one per line on stdin")
    with Detector.load(version, settings=app.settings) as detector:
        for d in detector(lines):
            click.echo(f"{d.score:.4f}\t{','.join(d.policies) or '-'}\t{d.text}")
            if explain and d.text:
                why = detector.explain(d.text)
                spans = ", ".join(f"{why.text[a:b]} {w:+.2f}" for a, b, w in why.spans()[:3])
                click.echo(f"\twhy: {why.marked()}\t({spans or 'no character raised it'})")
        click.echo(
            f"model {detector.manifest.version} ({detector.manifest.base_model}); thresholds: "
            + ", ".join(f"{k} {v:.3f}" for k, v in sorted(detector.thresholds.by_policy.items())),
            err=True,
        )


T = TypeVar("T")


async def until_stopped(work: Callable[[], T], stop: asyncio.Event) -> T:
    """``work()`` in a daemon thread, abandoned if ``stop`` is set first (raises Stopped):
    loading Paddle and a model takes seconds that a SIGTERM must not wait for, and the
    loop's default executor would be joined at exit. The process ends with ``exit_now``."""
    from monitor.retry import Stopped

    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def target() -> None:
        result, error = None, None
        try:
            result = work()
        except BaseException as exc:
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(_settle, done, result, error)

    threading.Thread(target=target, name="load-model", daemon=True).start()
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({done, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if not done.done():
        raise Stopped("loading the model")
    return done.result()


def _settle(future: asyncio.Future[T], result: T | None, exc: BaseException | None) -> None:
    if future.cancelled():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)  # type: ignore[arg-type]


COMMANDS = [score, classify]
