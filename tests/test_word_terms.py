"""training/word_terms.py: words made of a token and its ## pieces, their rows the sum of the pieces', a word of
one piece left as its token, and the report's rule."""

from __future__ import annotations

import numpy as np
import pytest
from _study import study_row

from training import word_terms as W
from training.late_interaction import components


@pytest.mark.reference
def test_words_join_pieces_and_single_piece_words_are_their_tokens(bert_tokenizer, table):
    from staticemb import SearchIndex, StaticModel

    model = StaticModel(bert_tokenizer, table)
    docs = ["Greenspan speaks on the dollar", "the greens of the garden", "", "openssl and greenspan greenspan"]
    index = W.word_index(model, docs, corpus_weights=False, passages=False)
    pieces = {tuple(bert_tokenizer.id_to_token(i) for i in p) for p in index._pieces}
    assert ("greens", "##pan") in pieces and ("greens",) in pieces and ("dollar",) in pieces
    rows = index._term_rows(np.array([index._words[tuple(bert_tokenizer.token_to_id(t) for t in ("greens", "##pan"))]]))
    ids = [bert_tokenizer.token_to_id(t) for t in ("greens", "##pan")]
    np.testing.assert_allclose(rows[0], table[ids].sum(axis=0), rtol=1e-6)
    words = components(index, ["greenspan dollar", "garden greens", ""])["terms"]
    tokens = components(SearchIndex(model, docs, corpus_weights=False, passages=False),
                        ["greenspan dollar", "garden greens", ""])["terms"]
    assert words[0, 0] == pytest.approx(1.0) and words[0, 3] < tokens[0, 3]  # "greenspan" whole, "dollar" missing
    np.testing.assert_allclose(words[1, 1], tokens[1, 1], atol=1e-6)  # no split word: the same score
    assert not words[2].any()


def test_rule_asks_for_half_a_point():
    def row(source, base, new):
        return study_row(W.STUDY, source, base, new)

    assert W.decide([row("debian", 0.70, 0.706), row("bbc", 0.80, 0.806)])[0] is True
    assert W.decide([row("debian", 0.70, 0.701), row("bbc", 0.80, 0.801)])[0] is False
