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


@pytest.mark.reference
def test_the_unknown_word_is_no_term_and_every_other_word_is(bert_tokenizer, table):
    """The index leaves the unknown token out of the terms by its id; here the terms are word numbers, so the
    word [UNK] makes is left out, not the word that happens to be numbered like the token."""
    from staticemb import SearchIndex, StaticModel

    model = StaticModel(bert_tokenizer, table)
    words = [w for w in (bert_tokenizer.id_to_token(i) for i in range(2000, 2400)) if w.isalpha()][:120]
    docs = [" ".join(words[i:i + 10]) for i in range(0, 120, 10)] + ["\u2603 snowman"]
    index = W.word_index(model, docs, corpus_weights=False, passages=False)
    plain = SearchIndex(model, docs, corpus_weights=False, passages=False, terms=False)
    unknown = bert_tokenizer.token_to_id("[UNK]")
    numbered = bert_tokenizer.decode(list(index._pieces[unknown]))  # the word numbered as [UNK]'s id
    terms = index.scores([numbered, "\u732b"]) - plain.scores([numbered, "\u732b"])
    assert terms[0, unknown // 10] == pytest.approx(1.0, abs=1e-5)  # found in its document
    np.testing.assert_allclose(terms[1], 0.0, atol=1e-6)  # "猫" is [UNK] alone: no terms


def test_rule_asks_for_half_a_point():
    def row(source, base, new):
        return study_row(W.STUDY, source, base, new)

    assert W.decide([row("debian", 0.70, 0.706), row("bbc", 0.80, 0.806)])[0] is True
    assert W.decide([row("debian", 0.70, 0.701), row("bbc", 0.80, 0.801)])[0] is False
