"""staticemb.SearchIndex: the whole document, its best passage and the query's terms matched through the table,
against a direct computation on the real bert-base-uncased tokenizer and real text (and the light tier's tiny
tokenizer); chunking, model options (weights, quantization, unknown-token drop, max_length, prompts), bad input."""

from __future__ import annotations

import numpy as np
import pytest
import staticemb.index as I
from staticemb import InvalidInputError, SearchIndex, StaticModel, split_passages


def _unit(x):
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _best(sim, factor):
    """Each query token's best match (rows of ``sim``) over a document's tokens (its columns): the largest positive
    cosine times the token's BM25 ``factor``, or the largest cosine where none is positive."""
    weighed = (np.maximum(sim, 0.0) * factor).max(axis=1)
    return np.where(weighed > 0, weighed, sim.max(axis=1))


def _direct(model, documents, queries, *, dim=None, corpus_weights=True, passages=True, terms=True,
            term_frequency=False):
    """The index's scores computed the plain way, one query and one document at a time."""
    if corpus_weights:
        model = model.with_corpus_weights(documents)
    k = dim or model.dim
    cap = model._max_length
    q = _unit(model.encode(queries, dim=k))
    d = _unit(model.encode(documents, dim=k))
    parts, owner = split_passages(documents)
    p = _unit(model.encode(parts, dim=k))
    q_tok = _known(model, queries, model.encode_as_sequence(queries, dim=k, max_length=cap), cap)
    d_all = model.encode_as_sequence(documents, dim=k, max_length=cap)
    d_tok = _known(model, documents, d_all, cap)
    mean_length = np.mean([len(t) for t in d_all])
    out = np.zeros((len(queries), len(documents)))
    for i in range(len(queries)):
        rows = np.unique(q_tok[i], axis=0) if len(q_tok[i]) else q_tok[i]
        for j in range(len(documents)):
            score = q[i] @ d[j]
            if passages:
                score += max(q[i] @ p[n] for n in np.flatnonzero(owner == j))
            if terms and len(rows) and len(d_tok[j]):
                norms = np.linalg.norm(rows, axis=1)
                tokens, counts = np.unique(d_tok[j], axis=0, return_counts=True)
                factor = np.ones(len(tokens))
                if term_frequency:  # BM25: k1 = 1.2, b = 0.75; the length counts every pooled token
                    factor = counts * 2.2 / (counts + 1.2 * (0.25 + 0.75 * len(d_all[j]) / mean_length))
                score += (norms * _best(_unit(rows) @ _unit(tokens).T, factor)).sum() / norms.sum()
            out[i, j] = score
    return out


def _known(model, texts, sequences, cap):
    """Each text's pooled rows (``sequences``, from ``encode_as_sequence``) without those of bert's ``[UNK]``,
    found by the Hugging Face tokenizer's ids: the unknown token is no term (it stands for any text the
    vocabulary cannot spell)."""
    unknown = model.tokenizer.token_to_id("[UNK]")
    out = []
    for text, rows in zip(texts, sequences, strict=True):
        ids = np.array(model.tokenizer.encode(text, add_special_tokens=False).ids[:cap], np.int64)
        if model.drop_unknown:
            ids = ids[ids != unknown]
        assert len(ids) == len(rows)
        out.append(rows[ids != unknown])
    return out


def _corpus(real_texts, n=40, seed=0):
    rng = np.random.default_rng(seed)
    docs = [" ".join(real_texts[i] for i in rng.choice(len(real_texts), size=int(rng.integers(1, 6)), replace=False))
            for _ in range(n)]
    queries = [" ".join(real_texts[int(i)].split()[:6]) for i in rng.choice(len(real_texts), size=15)]
    # Text bert-base-uncased cannot spell ([UNK]): the terms must not match one unknown glyph with another.
    docs += ["the \U0001F980 crab is the mascot of rust", "\u2603 a snowman \u2604 in the weather report"]
    return docs, queries + [docs[3], "", docs[7].split()[0], "\U0001F980", "\u2603 snowman", docs[-2]]


@pytest.mark.parametrize("options", [{}, {"dim": 256}, {"corpus_weights": False}, {"passages": False},
                                     {"terms": False}, {"passages": False, "terms": False},
                                     {"term_frequency": True}, {"term_frequency": True, "dim": 256}])
def test_scores_are_the_direct_computation_on_a_real_tokenizer_and_real_text(bert_tokenizer, table, real_texts,
                                                                           options):
    model = StaticModel(bert_tokenizer, table)
    docs, queries = _corpus(real_texts)
    index = SearchIndex(model, docs, **options)
    np.testing.assert_allclose(index.scores(queries), _direct(model, docs, queries, **options), atol=2e-5)
    # A document searched with its own text scores 1 on its terms: every one of its tokens is there.
    assert index.dim == options.get("dim", model.dim) and len(index) == len(docs)


def test_search_is_the_top_k_of_the_scores_in_any_blocks(bert_tokenizer, table, real_texts, monkeypatch):
    model = StaticModel(bert_tokenizer, table)
    docs, queries = _corpus(real_texts, n=60, seed=1)
    index = SearchIndex(model, docs)
    scores = index.scores(queries)
    expected = [np.lexsort((np.arange(len(docs)), -row))[:7].tolist() for row in scores]
    # Tiny blocks everywhere: query tokens, summed queries, documents, queries.
    monkeypatch.setattr(I, "_TERM_BLOCK", 3)
    monkeypatch.setattr(I, "_PAIR_QUERIES", 2)
    monkeypatch.setattr(I, "_PAIR_ELEMENTS", 40)  # a few (query token, document) values: groups of any size
    monkeypatch.setattr(I, "_ENTRIES_PER_DOC", 2)
    for q_chunk, c_chunk in ((1, 1), (4, 7), (1000, 1000)):
        hits = index.search(queries, top_k=7, query_chunk_size=q_chunk, corpus_chunk_size=c_chunk)
        assert [[h["corpus_id"] for h in row] for row in hits] == expected
        for row, got in zip(scores, hits, strict=True):
            np.testing.assert_allclose([h["score"] for h in got], np.sort(row)[::-1][:7], atol=1e-5)
    np.testing.assert_allclose(index.scores(queries, query_chunk_size=3), scores, atol=1e-6)


@pytest.mark.parametrize("options", [{}, {"term_frequency": True, "dim": 256}, {"passages": False},
                                     {"terms": False}])
