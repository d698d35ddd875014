"""A model version's report: JSON for machines, PNG plots and a short markdown page for people."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from monitor.model import PRPoint

__all__ = ["plot_confusion", "plot_history", "plot_pr", "write_report"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(
    matrix: list[list[int]], labels: tuple[str, str], path: Path, title: str
) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 3.6), dpi=120)
    data = np.asarray(matrix)
    ax.imshow(data, cmap="Blues")
    for (row, col), value in np.ndenumerate(data):
        ax.text(
            col,
            row,
            str(value),
            ha="center",
            va="center",
            color="white" if value > data.max() / 2 else "black",
        )
    ax.set_xticks([0, 1], labels)
    ax.set_yticks([0, 1], labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_pr(
    curves: dict[str, list[PRPoint]], path: Path, title: str, marks: dict[str, float] | None = None
) -> None:
    """Precision–recall curves of the lovelorn class; ``marks`` names thresholds to highlight
    on the first curve."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    for n, (name, curve) in enumerate(curves.items()):
        if not curve:
            continue
        ax.plot([p.recall for p in curve], [p.precision for p in curve], label=name)
        for mark, threshold in (marks or {}).items() if n == 0 else ():
            nearest = min(curve, key=lambda p: abs(p.threshold - threshold))
            ax.scatter([nearest.recall], [nearest.precision], s=30, zorder=3)
            ax.annotate(
                f"{mark} ({threshold:.2f})",
                (nearest.recall, nearest.precision),
                fontsize=7,
                xytext=(4, -10),
                textcoords="offset points",
            )
    ax.set_xlabel("recall (lovelorn)")
    ax.set_ylabel("precision (lovelorn)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=7)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_history(history: list[dict[str, float]], path: Path) -> None:
    """Training loss and validation macro-F1 per epoch: where it stopped learning."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.4), dpi=120)
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, [h["train_loss"] for h in history], "o-", label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    other = ax.twinx()
    other.plot(
        epochs,
        [h["val_macro_f1"] for h in history],
        "s-",
        color="tab:orange",
        label="validation macro-F1",
    )
    other.set_ylabel("macro-F1")
    other.set_ylim(0, 1)
    fig.legend(loc="lower center", ncol=2, fontsize=8)
    ax.set_title("fine-tuning", fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path)
    plt.close(fig)


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def write_report(
    out_dir: Path,
    report: dict[str, Any],
    markdown_title: str,
    sections: tuple[str, ...] = ("test", "test_at_threshold", "validation"),
) -> None:
    """``report.json`` plus ``report.md`` listing headline metrics and linking the plots.

    ``sections`` names the entries of ``report["metrics"]`` shown as tables.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    lines = [f"# {markdown_title}", ""]
    for part in sections:
        metrics = report.get("metrics", {}).get(part)
        if not metrics:
            continue
        lines += [f"## {part.replace('_', ' ')}", "", "| metric | value |", "|---|---|"]
        for key in (
            "threshold",
            "lovelorn_precision",
            "lovelorn_recall",
            "lovelorn_f1",
            "macro_f1",
            "macro_precision",
            "macro_recall",
            "accuracy",
            "n",
        ):
            if key in metrics:
                lines.append(f"| {key} | {_fmt(metrics[key])} |")
        for group, rate in metrics.get("flag_rate_by_group", {}).items():
            lines.append(f"| flagged among non-lovelorn {group} | {rate:.1%} |")
        for name, figures in metrics.get("per_class", {}).items():
            lines.append(
                f"| {name}: P / R / F1 (n) | {figures['precision']:.4f} / {figures['recall']:.4f} / "
                f"{figures['f1']:.4f} ({figures['support']}) |"
            )
        lines.append("")
    for key in (
        "threshold",
        "threshold_rule",
        "split_sizes",
        "class_balance",
        "base_model",
        "data_hash",
        "training",
    ):
        if key in report:
            lines.append(
                f"- **{key}**: {_fmt(report[key]) if not isinstance(report[key], dict | list) else json.dumps(report[key], ensure_ascii=False)}"
            )
    lines.append("")
    for key, heading in (
        ("false_alerts", "Highest-scoring false alerts"),
        ("misses", "Lowest-scoring misses"),
    ):
        if report.get(key):
            lines += [f"## {heading}", "", "| score | group | text |", "|---|---|---|"]
            lines += [
                f"| {e['score']:.3f} | {e['group']} | {e['text'].replace('|', '/')} |"
                for e in report[key]
            ]
            lines.append("")
    lines += [f"![{png.stem}]({png.name})" for png in sorted(out_dir.glob("*.png"))]
    (out_dir / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
