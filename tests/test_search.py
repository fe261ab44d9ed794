"""staticemb.semantic_search: exact top-k in blocks, against brute force (light tier) and against Sentence
Transformers' util.semantic_search on real Debian texts (reference + corpus tier)."""

from __future__ import annotations

import numpy as np
import pytest
from staticemb import InvalidInputError, passage_search, semantic_search

RNG_SEED = 20_261_201


def _rng(offset: int = 0) -> np.random.Generator:
    return np.random.default_rng(RNG_SEED + offset)


def brute_cosine(queries: np.ndarray, corpus: np.ndarray) -> np.ndarray:
    """Every cosine score, in float64, zero vectors scoring 0 (as torch's normalize with eps=1e-12)."""
    q = queries.astype(np.float64)
    c = corpus.astype(np.float64)
    q /= np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    c /= np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
    return q @ c.T


def brute_top_k(scores: np.ndarray, k: int) -> list[list[int]]:
    """The k best ids of each row, by (score desc, id asc): the documented order, exact for exact scores."""
    ids = np.arange(scores.shape[1])
    return [np.lexsort((ids, -row))[:k].tolist() for row in scores]


def assert_matches_scores(hits: list[list[dict]], scores: np.ndarray, k: int, atol: float) -> None:
    """Robust to float rounding: each query's ids are distinct, sorted by score, their scores are the true
    ones, and every id left out scores no more than the last one kept (ties, within atol, may swap)."""
    assert len(hits) == scores.shape[0]
    for row, got in zip(scores, hits, strict=True):
        assert len(got) == min(k, scores.shape[1])
        ids = [h["corpus_id"] for h in got]
        values = np.array([h["score"] for h in got])
        assert all(type(h["corpus_id"]) is int and type(h["score"]) is float for h in got)
        assert len(set(ids)) == len(ids)
        assert np.all(np.diff(values) <= 0)
        np.testing.assert_allclose(values, row[ids], atol=atol, rtol=0)
        np.testing.assert_allclose(values, np.sort(row)[::-1][: len(ids)], atol=atol, rtol=0)


def ids_of(hits: list[list[dict]]) -> list[list[int]]:
    return [[h["corpus_id"] for h in row] for row in hits]


@pytest.fixture(scope="module")
def tricky() -> tuple[np.ndarray, np.ndarray]:
    """Random float32 data with exact duplicates (ties), zero vectors and scaled copies."""
    rng = _rng()
    corpus = rng.standard_normal((3000, 48), dtype=np.float32)
    corpus[100:160] = corpus[7]  # 61 identical rows: tied scores for every query
    corpus[400:410] = 0.0  # zero vectors score 0
    corpus[500:520] = corpus[20:40] * 3.0  # same direction, same cosine
    queries = rng.standard_normal((41, 48), dtype=np.float32)
    queries[0] = corpus[7]  # its 61 duplicates tie at cosine 1
    queries[1] = 0.0  # a zero query: every score is 0, all tied
    return queries, corpus


# ---------------------------------------------------------------- float corpora


@pytest.mark.parametrize("top_k", [1, 5, 10, 64, 100])
def test_cosine_equals_brute_force(tricky, top_k):
    queries, corpus = tricky
    hits = semantic_search(queries, corpus, top_k=top_k)
    assert_matches_scores(hits, brute_cosine(queries, corpus), top_k, atol=1e-6)


def test_exact_ties_keep_the_lowest_ids_in_order(tricky):
    queries, corpus = tricky
    hits = semantic_search(queries, corpus, top_k=64, corpus_chunk_size=37, query_chunk_size=3)
    dup = [7, *range(100, 160)]  # cosine 1 with query 0 (up to rounding); rounding may not split exact copies
    assert ids_of(hits)[0][:61] == dup
    zero_query = hits[1]
    assert [h["corpus_id"] for h in zero_query] == list(range(64))
    assert all(h["score"] == 0.0 for h in zero_query)