def test_rerank_gives_the_full_scores_of_any_candidates(bert_tokenizer, table, real_texts, options):
    model = StaticModel(bert_tokenizer, table)
    docs, queries = _corpus(real_texts, n=50, seed=3)
    index = SearchIndex(model, docs, **options)
    scores = index.scores(queries)
    rng = np.random.default_rng(5)
    lists = [rng.integers(0, len(docs), size=int(rng.integers(0, 12))).tolist() for _ in queries]
    lists[0] = [7, 7, 3, 40, 3]  # repeats are scored once
    lists[1] = np.array([49, 0], np.uint8)
    hits = index.rerank(queries, lists)
    for row, wanted, got in zip(scores, lists, hits, strict=True):
        ids = sorted(set(np.asarray(wanted).tolist()))
        expected = sorted(ids, key=lambda d: (-row[d], d))
        assert [h["corpus_id"] for h in got] == expected
        np.testing.assert_allclose([h["score"] for h in got], row[expected], atol=2e-5)
    assert [len(h) for h in index.rerank(queries, lists, top_k=2)] == [min(2, len(set(c))) for c in
                                                                        map(lambda c: np.asarray(c).tolist(), lists)]


def test_exact_search_and_rerank_tie_the_same_documents(bert_tokenizer, table, real_texts):
    # At dim=1 every unit vector is +1 or -1, so most documents tie exactly: the two paths must sum the terms
    # part alike (they once differed in the last bit, and with it in the order of tied documents).
    model = StaticModel(bert_tokenizer, table)
    docs, queries = _corpus(real_texts, n=50, seed=6)
    for options in ({}, {"term_frequency": True}):
        index = SearchIndex(model, docs, dim=1, **options)
        exact = index.search(queries, top_k=len(docs))
        assert index.rerank(queries, [range(len(docs))] * len(queries)) == exact
        shortlist = index.search(queries, top_k=3, candidates=10)
        vectors = SearchIndex(model, docs, dim=1, passages=False, terms=False)
        firsts = [[h["corpus_id"] for h in row] for row in vectors.search(queries, top_k=10)]
        assert shortlist == index.rerank(queries, firsts, top_k=3)


def test_search_with_candidates_rescores_the_vectors_shortlist(bert_tokenizer, table, real_texts):
    model = StaticModel(bert_tokenizer, table)
    docs, queries = _corpus(real_texts, n=60, seed=4)
    index = SearchIndex(model, docs)
    exact = index.search(queries, top_k=5)
    # As many candidates as documents: the exact search.
    assert index.search(queries, top_k=5, candidates=len(docs)) == exact
    assert index.search(queries, top_k=5, candidates=10**9) == exact
    # Fewer: the full score of the vector's best 12, in any chunks.
    vectors = SearchIndex(model, docs, passages=False, terms=False)
    shortlist = [[h["corpus_id"] for h in row] for row in vectors.search(queries, top_k=12)]
    expected = index.rerank(queries, shortlist, top_k=5)
    for q_chunk, c_chunk in ((1000, 1000), (4, 7)):
        got = index.search(queries, top_k=5, candidates=12, query_chunk_size=q_chunk, corpus_chunk_size=c_chunk)
        assert [[h["corpus_id"] for h in r] for r in got] == [[h["corpus_id"] for h in r] for r in expected]
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_allclose([h["score"] for h in a], [h["score"] for h in b], atol=1e-5)
    # candidates below top_k is raised to top_k.
    assert [len(r) for r in index.search(queries, top_k=5, candidates=1)] == [5] * len(queries)


def test_a_tiny_sif_coefficient_still_gives_unit_vectors_and_the_same_ranking(bert_tokenizer, table, real_texts):
    # With a = 1e-15 the corpus-weighted vectors fell under the 1e-12 floor of the normalization: they were not
    # unit length, and every part's score shrank (a document's self-match scored 0.003 instead of 3).
    from staticemb.train.weighting import MIN_COEFFICIENT

    model = StaticModel(bert_tokenizer, table)
    docs, queries = _corpus(real_texts)
    for a in (1e-15, 1e-25, MIN_COEFFICIENT):
        index = SearchIndex(model, docs, a=a)
        np.testing.assert_allclose(np.linalg.norm(index._docs, axis=1), 1.0, rtol=1e-5)
        assert np.all(np.diag(index.scores(docs[:10])) > 1.5), a  # whole document and terms: 1 each
        # As a shrinks the weights tend to 1 / p: the scores converge, they do not collapse.
        np.testing.assert_allclose(index.scores(queries), SearchIndex(model, docs, a=1e-12).scores(queries),
                                   atol=1e-3, err_msg=str(a))
    with pytest.raises(InvalidInputError, match="at least 1e-30"):
        SearchIndex(model, docs, a=1e-31)


def test_identical_documents_tie_and_come_in_id_order(bert_tokenizer):
    # The float32 products rounded a block's last columns differently: three copies of one document scored
    # 3.0, 2.9999995, 2.9999995 and came back as ids [2, 0, 1]. (Copies in different blocks of documents can
    # still differ in the last bit: each block matches the query's terms against its own tokens.)
    for width in (64, 384):  # widths where BLAS splits the columns (found on this machine's OpenBLAS)
        model = StaticModel(bert_tokenizer, np.random.default_rng(0).standard_normal((30522, width), np.float32))
        for text in ("same", "a", "the cat sat on the mat"):
            for copies in (3, 5, 9, 33):
                index = SearchIndex(model, [text] * copies)
                hits = index.search([text], top_k=copies)[0]
                assert [h["corpus_id"] for h in hits] == list(range(copies)), (width, text, copies)
                assert len({h["score"] for h in hits}) == 1, (width, text, copies)
                [hits] = index.rerank([text], [list(range(copies))[::-1]], top_k=copies)
                assert [h["corpus_id"] for h in hits] == list(range(copies)), (width, text, copies)
                assert len({h["score"] for h in hits}) == 1, (width, text, copies)


@pytest.mark.parametrize("options", [{}, {"term_frequency": True}, {"passages": False, "terms": False}])
def test_a_collection_with_copies_is_searched_as_the_scores_say(bert_tokenizer, table, real_texts, options):
    # Copies of a text are indexed once and share its score: every search path must still list every copy,
    # in id order among equal scores, exactly as the full score matrix ranks them.
    model = StaticModel(bert_tokenizer, table)
    docs, queries = _corpus(real_texts, n=30)
    rng = np.random.default_rng(3)
    docs = [docs[int(i)] for i in rng.integers(0, 12, size=45)]  # about 12 distinct texts, many copies
    index = SearchIndex(model, docs, **options)
    assert len(index) == 45
    scores = index.scores(queries)
    assert scores.shape == (len(queries), 45)
    for j, text in enumerate(docs):
        np.testing.assert_array_equal(scores[:, j], scores[:, docs.index(text)])
    for top_k in (1, 5, 45, 60):
        want = [sorted(range(45), key=lambda d: (-row[d], d))[:top_k] for row in scores]
        for kwargs in ({}, {"corpus_chunk_size": 1}, {"query_chunk_size": 2, "corpus_chunk_size": 5},
                       {"candidates": 3}, {"candidates": 45}):
            hits = index.search(queries, top_k=top_k, **kwargs)
            if kwargs.get("candidates", 45) >= 12:  # the shortlist holds every distinct text: exact
                assert [[h["corpus_id"] for h in row] for row in hits] == want, (top_k, kwargs)
                for row, s in zip(hits, scores, strict=True):
                    np.testing.assert_allclose([h["score"] for h in row], s[[h["corpus_id"] for h in row]],
                                               rtol=1e-6, atol=1e-6)
            for row in hits:  # any path: ids in order among equal scores, each copy of a hit's text listed
                assert all((a["score"], -a["corpus_id"]) > (b["score"], -b["corpus_id"])
                           for a, b in zip(row, row[1:], strict=False))
    subset = [[44, 0, 7, 7, 13], [], list(range(45))]
    for row, listed, s in zip(index.rerank(queries[:3], subset), subset, scores[:3], strict=True):
        ids = sorted(set(listed))
        assert [h["corpus_id"] for h in row] == sorted(ids, key=lambda d: (-s[d], d))
    if not options.get("term_frequency"):  # (BM25's mean length counts every copy)
        distinct = list(dict.fromkeys(docs))
        plain = SearchIndex(model, distinct, corpus_weights=False, **options).scores(queries)
        np.testing.assert_array_equal(SearchIndex(model, docs, corpus_weights=False, **options).scores(queries),
                                      plain[:, [distinct.index(t) for t in docs]])


