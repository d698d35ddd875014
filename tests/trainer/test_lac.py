"""The LAC embedding reader on small synthetic files in LAC 2.1.2's formats (no download)."""

from __future__ import annotations

import io
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

from trainer.errors import DataError
from trainer.networks.lac import (
    fit_width,
    init_word_embeddings,
    match_vocab,
    read_lac,
    read_lod_tensor,
)


def lod_tensor_header(shape: tuple[int, ...]) -> bytes:
    """Paddle 1.x ``save_persistables`` layout, as in LAC's ``word_emb``: version, no LoD,
    tensor version, TensorDesc protobuf (float32, dims)."""

    def varint(value: int) -> bytes:
        out = bytearray()
        while True:
            byte, value = value & 0x7F, value >> 7
            out.append(byte | (0x80 if value else 0))
            if not value:
                return bytes(out)

    desc = b"\x08" + varint(5) + b"".join(b"\x10" + varint(d) for d in shape)
    return struct.pack("<IQIi", 0, 0, 0, len(desc)) + desc


def lod_tensor_bytes(array: np.ndarray) -> bytes:
    return lod_tensor_header(array.shape) + array.astype("<f4").tobytes()


def write_lac(root: Path, tokens: list[str], vectors: np.ndarray, q2b: dict[str, str]) -> Path:
    model, conf = root / "LAC" / "lac_model" / "model", root / "LAC" / "lac_model" / "conf"
    model.mkdir(parents=True)
    conf.mkdir(parents=True)
    (model / "word_emb").write_bytes(lod_tensor_bytes(vectors))
    (conf / "word.dic").write_text(
        "".join(f"{i}\t{t}\n" for i, t in enumerate(tokens)), encoding="utf-8"
    )
    (conf / "q2b.dic").write_text("".join(f"{a}\t{b}\n" for a, b in q2b.items()), encoding="utf-8")
    return root


TOKENS = ["爱", "恨", "A", "分手", "万", "OOV"]


@pytest.fixture
def lac_dir(tmp_path: Path) -> Path:
    vectors = np.random.default_rng(0).normal(size=(len(TOKENS), 128)).astype(np.float32)
    return write_lac(tmp_path / "LAC-2.1.2", TOKENS, vectors, {"萬": "万", "Ａ": "A"})


def test_a_tensor_file_reads_back_exactly() -> None:
    array = np.arange(6 * 128, dtype=np.float32).reshape(6, 128) / 7
    blob = lod_tensor_bytes(array)
    # LAC's real file is this 29-byte header + 58224*128*4 bytes of data.
    real = bytes.fromhex("00000000 0000000000000000 00000000 09000000 080510f0c603108001")
    assert lod_tensor_header((58224, 128)) == real
    np.testing.assert_array_equal(read_lod_tensor(io.BytesIO(blob)), array)


@pytest.mark.parametrize("cut", [10, 29, 100])
def test_a_truncated_tensor_file_is_refused(cut: int) -> None:
    blob = lod_tensor_bytes(np.ones((4, 128), np.float32))
    with pytest.raises(DataError):
        read_lod_tensor(io.BytesIO(blob[:cut]))


def test_the_sdist_and_its_folder_give_the_same_table(lac_dir: Path, tmp_path: Path) -> None:
    archive = tmp_path / "LAC-2.1.2.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(lac_dir, arcname="LAC-2.1.2")
    a, b = read_lac(lac_dir), read_lac(archive)
    assert a.tokens == b.tokens == TOKENS
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert a.normalise["萬"] == "万"


def test_vocabulary_matching_uses_case_continuations_and_lacs_normalisation(
    lac_dir: Path,
) -> None:
    lac = read_lac(lac_dir)
    vocab = ["[PAD]", "[UNK]", "爱", "a", "##a", "萬", "猫", "分"]
    match = match_vocab(lac, vocab)
    assert match.rows.tolist() == [2, 3, 4, 5]  # 猫 and 分 are not single-character LAC rows
    assert (match.direct, match.normalised, match.eligible) == (3, 1, 6)
    np.testing.assert_array_equal(match.vectors[0], lac.vectors[0])
    np.testing.assert_array_equal(match.vectors[3], lac.vectors[4])  # 萬 -> 万


def test_fitting_the_width_keeps_geometry_and_the_init_scale() -> None:
    vectors = np.random.default_rng(1).normal(size=(200, 128)).astype(np.float32)
    wide = fit_width(vectors, 256, std=0.02)
    narrow = fit_width(vectors, 64, std=0.02)
    same = fit_width(vectors, 128, std=0.02)
    assert wide.shape == (200, 256) and narrow.shape == (200, 64) and same.shape == (200, 128)
    for out in (wide, narrow, same):
        assert abs(out.std() - 0.02) < 1e-4

    # An isometry up to the common scale: pairwise distances keep their ratios.
    def dists(x: np.ndarray) -> np.ndarray:
        return np.linalg.norm(x[:, None] - x[None], axis=-1)[np.triu_indices(len(x), 1)]

    ratio = dists(wide) / dists(same)
    assert np.allclose(ratio, ratio[0], rtol=1e-4)


def test_only_the_rows_lac_knows_are_overwritten(lac_dir: Path) -> None:
    from trainer.networks.build import build_from_scratch, generate_vocab

    built = build_from_scratch("test", lac_dir.parent / "vocab", seed=1, max_seq_len=32)
    before = built.model.ernie.embeddings.word_embeddings.weight.numpy().copy()
    vocab = generate_vocab()
    match = init_word_embeddings(built.model, read_lac(lac_dir), vocab)
    after = built.model.ernie.embeddings.word_embeddings.weight.numpy()
    changed = np.flatnonzero(np.any(before != after, axis=1))
    assert changed.tolist() == sorted(match.rows.tolist()) and len(changed) >= 3
    assert vocab.index("爱") in changed and vocab.index("[UNK]") not in changed
