"""training/vocabulary.py: whole words added to bert-base-uncased keep exact ids, start at their pieces' mean, and
load identically in Sentence Transformers."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter

import numpy as np
import pytest

from training import vocabulary as V


@pytest.fixture(scope="module")
def ascii_texts(real_texts) -> list[str]:
    """Real Debian sentences in plain ASCII (so a regular expression can cut words as BertPreTokenizer does)."""
    return [t for t in real_texts[:8_000] if t.isascii()]


@pytest.fixture(scope="module")
def words(bert_tokenizer, ascii_texts) -> list[tuple[str, int]]:
    return V.frequent_words(bert_tokenizer.to_str(), ascii_texts, words=500, min_count=3)


def test_frequent_words_are_counted_as_the_tokenizer_cuts_them(bert_tokenizer, ascii_texts, words):
    vocab = bert_tokenizer.get_vocab()
    # Independent count: lower-cased ASCII text cut into letter-and-digit runs (BERT splits at spaces and at
    # every punctuation character).
    reference = Counter(w for t in ascii_texts for w in re.findall(r"[a-z0-9]+", t.lower()))
    assert len(words) == 500
    assert all(w not in vocab and c >= 3 for w, c in words)
    assert [c for _, c in words] == sorted((c for _, c in words), reverse=True)
    for w, c in words:
        assert reference[w] == c, w
    # Nothing more frequent was left out.
    missing = [w for w, c in reference.items() if w not in vocab and c > words[-1][1]]
    assert set(missing) <= {w for w, _ in words}


def test_extended_tokenizer_takes_whole_words_with_exact_ids(bert_tokenizer, ascii_texts, words):
    from staticemb import StaticModel
    from tokenizers import Tokenizer

    new = [w for w, _ in words]
    extended = V.extend_tokenizer(bert_tokenizer.to_str(), new)
    tok = Tokenizer.from_str(extended)
    tok.no_padding()
    tok.no_truncation()
    assert [tok.token_to_id(w) for w in new] == list(range(30_522, 30_522 + len(new)))
    assert tok.encode(f"{new[0]} {new[1].upper()}", add_special_tokens=False).ids == [30_522, 30_523]
    model = StaticModel(extended, np.zeros((30_522 + len(new), 4), np.float32))
    assert model.tokenizer_backend == "native-wordpiece"
    texts = ascii_texts[:3_000] + ["", "naïve café", "日本語", new[-1] + "s"]
    ids, offsets = model.tokenize(texts)
    reference = [tok.encode(t, add_special_tokens=False).ids for t in texts]
    np.testing.assert_array_equal(ids, np.concatenate([np.asarray(r, np.uint32) for r in reference]))
    np.testing.assert_array_equal(offsets, np.cumsum([0, *map(len, reference[:-1])]))
    plain, _ = StaticModel(bert_tokenizer, np.zeros((30_522, 4), np.float32)).tokenize(texts)
    assert len(ids) < len(plain)
    with pytest.raises(ValueError, match="already in the vocabulary"):
        V.extend_tokenizer(bert_tokenizer.to_str(), ["the"])
    unigram = json.loads(bert_tokenizer.to_str())
    unigram["model"]["type"] = "Unigram"
    with pytest.raises(ValueError, match="WordPiece"):
        V.extend_tokenizer(json.dumps(unigram), new)


def test_new_rows_start_at_their_pieces_mean_and_load_in_sentence_transformers(
        tmp_path, bert_tokenizer, table, ascii_texts, words):
    from sentence_transformers import SentenceTransformer
    from staticemb import StaticModel

    base = StaticModel(bert_tokenizer, table)
    new = [w for w, _ in words[:50]]
    model = V.extended_init(base, new, tmp_path / "init")
    grown = model.dequantized()
    np.testing.assert_array_equal(grown[:30_522], table)
    for i, w in enumerate(new):
        pieces = bert_tokenizer.encode(w, add_special_tokens=False).ids
        assert len(pieces) > 1
        np.testing.assert_allclose(grown[30_522 + i], table[pieces].mean(0), atol=1e-6)
    texts = ascii_texts[:300] + [" ".join(new), unicodedata.normalize("NFD", "Café " + new[0])]
    ours = StaticModel.from_pretrained(tmp_path / "init").encode(texts)
    theirs = SentenceTransformer(str(tmp_path / "init"), device="cpu").encode(texts, convert_to_numpy=True)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