def test_a_document_searched_by_its_own_text_comes_first(bert_tokenizer, table, real_texts):
    model = StaticModel(bert_tokenizer, table)
    docs = [real_texts[i] for i in range(100, 160)]
    hits = SearchIndex(model, docs).search(docs[:20], top_k=1)
    assert [h[0]["corpus_id"] for h in hits] == list(range(20))
    assert all(2.9 < h[0]["score"] <= 3.0 + 1e-5 for h in hits)  # 1 + 1 (one passage) + 1 (every term), at most


def test_the_terms_credit_a_query_word_a_long_document_has_where_its_mean_does_not(tiny_tokenizer_path):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tiny_tokenizer_path))
    rng = np.random.default_rng(0)
    model = StaticModel(tok, rng.normal(size=(tok.get_vocab_size(), 24)).astype(np.float32))
    filler = " ".join(["the model reads the table"] * 30)
    docs = [filler + " python", "rust library python", filler]
    index = SearchIndex(model, docs, passages=False, corpus_weights=False)
    plain = SearchIndex(model, docs, passages=False, terms=False, corpus_weights=False)
    with_terms, without = index.scores(["python rust"])[0], plain.scores(["python rust"])[0]
    terms = with_terms - without
    assert terms[1] == pytest.approx(1.0, abs=1e-5) and terms[1] > terms[0] > terms[2]


def test_term_frequency_counts_repeats_and_shorter_documents_first(tiny_tokenizer_path):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tiny_tokenizer_path))
    rng = np.random.default_rng(0)
    model = StaticModel(tok, rng.normal(size=(tok.get_vocab_size(), 24)).astype(np.float32))
    docs = ["python rust table", "python python python rust table", "python rust table " + "the model " * 20]
    options = {"passages": False, "corpus_weights": False}
    binary = SearchIndex(model, docs, **options)
    counted = SearchIndex(model, docs, term_frequency=True, **options)
    assert "term frequency" in repr(counted) and "term frequency" not in repr(binary)
    terms = counted.scores(["python"])[0] - SearchIndex(model, docs, terms=False, **options).scores(["python"])[0]
    # Binary: each document has "python" once or more, and the terms part is 1 for all three.
    np.testing.assert_allclose(binary.scores(["python"])[0] - (counted.scores(["python"])[0] - terms), 1.0,
                               atol=1e-5)
    # Counted: three occurrences beat one, and one in a short document beats one in a long one.
    assert terms[1] > terms[0] > terms[2]
    with pytest.raises(InvalidInputError, match="term_frequency"):
        SearchIndex(model, docs, term_frequency="yes")


def test_term_frequency_does_not_count_repeats_of_an_unlike_token_against_a_document(tiny_tokenizer_path):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tiny_tokenizer_path))
    rng = np.random.default_rng(0)
    table = rng.normal(size=(tok.get_vocab_size(), 8)).astype(np.float32)
    vocab = tok.get_vocab()
    table[vocab["rust"]] = -table[vocab["python"]]  # "rust" is as unlike "python" as a token can be
    model = StaticModel(tok, table)
    docs = ["rust", "rust rust rust", "rust " * 8, "table", "python python table"]
    options = {"passages": False, "corpus_weights": False}
    base = SearchIndex(model, docs, terms=False, **options).scores(["python"])[0]
    binary = SearchIndex(model, docs, **options).scores(["python"])[0] - base
    counted_index = SearchIndex(model, docs, term_frequency=True, **options)
    counted = counted_index.scores(["python"])[0] - base
    # Every document of "rust" alone matches "python" at -1, however often it repeats it and however short it is:
    # BM25's count weighs a match, not its opposite (it pushed these down to -1.40, -1.60 and -1.67 before).
    np.testing.assert_allclose(binary[:3], -1.0, atol=1e-5)
    np.testing.assert_allclose(counted[:3], binary[:3], atol=1e-6)
    assert counted[4] > binary[4] == pytest.approx(1.0, abs=1e-5)  # two "python" in a short document count more
    # The rerank path scores the same.
    reranked = counted_index.rerank(["python"], [range(len(docs))])[0]
    np.testing.assert_allclose([h["score"] for h in reranked], (counted + base)[[h["corpus_id"] for h in reranked]],
                               atol=1e-6)


@pytest.mark.parametrize("variant", ["weights", "int8", "float16", "drop_unknown", "max_length", "prompt",
                                     "mapping"])
def test_model_options_are_pooled_as_encode_pools_them(bert_tokenizer, table, real_texts, variant):
    rng = np.random.default_rng(2)
    kwargs = {}
    if variant == "mapping":  # model2vec's vocabulary quantization: many token ids share a row
        kwargs["token_mapping"] = rng.integers(0, 2000, table.shape[0]).astype(np.int64)
        table = table[:2000]
    if variant == "weights":
        kwargs["weights"] = rng.uniform(0.2, 2.0, table.shape[0]).astype(np.float32)
    if variant == "drop_unknown":
        kwargs["drop_unknown"] = True
    if variant == "max_length":
        kwargs["max_length"] = 12
    if variant == "prompt":
        kwargs.update(prompts={"query": "query: "}, default_prompt_name="query")
    model = StaticModel(bert_tokenizer, table, **kwargs)
    if variant in ("int8", "float16"):
        model = model.quantize(variant)
    docs, queries = _corpus(real_texts, n=25, seed=3)
    if variant == "drop_unknown":
        docs[0] += " \u2603\u2604 unknownglyphs"  # characters bert-base-uncased maps to [UNK]
        queries.append("\u2603 python")
    if variant == "prompt":  # the prompt is part of every text the terms see, as encode makes it part of its vectors
        expected = _direct(StaticModel(bert_tokenizer, table), ["query: " + d for d in docs],
                           ["query: " + q for q in queries], corpus_weights=False, passages=False)
        got = SearchIndex(model, docs, corpus_weights=False, passages=False).scores(queries)
        np.testing.assert_allclose(got, expected, atol=2e-5)
        return
    got = SearchIndex(model, docs).scores(queries)
    np.testing.assert_allclose(got, _direct(model, docs, queries), atol=5e-5)


