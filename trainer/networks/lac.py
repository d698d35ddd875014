"""Character embeddings borrowed from Baidu's LAC lexical analyser, for ERNIE's word embeddings.

Offline, no pretrained ERNIE weights can be fetched, but the PyPI package ``LAC==2.1.2`` ships
(as an sdist only) the 128-dimensional input embeddings of LAC's segmentation + POS tagging
network, trained on a large Chinese corpus. Its rows are characters (and some words, which LAC
never looks up at inference); a character's row carries what the tagger learnt about it, which
is knowledge our from-scratch models otherwise have to learn from 13k short texts.

    lovelorn pretrain --recipe config/recipes/pretrain.toml --lac auto --out runs/mlm

``--lac auto`` fetches the sdist once with pip into the home's cache (``fetch_lac``); a path
to ``LAC-2.1.2.tar.gz`` or its unpacked folder works too. ``--max-steps 0`` writes the LAC
initialisation alone as a checkpoint for ``lovelorn train --pretrained DIR``.
"""

from __future__ import annotations

import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from trainer.errors import DataError
from trainer.networks.paddle_tensor import read_lod_tensor

__all__ = [
    "LacEmbeddings",
    "LacError",
    "LacMatch",
    "fit_width",
    "init_word_embeddings",
    "match_vocab",
    "read_lac",
    "read_lod_tensor",
]

EMB_MEMBER = "LAC/lac_model/model/word_emb"
DIC_MEMBER = "LAC/lac_model/conf/word.dic"
Q2B_MEMBER = "LAC/lac_model/conf/q2b.dic"


class LacError(DataError):
    """An archive or tensor file that is not what LAC 2.1.2 ships; one line for the user."""


@dataclass(frozen=True)
class LacEmbeddings:
    """LAC's embedding table, the token of each row, and LAC's own normalisation map
    (full-width → half-width, traditional → simplified) that it applies before lookup."""

    vectors: np.ndarray  # (rows, 128) float32
    tokens: list[str]
    normalise: dict[str, str]


@dataclass(frozen=True)
class LacMatch:
    """Which of our vocabulary's rows found a LAC vector, and the vectors themselves."""

    rows: np.ndarray  # indices into our vocabulary
    vectors: np.ndarray  # (len(rows), 128), LAC's rows for them
    direct: int  # found as written
    normalised: int  # found after LAC's q2b / traditional→simplified map
    eligible: int  # vocabulary entries that are characters (not [PAD], [CLS], …)

    @property
    def coverage(self) -> float:
        return len(self.rows) / self.eligible if self.eligible else 0.0


def _read_dic(text: str) -> list[str]:
    """``word.dic``: one ``index<TAB>token`` per line, indices 0..n-1 in order."""
    tokens: list[str] = []
    for number, line in enumerate(text.split("\n")):
        if not line:
            continue
        index, sep, token = line.partition("\t")
        if not sep or int(index) != number:
            raise LacError(f"word.dic line {number + 1} is not '{number}<TAB>token'")
        tokens.append(token)
    return tokens


def _read_q2b(text: str) -> dict[str, str]:
    pairs = (line.split("\t") for line in text.split("\n") if "\t" in line)
    return {a: b for a, b in pairs if a and b}


def read_lac(path: Path) -> LacEmbeddings:
    """The embedding table from the LAC sdist (``LAC-2.1.2.tar.gz``) or an unpacked
    ``LAC-2.1.2`` directory; only the three files named above are read."""
    if not path.exists():
        raise LacError(f"{path} does not exist; {lac_archive_hint()}")
    try:
        if path.is_dir():
            root = next(p for p in (path, path / "LAC-2.1.2") if (p / EMB_MEMBER).is_file())
            with (root / EMB_MEMBER).open("rb") as handle:
                vectors = read_lod_tensor(handle)
            dic = (root / DIC_MEMBER).read_text(encoding="utf-8")
            q2b = (root / Q2B_MEMBER).read_text(encoding="utf-8")
        else:
            with tarfile.open(path) as archive:

                def member(name: str) -> IO[bytes]:
                    found = next((m for m in archive.getmembers() if m.name.endswith(name)), None)
                    handle = archive.extractfile(found) if found is not None else None
                    if handle is None:
                        raise LacError(f"{path} holds no {name}")
                    return handle

                vectors = read_lod_tensor(member(EMB_MEMBER))
                dic = member(DIC_MEMBER).read().decode("utf-8")
                q2b = member(Q2B_MEMBER).read().decode("utf-8")
    except StopIteration:
        raise LacError(f"{path} holds no {EMB_MEMBER}") from None
    except (OSError, tarfile.TarError, UnicodeDecodeError, ValueError) as exc:
        raise LacError(f"cannot read {path}: {exc}") from None
    tokens = _read_dic(dic)
    if vectors.ndim != 2 or vectors.shape[0] != len(tokens):
        raise LacError(f"{vectors.shape[0]} embedding rows for {len(tokens)} dictionary entries")
    return LacEmbeddings(vectors, tokens, _read_q2b(q2b))


