"""ERNIE Tiny for sequence classification: real weights by name or directory, or the same
architecture from scratch for machines that cannot reach Baidu's model host.

Offline, ``from_pretrained(name)`` fails at once; ``--from-scratch SIZE`` builds the ERNIE 3.0
Tiny architecture from its published config with a generated character vocabulary (every
CJK character in jieba's dictionary, ASCII and punctuation) and random initialisation.
"""

from __future__ import annotations

import json
import os
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.model import quiet_paddle
from trainer.errors import ModelError

__all__ = [
    "PRESETS",
    "BuiltModel",
    "build_from_scratch",
    "dygraph",
    "generate_vocab",
    "load_pretrained",
    "scratch_config",
    "write_vocab",
]

# Published ERNIE 3.0 Tiny v2 configs (paddlenlp ERNIE_PRETRAINED_INIT_CONFIGURATION), plus two
# small custom shapes for tests and quick experiments.
PRESETS: dict[str, str | dict[str, Any]] = {
    "nano": "ernie-3.0-tiny-nano-v2-zh",
    "micro": "ernie-3.0-tiny-micro-v2-zh",
    "mini": "ernie-3.0-tiny-mini-v2-zh",
    "medium": "ernie-3.0-tiny-medium-v2-zh",
    "small": {
        "hidden_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 512,
    },
    "test": {
        "hidden_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 64,
    },
}
_CUSTOM_DEFAULTS = {
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 512,
    "type_vocab_size": 4,
    "initializer_range": 0.02,
}
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CJK_PUNCTUATION = "，。！？、；：“”‘’（）《》〈〉【】『』「」〔〕…—～·￥％＃＠＆＊"


@dataclass
class BuiltModel:
    model: Any  # ErnieForSequenceClassification
    tokenizer: Any  # ErnieTokenizer (or the class the checkpoint names)
    base: str  # what the manifest records as base model


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x2FA1F
    )


def generate_vocab() -> list[str]:
    """Deterministic character vocabulary: specials, ASCII (lower case, as the tokenizer lowercases),
    WordPiece continuations of letters and digits, CJK punctuation, then jieba's CJK characters."""
    import jieba

    chars: set[str] = set()
    with open(Path(jieba.__file__).parent / "dict.txt", encoding="utf-8") as handle:
        for line in handle:
            chars.update(c for c in line.split(" ", 1)[0] if _is_cjk(c))
    ascii_tokens = list(string.digits + string.ascii_lowercase + string.punctuation)
    continuations = ["##" + c for c in string.digits + string.ascii_lowercase]
    return list(
        dict.fromkeys(
            SPECIAL_TOKENS + ascii_tokens + continuations + list(CJK_PUNCTUATION) + sorted(chars)
        )
    )


def scratch_config(size: str, vocab_size: int, max_seq_len: int) -> Any:
    """The ``ErnieConfig`` of ``size``: the classifier and the masked-LM pretraining share it,
    so pretrained weights load into the classifier."""
    quiet_paddle()
    from paddlenlp.transformers import ErnieConfig
    from paddlenlp.transformers.ernie.configuration import ERNIE_PRETRAINED_INIT_CONFIGURATION

    preset = PRESETS.get(size)
    if preset is None and Path(size).is_file():
        try:
            preset = json.loads(Path(size).read_text())
        except (OSError, ValueError) as exc:
            raise ModelError(f"unreadable model config {size}: {exc}") from None
    if preset is None:
        raise ModelError(
            f"unknown size {size!r}: use one of {', '.join(PRESETS)} or a JSON config file"
        )
    fields = (
        dict(ERNIE_PRETRAINED_INIT_CONFIGURATION[preset])
        if isinstance(preset, str)
        else _CUSTOM_DEFAULTS | preset
    )
    fields |= {"vocab_size": vocab_size, "num_labels": 2, "pad_token_id": 0}
    fields["max_position_embeddings"] = max(
        int(fields.get("max_position_embeddings", 512)), max_seq_len
    )
    return ErnieConfig(**fields)


def dygraph() -> Any:
    """Paddle in dygraph mode for this caller, where the model's parameters are created.

    Paddle's mode is not global: after an export (``paddle.jit.to_static``) elsewhere in the
    process, a later caller was seen to start in static mode and build graph values instead
    of tensors (the demo followed by another training in one test session).
    """
    quiet_paddle()
    import paddle

    paddle.disable_static()
    return paddle


def build_from_scratch(size: str, work_dir: Path, *, seed: int, max_seq_len: int) -> BuiltModel:
    """The ERNIE architecture of ``size`` with random weights and a generated vocabulary."""
    paddle = dygraph()
    from paddlenlp.transformers import ErnieForSequenceClassification, ErnieTokenizer

    vocab_file, vocab = write_vocab(work_dir)
    tokenizer = ErnieTokenizer(vocab_file=str(vocab_file))
    config = scratch_config(size, len(vocab), max_seq_len)
    paddle.seed(seed)  # parameters are drawn from the global generator at construction
    model = ErnieForSequenceClassification(config)
    name = PRESETS.get(size, size)
    return BuiltModel(
        model, tokenizer, f"from-scratch:{size}" + (f" ({name})" if isinstance(name, str) else "")
    )


def write_vocab(work_dir: Path) -> tuple[Path, list[str]]:
    """The generated vocabulary, written where a tokenizer can read it."""
    work_dir.mkdir(parents=True, exist_ok=True)
    vocab_file = work_dir / "generated_vocab.txt"
    vocab = generate_vocab()
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return vocab_file, vocab


def load_pretrained(name_or_dir: str) -> BuiltModel:
    """Real weights: a local checkpoint directory, or a model name paddlenlp can download."""
    dygraph()
    from paddlenlp.transformers import AutoTokenizer, ErnieForSequenceClassification

    local = Path(name_or_dir)
    if local.exists() and not local.is_dir():
        raise ModelError(
            f"--pretrained {name_or_dir} is a file; pass a checkpoint directory or a model name"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_dir)
        model = ErnieForSequenceClassification.from_pretrained(name_or_dir, num_classes=2)
    except (
        Exception
    ) as exc:  # paddlenlp raises OSError, ValueError, HTTP errors… for an unreachable name
        where = (
            "from directory"
            if local.is_dir()
            else "by name (Baidu's model host is unreachable offline)"
        )
        raise ModelError(
            f"could not load {name_or_dir!r} {where}: {str(exc).splitlines()[0][:160]}; pass a local "
            "checkpoint directory to --pretrained, or train offline with --from-scratch SIZE"
        ) from None
    return BuiltModel(model, tokenizer, f"pretrained:{name_or_dir}")


def set_ppnlp_home(home: Path) -> None:
    """paddlenlp caches downloads under PPNLP_HOME; keep them inside the project's home."""
    os.environ.setdefault("PPNLP_HOME", str((home / "ppnlp").resolve()))