@pytest.mark.parametrize("documents, error, match", [
    ([], InvalidInputError, "at least one document"),
    (None, TypeError, "not None"),
    ("one text", TypeError, "not a single str"),
    (["fine", None], TypeError, "document 1 is NoneType"),
    ({"a"}, TypeError, "ordered"),
])
def test_bad_documents_are_named(tiny_st_folder, documents, error, match):
    model = StaticModel.from_pretrained(tiny_st_folder)
    with pytest.raises(error, match=match):
        SearchIndex(model, documents)


def test_bad_arguments_are_named(tiny_st_folder):
    model = StaticModel.from_pretrained(tiny_st_folder)
    index = SearchIndex(model, ["a first document", "a second one"])
    with pytest.raises(TypeError, match="StaticModel"):
        SearchIndex("model", ["text"])
    with pytest.raises(InvalidInputError, match="dim must be between"):
        SearchIndex(model, ["text"], dim=model.full_dim + 1)
    with pytest.raises(TypeError, match="query 1 is int"):
        index.search(["fine", 3])
    with pytest.raises(TypeError, match="not a single str"):
        index.search("one query")
    assert index.search(["q", "a first document"], top_k=0) == [[], []]  # as semantic_search, nothing asked
    assert index.search(["q"], top_k=0, candidates=1) == [[]]
    assert index.rerank(["q"], [[1, 0]], top_k=0) == [[]]
    with pytest.raises(InvalidInputError, match="top_k must be at least 0, got -1"):
        index.search(["q"], top_k=-1)
    with pytest.raises(InvalidInputError, match="top_k must be at least 0, got -1"):
        index.rerank(["q"], [[0]], top_k=-1)
    with pytest.raises(TypeError, match="query 1 is int"):
        index.search(["fine", 3], top_k=0)
    with pytest.raises(InvalidInputError, match="passages must be True, False or None"):
        SearchIndex(model, ["text"], passages="yes")
    with pytest.raises(InvalidInputError, match="a must be|coefficient|positive"):
        SearchIndex(model, ["text"], a=-1.0)
    with pytest.raises(InvalidInputError, match="SIF coefficient must be a number, not str"):
        SearchIndex(model, ["text"], corpus_weights=False, a="x")  # checked even when unused
    with pytest.raises(InvalidInputError, match="positive finite"):
        SearchIndex(model, ["text"], corpus_weights=False, a=-1)
    assert len(SearchIndex(model, ["text"], a=np.float32(0.01))) == 1  # NumPy reals are numbers
    assert index.search([]) == [] and index.scores([]).shape == (0, 2)
    assert index.search(["a document"], corpus_chunk_size=2**62, query_chunk_size=2**70) == index.search(
        ["a document"])
    assert [len(h) for h in index.search(["", "document"], top_k=5)] == [2, 2]
    assert "2 documents" in repr(index) and "terms" in repr(index)
    with pytest.raises(InvalidInputError, match="candidates must be at least 1"):
        index.search(["q"], candidates=0)
    with pytest.raises(TypeError, match="candidates must be an int"):
        index.search(["q"], candidates=2.5)
    with pytest.raises(InvalidInputError, match="candidates has 1 lists for 2 queries"):
        index.rerank(["q", "r"], [[0]])
    with pytest.raises(InvalidInputError, match=r"candidates\[0\] holds 2, not a document index"):
        index.rerank(["q"], [[0, 2]])
    with pytest.raises(InvalidInputError, match=r"candidates\[1\] holds -1"):
        index.rerank(["q", "r"], [[0], [-1]])
    with pytest.raises(TypeError, match=r"candidates\[0\] must hold int"):
        index.rerank(["q"], [[0.5]])
    with pytest.raises(TypeError, match=r"candidates\[0\] must be a list"):
        index.rerank(["q"], ["01"])
    with pytest.raises(TypeError, match="candidates must be a sequence"):
        index.rerank(["q"], 5)
    with pytest.raises(TypeError, match="candidates must be a sequence"):
        index.rerank(["q"], np.array(1))
    with pytest.raises(TypeError, match=r"candidates\[0\] must hold int document indices, not list"):
        index.rerank(["q"], [[[1], [0, 1]]])  # ragged
    with pytest.raises(TypeError, match=r"candidates\[0\] must hold int document indices, not bool"):
        index.rerank(["q"], [[True, 1]])
    with pytest.raises(TypeError, match=r"candidates\[0\] must be a list"):
        index.rerank(["q"], [{1: "a"}])
    for huge in (2**63, 2**64, 10**30):
        with pytest.raises(InvalidInputError, match=f"candidates\\[0\\] holds {huge}"):
            index.rerank(["q"], [[0, huge]])
    with pytest.raises(InvalidInputError, match="term_frequency weighs the terms part"):
        SearchIndex(model, ["text"], terms=False, term_frequency=True)
    # A mix of NumPy integer types, and 2-D arrays of ids, are read as the ids they hold.
    mixed = index.rerank(["a document"], [[np.int64(1), np.uint64(0), np.int8(1)]])
    assert sorted(h["corpus_id"] for h in mixed[0]) == [0, 1]
    assert index.rerank(["a document", "one"], np.array([[1, 0], [0, 0]], np.uint16))[1][0]["corpus_id"] == 0
    assert index.rerank(["q", "r"], [[], [1]]) [0] == [] and index.rerank([], []) == []


def test_empty_and_huge_texts(tiny_st_folder):
    model = StaticModel.from_pretrained(tiny_st_folder)
    huge = " ".join(["word"] * 200_000) + " needle"
    index = SearchIndex(model, ["", "   ", huge, "needle in a haystack"])
    scores = index.scores(["needle", ""])
    assert np.isfinite(scores).all() and scores[1].max() == 0.0
    assert scores[0, 0] == 0.0 and scores[0, 2] > 0 and scores[0, 3] > 0


def test_an_index_pickles_and_is_searched_from_threads_alike(tiny_st_folder):
    import pickle
    from concurrent.futures import ThreadPoolExecutor

    model = StaticModel.from_pretrained(tiny_st_folder)
    docs = [f"document {i} about topic {i % 7}. It has a second sentence with words {i * 3}." for i in range(50)]
    queries = [f"topic {i % 7} words {i}" for i in range(30)]
    index = SearchIndex(model, docs)
    expected = index.search(queries, top_k=5)
    assert pickle.loads(pickle.dumps(index)).search(queries, top_k=5) == expected
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: index.search(queries, top_k=5), range(8)))
    assert all(r == expected for r in results)