@pytest.mark.parametrize(
    ("query_chunk_size", "corpus_chunk_size"), [(1, 1), (2, 7), (5, 64), (41, 3000), (100, 100_000), (7, 999)]
)
def test_chunk_sizes_do_not_change_the_result(tricky, query_chunk_size, corpus_chunk_size):
    queries, corpus = tricky
    base = semantic_search(queries, corpus, top_k=30)
    other = semantic_search(
        queries, corpus, top_k=30, query_chunk_size=query_chunk_size, corpus_chunk_size=corpus_chunk_size
    )
    assert_matches_scores(other, brute_cosine(queries, corpus), 30, atol=1e-6)
    # The matmul's rounding depends on the block shape, so scores may differ in the last bits and
    # near-ties may swap; everything else is the same.
    for a, b in zip(base, other, strict=True):
        np.testing.assert_allclose([h["score"] for h in a], [h["score"] for h in b], atol=1e-6, rtol=0)
    same = sum(x == y for x, y in zip(ids_of(base), ids_of(other), strict=True))
    assert same >= len(base) - 2


def test_chunked_integer_scores_are_identical_whatever_the_chunks():
    """With exact scores (small integers as floats) the result is exactly the brute-force order."""
    rng = _rng(1)
    corpus = rng.integers(-2, 3, size=(2000, 16)).astype(np.float32)  # many exact ties
    queries = rng.integers(-2, 3, size=(30, 16)).astype(np.float32)
    expected = brute_top_k(queries.astype(np.float64) @ corpus.T.astype(np.float64), 25)
    for qc, cc in [(1, 1), (3, 17), (30, 2000), (8, 128)]:
        hits = semantic_search(
            queries, corpus, 25, score_function="dot", query_chunk_size=qc, corpus_chunk_size=cc
        )
        assert ids_of(hits) == expected


def test_dot_score_and_top_k_beyond_the_corpus():
    rng = _rng(2)
    corpus = rng.standard_normal((7, 8), dtype=np.float32)
    queries = rng.standard_normal((3, 8), dtype=np.float32)
    hits = semantic_search(queries, corpus, top_k=50, score_function="dot")
    assert [len(h) for h in hits] == [7, 7, 7]
    assert_matches_scores(hits, queries.astype(np.float64) @ corpus.T, 50, atol=1e-5)


def test_cosine_of_huge_finite_vectors_is_the_cosine_of_their_directions():
    # float32 rows above about 1e19 overflow their squared norm; their cosines must not come out 0.
    rng = _rng(3)
    corpus = rng.standard_normal((20, 16), dtype=np.float32)
    queries = rng.standard_normal((4, 16), dtype=np.float32)
    expected = semantic_search(queries, corpus, top_k=5)
    huge_corpus, huge_queries = corpus * np.float32(1e30), queries * np.float32(3e25)
    assert np.isfinite(huge_corpus).all() and np.isinf(np.einsum("ij,ij->i", huge_corpus, huge_corpus)).all()
    for got in (semantic_search(huge_queries, huge_corpus, top_k=5), semantic_search(queries, huge_corpus, top_k=5),
                semantic_search(huge_queries.astype(np.float64) * 1e140, corpus.astype(np.float64), top_k=5)):
        assert [[h["corpus_id"] for h in r] for r in got] == [[h["corpus_id"] for h in r] for r in expected]
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_allclose([h["score"] for h in a], [h["score"] for h in b], atol=1e-5)


def test_one_dimensional_query_gives_one_list():
    rng = _rng(3)
    corpus = rng.standard_normal((50, 8), dtype=np.float32)
    hits = semantic_search(corpus[3], corpus, top_k=2)
    assert len(hits) == 1 and hits[0][0]["corpus_id"] == 3
    assert hits[0][0]["score"] == pytest.approx(1.0, abs=1e-6)


def test_empty_inputs():
    corpus = np.ones((5, 4), np.float32)
    assert semantic_search(np.ones((0, 4), np.float32), corpus) == []
    assert semantic_search(np.ones((2, 4), np.float32), np.ones((0, 4), np.float32)) == [[], []]


