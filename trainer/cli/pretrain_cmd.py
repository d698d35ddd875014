"""``lovelorn pretrain``: masked-language-model pretraining of the classifier's encoder on a
recipe's texts (their labels are ignored), resumable, on a time budget."""

from __future__ import annotations

import json
from pathlib import Path

import click

from monitor.cli.context import AppContext

__all__ = ["pretrain"]


@click.command("pretrain")
@click.option(
    "--recipe",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Sources of unlabelled text and the [holdout] that must never be read (TOML).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Run folder; run the same command again to resume from its last checkpoint.",
)
@click.option(
    "--lac",
    default=None,
    help="Start the word embeddings from LAC's: 'auto' (fetched once into the home's cache) "
    "or a LAC-2.1.2.tar.gz / folder.",
)
@click.option("--size", default="small", show_default=True, help="Model size (as --from-scratch).")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), default=None)
@click.option("--max-steps", type=click.IntRange(min=0), default=20_000, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option(
    "--lr",
    "learning_rate",
    type=click.FloatRange(min=0, min_open=True),
    default=5e-4,
    show_default=True,
)
@click.option("--max-seq-len", type=click.IntRange(8, 512), default=128, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--corpus-only", is_flag=True, help="Build and report the corpus; train nothing.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
def pretrain(
    app: AppContext,
    recipe: Path,
    out: Path,
    lac: str | None,
    size: str,
    max_minutes: float | None,
    max_steps: int,
    batch_size: int,
    learning_rate: float,
    max_seq_len: int,
    seed: int,
    corpus_only: bool,
    quiet: bool,
) -> None:
    """Pretrain ERNIE as a masked language model, for `lovelorn train --pretrained OUT/model`.

    With --max-steps 0 it writes the initialisation alone (e.g. LAC's embeddings)."""
    from trainer.data import load_recipe
    from trainer.networks.build import set_ppnlp_home
    from trainer.networks.lac import fetch_lac, read_lac
    from trainer.pretrain import PretrainSettings, build_corpus
    from trainer.pretrain import pretrain as run

    settings = app.settings
    plan = load_recipe(recipe)
    corpus = build_corpus([s.spec() for s in plan.sources], plan.exclusion())
    summary = corpus.summary()
    out.mkdir(parents=True, exist_ok=True)
    (out / "corpus.json").write_text(json.dumps(summary, indent=1))
    for report in summary["sources"]:
        click.echo(
            f"{report['source']}: {report['rows']} rows, kept {report['kept']}; dropped "
            f"{report['empty']} empty, {report['excluded']} held out, {report['duplicate']} duplicate"
        )
    click.echo(
        f"corpus: {summary['train_texts']} texts ({summary['train_chars']} chars) for training, "
        f"{summary['held_out_texts']} held out for the MLM figures"
    )
    if corpus_only:
        return
    embeddings = None
    if lac is not None:
        archive = fetch_lac(settings.home / "cache" / "lac") if lac == "auto" else Path(lac)
        embeddings = read_lac(archive)
    set_ppnlp_home(settings.home)
    result = run(
        corpus.train,
        corpus.held_out,
        out,
        PretrainSettings(
            size=size,
            max_seq_len=max_seq_len,
            batch_size=batch_size,
            learning_rate=learning_rate,
            max_steps=max_steps,
            seed=seed,
            max_minutes=max_minutes,
            warmup_steps=min(500, max_steps // 10),
        ),
        lac=embeddings,
        progress=not quiet,
        log=click.echo,
    )
    held = result.held_out
    if result.lac:
        click.echo(
            f"LAC embeddings for {result.lac['covered']} of {result.lac['eligible']} vocabulary "
            f"entries ({result.lac['coverage']:.1%})"
        )
    if held:
        click.echo(
            f"step {result.step} ({result.stopped}); {result.seconds / 60:.1f} min, "
            f"{result.seconds_per_step:.3f} s/step; held-out MLM loss {held['loss']:.3f}, "
            f"accuracy {held['accuracy']:.3f}"
        )
    click.echo(f"model: {result.model_dir}  (lovelorn train --pretrained {result.model_dir})")
