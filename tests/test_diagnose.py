"""training/diagnose.py: the query groups (split word, unique word) from a tokenizer's own words, the grouped
rows and the report."""

from __future__ import annotations

import numpy as np
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from training import diagnose as G


def _tokenizer() -> Tokenizer:
    vocab = {"[UNK]": 0, "the": 1, "cat": 2, "sat": 3, "on": 4, "mat": 5, "zan": 6, "##zibar": 7, "dog": 8, "a": 9}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tok


def test_words_are_the_tokenizers_own():
    assert G.words(_tokenizer(), "The Cat, sat!") == ["the", "cat", ",", "sat", "!"]


def test_query_groups():
    corpus = ["the cat sat on the mat", "a dog sat on a mat in Zanzibar", "the dog"]
    queries = ["Zanzibar dog", "cat on mat", "the dog", "sat"]
    groups = G.query_groups(_tokenizer(), queries, corpus, [[1], [0], [2], [0, 2]])
    # "zanzibar" is cut into zan + ##zibar, and one document holds it; "cat" only the first document.
    np.testing.assert_array_equal(groups["split"], [True, False, False, False])
    np.testing.assert_array_equal(groups["unique"], [True, True, False, False])
    # Lengths 6, 8 and 2 words (median 6): only the second document is long; several relevant: the longest.
    np.testing.assert_array_equal(groups["long"], [True, False, False, False])


def test_group_rows_and_report():
    ours = np.array([1.0, 0.5, 1.0, 0.0])
    bm25 = np.array([1.0, 1.0, 0.5, 1.0])
    groups = {"split": np.array([True, True, False, False]), "unique": np.array([True, False, False, False]),
              "long": np.array([False, False, False, False])}
    rows = G.group_rows("bbc", ours, bm25, groups, resamples=200)
    by = {r["group"]: r for r in rows}
    assert by["all queries"]["queries"] == 4 and by["with a split word"]["queries"] == 2
    assert by["with a split word"]["stats"]["mean"] == -0.25
    assert by["split and unique"]["queries"] == 1 and by["neither"]["queries"] == 2
    assert "with a unique word" in by and "without a unique word" in by
    assert "long document (added after)" not in by and by["short document (added after)"]["queries"] == 4
    text = G.render(rows, command="python -m training.diagnose", seconds=120, resamples=200, collections=3)
    assert "| bbc | 2 | with a split word | 75.0 | 100.0 | -25.0 |" in text
    assert "`python -m training.diagnose` (2 min)" in text and "3 collections" in text
