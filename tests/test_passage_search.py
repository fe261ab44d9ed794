"""staticemb.split_passages and staticemb.passage_search: a long document scored by its whole and its best
passage; against a direct computation, on a real tokenizer and real text, and on bad input."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from staticemb import InvalidInputError, StaticModel, passage_search, semantic_search, split_passages


def _words(n, tag="w"):
    return " ".join(f"{tag}{i}" for i in range(n))


def test_sentences_are_packed_to_the_minimum_and_cut_at_the_maximum():
    text = "Short one. " + _words(7) + " w7. Tail end."
    parts, owner = split_passages([text])
    # "Short one." is packed with the next sentence; the two-word tail joins the passage before it.
    assert parts == [text] and owner.tolist() == [0]
    long = _words(2 * 48 + 5, "x")  # no sentence end at all
    parts, _ = split_passages([long])
    assert [len(p.split()) for p in parts] == [48, 48, 5] and " ".join(parts) == long
    three = " ".join(f"s{k}a s{k}b s{k}c s{k}d s{k}e s{k}f." for k in range(3))
    parts, owner = split_passages(["a b", "", "   ", three, "Why? Because! (Quoted.)"])
    assert parts[:3] == ["a b", "", ""] and len(parts) == 7 and owner.tolist() == [0, 1, 2, 3, 3, 3, 4]
    assert parts[6] == "Why? Because! (Quoted.)"
    # Every word in exactly one passage, in order, whitespace normalized; other sizes.
    for t in (text, long, three, "Line one.\n\tLine  two is here.\n" * 9):
        for lo, hi in ((6, 48), (1, 1), (3, 10), (50, 50)):
            parts, owner = split_passages([t, t], min_words=lo, max_words=hi)
            half = len(parts) // 2
            assert " ".join(parts[:half]).split() == t.split() and parts[:half] == parts[half:]
            assert all(len(p.split()) <= hi for p in parts) and owner.dtype == np.int64
    parts, owner = split_passages([])
    assert parts == [] and owner.shape == (0,)


def test_text_without_spaces_is_cut_into_passages_by_characters():
    # A long Chinese document was one passage (only whitespace and ASCII .!? were seen), so a query matching its
    # last sentence could not find it past the model's max_length.
    zh = "今天天气很好我们去公园散步。" * 20 + "电脑软件程序。"
    parts, owner = split_passages([zh])
    assert len(parts) == 21 and parts[-1] == "电脑软件程序。" and "".join(parts) == zh
    # No sentence end: cut every max_words characters; spaced words keep their spaces, unspaced runs none.
    th = "สวัสดีครับ" * 12  # 120 code points, 84 letters: a vowel sign or tone mark stays with its letter
    parts, _ = split_passages([th], max_words=48)
    assert len(parts) == 2 and parts[1] == "บ" + "สวัสดีครับ" * 5 and "".join(parts) == th  # 48 + 36 letters
    assert not any(unicodedata.category(p[0]).startswith("M") for p in parts)
    # Vowels written after (า) or before (เ) their consonant, and Khmer's stacked consonants, stay in their syllable.
    for text, syllable in (("กา" * 60, "กา"), ("เก" * 60, "เก"), ("ស្រី" * 60, "ស្រី")):
        parts, _ = split_passages([text], max_words=48)
        assert "".join(parts) == text and all(p == syllable * (len(p) // len(syllable)) for p in parts), text
    mixed = "Python 3 は便利です。NumPy と SciPy もあります！ end."
    parts, _ = split_passages([mixed], min_words=1)
    assert parts == ["Python 3 は便利です。", "NumPy と SciPy もあります！", "end."]
    # Hangul is written with spaces: its words stay whole.
    assert split_passages(["한국어 문장 입니다."], min_words=1)[0] == ["한국어 문장 입니다."]


def test_a_long_unspaced_document_is_found_by_its_last_sentence():
    from staticemb import SearchIndex
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    docs = ["今天天气很好我们去公园散步。" * 120 + "电脑软件程序。", "无关的文字。", "其他的内容。"]
    chars = sorted(set("".join(docs)))
    tok = Tokenizer(models.WordLevel({c: i for i, c in enumerate(["[UNK]", *chars])}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(handle_chinese_chars=True, lowercase=False)  # one token per
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()  # CJK character, as BERT's tokenizers do
    table = np.random.default_rng(0).standard_normal((len(chars) + 1, 32)).astype(np.float32)
    model = StaticModel(tok, table, max_length=512)  # the cap hides the document's end from its mean
    [hits] = SearchIndex(model, docs, terms=False).search(["电脑软件程序"], top_k=3)  # vector and passages only
    # The last passage holds the query's six characters and "。": the whole document's mean holds none of them.
    assert hits[0]["corpus_id"] == 0 and hits[0]["score"] > 0.8, hits  # (one passage: 0.21, last)


@pytest.mark.parametrize("bad, error, match", [
    ("one text", TypeError, "not a single str"),
    (None, TypeError, "not None"),
    (["fine", 3], TypeError, "document 1 is int"),
    ({"a", "b"}, TypeError, "ordered"),
])
def test_split_passages_names_bad_documents(bad, error, match):
    with pytest.raises(error, match=match):
        split_passages(bad)


def test_split_passages_checks_its_sizes():
    with pytest.raises(InvalidInputError, match="must not exceed"):
        split_passages(["x"], min_words=10, max_words=5)
    with pytest.raises(InvalidInputError, match="at least 1"):
        split_passages(["x"], min_words=0)
    with pytest.raises(TypeError, match="max_words must be an int"):
        split_passages(["x"], max_words=4.5)


def _direct(q, d, p, owner):
    def unit(x):
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    q, d, p = unit(np.asarray(q, np.float64)), unit(np.asarray(d, np.float64)), unit(np.asarray(p, np.float64))
    whole = q @ d.T
    best = np.stack([(q @ p[owner == j].T).max(axis=1) for j in range(len(d))], axis=1)
    return whole + best


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 1000])
def test_passage_search_is_the_whole_plus_the_best_passage_in_any_blocks(chunk):
    rng = np.random.default_rng(chunk)
    owner = np.repeat(np.arange(9), rng.integers(1, 5, size=9))
    q, d, p = rng.normal(size=(11, 6)), rng.normal(size=(9, 6)), rng.normal(size=(len(owner), 6))
    expected = _direct(q, d, p, owner)
    hits = passage_search(q.astype(np.float32), d.astype(np.float32), p.astype(np.float32), owner, top_k=4,
                          query_chunk_size=chunk, corpus_chunk_size=chunk)
    for row, got in zip(expected, hits, strict=True):
        order = np.lexsort((np.arange(len(row)), -row))[:4]
        assert [h["corpus_id"] for h in got] == order.tolist()
        np.testing.assert_allclose([h["score"] for h in got], row[order], rtol=1e-5, atol=1e-6)
    one = passage_search(q[0], d, p, owner, top_k=100)
    assert len(one) == 1 and len(one[0]) == 9


def test_one_passage_per_document_that_is_the_document_scores_twice_its_cosine():
    rng = np.random.default_rng(1)
    q, d = rng.normal(size=(5, 8)), rng.normal(size=(7, 8))
    got = passage_search(q, d, d, np.arange(7), top_k=7)
    plain = semantic_search(q, d, top_k=7)
    assert [[h["corpus_id"] for h in r] for r in got] == [[h["corpus_id"] for h in r] for r in plain]
    np.testing.assert_allclose([[h["score"] for h in r] for r in got],
                               [[2 * h["score"] for h in r] for r in plain], rtol=1e-6)


def test_on_a_real_tokenizer_and_real_text_the_best_passage_finds_a_sentence_buried_in_a_long_document(
        bert_tokenizer, real_texts, table):
    model = StaticModel(bert_tokenizer, table, normalize=False)
    # Each document: one real text buried among many others; its query is that text.
    rng = np.random.default_rng(3)
    docs, queries = [], []
    for k in range(20):
        filler = [real_texts[i] for i in rng.choice(len(real_texts), size=12, replace=False)]
        filler.insert(int(rng.integers(0, 12)), real_texts[k])
        docs.append(" ".join(filler))
        queries.append(real_texts[k])
    parts, owner = split_passages(docs)
    q, d, p = model.encode(queries), model.encode(docs), model.encode(parts)
    hits = passage_search(q, d, p, owner, top_k=3)
    expected = _direct(q, d, p, owner)
    for row, got in zip(expected, hits, strict=True):
        assert [h["corpus_id"] for h in got] == np.argsort(-row, kind="stable")[:3].tolist()
    whole = semantic_search(q, d, top_k=1)
    found = sum(h[0]["corpus_id"] == i for i, h in enumerate(hits))
    assert found >= sum(h[0]["corpus_id"] == i for i, h in enumerate(whole)) and found >= 15


@pytest.mark.parametrize("owner, match", [
    ([0, 1, 1], "3 entries for 4"),
    ([0, 1, 2, 3], "not a document index"),
    ([0, 2, 1, 2], "non-decreasing"),
    ([0, 0, 2, 2], "document 1 has no passage"),
    ([-1, 0, 1, 2], "not a document index"),
    ([[0, 1], [1, 2]], "1-D"),
    ([0.0, 1.0, 1.0, 2.0], "integers"),
])
def test_passage_search_names_a_bad_owner(owner, match):
    rng = np.random.default_rng(0)
    q, d, p = rng.normal(size=(2, 4)), rng.normal(size=(3, 4)), rng.normal(size=(4, 4))
    with pytest.raises(InvalidInputError, match=match):
        passage_search(q, d, p, np.asarray(owner), top_k=2)


def test_passage_search_names_bad_embeddings():
    rng = np.random.default_rng(0)
    q, d, p, owner = rng.normal(size=(2, 4)), rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), np.arange(3)
    with pytest.raises(InvalidInputError, match="passage_embeddings have 5 dimensions"):
        passage_search(q, d, rng.normal(size=(3, 5)), owner)
    with pytest.raises(InvalidInputError, match="query_embeddings have 3 dimensions"):
        passage_search(rng.normal(size=(2, 3)), d, p, owner)
    with pytest.raises(InvalidInputError, match="float embeddings"):
        passage_search(q, d.astype(np.int8), p, owner)
    bad = p.copy()
    bad[2, 1] = np.nan
    with pytest.raises(InvalidInputError, match=r"passage_embeddings hold NaN or infinity \(row 2\)"):
        passage_search(q, d, bad, owner)
    with pytest.raises(InvalidInputError, match="must be 2-D"):
        passage_search(q, d[0], p, owner)
    with pytest.raises(TypeError, match="passage_embeddings must be a NumPy array"):
        passage_search(q, d, "passages", owner)
    with pytest.raises(TypeError, match="top_k must be an int"):
        passage_search(q, d, p, owner, top_k=None)
    assert passage_search(np.zeros((0, 4)), d, p, owner) == []


def test_an_unsigned_owner_out_of_order_is_refused_and_an_empty_one_accepted():
    d = np.eye(2, 4, dtype=np.float32)
    q = np.array([[1, 0, 0, 0]], np.float32)
    p = np.array([[0, 0, 1, 0], [0, 1, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0]], np.float32)
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int64):
        with pytest.raises(InvalidInputError, match="non-decreasing"):
            passage_search(q, d, p, np.array([0, 1, 1, 0], dtype))
        hits = passage_search(q, d, p, np.array([0, 0, 1, 1], dtype))
        assert [(h["corpus_id"], h["score"]) for h in hits[0]] == [(0, 1.0), (1, 1.0)]  # a tie, by id
    assert passage_search(q, d[:0], p[:0], []) == [[]]


def test_huge_chunk_sizes_mean_one_block_and_bad_documents_are_named():
    rng = np.random.default_rng(3)
    q, d, p = rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    expected = passage_search(q, d, p, np.arange(5))
    assert passage_search(q, d, p, np.arange(5), query_chunk_size=2**70, corpus_chunk_size=2**63) == expected
    bad = d.copy()
    bad[3, 0] = np.inf
    with pytest.raises(InvalidInputError, match=r"document_embeddings hold NaN or infinity \(row 3\)"):
        passage_search(q, bad, p, np.arange(5))
