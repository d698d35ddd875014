"""Fine-tuning as in the paper: AdamW with weight decay, linear warm-up then decay, cross-entropy
(weighted per example when sources carry weights; against a teacher's soft targets when the
examples carry them), early stopping on validation macro-F1, and the best epoch's weights kept."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from monitor.model import encode_batch, pad, softmax_positive
from monitor.settings import TrainerSettings
from trainer.data.examples import Example
from trainer.errors import ModelError
from trainer.evaluation.metrics import binary_report, choose_threshold
from trainer.networks.checkpoint import load_checkpoint, save_checkpoint

__all__ = ["FitResult", "adamw", "batches", "fine_tune", "predict_dygraph", "served_macro_f1"]


@dataclass
class FitResult:
    best_epoch: int
    best_val_macro_f1: float
    history: list[dict[str, float]] = field(default_factory=list)
    stopped: str = ""
    seconds: float = 0.0


def batches(
    lengths: Sequence[int], batch_size: int, rng: random.Random, pool: int = 50
) -> list[list[int]]:
    """Shuffled batches of similar length: shuffle, sort within pools of ``pool`` batches,
    cut, shuffle the batches. Less padding, same randomness across epochs."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = batch_size * pool
    out: list[list[int]] = []
    for start in range(0, len(order), chunk):
        sorted_chunk = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        out.extend(
            sorted_chunk[i : i + batch_size] for i in range(0, len(sorted_chunk), batch_size)
        )
    rng.shuffle(out)
    return out


def predict_dygraph(model: Any, ids: Sequence[Sequence[int]], batch_size: int = 64) -> np.ndarray:
    """Logits from the dygraph model, batched by length, in input order."""
    import paddle

    model.eval()
    out = np.empty((len(ids), 2), dtype=np.float32)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    with paddle.no_grad():
        for start in range(0, len(order), batch_size):
            group = order[start : start + batch_size]
            batch = pad([ids[i] for i in group])
            logits = model(
                input_ids=paddle.to_tensor(batch),
                token_type_ids=paddle.to_tensor(np.zeros_like(batch)),
            )
            out[group] = logits.numpy()
    return out


def served_macro_f1(
    labels: np.ndarray, scores: np.ndarray, min_precision: float | None = None
) -> float:
    """Validation macro-F1 at the threshold the model would be served with (chosen on these
    scores as the pipeline chooses it): what early stopping, the progress bar and the saved
    validation figure all report."""
    threshold, _ = choose_threshold(labels, scores, min_precision=min_precision)
    return float(binary_report(labels, (scores >= threshold).astype(int))["macro_f1"])


def adamw(
    model: Any, *, learning_rate: float, total_steps: int, warmup: int | float, weight_decay: float
) -> tuple[Any, Any]:
    """AdamW with decay on weights only (not biases or norms), gradient clipping, and a
    linear warm-up then decay; ``warmup`` is steps (int) or a share of ``total_steps``
    (float). Fine-tuning and MLM pretraining both use it."""
    import paddle
    from paddlenlp.transformers import LinearDecayWithWarmup

    schedule = LinearDecayWithWarmup(learning_rate, total_steps, warmup)
    # AdamW's hook receives the parameter's internal name, not its attribute path.
    decayed = {
        p.name for n, p in model.named_parameters() if not any(k in n for k in ("bias", "norm"))
    }
    optimizer = paddle.optimizer.AdamW(
        learning_rate=schedule,
        parameters=[p for p in model.parameters() if not p.stop_gradient],  # frozen ones stay
        weight_decay=weight_decay,
        apply_decay_param_fun=lambda name: name in decayed,
        grad_clip=paddle.nn.ClipGradByGlobalNorm(1.0),
    )
    return optimizer, schedule


def epoch_rows(labels: np.ndarray, share: float, rng: random.Random) -> list[int]:
    """The rows an epoch trains on: every positive and ``share`` of the negatives, drawn
    afresh each epoch so a run still sees all of them over its epochs."""
    positives = [i for i, y in enumerate(labels) if y == 1]
    negatives = [i for i, y in enumerate(labels) if y != 1]
    if share < 1.0:
        negatives = rng.sample(negatives, max(1, round(share * len(negatives))))
    return sorted(positives + negatives)


