"""Parity with the reference implementations on the real bert-base-uncased tokenizer and real text.

Reference folders are written by Sentence Transformers and model2vec themselves; the references encode them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest
from staticemb import StaticModel

# Sentence Transformers, model2vec and the bert-base-uncased tokenizer; tests on real_texts are also `corpus`.
pytestmark = pytest.mark.reference

TOL = 1e-5


def _max_diff(a, b) -> float:
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a - b).max()) if a.size else 0.0


def _l2(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


LONG = 1024  # staticemb sums texts longer than this in blocks with float64 partial sums


def _exact_mean(table, ids, dim=None, normalize=False):
    width = table.shape[1] if dim is None else dim
    if len(ids) == 0:
        return np.zeros(width)
    counts = np.bincount(np.asarray(ids), minlength=table.shape[0]).astype(np.float64)
    mean = counts @ table[:, :width].astype(np.float64) / len(ids)
    return mean / max(np.linalg.norm(mean), 1e-12) if normalize else mean


def assert_parity(ours, ref, texts, tokenizer, table, dim=None, normalize=False, drop=None):
    """Texts of up to 1,024 tokens: equal to the reference within 1e-5. Longer texts: the reference's own
    float32 running sum drifts (by ~1e-5 and more over thousands of tokens), so ours must instead equal the
    exact (float64) mean within 1e-5 and stay within 1e-4 of the reference."""
    lengths = np.array([len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)])
    short = lengths <= LONG
    assert short.sum() >= 10_000 or short.sum() == len(texts)
    assert _max_diff(ours[short], ref[short]) <= TOL
    for i in np.flatnonzero(~short):
        ids = [t for t in tokenizer.encode(texts[i], add_special_tokens=False).ids if t != drop]
        assert _max_diff(ours[i], _exact_mean(table, ids, dim, normalize)) <= TOL
        assert _max_diff(ours[i], ref[i]) <= 1e-4


# ---------------------------------------------------------------- tokenizer ids


def test_token_ids_match_hf_tokenizers(bert_tokenizer, st_folder, real_texts):
    model = StaticModel.from_pretrained(st_folder)
    ids, offsets = model.tokenize(real_texts)
    encodings = bert_tokenizer.encode_batch(real_texts, add_special_tokens=False)
    expected = [e.ids for e in encodings]
    assert len(offsets) == len(real_texts)
    ends = list(offsets[1:]) + [len(ids)]
    for i, (s, e) in enumerate(zip(offsets, ends, strict=True)):
        assert ids[s:e].tolist() == expected[i], f"text {i}: {real_texts[i][:80]!r}"


# ---------------------------------------------------------------- Sentence Transformers


def test_matches_sentence_transformers_full_width(st_folder, st_reference, real_texts, bert_tokenizer, table):
    model = StaticModel.from_pretrained(st_folder)
    assert model.dim == 1024 and model.vocab_size == 30_522 and not model.normalize
    ours = model.encode(real_texts)
    ref = st_reference.encode(real_texts, batch_size=256, convert_to_numpy=True)
    assert ours.dtype == np.float32 and ours.shape == (len(real_texts), 1024)
    assert_parity(ours, ref, real_texts, bert_tokenizer, table)
    # The empty and whitespace-only texts pool no token: zero vectors, as EmbeddingBag gives.
    for i, t in enumerate(real_texts):
        if not t.strip():
            assert not ours[i].any()


def test_matches_sentence_transformers_dim_256(st_folder, st_reference, real_texts, bert_tokenizer, table):
    model = StaticModel.from_pretrained(st_folder)
    ours = model.encode(real_texts, dim=256)
    ref = st_reference.encode(real_texts, batch_size=256, truncate_dim=256)
    assert ours.shape == (len(real_texts), 256)
    assert_parity(ours, ref, real_texts, bert_tokenizer, table, dim=256)
    # Loading with dim=256 makes it the default width.
    assert _max_diff(StaticModel.from_pretrained(st_folder, dim=256).encode(real_texts[:500]), ref[:500]) <= TOL


def test_matches_sentence_transformers_normalize(st_norm_folder, st_reference, real_texts, bert_tokenizer, table):
    from sentence_transformers import SentenceTransformer

    ref_model = SentenceTransformer(str(st_norm_folder), device="cpu")
    model = StaticModel.from_pretrained(st_norm_folder)
    assert model.normalize
    ours = model.encode(real_texts)
    assert_parity(ours, ref_model.encode(real_texts, batch_size=256), real_texts, bert_tokenizer, table, normalize=True)
    # Matryoshka: staticemb normalizes after truncation, so a 256-d vector is the unit-length version of the
    # first 256 columns of the unnormalized mean (st_reference holds the same table without Normalize).
    truncated = model.encode(real_texts, dim=256)
    expected = _l2(st_reference.encode(real_texts, batch_size=256, truncate_dim=256))
    assert_parity(truncated, expected, real_texts, bert_tokenizer, table, dim=256, normalize=True)
    norms = np.linalg.norm(truncated, axis=1)
    nonempty = np.array([bool(t.strip()) for t in real_texts])
    np.testing.assert_allclose(norms[nonempty], 1.0, atol=1e-5)
    assert np.all(norms[~nonempty] == 0.0)


def test_in_memory_sentence_transformer_and_pair(st_reference, bert_tokenizer, table, real_texts):
    texts = real_texts[:2000]
    ref = st_reference.encode(texts, batch_size=256)
    from_st = StaticModel.from_pretrained(st_reference)
    assert _max_diff(from_st.encode(texts), ref) <= TOL
    # The table is shared with the torch module, not copied.
    weight = st_reference[0].embedding.weight
    assert np.shares_memory(from_st.embeddings, weight.detach().numpy())
    pair = StaticModel.from_pretrained((bert_tokenizer, table))
    assert _max_diff(pair.encode(texts), ref) <= TOL
    assert np.shares_memory(pair.embeddings, table)


def test_save_loads_in_sentence_transformers(tmp_path, st_norm_folder, real_texts):
    from sentence_transformers import SentenceTransformer

    texts = real_texts[:3000]
    for dim, normalize in [(None, True), (256, True), (None, False), (128, False)]:
        model = StaticModel.from_pretrained(st_norm_folder, dim=dim, normalize=normalize)
        out = model.save(tmp_path / f"saved-{dim}-{normalize}")
        reloaded_st = SentenceTransformer(str(out), device="cpu")
        ours = model.encode(texts)
        assert ours.shape[1] == (dim or 1024)
        assert _max_diff(reloaded_st.encode(texts, batch_size=256), ours) <= TOL
        again = StaticModel.from_pretrained(out)
        assert again.normalize == normalize and again.dim == (dim or 1024)
        assert _max_diff(again.encode(texts), ours) == 0.0


# ---------------------------------------------------------------- model2vec


def _m2v(path, **kwargs):
    from model2vec import StaticModel as M2V

    return M2V.from_pretrained(str(path), force_download=False, **kwargs)


def test_matches_model2vec(m2v_folder, real_texts, bert_tokenizer, table):
    model = StaticModel.from_pretrained(m2v_folder)
    assert model.normalize  # from config.json
    ref = _m2v(m2v_folder).encode(real_texts, max_length=None)
    unk = bert_tokenizer.token_to_id("[UNK]")
    ours = model.encode(real_texts, max_length=None)
    assert_parity(ours, ref, real_texts, bert_tokenizer, table, normalize=True, drop=unk)
    ref256 = _m2v(m2v_folder, dimensionality=256).encode(real_texts, max_length=None)
    ours256 = model.encode(real_texts, dim=256, max_length=None)
    assert_parity(ours256, ref256, real_texts, bert_tokenizer, table, dim=256, normalize=True, drop=unk)
    raw = _m2v(m2v_folder, normalize=False).encode(real_texts, max_length=None)
    ours_raw = StaticModel.from_pretrained(m2v_folder, normalize=False).encode(real_texts, max_length=None)
    assert_parity(ours_raw, raw, real_texts, bert_tokenizer, table, drop=unk)


def test_model2vec_drops_unknown_token(m2v_folder, bert_tokenizer):
    # Characters outside the vocabulary become [UNK], which model2vec drops before the mean.
    texts = ["hello \u2603\u2603 world", "\u2603", "plain text"]
    unk = bert_tokenizer.token_to_id("[UNK]")
    assert unk in bert_tokenizer.encode(texts[0], add_special_tokens=False).ids
    model = StaticModel.from_pretrained(m2v_folder, normalize=False)
    ours = model.encode(texts)
    ref = _m2v(m2v_folder, normalize=False).encode(texts, max_length=None)
    assert _max_diff(ours, ref) <= TOL
    assert not ours[1].any()  # only unknown tokens: nothing left to average


def test_model2vec_weights_and_mapping(tmp_path, bert_tokenizer, real_texts):
    from conftest import save_model2vec

    rng = np.random.default_rng(7)
    rows = 4_000  # vocabulary quantization: many token ids share a row
    vectors = rng.standard_normal((rows, 96), dtype=np.float32)
    mapping = rng.integers(0, rows, size=30_522).astype(np.int64)
    weights = rng.uniform(0.1, 2.0, size=30_522).astype(np.float32)
    path = save_model2vec(tmp_path / "m", bert_tokenizer, vectors, weights=weights, token_mapping=mapping,
                          normalize=False)
    # Texts of up to 1,024 tokens (longer ones are summed more exactly than model2vec does; see assert_parity).
    texts = [t for t in real_texts[:3000] + real_texts[-20:] if len(bert_tokenizer.encode(t).ids) <= LONG]
    model = StaticModel.from_pretrained(path)
    ref = _m2v(path).encode(texts, max_length=None)
    assert _max_diff(model.encode(texts), ref) <= TOL
    # Pre-tokenized input goes through the same mapping, weights and unknown-token drop.
    ids, offsets = model.tokenize(texts)
    assert _max_diff(model.embed_ids(ids, offsets), ref) <= TOL


@pytest.mark.parametrize("dtype,tol", [("float16", 2e-3), ("int8", 1e-4)])
def test_model2vec_quantized_tables(tmp_path, bert_tokenizer, table, real_texts, dtype, tol):
    from conftest import save_model2vec

    if dtype == "int8":
        vectors = np.clip(np.round(table * 300), -127, 127).astype(np.int8)
    else:
        vectors = table.astype(np.float16)
    path = save_model2vec(tmp_path / dtype, bert_tokenizer, vectors, normalize=False)
    texts = real_texts[:3000]
    model = StaticModel.from_pretrained(path)
    ours = model.encode(texts)
    ref = _m2v(path).encode(texts, max_length=None).astype(np.float32)
    # model2vec returns float16 vectors for a float16 table (rounded); int8 tables are averaged as they are.
    scale = max(1.0, float(np.abs(ref).max()))
    assert _max_diff(ours, ref) <= tol * scale


# ---------------------------------------------------------------- loading


def test_load_maps_the_table_without_copying(st_folder):
    tracemalloc.start()
    try:
        model = StaticModel.from_pretrained(st_folder)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    table_bytes = 30_522 * 1024 * 4
    assert peak < table_bytes / 10, f"loading allocated {peak} bytes for a {table_bytes}-byte table"
    assert not model.embeddings.flags.writeable
    assert model.embeddings.base is not None  # a view of the memory-mapped file


def test_hub_id_from_offline_cache(tmp_path, st_folder, real_texts):
    """A Hub id resolves through huggingface_hub's real code path, served from a pre-populated cache."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--staticemb-tests--tiny-static"
    snapshot = repo / "snapshots" / commit
    for src in st_folder.rglob("*"):
        if src.is_file():
            dst = snapshot / src.relative_to(st_folder)
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(src.read_bytes())
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    texts = real_texts[:200]
    expected = StaticModel.from_pretrained(st_folder).encode(texts)
    np.save(tmp_path / "expected.npy", expected)
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    script = textwrap.dedent(
        f"""
        import json, numpy as np
        from staticemb import StaticModel
        texts = json.load(open({str(tmp_path / 'texts.json')!r}))
        model = StaticModel.from_pretrained("staticemb-tests/tiny-static")
        assert np.abs(model.encode(texts) - np.load({str(tmp_path / 'expected.npy')!r})).max() <= 1e-6
        pinned = StaticModel.from_pretrained("staticemb-tests/tiny-static", revision={commit!r})
        assert np.array_equal(pinned.encode(texts), model.encode(texts))
        saved = model.save({str(tmp_path / 'copy')!r})
        assert "base_model: staticemb-tests/tiny-static" in (saved / "README.md").read_text()
        try:
            StaticModel.from_pretrained("staticemb-tests/not-in-cache")
        except FileNotFoundError as e:
            assert "not-in-cache" in str(e), e
        else:
            raise AssertionError("a missing Hub model must raise FileNotFoundError")
        print("hub-ok")
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "hub-ok" in done.stdout
    # Without HF_HUB_OFFLINE and with the Hub unreachable, a commit found in the cache still loads
    # (huggingface_hub falls back to its cache for a branch, not for a commit hash).
    unreachable = textwrap.dedent(
        f"""
        import socket
        def refuse(*args, **kwargs):
            raise OSError("no network in this test")
        socket.getaddrinfo = socket.create_connection = refuse
        import numpy as np
        from staticemb import StaticModel
        pinned = StaticModel.from_pretrained("staticemb-tests/tiny-static", revision={commit!r})
        assert np.array_equal(pinned.encode(["a b c"]), StaticModel.from_pretrained({str(st_folder)!r}).encode(
            ["a b c"]))
        print("unreachable-ok")
        """
    )
    env.pop("HF_HUB_OFFLINE")
    done = subprocess.run([sys.executable, "-c", unreachable], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "unreachable-ok" in done.stdout
