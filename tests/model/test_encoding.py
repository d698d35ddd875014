"""Model input helpers: padding width, length buckets, stable softmax and blank texts."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.model.encoding import blank, buckets, pad, softmax_positive

pytestmark = pytest.mark.unit  # the fast layer: no broker, Redis, Paddle or network


def test_pad_right_pads_to_the_longest_row() -> None:
    out = pad([[1, 2, 3], [4]])
    assert out.dtype == np.int64
    assert out.tolist() == [[1, 2, 3], [4, 0, 0]]


def test_pad_rounds_the_width_up_to_a_multiple() -> None:
    assert pad([[1, 2, 3], [4]], multiple=4).tolist() == [[1, 2, 3, 0], [4, 0, 0, 0]]
    assert pad([[1] * 16], multiple=16).shape == (1, 16)  # already a multiple: unchanged
    assert pad([[1] * 17], multiple=16).shape == (1, 32)
    assert pad([[5], [6, 7]], pad_id=9).tolist() == [[5, 9], [6, 7]]


def test_buckets_sort_by_length_and_cap_rows() -> None:
    lengths = [5, 1, 3, 1, 4]
    assert buckets(lengths, 2) == [[1, 3], [2, 4], [0]]
    assert buckets(lengths, 10) == [[1, 3, 2, 4, 0]]
    assert buckets([], 3) == []
    every = sorted(i for group in buckets(list(range(20, 0, -1)), 3) for i in group)
    assert every == list(range(20))  # each index exactly once


def test_softmax_positive_is_stable_on_large_logits() -> None:
    logits = np.array([[1000.0, 1001.0], [-1000.0, 1000.0], [0.0, 0.0], [3.0, -3.0]])
    probs = softmax_positive(logits)
    assert probs.dtype == np.float32
    assert np.all(np.isfinite(probs))
    expected = [1 / (1 + np.exp(-1.0)), 1.0, 0.5, 1 / (1 + np.exp(6.0))]
    np.testing.assert_allclose(probs, expected, rtol=1e-6)


def test_softmax_positive_of_float16_logits() -> None:
    # fp16 inference can hand back half-precision logits; exp in float16 would overflow
    probs = softmax_positive(np.array([[-60000.0, 60000.0], [100.0, 104.0]], dtype=np.float16))
    np.testing.assert_allclose(probs, [1.0, 1 / (1 + np.exp(-4.0))], rtol=1e-6)


def test_blank() -> None:
    assert blank("") and blank("  \t\n") and blank("\u3000")  # ideographic space too
    assert not blank("a") and not blank(" 分手 ")
