"""training/term_idf.py: BM25's IDF of the collection's tokens as the terms part's weights, and the rule."""

from __future__ import annotations

import numpy as np
from _study import study_row

from training import term_idf as T
from training.late_interaction import components


def test_query_tokens_are_weighed_by_their_idf_in_the_collection(tiny_st_folder):
    from staticemb import SearchIndex, StaticModel

    model = StaticModel.from_pretrained(tiny_st_folder)
    docs = ["the model reads the table", "the model pools rows", "", "python rust"]
    index = T.idf_index(model, docs, corpus_weights=False, passages=False)
    tokens = [model.tokenize([w])[0][0] for w in ("the", "python")]
    weights = index._term_weights(np.array(tokens + [10**6]), np.ones(3))
    n = len(docs)
    np.testing.assert_allclose(weights, [np.log1p((n - 2 + 0.5) / 2.5), np.log1p((n - 1 + 0.5) / 1.5),
                                         np.log1p((n + 0.5) / 0.5)])
    # A text listed twice counts twice (the index holds it once): "python" is now in 3 of 6 documents.
    copies = T.idf_index(model, [*docs, "python rust", "python"], corpus_weights=False, passages=False)
    np.testing.assert_allclose(copies._term_weights(np.array(tokens[1:]), np.ones(1)),
                               [np.log1p((6 - 3 + 0.5) / 3.5)])
    # With one query token the weights cancel: the terms part is the plain index's.
    plain = SearchIndex(model, docs, corpus_weights=False, passages=False)
    np.testing.assert_allclose(components(index, ["python"])["terms"], components(plain, ["python"])["terms"],
                               atol=1e-6)


def test_rule_asks_for_half_a_point():
    def row(source, base, new):
        return study_row(T.STUDY, source, base, new)

    assert T.decide([row("debian", 0.70, 0.706), row("bbc", 0.80, 0.806)])[0] is True
    assert T.decide([row("debian", 0.70, 0.70), row("bbc", 0.80, 0.80)])[0] is False