def test_the_cores_segment_max_is_numpys_and_refuses_bad_buffers():
    from staticemb import TokenIdError, _core

    rng = np.random.default_rng(4)
    values = rng.normal(size=(30, 7)).astype(np.float32)
    rows = rng.integers(0, 30, size=50).astype(np.int64)
    offsets = np.array([0, 0, 5, 6, 20, 20, 49], np.int64)  # empty segments, one of a single row, the rest
    out = _core.segment_max(values, rows, offsets, -np.inf, num_threads=2)
    ends = np.append(offsets[1:], len(rows))
    for s, (a, b) in enumerate(zip(offsets, ends, strict=True)):
        expected = values[rows[a:b]].max(axis=0) if b > a else np.full(7, -np.inf, np.float32)
        np.testing.assert_array_equal(out[s], expected)
    np.testing.assert_array_equal(_core.segment_max(values, rows, offsets, -np.inf, num_threads=1), out)
    assert _core.segment_max(values, rows, offsets[:0], 0.0).shape == (0, 7)
    with pytest.raises(TokenIdError, match="token id 30 at position 1"):
        _core.segment_max(values, np.array([0, 30], np.int64), np.array([0], np.int64), 0.0)
    with pytest.raises(TokenIdError, match="token id -2"):
        _core.segment_max(values, np.array([-2], np.int64), np.array([0], np.int64), 0.0)
    with pytest.raises(InvalidInputError, match="offsets"):
        _core.segment_max(values, rows, np.array([0, 60], np.int64), 0.0)
    with pytest.raises(InvalidInputError, match="non-decreasing"):
        _core.segment_max(values, rows, np.array([0, 9, 3], np.int64), 0.0)
    with pytest.raises(InvalidInputError, match="values must be a C-contiguous"):
        _core.segment_max(values[:, ::2], rows, offsets, 0.0)
    with pytest.raises(InvalidInputError, match="values must be a C-contiguous"):
        _core.segment_max(np.asfortranarray(values), rows, offsets, 0.0)
    with pytest.raises(TypeError):
        _core.segment_max(values.astype(np.float64), rows, offsets, 0.0)
    with pytest.raises(TypeError):
        _core.segment_max(values, rows.astype(np.int32), offsets, 0.0)
    # Scales: each entry's row times its factor, before the maximum; one factor per row index.
    scales = rng.uniform(-1.0, 3.0, size=len(rows)).astype(np.float32)
    scaled = _core.segment_max(values, rows, offsets, -np.inf, num_threads=2, scales=scales)
    for s, (a, b) in enumerate(zip(offsets, ends, strict=True)):
        expected = (values[rows[a:b]] * scales[a:b, None]).max(axis=0) if b > a else np.full(7, -np.inf)
        np.testing.assert_allclose(scaled[s], expected, rtol=1e-6)
    with pytest.raises(InvalidInputError, match="scales holds 49 values, expected 50"):
        _core.segment_max(values, rows, offsets, 0.0, scales=scales[:-1])
    with pytest.raises(TypeError):
        _core.segment_max(values, rows, offsets, 0.0, scales=scales.astype(np.float64))


def _stem_terms(model, documents, queries, *, term_frequency=False):
    """The terms part with English stems matched exactly, computed the plain way from the tokenizer's tokens: a
    token is a whole word where it is all letters, no ``##`` piece, and the next token is no ``##`` piece of
    letters; a query token and a document token that are whole words somewhere in their texts and have the same
    lowercased Snowball stem match exactly."""
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    vocab = {i: t for t, i in model.tokenizer.get_vocab().items()}
    model = model.with_corpus_weights(documents)

    def tokens(text):
        ids = [int(i) for i in model.tokenize([text])[0]]
        strings = [vocab[i] for i in ids]
        whole = {}
        for n, (i, t) in enumerate(zip(ids, strings, strict=True)):
            nxt = strings[n + 1] if n + 1 < len(strings) else None
            ok = (not t.startswith("##") and t.isalpha()
                  and (nxt is None or not nxt.startswith("##") or not nxt[2:].isalpha()))
            whole[i] = whole.get(i, False) or ok
        ids = np.array(ids, np.int64)
        known = ids != unknown  # the unknown token is no term; BM25's length still counts it
        return ids[known], model.encode_as_sequence([text], dim=model.dim)[0][known], whole, len(ids)

    def stem(i):
        return stemmer.stemWord(vocab[int(i)].lower())

    unknown = model.tokenizer.token_to_id("[UNK]")
    d_tok = [tokens(d) for d in documents]
    mean_length = np.mean([length for _, _, _, length in d_tok])
    out = np.zeros((len(queries), len(documents)))
    for i, query in enumerate(queries):
        q_ids, q_rows, q_whole, _ = tokens(query)
        if not len(q_ids):
            continue
        q_ids, first = np.unique(q_ids, return_index=True)
        rows = q_rows[first]
        norms = np.linalg.norm(rows, axis=1)
        for j, (ids, d_rows, d_whole, length) in enumerate(d_tok):
            if not len(ids):
                continue
            d_ids, d_first, counts = np.unique(ids, return_index=True, return_counts=True)
            sim = _unit(rows) @ _unit(d_rows[d_first]).T
            same = np.array([[q_whole[a] and d_whole[b] and stem(a) == stem(b) for b in d_ids] for a in q_ids])
            sim[same] = 1.0
            factor = np.ones(len(d_ids))
            if term_frequency:
                factor = counts * 2.2 / (counts + 1.2 * (0.25 + 0.75 * length / mean_length))
            out[i, j] = (norms * _best(sim, factor)).sum() / norms.sum()
    return out


@pytest.mark.parametrize("term_frequency", [False, True])
def test_stemmer_matches_tokens_with_the_same_stem_exactly(bert_tokenizer, table, real_texts, term_frequency):
    model = StaticModel(bert_tokenizer, table)
    docs, queries = _corpus(real_texts, n=30, seed=4)
    docs[0] += " the elections and their profits"
    docs[1] += " pineapples are sweet"
    queries += ["pines", "election profit", "profits elections", "profiting"]
    index = SearchIndex(model, docs, stemmer="english", term_frequency=term_frequency, passages=False)
    base = SearchIndex(model, docs, terms=False, passages=False).scores(queries)
    terms = index.scores(queries) - base
    np.testing.assert_allclose(terms, _stem_terms(model, docs, queries, term_frequency=term_frequency), atol=2e-5)
    if not term_frequency:  # every stem of "election profit" is in document 0: a full match, as for its own words
        assert terms[-3, 0] == pytest.approx(1.0, abs=1e-5)
        plain = SearchIndex(model, docs, passages=False).scores(queries) - base
        assert plain[-3, 0] < 0.99
        # "pine" only starts "pine ##apple ##s": no whole word, so "pines" gets no exact match there.
        assert terms[-4, 1] == pytest.approx(plain[-4, 1], abs=1e-6) and terms[-4, 1] < 0.99
    assert "stemmer='english'" in repr(index)
    # The shortlist and rerank paths score the same.
    lists = [list(range(0, len(docs), 2))] * len(queries)
    for row, got in zip(index.scores(queries), index.rerank(queries, lists), strict=True):
        np.testing.assert_allclose([h["score"] for h in got], row[[h["corpus_id"] for h in got]], atol=2e-5)