def _freeze_word_embeddings(model: Any) -> None:
    for name, param in model.named_parameters():
        if name.endswith("word_embeddings.weight"):
            param.stop_gradient = True


def _fingerprint(train: Sequence[Example], cfg: TrainerSettings) -> str:
    """What a checkpoint must match to be resumed: the training rows and the settings."""
    import hashlib

    digest = hashlib.sha256()
    for e in train:
        digest.update(f"{e.id}\t{e.text}\t{e.label}\t{e.weight}\t{e.target}\n".encode())
    settings = cfg.model_dump(exclude={"checkpoint_minutes", "patience", "epochs"})
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def fine_tune(
    model: Any,
    tokenizer: Any,
    train: Sequence[Example],
    validation: Sequence[Example],
    cfg: TrainerSettings,
    *,
    max_minutes: float | None = None,
    min_precision: float | None = None,
    progress: bool = True,
    checkpoint_dir: Path | None = None,
) -> FitResult:
    """Train in place; on return the model holds the weights of the best validation epoch.

    With ``checkpoint_dir``, the model, optimizer, schedule and position are saved every
    ``cfg.checkpoint_minutes`` and at the end; a run started again with the same data and
    settings resumes at the batch where the last checkpoint was taken (``--max-minutes``
    then budgets the new run only). Dropout masks after a resume differ from an
    uninterrupted run's.
    """
    import paddle
    import paddle.nn.functional as F

    started = time.monotonic()
    if cfg.freeze_word_embeddings:
        _freeze_word_embeddings(model)
    train_ids = encode_batch(tokenizer, [e.text for e in train], cfg.max_seq_len)
    val_ids = encode_batch(tokenizer, [e.text for e in validation], cfg.max_seq_len)
    labels = np.array([e.label for e in train], dtype=np.int64)
    targets = np.array([e.label if e.target is None else e.target for e in train], dtype=np.float32)
    weights = np.array([e.weight for e in train], dtype=np.float32)
    if cfg.balance_classes:  # each class carries half of the total weight, whatever its size
        for label in (0, 1):
            mask = labels == label
            if mask.any():
                weights[mask] *= weights.sum() / (2 * weights[mask].sum())
    val_labels = np.array([e.label for e in validation], dtype=np.int64)
    rng = random.Random(cfg.seed)
    paddle.seed(cfg.seed)
    n_positive = int((labels == 1).sum())
    per_epoch = n_positive + round(cfg.negative_sample * (len(train) - n_positive))
    steps_per_epoch = -(-per_epoch // cfg.batch_size)
    optimizer, schedule = adamw(
        model,
        learning_rate=cfg.learning_rate,
        total_steps=steps_per_epoch * cfg.epochs,
        warmup=cfg.warmup_proportion,
        weight_decay=cfg.weight_decay,
    )
    result = FitResult(best_epoch=0, best_val_macro_f1=-1.0)
    best_state: dict[str, np.ndarray] | None = None
    deadline = started + max_minutes * 60 if max_minutes else None
    fingerprint = _fingerprint(train, cfg)
    first_epoch, skip, losses = 1, 0, []
    resumed = (
        load_checkpoint(checkpoint_dir, model, optimizer, schedule) if checkpoint_dir else None
    )
    if resumed is not None:
        if resumed.get("fingerprint") != fingerprint:
            raise ModelError(
                f"{checkpoint_dir} holds a checkpoint of other data or settings: remove it or "
                "choose another --checkpoint-dir"
            )
        first_epoch, skip, losses = resumed["epoch"], resumed["batch"], resumed["losses"]
        rng.setstate(_tuple_state(resumed["rng"]))
        result.history = resumed["history"]
        result.best_epoch, result.best_val_macro_f1 = resumed["best_epoch"], resumed["best_f1"]
        if (checkpoint_dir / "best.npz").is_file():  # type: ignore[operator]
            with np.load(checkpoint_dir / "best.npz") as best:  # type: ignore[operator]
                best_state = dict(best)
    bar = tqdm(
        total=steps_per_epoch * cfg.epochs,
        initial=(first_epoch - 1) * steps_per_epoch + skip,
        desc="fine-tune",
        unit="step",
        disable=not progress,
        dynamic_ncols=True,
    )
    last_saved = time.monotonic()

    def checkpoint(epoch: int, batch: int, epoch_rng: object) -> None:
        assert checkpoint_dir is not None
        save_checkpoint(
            checkpoint_dir,
            model,
            optimizer,
            schedule,
            {
                "fingerprint": fingerprint,
                "epoch": epoch,
                "batch": batch,
                "rng": epoch_rng,
                "losses": losses[-200:],
                "history": result.history,
                "best_epoch": result.best_epoch,
                "best_f1": result.best_val_macro_f1,
            },
        )

    try:
        for epoch in range(first_epoch, cfg.epochs + 1):
            model.train()
            epoch_rng = rng.getstate()  # a resumed run redraws this epoch's batches from here
            rows = epoch_rows(labels, cfg.negative_sample, rng)
            order = batches([len(train_ids[i]) for i in rows], cfg.batch_size, rng)
            if epoch != first_epoch:
                skip, losses = 0, []
            for done, local in enumerate(order):
                if done < skip:
                    continue
                group = [rows[i] for i in local]
                batch = pad([train_ids[i] for i in group])
                logits = model(
                    input_ids=paddle.to_tensor(batch),
                    token_type_ids=paddle.to_tensor(np.zeros_like(batch)),
                )
                q = targets[group]
                soft = paddle.to_tensor(np.stack([1 - q, q], axis=1))
                per_example = F.cross_entropy(
                    logits, soft, soft_label=True, reduction="none"
                ).flatten()
                w = paddle.to_tensor(weights[group])
                loss = (per_example * w).sum() / w.sum()
                loss.backward()
                optimizer.step()
                schedule.step()
                optimizer.clear_grad()
                losses.append(float(loss))
                bar.update(1)
                bar.set_postfix(
                    epoch=epoch,
                    loss=f"{np.mean(losses[-50:]):.4f}",
                    val_f1=f"{max(result.best_val_macro_f1, 0):.4f}",
                )
                if checkpoint_dir and (
                    time.monotonic() - last_saved >= cfg.checkpoint_minutes * 60
                ):
                    checkpoint(epoch, done + 1, epoch_rng)
                    last_saved = time.monotonic()
                if deadline and time.monotonic() > deadline:
                    break
            else:
                done = len(order)  # the epoch ran to its end
            finished = done >= len(order) - 1
            if checkpoint_dir and not finished:  # out of time mid-epoch: a rerun resumes here
                checkpoint(epoch, done + 1, epoch_rng)
            val_scores = softmax_positive(predict_dygraph(model, val_ids))
            val_f1 = served_macro_f1(val_labels, val_scores, min_precision)
            result.history.append(
                {"epoch": epoch, "train_loss": float(np.mean(losses)), "val_macro_f1": val_f1}
            )
            if val_f1 >= result.best_val_macro_f1:  # on a tie the later, better-trained epoch
                result.best_epoch, result.best_val_macro_f1 = epoch, val_f1
                best_state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
                if checkpoint_dir:
                    np.savez(checkpoint_dir / "best.npz", **best_state)
            if checkpoint_dir and finished:
                checkpoint(epoch + 1, 0, rng.getstate())
            bar.set_postfix(
                epoch=epoch, loss=f"{np.mean(losses[-50:]):.4f}", val_f1=f"{val_f1:.4f}"
            )
            if deadline and time.monotonic() > deadline:
                result.stopped = f"time budget of {max_minutes} min reached in epoch {epoch}" + (
                    "; run again with the same --checkpoint-dir to go on" if checkpoint_dir else ""
                )
                break
            if epoch - result.best_epoch >= cfg.patience:
                result.stopped = f"early stop: no validation gain for {cfg.patience} epoch(s)"
                break
    finally:
        bar.close()
    if best_state is not None:
        model.set_state_dict(best_state)
    model.eval()
    result.seconds = time.monotonic() - started
    return result


def _tuple_state(state: Any) -> Any:
    """``random.Random`` state back from JSON (which turned its tuples into lists)."""
    return tuple(_tuple_state(x) for x in state) if isinstance(state, list) else state