def test_lists_float64_memmap_and_fortran_order(tmp_path):
    rng = _rng(4)
    corpus = rng.standard_normal((300, 16))  # float64: scored in float64
    queries = rng.standard_normal((4, 16))
    expected = brute_top_k(brute_cosine(queries, corpus), 10)
    assert ids_of(semantic_search(queries.tolist(), corpus.tolist())) == expected
    assert ids_of(semantic_search(queries, np.asfortranarray(corpus), corpus_chunk_size=64)) == expected
    path = tmp_path / "corpus.npy"
    np.save(path, corpus.astype(np.float32))
    mm = np.load(path, mmap_mode="r")
    hits = semantic_search(queries.astype(np.float32), mm, corpus_chunk_size=50)
    assert_matches_scores(hits, brute_cosine(queries, corpus), 10, atol=1e-5)


def test_duck_typed_tensor_is_converted_without_torch():
    class FakeTensor:
        def __init__(self, a):
            self.a = a

        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return self.a

    rng = _rng(5)
    corpus = rng.standard_normal((100, 8), dtype=np.float32)
    queries = rng.standard_normal((3, 8), dtype=np.float32)
    assert semantic_search(FakeTensor(queries), FakeTensor(corpus)) == semantic_search(queries, corpus)


def test_custom_score_function():
    rng = _rng(6)
    corpus = rng.standard_normal((200, 8), dtype=np.float32)
    queries = rng.standard_normal((5, 8), dtype=np.float32)

    def neg_euclidean(q, c):
        return -np.linalg.norm(q[:, None, :].astype(np.float64) - c[None, :, :], axis=2)

    hits = semantic_search(queries, corpus, top_k=7, score_function=neg_euclidean, corpus_chunk_size=33)
    assert_matches_scores(hits, neg_euclidean(queries, corpus), 7, atol=1e-9)
    with pytest.raises(InvalidInputError, match="shape"):
        semantic_search(queries, corpus, score_function=lambda q, c: np.zeros((1, 1)))
    with pytest.raises(InvalidInputError, match="NaN"):
        semantic_search(queries, corpus, score_function=lambda q, c: np.full((len(q), len(c)), np.nan))


# ---------------------------------------------------------------- quantized corpora


def test_int8_corpus_with_int8_query_is_exact_int32_dot():
    rng = _rng(7)
    corpus = rng.integers(-128, 128, size=(2500, 64), dtype=np.int8)
    corpus[10:30] = corpus[5]
    queries = rng.integers(-128, 128, size=(20, 64), dtype=np.int8)
    exact = queries.astype(np.int32) @ corpus.astype(np.int32).T
    expected = brute_top_k(exact, 15)
    for cc in (16384, 97, 1):
        hits = semantic_search(queries, corpus, top_k=15, corpus_chunk_size=cc, query_chunk_size=6)
        assert ids_of(hits) == expected
        for row, got in zip(exact, hits, strict=True):
            assert [h["score"] for h in got] == [float(row[h["corpus_id"]]) for h in got]


def test_int8_wide_rows_switch_to_float64_and_stay_exact():
    rng = _rng(8)
    corpus = np.full((50, 2048), -128, dtype=np.int8)  # |dot| up to 2048 * 16384 = 2**25: beyond float32
    corpus[:, ::2] = rng.integers(-128, 128, size=(50, 1024), dtype=np.int8)
    queries = np.full((3, 2048), -128, dtype=np.int8)
    exact = queries.astype(np.int64) @ corpus.astype(np.int64).T
    hits = semantic_search(queries, corpus, top_k=50)
    assert ids_of(hits) == brute_top_k(exact, 50)
    assert [h["score"] for h in hits[0]] == [float(exact[0, h["corpus_id"]]) for h in hits[0]]


def test_int8_and_uint8_corpora_with_a_float_query():
    rng = _rng(9)
    queries = rng.standard_normal((10, 32), dtype=np.float32)
    for dtype in (np.int8, np.uint8):
        info = np.iinfo(dtype)
        corpus = rng.integers(info.min, int(info.max) + 1, size=(700, 32), dtype=dtype)
        hits = semantic_search(queries, corpus, top_k=12, corpus_chunk_size=100)
        assert_matches_scores(hits, queries.astype(np.float64) @ corpus.T.astype(np.float64), 12, atol=1e-3)


