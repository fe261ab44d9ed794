"""training/stem_terms.py: the study's index is the library's ``SearchIndex(stemmer="english")``, and the rule."""

from __future__ import annotations

import numpy as np
from _study import study_row

from training import stem_terms as T
from training.late_interaction import components


def test_the_study_scores_the_librarys_stemmed_index(tiny_st_folder):
    from staticemb import SearchIndex, StaticModel

    model = StaticModel.from_pretrained(tiny_st_folder)
    docs = ["the tests copy every table", "a model measures rows", "python rust embedding"]
    queries = ["test copying", "measure", "rust"]
    got = components(T.stem_index(model, docs, dim=8, a=1e-3), queries)
    want = components(SearchIndex(model, docs, dim=8, a=1e-3, stemmer="english"), queries)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name])
    # "test" is not in document 0 but "tests" is: a full match, where the unstemmed index matches it softly.
    plain = components(SearchIndex(model, docs, dim=8, a=1e-3), queries)["terms"]
    assert got["terms"][0, 0] == np.float32(1.0) > plain[0, 0]


def test_rule_asks_for_half_a_point():
    def row(source, base, new):
        return study_row(T.STUDY, source, base, new)

    assert T.decide([row("debian", 0.70, 0.706), row("bbc", 0.80, 0.806)])[0] is True
    assert T.decide([row("debian", 0.70, 0.70), row("bbc", 0.80, 0.80)])[0] is False
