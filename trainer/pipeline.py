"""data → split → fine-tune → evaluate → export → parity check → register (→ promote)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from monitor.errors import PromotionRefused
from monitor.model import (
    Calibration,
    Manifest,
    Promotion,
    encode_batch,
    precision_gates,
    registry_for,
    scores_from_logits,
    softmax_positive,
)
from monitor.schemas import utcnow
from monitor.settings import Settings, TrainerSettings
from trainer.data.examples import Dataset, Example, data_hash, split_stratified
from trainer.data.sources import LoadReport
from trainer.errors import DataError
from trainer.evaluation.calibration import fit_platt, margins, plot_reliability
from trainer.evaluation.metrics import binary_report, choose_threshold, pr_curve, thin_curve
from trainer.evaluation.report import plot_confusion, plot_history, plot_pr, write_report
from trainer.networks.build import BuiltModel
from trainer.networks.distil import TeacherScores, with_teacher_targets
from trainer.networks.export import check_parity, export_static
from trainer.networks.finetune import FitResult, fine_tune, predict_dygraph
from trainer.networks.teacher import cross_fitted_targets

__all__ = ["TrainOutcome", "train_and_register"]

log = structlog.get_logger()
LABELS = ("normal", "lovelorn")


@dataclass
class TrainOutcome:
    manifest: Manifest
    model_dir: Path
    promotion: Promotion | None
    fit: FitResult
    parity: float
    refused: str = ""  # why the quality gate refused promotion, when it did
    current: str | None = None  # the current version afterwards


def ranking(y_true: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """How well the scores order lovelorn above normal texts, whatever the threshold: the
    promotion gate refuses a model whose AUC says it does not."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    if len(set(y_true.tolist())) < 2:
        return {}
    return {
        "auc": float(roc_auc_score(y_true, scores)),
        "average_precision": float(average_precision_score(y_true, scores)),
        "positives": int(y_true.sum()),
        "n": len(y_true),
    }


def _logits(built: BuiltModel, examples: Sequence[Example], max_seq_len: int) -> np.ndarray:
    ids = encode_batch(built.tokenizer, [e.text for e in examples], max_seq_len)
    return predict_dygraph(built.model, ids)


def calibrate(labels: np.ndarray, logits: np.ndarray) -> Calibration | None:
    """Platt scaling on the validation logits, when validation holds both classes."""
    if len(set(np.asarray(labels).tolist())) < 2:
        return None
    return fit_platt(labels, margins(logits), softmax_positive(logits))


def version_targets(
    settings: Settings,
    version: str,
    train: Sequence[Example],
    unlabelled: Sequence[Example],
    progress: bool,
) -> tuple[list[Example], dict[str, Any]]:
    """Registry version ``version`` scores every training and unlabelled text (cached under
    the home, so a second student of the same teacher starts at once)."""
    from monitor.model import PaddlePredictor

    predictor = PaddlePredictor.from_registry(registry_for(settings), settings.scorer, version)
    try:
        scores = TeacherScores(  # probabilities() buckets each chunk by length itself
            settings.home / "teacher_scores" / f"{version}.tsv",
            lambda texts: predictor.probabilities(list(texts)),
        )
        rows, report = with_teacher_targets(
            train, unlabelled, scores, predictor.manifest.threshold, progress=progress
        )
    finally:
        predictor.close()
    return rows, {"version": version} | report