def _packed(x: np.ndarray, precision: str) -> np.ndarray:
    """Sentence Transformers' quantize_embeddings for "ubinary" / "binary"."""
    packed = np.packbits(x > 0, axis=-1)
    return packed if precision == "ubinary" else (packed.astype(int) - 128).astype(np.int8)


@pytest.mark.parametrize("precision", ["ubinary", "binary"])
@pytest.mark.parametrize("dim", [64, 61])  # 61: three padding bits
def test_binary_corpus_with_packed_query_is_minus_hamming(precision, dim):
    rng = _rng(10)
    floats = rng.standard_normal((3000, dim), dtype=np.float32)
    floats[200:240] = floats[3]
    qfloats = rng.standard_normal((25, dim), dtype=np.float32)
    corpus, queries = _packed(floats, precision), _packed(qfloats, precision)
    hamming = ((qfloats[:, None, :] > 0) != (floats[None, :, :] > 0)).sum(axis=2)
    expected = brute_top_k(-hamming, 20)
    for cc in (16384, 111):
        hits = semantic_search(queries, corpus, top_k=20, corpus_precision=precision, corpus_chunk_size=cc)
        assert ids_of(hits) == expected
        for row, got in zip(hamming, hits, strict=True):
            assert [h["score"] for h in got] == [-float(row[h["corpus_id"]]) for h in got]


@pytest.mark.parametrize("precision", ["ubinary", "binary"])
def test_binary_corpus_with_float_query_is_the_rescoring_score(precision):
    rng = _rng(11)
    floats = rng.standard_normal((1500, 61), dtype=np.float32)
    queries = rng.standard_normal((9, 61), dtype=np.float32)
    corpus = _packed(floats, precision)
    bits = (floats > 0).astype(np.float64)  # the unpacked 0/1 bits, padding dropped
    hits = semantic_search(queries, corpus, top_k=10, corpus_precision=precision, corpus_chunk_size=256)
    assert_matches_scores(hits, queries.astype(np.float64) @ bits.T, 10, atol=1e-5)


# ---------------------------------------------------------------- errors


