"""``lovelorn models list|show|gate|cascade|promote|rollback``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from monitor.cli.context import AppContext
from monitor.model import ModelRegistry, Promotion, registry_for


@click.group("models")
def models_group() -> None:
    """Inspect and promote model versions in the registry."""


def _registry(app: AppContext) -> ModelRegistry:
    return registry_for(app.settings)


@models_group.command("list")
@click.pass_obj
def list_(app: AppContext) -> None:
    """All versions, newest last; * marks the current one. F1 is at each version's serving threshold."""
    registry = _registry(app)
    current = registry.current()
    versions = registry.versions()
    if not versions:
        click.echo(f"no models in {registry.root}: run `lovelorn train`")
        return
    click.echo(f"  {'version':<8} {'created (UTC)':<17} {'test F1':>7} {'thresh':>6}  base model")
    for version in versions:
        m = registry.manifest(version)
        f1 = m.served_metric()
        mark = "*" if version == current else " "
        f1_text = f"{f1:.4f}" if f1 is not None else "-"
        click.echo(
            f"{mark} {version:<8} {m.created_at:%Y-%m-%d %H:%M} {f1_text:>7} {m.threshold:>6.3f}  {m.base_model}  [{m.task}]"
        )


@models_group.command("show")
@click.argument("version", default="current")
@click.pass_obj
def show(app: AppContext, version: str) -> None:
    """Print a version's manifest (default: the current one)."""
    registry = _registry(app)
    click.echo(registry.manifest(version).model_dump_json(indent=2, exclude={"validation_pr"}))
    click.echo(f"files: {registry.path(version)}")


def _labelled(version_dir: Path, data: Path | None) -> tuple[list[str], list[int]]:
    """Labelled texts for a gate: a TSV with ``text`` and ``label`` columns, or the version's
    own validation part (``split.jsonl``; a bundled model ships none)."""
    import csv
    import json

    if data is not None:
        try:
            with data.open(encoding="utf-8", newline="") as handle:
                rows = list(csv.DictReader(handle, delimiter="\t"))
            return [r["text"] for r in rows], [int(r["label"]) for r in rows]
        except (OSError, UnicodeDecodeError, KeyError, ValueError, TypeError) as exc:
            raise click.ClickException(
                f"{data}: need a UTF-8 TSV with text and label (0/1) columns ({exc})"
            ) from None
    split = version_dir / "split.jsonl"
    if not split.is_file():
        raise click.ClickException(
            f"{version_dir.name} has no validation split (a bundled model ships none): "
            "pass --data with labelled texts (TSV: text, label)"
        )
    rows = [json.loads(line) for line in split.read_text(encoding="utf-8").splitlines()]
    part = [r for r in rows if r.get("part") == "validation"]
    return [r["text"] for r in part], [int(r["label"]) for r in part]


labelled_data = click.option(
    "--data",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Labelled texts (TSV: text, label); default: the (second) version's validation part.",
)


@models_group.command("gate")
@click.argument("version", default="current")
@labelled_data
@click.pass_obj
def gate(app: AppContext, version: str, data: Path | None) -> None:
    """Measure VERSION's reduced CPU precisions (bf16, int8) against fp32 on this CPU and
    record them, so scorer.precision=auto can run the ones that pass."""
    from monitor.model import precision_gates

    registry = _registry(app)
    resolved = registry.resolve(version)
    texts, labels = _labelled(registry.path(resolved), data)
    gates = precision_gates(registry.path(resolved), registry.manifest(resolved), texts, labels)
    registry.record_gates(resolved, gates)
    for name, result in gates.items():
        figures = (
            f"max |dP| {result.max_abs_dp:.2e}, dAP {result.d_ap:+.4f} on {result.texts} texts"
            if result.max_abs_dp is not None and result.d_ap is not None
            else ""
        )
        verdict = "passed" if result.passed else "not passed"
        click.echo(
            f"{resolved} {name}: {verdict}"
            + (f" ({figures})" if figures else "")
            + (f"; {result.reason}" if result.reason else "")
        )


@models_group.command("cascade")
@click.argument("first")
@click.argument("second", default="current")
@labelled_data
@click.option(
    "--max-ap-loss",
    type=click.FloatRange(0, 1),
    default=0.005,
    show_default=True,
    help="Average precision the cascade may lose against SECOND alone on those texts.",
)
@click.pass_obj
def cascade(
    app: AppContext, first: str, second: str, data: Path | None, max_ap_loss: float
) -> None:
    """Choose the band in which fast version FIRST hands texts to SECOND, and record it in
    SECOND's manifest (served with scorer.cascade=true)."""
    from monitor.model import CascadePlan, PaddlePredictor, Thresholds, choose_band

    registry = _registry(app)
    first, second = registry.resolve(first), registry.resolve(second)
    if first == second:
        raise click.UsageError("FIRST and SECOND must be two versions")
    texts, labels = _labelled(registry.path(second), data)
    scores = []
    for version in (first, second):
        predictor = PaddlePredictor.from_registry(registry, app.settings.scorer, version)
        try:
            scores.append(predictor.probabilities(texts))
        finally:
            predictor.close()
    thresholds = Thresholds.from_manifest(registry.manifest(second), app.settings.alerts)
    low, high, measured = choose_band(
        labels, scores[0], scores[1], list(thresholds.by_policy.values()), max_ap_loss=max_ap_loss
    )
    registry.record_cascade(second, CascadePlan(first=first, low=low, high=high, measured=measured))
    click.echo(
        f"{first} → {second}: {second} re-scores first scores in [{low:.4f}, {high:.4f}], "
        f"{measured['share_rescored']:.1%} of {measured['texts']} texts; AP {first} "
        f"{measured['ap_first']:.3f}, {second} {measured['ap_second']:.3f}, cascade "
        f"{measured['ap_cascade']:.3f}. Serve it with scorer.cascade=true "
        "(LOVELORN_SCORER__CASCADE=true)."
    )


async def _announce(app: AppContext, promotion: Promotion) -> None:
    """Best effort: running scorers also notice the new pointer on their own."""
    from monitor.errors import MonitorError
    from monitor.store import Store, announce

    try:
        settings = app.services_settings(kafka=False)
        async with Store(settings.redis) as store:
            heard = await asyncio.wait_for(announce(store, promotion.model_dump_json()), 5)
        click.echo(f"announced on Redis ({heard} running scorer(s) listening)")
    except (MonitorError, TimeoutError) as exc:
        click.echo(f"not announced ({exc}); running scorers notice the new pointer within seconds")


@models_group.command("promote")
@click.argument("version")
@click.option(
    "--force",
    is_flag=True,
    help="Promote even if the quality gate refuses.",
)
@click.pass_obj
def promote(app: AppContext, version: str, force: bool) -> None:
    """Make VERSION the current model (atomic pointer switch) and tell running scorers."""
    event = _registry(app).promote(
        version, margin=app.settings.registry.promotion_margin, force=force
    )
    click.echo(f"current model: {event.version} (was {event.previous or 'none'})")
    asyncio.run(_announce(app, event))


@models_group.command("rollback")
@click.pass_obj
def rollback(app: AppContext) -> None:
    """Return to the version that was current before the present one."""
    event = _registry(app).rollback()
    click.echo(f"current model: {event.version} (rolled back from {event.previous})")
    asyncio.run(_announce(app, event))


COMMANDS = [models_group]
