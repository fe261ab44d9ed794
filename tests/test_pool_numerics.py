"""Pooling at the edges of float32: normalization of vectors whose norm float32 cannot hold, NaN, and int8
coefficients that would overflow. Light tier (the small fixture tokenizer)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from staticemb import ModelFormatError, StaticModel

TOKENIZER = (Path(__file__).resolve().parent / "fixtures" / "tokenizer.json").read_text(encoding="utf-8")
VOCAB = 402  # the fixture vocabulary and its added tokens


def _bag(model: StaticModel, rows: list[int], normalize: bool = True) -> np.ndarray:
    return model.embed_ids(np.array(rows), np.array([0]), normalize=normalize)[0]


@pytest.mark.parametrize(("value", "width"), [(3e38, 4), (-3e38, 4), (2e37, 1024), (1e30, 7)])
def test_a_finite_vector_past_float32s_norm_normalizes_to_its_direction(value, width):
    # Its norm (6e38 for 3e38 in four columns) is past float32: the vector came out all zero.
    table = np.zeros((VOCAB, width), np.float32)
    table[5] = value
    out = _bag(StaticModel(TOKENIZER, table), [5])
    np.testing.assert_allclose(out, np.full(width, np.sign(value) / np.sqrt(width)), rtol=1e-6)


def test_a_nan_in_the_mean_makes_the_normalized_vector_nan():
    # The 1e-12 floor took the NaN norm's place, so the other columns came out 1e12 times too big.
    table = np.full((VOCAB, 4), 0.5, np.float32)
    table[5, 0] = np.nan
    assert np.isnan(_bag(StaticModel(TOKENIZER, table), [5])).all()
    assert np.isnan(_bag(StaticModel(TOKENIZER, table), [5], normalize=False)[0])


def test_int8_scales_must_be_finite():
    values = np.ones((VOCAB, 3), np.int8)
    for bad in (np.inf, np.nan):
        scales = np.ones(VOCAB, np.float32)
        scales[7] = bad
        with pytest.raises(ModelFormatError, match="scale of row 7 is not finite"):
            StaticModel(TOKENIZER, values, scales=scales)


def test_a_weight_times_an_int8_scale_that_overflows_is_refused():
    # The kernel multiplies the int8 values by weight x scale: inf times a 0 value gave NaN where 0 belongs.
    values = np.zeros((VOCAB, 3), np.int8)
    values[3] = [0, 1, 0]
    with pytest.raises(ModelFormatError, match="token 0's weight .* overflows float32"):
        StaticModel(TOKENIZER, values, scales=np.full(VOCAB, 1e10, np.float32),
                    weights=np.full(VOCAB, 1e30, np.float32))
    fine = StaticModel(TOKENIZER, values, scales=np.full(VOCAB, 1e10, np.float32),
                       weights=np.full(VOCAB, 1e20, np.float32))
    np.testing.assert_allclose(_bag(fine, [3], normalize=False), [0, 1e30, 0], rtol=1e-6)


def test_a_uint64_mapping_past_int64_is_named_as_given():
    with pytest.raises(ModelFormatError, match=r"token_mapping\[0\] = 9223372036854775808 is not a valid row"):
        StaticModel(TOKENIZER, np.zeros((VOCAB, 2), np.float32), token_mapping=np.full(VOCAB, 2**63, np.uint64))