def test_errors():
    corpus = np.ones((10, 8), np.float32)
    query = np.ones((2, 8), np.float32)
    with pytest.raises(InvalidInputError, match="dimensions"):
        semantic_search(np.ones((2, 7), np.float32), corpus)
    with pytest.raises(InvalidInputError, match="1-D"):
        semantic_search(np.ones((2, 2, 8), np.float32), corpus)
    with pytest.raises(InvalidInputError, match="2-D"):
        semantic_search(query, np.ones(8, np.float32))
    with pytest.raises(InvalidInputError, match="top_k must be at least 0, got -3"):
        semantic_search(query, corpus, top_k=-3)
    for bad in (0, -3):
        with pytest.raises(InvalidInputError, match="corpus_chunk_size"):
            semantic_search(query, corpus, corpus_chunk_size=bad)
        with pytest.raises(InvalidInputError, match="query_chunk_size"):
            semantic_search(query, corpus, query_chunk_size=bad)
    for bad_k in (2.0, "3", True, None):
        with pytest.raises(TypeError, match="top_k"):
            semantic_search(query, corpus, top_k=bad_k)
    for bad in ("text", None, 3, {"a": 1}, np.array(["a", "b"]), np.ones((2, 8), bool)):
        with pytest.raises(TypeError):
            semantic_search(bad, corpus)
    masked = np.ma.masked_array(np.eye(3, dtype=np.float32), mask=[[True] * 3, [False] * 3, [False] * 3])
    with pytest.raises(TypeError, match="corpus_embeddings must be a plain array, not a masked array"):
        semantic_search(np.eye(3, dtype=np.float32)[:1], masked)
    with pytest.raises(TypeError, match="query_embeddings must be a plain array, not a masked array"):
        passage_search(masked, corpus[:3, :3], corpus[:3, :3], np.arange(3))
        with pytest.raises(TypeError):
            semantic_search(query, bad)
    with pytest.raises(InvalidInputError, match="different lengths"):
        semantic_search([[1.0, 2.0], [1.0]], corpus)
    with pytest.raises(InvalidInputError, match="NaN"):
        semantic_search(query, np.where(np.arange(10)[:, None] == 4, np.nan, corpus))
    with pytest.raises(InvalidInputError, match="NaN"):
        semantic_search(np.full((1, 8), np.inf, np.float32), corpus)
    with pytest.raises(InvalidInputError, match="corpus_precision"):
        semantic_search(query, corpus, corpus_precision="float16")
    with pytest.raises(TypeError, match="corpus_precision"):
        semantic_search(query, corpus, corpus_precision=8)
    with pytest.raises(InvalidInputError, match="score_function"):
        semantic_search(query, corpus, score_function="euclid")
    with pytest.raises(TypeError, match="score_function"):
        semantic_search(query, corpus, score_function=3)
    packed = np.ones((10, 1), np.uint8)
    with pytest.raises(InvalidInputError, match='corpus_precision="ubinary"'):
        semantic_search(query, packed)  # a packed corpus not declared: the message says what to pass
    with pytest.raises(InvalidInputError, match="score_function"):
        semantic_search(query, packed, corpus_precision="ubinary", score_function="dot")
    with pytest.raises(InvalidInputError, match="packed"):
        semantic_search(query, packed.astype(np.int8), corpus_precision="ubinary")
    with pytest.raises(InvalidInputError, match="bytes"):
        semantic_search(np.ones((2, 9), np.float32), packed, corpus_precision="ubinary")
    with pytest.raises(InvalidInputError, match="packed query"):
        semantic_search(np.ones((2, 1), np.int8), packed, corpus_precision="ubinary")
    with pytest.raises(InvalidInputError, match="float corpus"):
        semantic_search(query, corpus.astype(np.int8), corpus_precision="float32")
    with pytest.raises(InvalidInputError, match="int16"):
        semantic_search(query, corpus.astype(np.int16))


