"""``lovelorn evaluate``: a registered model on labelled data or the lovelorn dev labels."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.context import AppContext
from trainer.cli.options import source_spec

__all__ = ["evaluate"]


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
@click.option(
    "--half",
    type=click.Choice(["A", "B"]),
    default=None,
    help="With --dev-labels: only this half of the dev set (the halves of --calibrate-on 0.5 "
    "--seed SEED). Choose on A; report B once per adopted recipe.",
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
    half: str | None,
) -> None:
    """Score labelled texts with a registered model; report P/R/F1, flag rates per group, PR curve, examples."""
    from monitor.model import registry_for
    from trainer.data import load_source
    from trainer.evaluation.evaluate import (
        EvalItem,
        evaluate_items,
        load_dev_labels,
        split_dev_halves,
    )

    settings = app.settings
    if dev_labels is not None:
        if corpus is None:
            raise click.UsageError(
                "--dev-labels needs --corpus (the OCEMOTION file the ids refer to)"
            )
        items, title = (
            load_dev_labels(dev_labels, corpus),
            f"lovelorn dev labels ({dev_labels.name})",
        )
        if half is not None:
            if calibration_fraction is not None:
                raise click.UsageError("use --half or --calibrate-on, not both")
            items = split_dev_halves(items, seed)[0 if half == "A" else 1]
            title = f"lovelorn dev half {half} ({dev_labels.name}, seed {seed})"
    elif data_path is not None:
        spec = source_spec(data_path, text_column, label_column, None, columns, label_map, "auto")
        examples, _ = load_source(spec)
        groups = _groups(spec, group_column) if group_column else {}
        items = [EvalItem(e.text, e.label, groups.get(e.text, ""), e.id) for e in examples]
        title = data_path.name
    else:
        raise click.UsageError("give --data FILE or --dev-labels FILE --corpus FILE")
    if half is not None and dev_labels is None:
        raise click.UsageError("--half needs --dev-labels")
    resolved = registry_for(settings).resolve(version)
    out_dir = out_dir or settings.registry_root / "versions" / resolved / "evaluations" / (
        f"dev-half-{half}" if half else title.split(" ")[0]
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
        + f"; average precision {report['average_precision']:.3f}"
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
