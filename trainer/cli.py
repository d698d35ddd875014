"""Commands the trainer contributes to ``lovelorn`` (entry-point group ``lovelorn.commands``)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from monitor.cli.context import AppContext

DATA_OPTIONS = [
    click.option(
        "--data",
        "data_path",
        type=click.Path(path_type=Path),
        default=None,
        help="CSV, TSV or JSONL file.",
    ),
    click.option("--text-column", default="text", show_default=True),
    click.option("--label-column", default="label", show_default=True),
    click.option("--id-column", default=None),
    click.option(
        "--columns", default=None, help="Names for a header-less file, e.g. id,text,label."
    ),
    click.option(
        "--label-map", default=None, help="e.g. sadness=1,happiness=0 (other labels are dropped)."
    ),
    click.option(
        "--format",
        "fmt",
        type=click.Choice(["auto", "csv", "tsv", "jsonl"]),
        default="auto",
        show_default=True,
    ),
]


def data_options(func):  # type: ignore[no-untyped-def]
    for option in reversed(DATA_OPTIONS):
        func = option(func)
    return func


def _source(
    data_path: Path,
    text_column: str,
    label_column: str,
    id_column: str | None,
    columns: str | None,
    label_map: str | None,
    fmt: str,
):  # type: ignore[no-untyped-def]
    from trainer.data import SourceSpec, parse_label_map

    return SourceSpec(
        path=data_path,
        text_column=text_column,
        label_column=label_column,
        id_column=id_column,
        columns=tuple(c.strip() for c in columns.split(",")) if columns else None,
        label_map=parse_label_map(label_map),
        format=fmt,  # type: ignore[arg-type]
    )


@click.command("train")
@data_options
@click.option(
    "--pretrained",
    default=None,
    help="Model name (needs Baidu's host) or local checkpoint directory.",
)
@click.option(
    "--from-scratch",
    "size",
    default=None,
    help="nano|micro|mini|medium|small|test or a JSON config: random init, generated vocab.",
)
@click.option("--epochs", type=int, default=None)
@click.option("--batch-size", type=int, default=None)
@click.option("--lr", "learning_rate", type=float, default=None)
@click.option("--max-seq-len", type=int, default=None)
@click.option("--seed", type=int, default=None)
@click.option("--patience", type=int, default=None)
@click.option(
    "--max-minutes",
    type=float,
    default=None,
    help="Stop training after this long, keeping the best epoch.",
)
@click.option(
    "--target-precision",
    type=float,
    default=None,
    help="Choose the threshold for this validation precision instead of max F1.",
)
@click.option(
    "--promote/--no-promote",
    default=None,
    help="Promote through the quality gate (default: only the first model).",
)
@click.option("--force", is_flag=True, help="Promote even if the gate refuses.")
@click.option(
    "--balance-classes/--no-balance-classes",
    default=None,
    help="Reweight so both classes weigh the same (rare positives).",
)
@click.option(
    "--teacher",
    type=click.Choice(["none", "char-ngram"]),
    default=None,
    help="Distil a char n-gram model's cross-fitted probabilities into the student.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--recipe",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="TOML recipe: several sources, labelling rules, weights, a held-out set (instead of --data).",
)
@click.pass_obj
def train(
    app: AppContext,
    recipe: Path | None,
    balance_classes: bool | None,
    teacher: str | None,
    pretrained: str | None,
    size: str | None,
    epochs: int | None,
    batch_size: int | None,
    learning_rate: float | None,
    max_seq_len: int | None,
    seed: int | None,
    patience: int | None,
    max_minutes: float | None,
    target_precision: float | None,
    promote: bool | None,
    force: bool,
    quiet: bool,
    **data: object,
) -> None:
    """Fine-tune ERNIE Tiny on labelled comments, evaluate, export and register the model."""
    from pydantic import ValidationError

    from monitor.settings import TrainerSettings
    from trainer.data import DataError, load_source
    from trainer.model import ModelError, set_ppnlp_home
    from trainer.recipe import load_recipe

    if pretrained and size:
        raise click.UsageError("use either --pretrained or --from-scratch, not both")
    settings = app.settings
    overrides = {
        k: v
        for k, v in dict(
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            max_seq_len=max_seq_len,
            seed=seed,
            patience=patience,
            balance_classes=balance_classes,
            teacher=teacher,
        ).items()
        if v is not None
    }
    if (recipe is None) == (data["data_path"] is None):
        raise click.UsageError("give either --data FILE or --recipe FILE")
    task, notes = "lovelorn", ""
    try:
        trainer_settings = settings.trainer
        if recipe is not None:
            plan = load_recipe(recipe)
            trainer_settings = plan.trainer_settings(trainer_settings)
            exclusion = plan.exclusion()
            examples, reports = plan.examples(exclusion)
            task, notes = plan.task, f"recipe {recipe.name}: {plan.description}".strip(": ")
            if exclusion:
                click.echo(
                    f"held out from training: {len(exclusion.ids)} ids, {len(exclusion.texts)} texts"
                )
        else:
            examples, report = load_source(_source(**data))  # type: ignore[arg-type]
            reports = [report]
    except DataError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        trainer_settings = TrainerSettings.model_validate(trainer_settings.model_dump() | overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        option = str(first["loc"][0]).replace("_", "-")
        raise click.UsageError(f"--{option}: {first['msg']}") from None
    settings = settings.model_copy(update={"trainer": trainer_settings})
    for report in reports:
        click.echo(
            f"{report.source}: {report.rows} rows, kept {report.kept} (classes {report.classes}, weight "
            f"{report.weight:g}); dropped {report.filtered} by filter/rule, {report.unmapped_label} unmapped label, "
            f"{report.empty} empty, {report.duplicate} duplicate, {report.excluded} held out, "
            f"{report.shadowed} already in an earlier source"
        )
    set_ppnlp_home(settings.home)
    from trainer.data import split_stratified
    from trainer.model import build_from_scratch, load_pretrained
    from trainer.pipeline import train_and_register

    try:
        split_stratified(examples, settings.trainer.seed)  # refuse bad data before building a model
        built = (
            load_pretrained(pretrained)
            if pretrained
            else build_from_scratch(
                size or "nano",
                settings.home / "vocab",
                seed=settings.trainer.seed,
                max_seq_len=settings.trainer.max_seq_len,
            )
        )
        outcome = train_and_register(
            settings,
            built,
            examples,
            reports,
            task=task,
            notes=notes,
            min_precision=target_precision,
            max_minutes=max_minutes,
            promote=promote,
            force=force,
            progress=not quiet,
        )
    except (DataError, ModelError) as exc:
        raise click.ClickException(str(exc)) from None
    m = outcome.manifest
    test = m.metrics["test"]
    click.echo(
        f"registered {m.version}: test macro-F1 {test['macro_f1']:.4f}  P {test['macro_precision']:.4f}  "
        f"R {test['macro_recall']:.4f}  acc {test['accuracy']:.4f}  (threshold {m.threshold:.3f}: {m.threshold_rule})"
    )
    click.echo(
        f"best epoch {outcome.fit.best_epoch} of {len(outcome.fit.history)}, {outcome.fit.seconds:.0f}s"
        f"{'; ' + outcome.fit.stopped if outcome.fit.stopped else ''}; export parity {outcome.parity:.1e}"
    )
    click.echo(f"report: {outcome.model_dir / 'report' / 'report.md'}")
    if outcome.promotion:
        click.echo(f"promoted {m.version} to current (was {outcome.promotion.previous or 'none'})")


@click.command("evaluate")
@click.option("--model", "version", default="current", show_default=True)
@click.option(
    "--data",
    "data_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Labelled CSV/TSV/JSONL.",
)
@click.option("--text-column", default="text", show_default=True)
@click.option("--label-column", default="label", show_default=True)
@click.option(
    "--group-column",
    default=None,
    help="Report the flag rate per value of this column among negatives.",
)
@click.option("--columns", default=None, help="Names for a header-less file, e.g. id,text,label.")
@click.option("--label-map", default=None, help="e.g. sadness=1,happiness=0")
@click.option(
    "--dev-labels",
    type=click.Path(path_type=Path),
    default=None,
    help="Lovelorn dev labels (id, lovelorn, ambiguous).",
)
@click.option(
    "--corpus",
    type=click.Path(path_type=Path),
    default=None,
    help="OCEMOTION file the dev ids refer to.",
)
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=None)
@click.option(
    "--calibrate-on",
    "calibration_fraction",
    type=click.FloatRange(0.05, 0.95),
    default=None,
    help="Choose thresholds on this stratified fraction; report on the rest only.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the calibration split."
)
@click.pass_obj
def evaluate(
    app: AppContext,
    version: str,
    data_path: Path | None,
    text_column: str,
    label_column: str,
    group_column: str | None,
    columns: str | None,
    label_map: str | None,
    dev_labels: Path | None,
    corpus: Path | None,
    out_dir: Path | None,
    calibration_fraction: float | None,
    seed: int,
) -> None:
    """Score labelled texts with a registered model; report P/R/F1, flag rates per group, PR curve, examples."""
    from monitor.registry import ModelRegistry
    from trainer.data import DataError, load_source
    from trainer.evaluate import EvalItem, evaluate_items, load_dev_labels

    settings = app.settings
    try:
        if dev_labels is not None:
            if corpus is None:
                raise click.UsageError(
                    "--dev-labels needs --corpus (the OCEMOTION file the ids refer to)"
                )
            items, title = (
                load_dev_labels(dev_labels, corpus),
                f"lovelorn dev labels ({dev_labels.name})",
            )
        elif data_path is not None:
            spec = _source(data_path, text_column, label_column, None, columns, label_map, "auto")
            examples, _ = load_source(spec)
            groups = _groups(spec, group_column) if group_column else {}
            items = [EvalItem(e.text, e.label, groups.get(e.text, ""), e.id) for e in examples]
            title = data_path.name
        else:
            raise click.UsageError("give --data FILE or --dev-labels FILE --corpus FILE")
        resolved = ModelRegistry(settings.registry_root).resolve(version)
        out_dir = (
            out_dir
            or settings.registry_root / "versions" / resolved / "evaluations" / title.split(" ")[0]
        )
        report = evaluate_items(
            settings,
            resolved,
            items,
            out_dir,
            title=title,
            calibration_fraction=calibration_fraction,
            seed=seed,
        )
    except DataError as exc:
        raise click.ClickException(str(exc)) from None
    for policy, m in report["metrics"].items():
        click.echo(
            f"{policy:<8} threshold {m['threshold']:.3f}: lovelorn P {m['lovelorn_precision']:.3f} "
            f"R {m['lovelorn_recall']:.3f} F1 {m['lovelorn_f1']:.3f} | macro-F1 {m['macro_f1']:.4f}"
        )
        rates = ", ".join(f"{g} {r:.0%}" for g, r in m["flag_rate_by_group"].items())
        click.echo(f"         flagged among non-lovelorn: {rates}")
    if "calibration" in report:
        cal = report["calibration"]
        click.echo(
            f"thresholds chosen on {cal['n']} calibration items; the figures above come from the other {report['n']}"
        )
        for policy in cal["precision_target_unreached"]:
            click.echo(
                f"warning: no threshold reached {policy}'s precision target on the calibration "
                "items; it got the strictest threshold seen there"
            )
    click.echo(
        "precision at recall ≥ "
        + ", ".join(f"{r}: {p:.3f}" for r, p in report["precision_at_recall"].items())
    )
    click.echo(f"report: {out_dir / 'report.md'}")


def _groups(spec, column: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Cleaned text -> value of ``column``, read with the same reader as the labels."""
    from monitor.text import clean_text
    from trainer.data import read_rows

    return {
        clean_text(str(row.get(spec.text_column, ""))): str(row.get(column, ""))
        for row in read_rows(spec)
    }


@click.command("demo")
@click.pass_obj
def demo(app: AppContext) -> None:
    """The whole pipeline on embedded services and a bundled sample stream; stops all it started."""
    from monitor.logs import configure_logging
    from monitor.scoring.runtime import import_paddle
    from trainer.demo import run_demo

    settings = app.settings
    configure_logging(
        "console", "debug" if app.verbose else "warning"
    )  # the demo prints its own story
    import_paddle()
    asyncio.run(run_demo(settings, progress=sys.stderr.isatty()))