def match_vocab(lac: LacEmbeddings, vocab: Sequence[str]) -> LacMatch:
    """LAC rows for our vocabulary: single characters as written (letters upper or lower, as
    our tokenizer lowercases), else after LAC's own normalisation (so traditional characters
    take their simplified row); ``##x`` continuations take ``x``'s row. Special tokens and
    entries LAC lacks keep their random initialisation."""
    index = {t: i for i, t in enumerate(lac.tokens)}
    rows, picked = [], []
    direct = normalised = eligible = 0
    for row, token in enumerate(vocab):
        if token.startswith("[") and token.endswith("]"):
            continue
        char = token[2:] if token.startswith("##") else token
        eligible += 1
        hit = index.get(char, index.get(char.upper()))
        if hit is not None:
            direct += 1
        else:
            mapped = lac.normalise.get(char)
            hit = index.get(mapped) if mapped else None
            if hit is None:
                continue
            normalised += 1
        rows.append(row)
        picked.append(hit)
    return LacMatch(
        np.array(rows, dtype=np.int64),
        lac.vectors[np.array(picked, dtype=np.int64)],
        direct,
        normalised,
        eligible,
    )


def fit_width(vectors: np.ndarray, hidden: int, *, std: float, seed: int = 0) -> np.ndarray:
    """LAC's 128-d rows as ``hidden``-d rows on the scale of ERNIE's random initialisation.

    Centred first (a shared offset says nothing about any character), then:
    - ``hidden == 128``: kept as they are;
    - ``hidden > 128``: a fixed random map with orthonormal columns, an isometry, so every
      distance and inner product between characters survives, and the variance is spread over
      all ``hidden`` dimensions (zero-padding would leave dimensions LayerNorm then amplifies);
    - ``hidden < 128``: the top ``hidden`` principal components, the least lossy linear cut.
    Finally scaled so the entries' standard deviation is ``std`` (the initializer range): the
    position and type embeddings, the tied output layer and the learning rate were all set for
    rows of that size.
    """
    centred = vectors - vectors.mean(axis=0, keepdims=True)
    width = centred.shape[1]
    if hidden > width:
        gaussian = np.random.default_rng(seed).standard_normal((hidden, width))
        basis, _ = np.linalg.qr(gaussian)  # (hidden, width), orthonormal columns
        out = centred @ basis.T
    elif hidden < width:
        _, _, components = np.linalg.svd(centred, full_matrices=False)
        out = centred @ components[:hidden].T
        if out.shape[1] < hidden:  # fewer rows than dimensions: nothing left to keep
            out = np.pad(out, ((0, 0), (0, hidden - out.shape[1])))
    else:
        out = centred
    return (out * (std / out.std())).astype(np.float32)


def init_word_embeddings(model: Any, lac: LacEmbeddings, vocab: Sequence[str]) -> LacMatch:
    """Overwrite the rows of ``model``'s word embeddings that LAC knows, in place.

    ``model`` is any paddlenlp ERNIE model (``.ernie`` or the bare ``ErnieModel``)."""
    import paddle

    ernie = getattr(model, "ernie", model)
    weight = ernie.embeddings.word_embeddings.weight
    if weight.shape[0] != len(vocab):
        raise LacError(f"the model has {weight.shape[0]} embedding rows for {len(vocab)} tokens")
    match = match_vocab(lac, vocab)
    table = weight.numpy()
    table[match.rows] = fit_width(
        match.vectors, table.shape[1], std=float(ernie.config.initializer_range)
    )
    with paddle.no_grad():
        weight.set_value(paddle.to_tensor(table))
    return match


def lac_archive_hint() -> str:
    return (
        "fetch it with `pip download LAC==2.1.2 --no-deps --no-binary :all: -d DIR` (if pip "
        "fails preparing its metadata, prefix PIP_CONSTRAINT=FILE with 'setuptools<70' in FILE)"
    )


def fetch_lac(cache: Path) -> Path:
    """The LAC 2.1.2 source archive in ``cache``, downloaded with pip from the package index
    the first time (only the archive: LAC does not build here, and nothing is installed)."""
    import os
    import subprocess
    import sys

    found = sorted(cache.glob("LAC-2.1.2.tar.gz")) if cache.is_dir() else []
    if found:
        return found[0]
    cache.mkdir(parents=True, exist_ok=True)
    pins = cache / "constraints.txt"
    pins.write_text("setuptools<70\n")  # LAC's setup.py needs an old setuptools for metadata
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "LAC==2.1.2",
            "--no-deps",
            "--no-binary",
            ":all:",
            "-d",
            str(cache),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PIP_CONSTRAINT": str(pins)},
    )
    found = sorted(cache.glob("LAC-2.1.2.tar.gz"))
    if not found:
        raise LacError(
            f"could not download LAC 2.1.2: {done.stderr.strip()[-300:]}; {lac_archive_hint()}"
        )
    return found[0]