def test_stem_classes_and_whole_words_follow_the_tokenizers_marks():
    from tokenizers import Tokenizer, models

    pieces = [("<unk>", 0.0), ("\u2581running", -1.0), ("\u2581runs", -1.0), ("\u2581run", -1.0), ("ning", -2.0),
              ("\u2581Profits", -1.0), ("profit", -2.0), ("\u25812024", -1.0), ("\u2581(", -1.0), (")", -1.0),
              ("\u0120x", -3.0)]  # a SentencePiece vocabulary may hold the byte-level mark as a character
    stems = I._stem_classes(Tokenizer(models.Unigram(pieces, unk_id=0)), "english")
    classes = stems.classes
    assert classes[1] == classes[2] == classes[3] and classes[5] == classes[6]  # run, runs, running; profit(s)
    assert len(set(classes.tolist())) == len(pieces) - 3
    assert stems.marked[1] and not stems.marked[4] and stems.letters[4] and stems.letters[10]
    # Whole words, by occurrence: "▁run ning" is one word of two pieces, neither whole; "▁runs" is; a text's
    # first token and one after punctuation start words without the mark ("profit", "(profit)").
    texts = [[3, 4], [2], [6], [8, 6, 9], [3, 6], [7]]
    whole = stems.whole(np.concatenate(texts), np.array([len(t) for t in texts]))
    assert whole.tolist() == [False, False, True, True, False, True, False, False, False, False]
    word_level = Tokenizer(models.WordLevel({"[UNK]": 0, "Walked": 1, "walking": 2, "walk": 3}, unk_token="[UNK]"))
    assert len(set(I._stem_classes(word_level, "english").classes[1:].tolist())) == 1
    # Ids the vocabulary lacks (a gap, or beyond it up to the model's size) are classes of their own.
    gaps = Tokenizer(models.WordLevel({"[UNK]": 0, "walk": 1, "walked": 5}, unk_token="[UNK]"))
    classes = I._stem_classes(gaps, "english", size=9).classes
    assert len(classes) == 9 and classes[1] == classes[5]
    assert len(set(classes.tolist())) == 8
    bpe = Tokenizer(models.BPE({"a": 0, "b": 1, "ab": 2}, [("a", "b")]))
    with pytest.raises(InvalidInputError, match="marks where words start"):
        I._stem_classes(bpe, "english")


def test_whole_words_of_wordpiece_and_byte_level_vocabularies(bert_tokenizer):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(bert_tokenizer.to_str())
    stems = I._stem_classes(tok, "english")
    for text, expected in (("pineapples", None), ("pines", True), ("profits, elections", True)):
        ids = tok.encode(text, add_special_tokens=False).ids
        whole = stems.whole(np.array(ids), np.array([len(ids)]))
        words = [t for t, w in zip(tok.encode(text, add_special_tokens=False).tokens, whole, strict=True) if w]
        if expected is None:
            assert not whole.any(), text
        else:
            assert words == [w for w in text.replace(",", " ").split()], (text, words)
    vocab = tok.get_vocab()
    assert stems.classes[vocab["profit"]] == stems.classes[vocab["profits"]]
    # A byte-level vocabulary is read as the text its symbols stand for: "Ġélection" is the French word élection.
    from tokenizers import decoders, models, pre_tokenizers

    symbols = {"<unk>": 0, "\u0120\u00c3\u00a9lection": 1, "\u0120\u00c3\u00a9lections": 2, "\u0120profit": 3}
    bl = Tokenizer(models.BPE(symbols, [], unk_token="<unk>"))
    bl.pre_tokenizer, bl.decoder = pre_tokenizers.ByteLevel(), decoders.ByteLevel()
    classes = I._stem_classes(bl, "french").classes
    assert classes[1] == classes[2] != classes[3]


def test_stemmer_is_checked(tiny_st_folder):
    model = StaticModel.from_pretrained(tiny_st_folder)
    with pytest.raises(InvalidInputError, match=r"stemmer='klingon' is not a Snowball stemmer.*english"):
        SearchIndex(model, ["a text"], stemmer="klingon")
    assert "stemmer='en'" in repr(SearchIndex(model, ["a text"], stemmer="en"))  # PyStemmer's own aliases
    with pytest.raises(TypeError, match="stemmer must be a Snowball language name"):
        SearchIndex(model, ["a text"], stemmer=True)
    with pytest.raises(InvalidInputError, match="stemmer matches the terms part"):
        SearchIndex(model, ["a text"], stemmer="english", terms=False)


def test_stemmer_without_pystemmer_says_what_to_install(tiny_st_folder, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "Stemmer", None)  # import Stemmer now raises ImportError
    with pytest.raises(ImportError, match="pip install PyStemmer"):
        SearchIndex(StaticModel.from_pretrained(tiny_st_folder), ["a text"], stemmer="english")


@pytest.mark.parametrize("options", [{}, {"stemmer": "english", "term_frequency": True}])
def test_rerank_scores_long_queries_a_block_of_tokens_at_a_time(bert_tokenizer, table, real_texts, options,
                                                                monkeypatch):
    model = StaticModel(bert_tokenizer, table)
    docs, queries = _corpus(real_texts, n=30, seed=6)
    queries.append(" ".join(docs))  # a query with every token of the collection
    index = SearchIndex(model, docs, **options)
    scores = index.scores(queries)
    monkeypatch.setattr(I, "_TERM_BLOCK", 2)
    lists = [list(range(0, len(docs), 3))] * len(queries)
    for row, got in zip(scores, index.rerank(queries, lists), strict=True):
        np.testing.assert_allclose([h["score"] for h in got], row[[h["corpus_id"] for h in got]], atol=2e-5)


@pytest.mark.parametrize("variant", ["prompt", "max_length", "drop_unknown", "truncation-left"])
def test_corpus_weights_count_the_texts_as_encode_pools_them(bert_tokenizer, table, real_texts, variant):
    """The weights come from the tokens the model pools (the default prompt prepended, ``max_length`` applied,
    model2vec's unknown token left out), counted here with Hugging Face tokenizers: a prompt, in every text,
    weighs little instead of as a token the corpus never uses."""
    from staticemb.train.weighting import sif_weights

    kwargs = {"prompt": dict(prompts={"doc": "search document: "}, default_prompt_name="doc"),
              "max_length": dict(max_length=7), "drop_unknown": dict(drop_unknown=True),
              "truncation-left": dict(max_length=5, truncation="left")}[variant]
    model = StaticModel(bert_tokenizer, table, **kwargs)
    docs = _corpus(real_texts, n=30, seed=5)[0] + ["\u2603 glyphs of [UNK] \u2604"]
    counts = np.zeros(model.vocab_size, np.int64)
    for doc in docs:
        ids = bert_tokenizer.encode(("search document: " if variant == "prompt" else "") + doc,
                                    add_special_tokens=False).ids
        if variant == "drop_unknown":
            ids = [i for i in ids if i != bert_tokenizer.token_to_id("[UNK]")]
        ids = ids[:7] if variant == "max_length" else ids[-5:] if variant == "truncation-left" else ids
        counts += np.bincount(ids, minlength=model.vocab_size)
    got = model.with_corpus_weights(docs, a=1e-3)._weights
    np.testing.assert_array_equal(got, sif_weights(counts, 1e-3))
    if variant == "prompt":
        prompt_ids = bert_tokenizer.encode("search document: ", add_special_tokens=False).ids
        assert got[prompt_ids].max() < 0.2 < np.median(got[np.flatnonzero(counts)])