def test_no_torch_import():
    import subprocess
    import sys

    code = (
        "import sys, numpy as np; from staticemb import semantic_search; "
        "semantic_search(np.ones((2, 4), np.float32), np.ones((5, 4), np.float32)); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- against Sentence Transformers


@pytest.fixture(scope="module")
def debian_embeddings(bert_tokenizer_path):
    """20,000 corpus texts (long descriptions) and 10,000 queries (the short summaries of every other one) of
    real Debian packages, encoded with a static model over the real bert tokenizer and a random table."""
    from staticemb import StaticModel
    from staticemb.corpora import debian_descriptions
    from tokenizers import Tokenizer

    descriptions = [d for d in debian_descriptions("en") if d.long]
    if len(descriptions) < 22_000:
        pytest.skip(f"only {len(descriptions)} Debian descriptions with a long text")
    corpus_texts = [d.long for d in descriptions[:20_000]]
    query_texts = [d.short for d in descriptions[:20_000:2]]
    table = _rng(12).standard_normal((30_522, 256), dtype=np.float32)
    model = StaticModel(Tokenizer.from_file(str(bert_tokenizer_path)), table)
    return model.encode(query_texts), model.encode(corpus_texts)


@pytest.mark.reference
@pytest.mark.corpus
@pytest.mark.parametrize("score", ["cosine", "dot"])
def test_equals_sentence_transformers_on_debian_texts(debian_embeddings, score):
    import torch
    from sentence_transformers import util

    queries, corpus = debian_embeddings
    assert queries.shape == (10_000, 256) and corpus.shape == (20_000, 256)
    top_k = 10
    ours = semantic_search(queries, corpus, top_k=top_k, score_function=None if score == "cosine" else "dot")
    st_fn = util.cos_sim if score == "cosine" else util.dot_score
    theirs = util.semantic_search(
        torch.from_numpy(queries), torch.from_numpy(corpus), top_k=top_k, score_function=st_fn
    )
    assert len(ours) == len(theirs) == len(queries)
    reordered = 0
    scale = 1.0 if score == "cosine" else float(np.abs(queries @ corpus[:100].T).max())
    for a, b in zip(ours, theirs, strict=True):
        a_ids, b_ids = [h["corpus_id"] for h in a], [h["corpus_id"] for h in b]
        a_scores, b_scores = np.array([h["score"] for h in a]), np.array([h["score"] for h in b])
        np.testing.assert_allclose(a_scores, b_scores, atol=1e-5 * scale, rtol=0)
        if a_ids != b_ids:
            # Only ties (within rounding) may reorder or swap at the k-th place.
            reordered += 1
            cutoff = min(a_scores[-1], b_scores[-1]) + 1e-5 * scale
            assert {i for i, s in zip(a_ids, a_scores, strict=True) if s > cutoff} == {
                i for i, s in zip(b_ids, b_scores, strict=True) if s > cutoff
            }
    # Duplicate descriptions (transitional packages, ...) give exactly tied scores, which we order by id and
    # Sentence Transformers by torch.topk and a heap: those queries differ in order, never in scores.
    assert reordered < len(ours) // 4
    # And ST's own dispatch (score_function=util.cos_sim / dot_score) takes our NumPy path: the same call with
    # our name for the score gives the same hits. (Same queries on both sides: BLAS may round the last bit
    # differently for a 50-row and a 10,000-row product, as OpenBLAS does on AMD Zen.)
    ours_50 = semantic_search(queries[:50], corpus, top_k=top_k, score_function=None if score == "cosine" else "dot")
    assert semantic_search(queries[:50], corpus, top_k=top_k, score_function=st_fn) == ours_50


@pytest.mark.reference
def test_top_k_zero_gives_empty_lists_as_sentence_transformers_does():
    import torch
    from sentence_transformers import util

    rng = _rng(3)
    queries, corpus = rng.standard_normal((3, 8), dtype=np.float32), rng.standard_normal((5, 8), dtype=np.float32)
    theirs = util.semantic_search(torch.from_numpy(queries), torch.from_numpy(corpus), top_k=0)
    assert semantic_search(queries, corpus, top_k=0) == theirs == [[], [], []]
    assert semantic_search(queries[0], corpus, top_k=0) == [[]]
    # Every precision, and passage_search, answer the same way (the arguments are still checked).
    assert semantic_search(queries, (corpus > 0).astype(np.int8), top_k=0) == [[], [], []]
    assert semantic_search(queries, np.packbits(corpus > 0, axis=1), top_k=0, corpus_precision="ubinary") == [[]] * 3
    assert passage_search(queries, corpus, corpus, np.arange(5), top_k=0) == [[], [], []]
    # One passage a document, its owners as a range (was "must be a NumPy array, … got range"):
    assert passage_search(queries, corpus, corpus, range(5)) == passage_search(queries, corpus, corpus, np.arange(5))
    with pytest.raises(InvalidInputError, match="dimensions"):
        semantic_search(queries[:, :7], corpus, top_k=0)


@pytest.mark.parametrize("block", [1, 3, 7, 40])
@pytest.mark.parametrize("k", [1, 5, 12])
def test_nan_scores_rank_below_every_number_whatever_the_blocks(block, k):
    """A table holding NaN gives NaN scores: they come after every number, ties by id, and never let an empty
    slot (the internal id of no document) into the hits."""
    from staticemb.search import _NO_ID, _top_k

    rng = np.random.default_rng(block * 100 + k)
    scores = rng.normal(size=(6, 40))
    scores[rng.random(scores.shape) < 0.3] = np.nan
    scores[1] = np.nan  # a query whose every score is NaN
    scores[2, :35] = np.nan  # fewer numbers than k in early blocks
    scores[3, ::2] = 0.5  # ties
    scores[4, ::3] = -np.inf  # -inf is a number: above NaN (finite vectors whose dot products overflow)
    scores[5] = np.where(np.arange(40) % 2, -np.inf, np.nan)  # a NaN k-th best yields to a later -inf
    blocks = ((0, c0, scores[:, c0:c0 + block]) for c0 in range(0, 40, block))
    best_scores, best_ids = _top_k(6, k, blocks)
    for row, got in zip(scores, best_ids, strict=True):
        expected = sorted(range(40), key=lambda c: (np.isnan(row[c]), -np.nan_to_num(row[c], nan=0.0,
                                                                                      neginf=-np.inf), c))[:k]
        assert got.tolist() == expected
    assert not (best_ids == _NO_ID).any()
    np.testing.assert_array_equal(np.isnan(best_scores), np.isnan(np.take_along_axis(scores, best_ids, axis=1)))


def test_top_1_is_the_first_of_top_2_when_scores_overflow_to_nan_and_minus_infinity():
    # dot products of finite vectors: inf + -inf = NaN for document 0, -inf for document 1. top_k=1 gave the NaN.
    q = np.array([[3e38, 3e38]], np.float32)
    corpus = np.array([[3e38, -3e38], [-3e38, -3e38]], np.float32)
    with np.errstate(all="ignore"):
        for chunk in (1, 2):
            two = semantic_search(q, corpus, top_k=2, score_function="dot", corpus_chunk_size=chunk)[0]
            one = semantic_search(q, corpus, top_k=1, score_function="dot", corpus_chunk_size=chunk)[0]
            assert [h["corpus_id"] for h in two] == [1, 0] and one == two[:1]


def test_a_table_with_nan_is_refused_by_the_index_as_by_semantic_search():
    # It was searched, NaN scores ranked last: a damaged table gave hits without a word. semantic_search refuses
    # NaN vectors; the index now refuses the vectors of such a table too, naming the cause.
    from staticemb import InvalidInputError, SearchIndex, StaticModel
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["[UNK]"] + [f"w{i}" for i in range(50)]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    table = np.random.default_rng(0).normal(size=(51, 8)).astype(np.float32)
    table[7, 0] = np.nan
    with pytest.raises(InvalidInputError, match="NaN or infinity"):
        SearchIndex(StaticModel(tok, table), [f"w{i} w{(i * 3) % 50}" for i in range(40)], passages=False)
    vectors = StaticModel(tok, table).encode(["w6 w1", "w2"])
    with pytest.raises(InvalidInputError, match="NaN or infinity"):
        semantic_search(vectors, vectors)


def test_an_empty_list_of_queries_finds_nothing():
    # It was taken for one query of width 0 and refused with a width error.
    corpus = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    assert semantic_search([], corpus) == [] == semantic_search(np.zeros((0, 8), np.float32), corpus)
    assert passage_search([], corpus, corpus, np.arange(5)) == []


def test_integer_queries_of_any_dtype_search_an_int8_corpus():
    # A list of ints becomes int64, and the bound of its dot products was taken from int64's range: refused.
    rng = np.random.default_rng(1)
    corpus = rng.integers(-127, 128, size=(20, 8)).astype(np.int8)
    query = rng.integers(-127, 128, size=(2, 8))
    want = semantic_search(query.astype(np.int8), corpus, top_k=5)
    for q in (query.tolist(), query.astype(np.int64), query.astype(np.int32)):
        assert semantic_search(q, corpus, top_k=5) == want
    with pytest.raises(InvalidInputError, match="cannot be computed exactly"):
        semantic_search(np.full((1, 8), 2**62, np.int64), corpus)


def test_a_finite_query_too_long_for_float32_keeps_its_cosines():
    # 2e38 * ones(8) has a norm above float32's largest number: its cosines were all 0.
    rng = np.random.default_rng(2)
    corpus = rng.standard_normal((6, 8)).astype(np.float32)
    direction = rng.standard_normal(8)
    big = (direction / np.abs(direction).max() * 3e38).astype(np.float32)[None, :]
    want = semantic_search(direction[None, :], corpus.astype(np.float64), top_k=6)
    got = semantic_search(big, corpus, top_k=6)
    assert [h["corpus_id"] for h in got[0]] == [h["corpus_id"] for h in want[0]]
    np.testing.assert_allclose([h["score"] for h in got[0]], [h["score"] for h in want[0]], atol=1e-5)
