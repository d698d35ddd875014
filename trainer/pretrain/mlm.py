"""The masked-language model: ``ErnieForMaskedLM`` on the classifier's own config and
vocabulary, its optimizer, its loss and its held-out figures."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trainer.networks.build import dygraph, scratch_config, write_vocab
from trainer.networks.finetune import adamw
from trainer.pretrain.masking import MaskedBatch
from trainer.pretrain.settings import PretrainSettings

__all__ = ["build_mlm", "evaluate_mlm", "forward_loss", "mlm_optimizer"]


def build_mlm(settings: PretrainSettings, out_dir: Path) -> tuple[Any, Any, list[str]]:
    """A from-scratch MLM model, its tokenizer and vocabulary (seeded like the classifier)."""
    paddle = dygraph()
    from paddlenlp.transformers import ErnieForMaskedLM, ErnieTokenizer

    vocab_file, vocab = write_vocab(out_dir / "vocab")
    tokenizer = ErnieTokenizer(vocab_file=str(vocab_file))
    config = scratch_config(settings.size, len(vocab), settings.max_seq_len)
    paddle.seed(settings.seed)
    return ErnieForMaskedLM(config), tokenizer, vocab


def mlm_optimizer(model: Any, settings: PretrainSettings) -> tuple[Any, Any]:
    return adamw(
        model,
        learning_rate=settings.learning_rate,
        total_steps=settings.max_steps,
        warmup=settings.warmup_steps,
        weight_decay=settings.weight_decay,
    )


def forward_loss(model: Any, batch: MaskedBatch) -> tuple[Any, Any]:
    import paddle
    import paddle.nn.functional as F

    logits = model(
        input_ids=paddle.to_tensor(batch.input_ids),
        token_type_ids=paddle.to_tensor(np.zeros_like(batch.input_ids)),
        masked_positions=paddle.to_tensor(batch.positions),
    )
    if isinstance(logits, tuple | list):
        logits = logits[0]
    return F.cross_entropy(logits, paddle.to_tensor(batch.labels)), logits


def evaluate_mlm(model: Any, held_out: Sequence[MaskedBatch]) -> dict[str, float]:
    """Mean cross-entropy and top-1 accuracy over every masked token of the held-out batches."""
    import paddle

    if not held_out:
        return {}
    was_training = model.training
    model.eval()
    total_loss = correct = count = 0.0
    with paddle.no_grad():
        for batch in held_out:
            loss, logits = forward_loss(model, batch)
            n = len(batch.labels)
            total_loss += float(loss) * n
            correct += float((logits.numpy().argmax(-1) == batch.labels).sum())
            count += n
    if was_training:
        model.train()
    return {"loss": total_loss / count, "accuracy": correct / count, "tokens": count}