def test_stemmer_reads_words_with_vowel_signs_as_words():
    """Devanagari and Tamil words carry vowel signs and viramas (Unicode marks, not letters): they are words, and
    a piece of marks alone continues the word before it."""
    from tokenizers import Tokenizer, models

    pieces = [("<unk>", 0.0), ("\u2581\u0915\u093f\u0938\u093e\u0928", -1.0),  # ▁किसान (farmer)
              ("\u2581\u0915\u093f\u0938\u093e\u0928\u094b\u0902", -1.0),  # ▁किसानों (farmers)
              ("\u094b\u0902", -2.0)]  # ों: marks alone
    stems = I._stem_classes(Tokenizer(models.Unigram(pieces, unk_id=0)), "hindi")
    assert stems.classes[1] == stems.classes[2]
    assert stems.letters[3] and stems.classes[3] < 0  # part of a word, no stem of its own
    texts = [[1], [1, 3], [2]]
    assert stems.whole(np.concatenate(texts), np.array([1, 2, 1])).tolist() == [True, False, False, True]


def test_top_k_past_the_collection_gives_every_document(tiny_st_folder):
    model = StaticModel.from_pretrained(tiny_st_folder)
    index = SearchIndex(model, ["a b", "a b", "e"])
    for top_k in (4, 2**63, 2**64, np.uint64(2**64 - 1), 10**30):
        for candidates in (None, 1):
            hits = index.search(["a b"], top_k=top_k, candidates=candidates)[0]
            assert sorted(h["corpus_id"] for h in hits) == [0, 1, 2], (top_k, candidates)


@pytest.mark.parametrize("corpus_weights", [True, False])
def test_a_lone_surrogate_is_named_at_the_callers_position(tiny_st_folder, corpus_weights):
    model = StaticModel.from_pretrained(tiny_st_folder)
    docs = ["same", "same", "same", "fine text", "bad \ud800"]
    with pytest.raises(InvalidInputError, match="document 4 holds a lone surrogate"):
        SearchIndex(model, docs, corpus_weights=corpus_weights)
    index = SearchIndex(model, docs[:4], corpus_weights=corpus_weights)
    with pytest.raises(InvalidInputError, match="query 1 holds a lone surrogate"):
        index.search(["fine", "\udfff"])


def test_the_default_width_is_what_encode_gives(tiny_st_folder):
    model = StaticModel.from_pretrained(tiny_st_folder, truncate_dim=8)
    assert SearchIndex(model, ["a b", "c"]).dim == 8 == model.encode("a b").shape[0]
    assert SearchIndex(model, ["a b", "c"], dim=12).dim == 12
    assert SearchIndex(model.with_options(truncate_dim=None, dim=4), ["a b", "c"]).dim == 4


@pytest.mark.parametrize("corpus_weights", [True, False])
def test_prompts_set_on_the_model_after_the_index_is_built_do_not_reach_its_queries(tiny_st_folder, corpus_weights):
    model = StaticModel.from_pretrained(tiny_st_folder)
    docs = ["a first document about rust", "a second one about python", "the model reads the table"]
    index = SearchIndex(model, docs, corpus_weights=corpus_weights)
    before = index.scores(["rust python", "table"])
    # The documents were encoded without a prompt; the queries must stay so, whatever the caller's model does next.
    model.prompts["query"] = "the table the table "
    model.default_prompt_name = "query"
    np.testing.assert_array_equal(index.scores(["rust python", "table"]), before)
    assert index.model.default_prompt_name is None and np.shares_memory(index.model.embeddings, model.embeddings)


def test_a_damaged_table_is_refused_not_searched_as_nan(tiny_st_folder):
    base = StaticModel.from_pretrained(tiny_st_folder)
    table = base.dequantized().copy()
    tok = base.tokenizer
    table[tok.encode("hello", add_special_tokens=False).ids[0]] = np.nan
    model = StaticModel(tok, table)
    for options in ({}, {"corpus_weights": False}, {"term_frequency": True}):
        with pytest.raises(InvalidInputError, match="NaN or infinity"):
            SearchIndex(model, ["hello world", "other text"], **options)
    index = SearchIndex(model, ["world", "other text"])
    with pytest.raises(InvalidInputError, match="NaN or infinity"):
        index.search(["hello"])


def test_corpus_weights_name_a_bad_text_by_its_place_in_the_corpus(tiny_st_folder):
    from staticemb.train.weighting import _CHUNK

    model = StaticModel.from_pretrained(tiny_st_folder)
    for bad, error in (("bad \ud800", InvalidInputError), (3, TypeError)):
        corpus = ["a text"] * (_CHUNK + 10)
        corpus[_CHUNK + 4] = bad  # in the second chunk counted
        with pytest.raises(error, match=rf"^texts\[{_CHUNK + 4}\]"):
            model.with_corpus_weights(corpus)


@pytest.mark.parametrize("options", [{}, {"term_frequency": True}, {"stemmer": "english"}])
def test_the_unknown_token_is_no_term(bert_tokenizer, table, options):
    """bert-base-uncased spells neither a cat in Chinese nor a snowman: both are [UNK], which says only that the
    vocabulary could not spell some text. A query of such text alone gets no terms part (its scores are those
    of an index without terms), and a query's known words find a document's, whatever unknown text either has."""
    model = StaticModel(bert_tokenizer, table)
    docs = ["\u2603 a snowman", "a cat sat on the mat", "\U0001F980 the crab", "\u732b"]
    index = SearchIndex(model, docs, corpus_weights=False, **options)
    plain = SearchIndex(model, docs, corpus_weights=False, terms=False)
    np.testing.assert_allclose(index.scores(["\u732b"]), plain.scores(["\u732b"]), atol=1e-6)
    def terms(query):
        return (index.scores([query]) - plain.scores([query]))[0]

    # "crab" is the only term of "crab 猫"; the last document, which pools [UNK] alone, has no terms to match.
    np.testing.assert_allclose(terms("crab \u732b"), terms("crab"), atol=1e-6)
    assert terms("crab \u732b")[3] == 0.0
    if not options:  # the third document has every term of the query: its terms part is 1
        assert terms("crab \u732b")[2] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.reference  # its fixtures are requested by name, which the conftest's marking cannot see
