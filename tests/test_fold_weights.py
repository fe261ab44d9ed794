"""training/fold_weights.py: the index's parts weighed by what each fold chose on its training sources' dev splits."""

from __future__ import annotations

import numpy as np
from _study import study_row

from training import fold_weights as T
from training.late_interaction import components


def test_grid_starts_with_the_equal_weights_and_holds_each_point_once():
    g = T.grid()
    assert g[0] == T.EQUAL
    assert len(g) == len(set(g)) == len(T.GRID_PASSAGES) * len(T.GRID_TERMS)


def test_choose_takes_the_best_mean_over_the_dev_tasks_and_equal_weights_on_a_tie():
    # Two queries, two documents; query 0's answer is document 0 and query 1's document 1. The document part
    # ranks both wrong, the terms part both right, the passages part is flat: any w_t > 1 with w_p anything wins.
    doc = np.array([[0.0, 1.0], [1.0, 0.0]])
    terms = np.array([[1.0, 0.0], [0.0, 1.0]])
    flat = np.zeros((2, 2))
    relevant = [{0}, {1}]
    c = {"document": doc, "passages": flat, "terms": terms}
    w, score = T.choose([(c, relevant)])
    assert w[1] > 1.0 and score == 1.0
    assert T.ndcg(c, relevant, w) == 1.0 and T.ndcg(c, relevant, T.EQUAL) < 1.0
    # When every weight ranks alike, the equal weights stay.
    same = {"document": terms, "passages": terms, "terms": terms}
    assert T.choose([(same, relevant), (same, relevant)])[0] == T.EQUAL


def test_ndcg_weighs_the_index_parts(tiny_st_folder):
    from staticemb import SearchIndex, StaticModel
    from staticemb.evaluation import multi_retrieval_metrics

    model = StaticModel.from_pretrained(tiny_st_folder)
    docs = ["the model reads the table", "the model pools rows", "python rust"]
    queries = ["model table", "rust"]
    relevant = [{0}, {2}]
    c = components(SearchIndex(model, docs), queries)
    expected = multi_retrieval_metrics(c["document"] + 0.5 * c["passages"] + 3.0 * c["terms"], relevant)["NDCG@10"]
    assert T.ndcg(c, relevant, (0.5, 3.0)) == expected
    # The equal weights are the index's own score.
    np.testing.assert_allclose(c["document"] + c["passages"] + c["terms"], SearchIndex(model, docs).scores(queries),
                               atol=1e-5)


def _row(source, base, new):
    return study_row(T.STUDY, source, base, new, w_p=1.0, w_t=2.0)


def test_rule_asks_for_half_a_point_and_report_lists_the_weights():
    assert T.decide([_row("debian", 0.70, 0.706), _row("bbc", 0.80, 0.806)])[0] is True
    assert T.decide([_row("debian", 0.70, 0.70), _row("bbc", 0.80, 0.80)])[0] is False
    report = T.render([_row("debian", 0.70, 0.706), _row("bbc", 0.80, 0.806)], command="x", seconds=60)
    assert "| bbc | lead | (1, 2) | (1, 2) |" in report
    assert "**adopted**" in report