def train_and_register(
    settings: Settings,
    built: BuiltModel,
    examples: list[Example],
    source_reports: list[LoadReport],
    *,
    unlabelled: Sequence[Example] = (),
    task: str = "lovelorn",
    min_precision: float | None = None,
    max_minutes: float | None = None,
    promote: bool | None = None,
    force: bool = False,
    progress: bool = True,
    notes: str = "",
    provenance: dict[str, Any] | None = None,
    checkpoint_dir: Path | None = None,
) -> TrainOutcome:
    """Run the whole recipe and register the result. ``unlabelled`` rows join training
    only, and only when a registry version teaches (``trainer.teacher = "vN"``).

    ``promote=None`` promotes only when the registry has no current model yet; True asks
    for promotion through the quality gate (``force`` bypasses it).
    """
    cfg: TrainerSettings = settings.trainer
    if unlabelled and cfg.teacher in ("none", "char-ngram"):
        raise DataError(
            f"{len(unlabelled)} unlabelled texts need a registry version to score them: "
            "--teacher vN (e.g. the current version)"
        )
    dataset: Dataset = split_stratified(examples, seed=cfg.seed)
    log.info("split", **dataset.sizes(), balance=dataset.balance())
    train, teacher = dataset.train, None
    if cfg.teacher == "char-ngram":  # after the split: the teacher never sees validation or test
        train, teacher = cross_fitted_targets(train, folds=cfg.teacher_folds, seed=cfg.seed)
    elif cfg.teacher != "none":
        train, teacher = version_targets(settings, cfg.teacher, train, unlabelled, progress)
    if teacher is not None:
        log.info("teacher", **teacher)
    fit = fine_tune(
        built.model,
        built.tokenizer,
        train,
        dataset.validation,
        cfg,
        max_minutes=max_minutes,
        min_precision=min_precision,
        progress=progress,
        checkpoint_dir=checkpoint_dir,
    )

    val_true = np.array([e.label for e in dataset.validation])
    test_true = np.array([e.label for e in dataset.test])
    val_logits = _logits(built, dataset.validation, cfg.max_seq_len)
    calibration = calibrate(val_true, val_logits)
    val_scores = scores_from_logits(val_logits, calibration)
    test_scores = scores_from_logits(_logits(built, dataset.test, cfg.max_seq_len), calibration)
    threshold, rule = choose_threshold(val_true, val_scores, min_precision=min_precision)
    metrics: dict[str, Any] = {
        # The paper's figures: argmax of the two logits (threshold 0.5) on the test part.
        "test": binary_report(test_true, (test_scores >= 0.5).astype(int), LABELS),
        "test_at_threshold": binary_report(
            test_true, (test_scores >= threshold).astype(int), LABELS
        ),
        "validation": binary_report(val_true, (val_scores >= threshold).astype(int), LABELS),
    }
    val_curve = pr_curve(val_true, val_scores)

    registry = registry_for(settings)
    registry.root.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=".staging-", dir=registry.root))
    try:
        files = export_static(built.model, built.tokenizer, staged)
        fields: dict[str, Any] = {
            "base_model": built.base,
            "task": task,
            "labels": list(LABELS),
            "max_seq_len": cfg.max_seq_len,
            "threshold": threshold,
            "threshold_rule": rule,
            "data_hash": data_hash(examples),
            "split_sizes": dataset.sizes(),
            "metrics": {
                k: {m: v for m, v in r.items() if m != "per_class"} for k, r in metrics.items()
            }
            | {"validation_ranking": ranking(val_true, val_scores)},
            "validation_pr": [p.model_dump() for p in thin_curve(val_curve)],
            "files": {name: "" for name in files},
            "notes": notes,
            "provenance": provenance or {},
            "calibration": calibration.model_dump() if calibration else None,
        }
        provisional = Manifest(version="staged", created_at=utcnow(), **fields)
        parity_texts = [e.text for e in (dataset.validation + dataset.test)[:256]]
        parity = check_parity(built.model, built.tokenizer, staged, provisional, parity_texts)
        gates = precision_gates(staged, provisional, [e.text for e in dataset.validation], val_true)
        fields["precision_gates"] = {p: g.model_dump() for p, g in gates.items()}
        log.info("precision_gates", **{p: g.passed for p, g in gates.items()})

        report_dir = staged / "report"
        report_dir.mkdir()
        dataset.write_split(staged / "split.jsonl")
        plot_confusion(
            metrics["test"]["confusion_matrix"],
            LABELS,
            report_dir / "confusion_test.png",
            "test, threshold 0.5",
        )
        plot_pr(
            {"validation": val_curve, "test": pr_curve(test_true, test_scores)},
            report_dir / "pr_curve.png",
            "lovelorn precision–recall",
            marks={"chosen": threshold},
        )
        plot_history(fit.history, report_dir / "training.png")
        if calibration is not None:
            plot_reliability(
                {
                    "softmax": (val_true, softmax_positive(val_logits)),
                    "calibrated": (val_true, val_scores),
                },
                report_dir / "reliability.png",
                "validation reliability",
            )
        fields["files"] = {name: "" for name in sorted(p.name for p in staged.iterdir())}
        manifest = registry.register(staged, fields)
    finally:
        shutil.rmtree(staged, ignore_errors=True)

    model_dir = registry.path(manifest.version)
    write_report(
        model_dir / "report",
        {
            "version": manifest.version,
            "base_model": built.base,
            "task": task,
            "metrics": metrics,
            "threshold": threshold,
            "threshold_rule": rule,
            "split_sizes": dataset.sizes(),
            "class_balance": dataset.balance(),
            "sources": [r.as_dict() for r in source_reports],
            "data_hash": manifest.data_hash,
            "training": {
                "history": fit.history,
                "best_epoch": fit.best_epoch,
                "stopped": fit.stopped,
                "seconds": round(fit.seconds, 1),
                "settings": cfg.model_dump(),
            },
            "parity_max_abs_logit_diff": parity,
            "calibration": calibration.model_dump() if calibration else None,
            "teacher": teacher,
        },
        f"Model {manifest.version} ({built.base})",
    )
    promotion, refused = None, ""
    if promote or (promote is None and registry.current() is None):
        try:
            promotion = registry.promote(
                manifest.version, margin=settings.registry.promotion_margin, force=force
            )
        except PromotionRefused as exc:
            refused = str(exc)
    return TrainOutcome(manifest, model_dir, promotion, fit, parity, refused, registry.current())
