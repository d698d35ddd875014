"""Masked-language-model pretraining of the classifier's own encoder, resumable, on a budget.

The model is ``ErnieForMaskedLM`` on exactly the ``ErnieConfig`` and generated vocabulary that
``trainer.networks.build_from_scratch`` uses, so the saved directory is an ordinary checkpoint for
``lovelorn train --pretrained DIR``: the encoder's weights load into
``ErnieForSequenceClassification``, the MLM head is dropped and the classifier starts fresh.

Every random choice (batch order, masking, dropout) is a function of the seed and the step or
epoch, so a run resumed from a checkpoint replays exactly what the uninterrupted run would have
done, without serialising any generator state. The time budget counts training time across
resumes; the learning-rate schedule is set by ``max_steps`` (pick it from the measured seconds
per step so the decay ends near the budget).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from monitor.model import encode_batch
from trainer.errors import DataError
from trainer.networks.build import dygraph
from trainer.networks.checkpoint import load_checkpoint, save_checkpoint
from trainer.networks.finetune import batches
from trainer.networks.lac import LacEmbeddings, LacMatch, init_word_embeddings
from trainer.pretrain.masking import Masker
from trainer.pretrain.mlm import build_mlm, evaluate_mlm, forward_loss, mlm_optimizer
from trainer.pretrain.settings import RUN_DEFINING, PretrainSettings

__all__ = ["PretrainResult", "pretrain"]

MODEL = "model"


@dataclass
class PretrainResult:
    step: int
    seconds: float
    seconds_per_step: float
    held_out: dict[str, float]
    stopped: str
    model_dir: Path
    lac: dict[str, Any] | None = None


def _corpus_hash(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8") + b"\n")
    return digest.hexdigest()[:16]


def _epoch_batches(
    lengths: Sequence[int], settings: PretrainSettings, epoch: int
) -> list[list[int]]:
    return batches(lengths, settings.batch_size, random.Random(f"{settings.seed}:epoch:{epoch}"))


def pretrain(
    train_texts: Sequence[str],
    held_out_texts: Sequence[str],
    out_dir: Path,
    settings: PretrainSettings,
    *,
    lac: LacEmbeddings | None = None,
    stop_at_step: int | None = None,
    progress: bool = True,
    log: Any = print,
) -> PretrainResult:
    """Pretrain (or resume pretraining) into ``out_dir``; the final model goes to
    ``out_dir/model``, checkpoints to ``out_dir/checkpoint``, figures to ``metrics.jsonl``.

    ``stop_at_step`` ends this invocation early without changing the run (the schedule still
    runs to ``max_steps``): a run split across sessions, or a test of resuming."""
    paddle = dygraph()
    out_dir.mkdir(parents=True, exist_ok=True)
    model, tokenizer, vocab = build_mlm(settings, out_dir)
    lac_match: LacMatch | None = init_word_embeddings(model, lac, vocab) if lac else None
    optimizer, schedule = mlm_optimizer(model, settings)
    corpus_id = _corpus_hash(train_texts)
    defining = {k: getattr(settings, k) for k in RUN_DEFINING} | {
        "corpus": corpus_id,
        "lac": lac is not None,
    }
    state = load_checkpoint(out_dir, model, optimizer, schedule)
    if state is not None:
        if state["defining"] != defining:
            changed = sorted(k for k in defining if state["defining"].get(k) != defining[k])
            raise DataError(
                f"{out_dir} holds a checkpoint of a different run ({', '.join(changed)} differ); "
                "use another output directory"
            )
        log(f"resuming at step {state['step']} ({state['elapsed'] / 60:.1f} min trained)")
    else:
        state = {"defining": defining, "step": 0, "epoch": 0, "index": 0, "elapsed": 0.0}

    started = time.monotonic()
    ids = encode_batch(tokenizer, list(train_texts), settings.max_seq_len)
    lengths = [len(x) for x in ids]
    masker = Masker(vocab, rate=settings.mask_rate)
    eval_ids = encode_batch(
        tokenizer, list(held_out_texts[: settings.eval_texts]), settings.max_seq_len
    )
    eval_rng = np.random.default_rng([settings.seed, 1])  # the same masking at every evaluation
    eval_lengths = [len(x) for x in eval_ids]
    eval_order = sorted(range(len(eval_ids)), key=lambda i: eval_lengths[i])
    held_out = [
        masker([eval_ids[i] for i in eval_order[s : s + 64]], eval_rng)
        for s in range(0, len(eval_order), 64)
    ]
    log(
        f"corpus: {len(ids)} training texts ({sum(lengths)} tokens), {len(eval_ids)} held out; "
        f"tokenised in {time.monotonic() - started:.0f}s"
    )

    metrics_path = out_dir / "metrics.jsonl"
    budget = settings.max_minutes * 60 if settings.max_minutes else None
    step, epoch, index = state["step"], state["epoch"], state["index"]
    elapsed_before = state["elapsed"]
    train_started = time.monotonic()
    last_checkpoint = train_started
    epoch_batches = _epoch_batches(lengths, settings, epoch)
    recent: list[float] = []
    stopped = f"reached max_steps {settings.max_steps}"

    def elapsed() -> float:
        return elapsed_before + time.monotonic() - train_started

    def record(entry: dict[str, Any]) -> None:
        with metrics_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")

    def checkpoint() -> None:
        save_checkpoint(
            out_dir,
            model,
            optimizer,
            schedule,
            state | {"step": step, "epoch": epoch, "index": index, "elapsed": elapsed()},
        )

    if step == 0:
        record({"step": 0, "elapsed": 0.0, "held_out": evaluate_mlm(model, held_out)})
    bar = tqdm(
        total=settings.max_steps,
        initial=step,
        desc="pretrain",
        unit="step",
        disable=not progress,
        dynamic_ncols=True,
    )
    model.train()
    last_eval: dict[str, float] = {}
    try:
        while step < settings.max_steps:
            if budget is not None and elapsed() >= budget:
                stopped = f"time budget of {settings.max_minutes} min reached"
                break
            if stop_at_step is not None and step >= stop_at_step:
                stopped = f"stopped at step {step} as asked; run again to resume"
                break
            if index >= len(epoch_batches):
                epoch, index = epoch + 1, 0
                epoch_batches = _epoch_batches(lengths, settings, epoch)
            group = epoch_batches[index]
            batch = masker([ids[i] for i in group], np.random.default_rng([settings.seed, step]))
            paddle.seed(settings.seed * 1_000_003 + step)  # dropout, replayable on resume
            loss, _ = forward_loss(model, batch)
            loss.backward()
            optimizer.step()
            schedule.step()
            optimizer.clear_grad()
            step, index = step + 1, index + 1
            recent = [*recent[-199:], float(loss)]
            bar.update(1)
            if step % settings.eval_every == 0 or step == settings.max_steps:
                last_eval = evaluate_mlm(model, held_out)
                record(
                    {
                        "step": step,
                        "epoch": epoch,
                        "elapsed": round(elapsed(), 1),
                        "lr": float(schedule.get_lr()),
                        "train_loss": float(np.mean(recent)),
                        "held_out": last_eval,
                    }
                )
            bar.set_postfix(
                loss=f"{np.mean(recent):.3f}",
                held_out=f"{last_eval.get('loss', float('nan')):.3f}",
                acc=f"{last_eval.get('accuracy', float('nan')):.3f}",
                epoch=epoch,
            )
            if time.monotonic() - last_checkpoint >= settings.checkpoint_minutes * 60:
                checkpoint()
                last_checkpoint = time.monotonic()
    finally:
        bar.close()
    seconds = elapsed()
    final_eval = evaluate_mlm(model, held_out)
    record({"step": step, "elapsed": round(seconds, 1), "final": True, "held_out": final_eval})
    checkpoint()
    model_dir = out_dir / MODEL
    model.save_pretrained(str(model_dir))
    tokenizer.save_pretrained(str(model_dir))
    trained_steps = step - state["step"]
    result = PretrainResult(
        step=step,
        seconds=seconds,
        seconds_per_step=(seconds - elapsed_before) / trained_steps if trained_steps else 0.0,
        held_out=final_eval,
        stopped=stopped,
        model_dir=model_dir,
        lac=(
            {
                "covered": len(lac_match.rows),
                "eligible": lac_match.eligible,
                "coverage": lac_match.coverage,
            }
            if lac_match
            else None
        ),
    )
    summary = asdict(result) | {
        "model_dir": str(model_dir),
        "settings": {f.name: getattr(settings, f.name) for f in fields(settings)},
        "corpus_hash": corpus_id,
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return result