@pytest.mark.parametrize("fixture, glyph", [("bert_tokenizer_path", "\u2603"), ("xlmr_tokenizer_path", "\U0001F980"),
                                            ("bytelevel_bpe_path", "\ue000")])
def test_the_unknown_token_is_the_id_the_reference_gives_unspellable_text(request, fixture, glyph):
    from tokenizers import Tokenizer

    reference = Tokenizer.from_file(str(request.getfixturevalue(fixture)))
    reference.no_padding()  # the MiniLM folder's file pads to 128
    ids = reference.encode(f"a {glyph} b", add_special_tokens=False).ids
    model = StaticModel(reference, np.zeros((reference.get_vocab_size(with_added_tokens=True), 4), np.float32))
    unknown = model._native.unknown_token
    if fixture == "bytelevel_bpe_path":  # byte-level BPE spells every text: it has no unknown token
        assert unknown is None
    else:
        assert unknown is not None and unknown == ids[-2]  # the glyph's (XLM-R puts its word mark before it)


# ---------------------------------------------------------------------------------------------- bm25 fusion


def _minmax(scores):
    scores = np.asarray(scores, np.float64)
    low, high = scores.min(axis=1, keepdims=True), scores.max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(high > low, (scores - low) / (high - low), 0.0)


def _bm25_by_hand(queries, documents, k1=1.5, b=0.75):
    """Lucene's BM25 (bm25s' default) over English-stemmed words without English stop words, one pair at a time."""
    import re

    import Stemmer
    from bm25s.stopwords import STOPWORDS_EN

    stem = Stemmer.Stemmer("english")

    def words(text):
        return [stem.stemWord(w) for w in re.findall(r"(?u)\b\w\w+\b", text.lower()) if w not in STOPWORDS_EN]

    docs = [words(d) for d in documents]
    mean = np.mean([len(d) for d in docs])
    df: dict[str, int] = {}
    for d in docs:
        for w in set(d):
            df[w] = df.get(w, 0) + 1
    out = np.zeros((len(queries), len(documents)))
    for i, q in enumerate(queries):
        for j, d in enumerate(docs):
            for w in set(words(q)):
                c = d.count(w)
                if c:
                    idf = np.log(1 + (len(docs) - df[w] + 0.5) / (df[w] + 0.5))
                    out[i, j] += idf * c / (c + k1 * (1 - b + b * len(d) / mean))
    return out


@pytest.mark.parametrize("dim", [None, 64])
def test_bm25_fuses_the_index_and_bm25_by_min_max(bert_tokenizer, table, real_texts, dim):
    # Real descriptions with copies (which BM25 counts, as the corpus weights do) and a query of none of their words.
    documents = real_texts[200:320] + real_texts[200:205]
    queries = [" ".join(t.split()[:4]) for t in real_texts[200:240:3]] + ["zzzz qqqq", "the of and"]
    model = StaticModel(bert_tokenizer, table, normalize=True)
    index = SearchIndex(model, documents, dim=dim, bm25="english")
    expected = 0.5 * _minmax(SearchIndex(model, documents, dim=dim).scores(queries)) + 0.5 * _minmax(
        _bm25_by_hand(queries, documents))
    got = index.scores(queries)
    assert got.dtype == np.float32 and got.shape == (len(queries), len(documents))
    np.testing.assert_allclose(got, expected, atol=2e-6)
    assert (got[:, 200 - 200] == got[:, 120]).all()  # a copy scores as its first
    hits = index.search(queries, top_k=7)
    for row, hit in zip(got, hits, strict=True):
        order = sorted(range(len(documents)), key=lambda j: (-row[j], j))[:7]
        assert [h["corpus_id"] for h in hit] == order
        np.testing.assert_allclose([h["score"] for h in hit], row[order], atol=1e-7)
    assert "min-max fused with BM25 (bm25='english')" in repr(index)


def test_bm25_fusion_in_small_query_chunks_is_the_same(bert_tokenizer, table, real_texts, monkeypatch):
    documents, queries = real_texts[:150], real_texts[150:170]
    model = StaticModel(bert_tokenizer, table)
    whole = SearchIndex(model, documents, bm25="english")
    expected, hits = whole.scores(queries), whole.search(queries, top_k=5)
    monkeypatch.setattr(I, "_FUSED_ELEMENTS", 300)  # two queries of 150 documents at a time
    assert whole._fused_chunk(4096) == 2
    np.testing.assert_allclose(whole.scores(queries), expected, atol=1e-6)  # BLAS rounds other chunks otherwise
    chunked = whole.search(queries, top_k=5, corpus_chunk_size=7)
    assert [[h["corpus_id"] for h in row] for row in chunked] == [[h["corpus_id"] for h in row] for row in hits]
    np.testing.assert_allclose([[h["score"] for h in row] for row in chunked],
                               [[h["score"] for h in row] for row in hits], atol=1e-6)


def test_bm25_is_checked(tiny_st_folder):
    model = StaticModel.from_pretrained(tiny_st_folder)
    documents = ["a cat on a mat", "dogs in the park", "a third document"]
    index = SearchIndex(model, documents, bm25="english")
    with pytest.raises(InvalidInputError, match=r"candidates.*whole collection"):
        index.search(["cat"], candidates=2)
    with pytest.raises(InvalidInputError, match=r"rerank.*whole collection"):
        index.rerank(["cat"], [[0, 1]])
    with pytest.raises(InvalidInputError, match=r"bm25='klingon' is not a Snowball stemmer.*english"):
        SearchIndex(model, documents, bm25="klingon")
    with pytest.raises(TypeError, match="bm25 must be a Snowball language name"):
        SearchIndex(model, documents, bm25=True)
    with pytest.raises(InvalidInputError, match="BM25 cannot index this corpus"):
        SearchIndex(model, ["a", "the of", "!"], bm25="english")
    # Another language: its stemmer, and its stop words where bm25s has them (French) or none (Finnish).
    french = SearchIndex(model, ["les élections présidentielles", "une élection", "le chat"], bm25="french")
    assert french.scores(["élections"])[0, 2] == 0.0
    finnish = SearchIndex(model, ["kissa istuu", "koira juoksee"], bm25="finnish")
    assert finnish.scores(["kissat"]).shape == (1, 2)
    assert index.search([], top_k=3) == [] and index.scores([]).shape == (0, 3)


def test_bm25_without_its_packages_says_what_to_install(tiny_st_folder, monkeypatch):
    import sys

    model = StaticModel.from_pretrained(tiny_st_folder)
    monkeypatch.setitem(sys.modules, "bm25s", None)
    with pytest.raises(ImportError, match=r"bm25= needs bm25s.*staticemb\[search\]"):
        SearchIndex(model, ["a text"], bm25="english")
