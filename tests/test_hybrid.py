"""training/hybrid.py: reciprocal rank fusion of BM25 and the static model, its report and its rule."""

from __future__ import annotations

import numpy as np
import pytest
from staticemb.evaluation import multi_retrieval_metrics

from training import hybrid as H


def test_competition_ranks_share_ties_and_ignore_corpus_order():
    scores = np.array([[0.1, 0.9, 0.5, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    assert H.competition_ranks(scores).tolist() == [[4, 1, 2, 2, 5], [1, 1, 1, 1, 1]]
    # Permuting the documents permutes the ranks and nothing else.
    order = np.random.default_rng(0).permutation(5)
    assert (H.competition_ranks(scores[:, order]) == H.competition_ranks(scores)[:, order]).all()
    with pytest.raises(ValueError, match="2-D"):
        H.competition_ranks(np.zeros(3))


def test_fusion_sums_reciprocal_ranks():
    a = np.array([[3.0, 2.0, 1.0]])
    b = np.array([[0.1, 0.3, 0.2]])
    fused = H.reciprocal_rank_fusion(a, b, k=60)
    np.testing.assert_allclose(fused, [[1 / 61 + 1 / 63, 1 / 62 + 1 / 61, 1 / 63 + 1 / 62]])
    # One ranking fused with itself keeps its order; with k = 0 the top document of both wins outright.
    assert np.argsort(-H.reciprocal_rank_fusion(a, a)[0]).tolist() == [0, 1, 2]
    assert H.reciprocal_rank_fusion(a, k=0)[0, 0] == 1.0
    with pytest.raises(ValueError, match="different shapes"):
        H.reciprocal_rank_fusion(a, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="at least one"):
        H.reciprocal_rank_fusion()
    with pytest.raises(ValueError, match="k must be"):
        H.reciprocal_rank_fusion(a, k=-1)


def test_fusion_recovers_what_either_ranking_misses():
    # Each ranking puts the relevant document first for half of the queries and third for the other half, and
    # the two disagree on every other document (one ranks them in the reverse order of the other): fused, the
    # relevant document is first for every query.
    n = 40
    lexical, dense = np.zeros((n, n)), np.zeros((n, n))
    for q in range(n):
        others = [j for j in range(n) if j != q]
        for scores, order, place in ((lexical, others, 0 if q % 2 else 2), (dense, others[::-1], 2 if q % 2 else 0)):
            ranking = order[:place] + [q] + order[place:]
            scores[q, ranking] = np.arange(n, 0, -1)
    relevant = [[q] for q in range(n)]
    assert multi_retrieval_metrics(lexical, relevant)["Recall@1"] == 0.5
    assert multi_retrieval_metrics(dense, relevant)["Recall@1"] == 0.5
    assert multi_retrieval_metrics(H.reciprocal_rank_fusion(lexical, dense), relevant)["Recall@1"] == 1.0


def _row(source, bm25, fused, fused_256=None):
    fused_256 = fused if fused_256 is None else fused_256
    return {"source": source, "bm25": bm25, "minilm": 0.8, "static 1024": bm25 - 0.08, "static 256": bm25 - 0.09,
            "fused 1024": fused, "fused 256": fused_256}


def test_report_and_rule(monkeypatch):
    monkeypatch.setattr(H, "hardware", lambda: "a test machine")
    rows = [_row("debian", 0.80, 0.83), _row("pydoc", 0.50, 0.51)]
    text = H.render(rows, command="c", seconds=60)
    assert "| debian | 1024 | 72.0 | 80.0 | 83.0 | +3.0 | 80.0 |" in text
    assert "| **mean of 2** | 256 | 56.0 | 65.0 | 67.0 | +2.0 | 80.0 |" in text
    assert "**adopted**: smallest margin over BM25 (stemmed) at 256-d +1.0 (pydoc)" in text
    # Below BM25 on one source, or at one width: not adopted.
    assert H.decide([_row("debian", 0.80, 0.83), _row("pydoc", 0.50, 0.49)]) == (
        False, "smallest margin over BM25 (stemmed) at 256-d -1.0 (pydoc); "
               "smallest margin over BM25 (stemmed) at 1024-d -1.0 (pydoc)")
    assert H.decide([_row("debian", 0.80, 0.83, 0.80)])[0] is False
    assert H.decide([]) == (False, "no held-out source was scored")


def test_static_sides_score_as_the_library_does(st_folder, real_texts):
    from staticemb import SearchIndex, StaticModel
    from staticemb.evaluation import cosine_scores

    model = StaticModel.from_pretrained(st_folder, normalize=False)
    task = {"queries": real_texts[:5], "corpus": real_texts[5:25]}
    vector = H.static_scores(model, task, "vector")
    index = H.static_scores(model, task, "index")
    assert sorted(vector) == sorted(index) == sorted(H.loso.DIMS)
    weighted = model.with_corpus_weights(task["corpus"], a=H.SIF_A)
    for dim in H.loso.DIMS:
        q, d = weighted.encode(task["queries"]), weighted.encode(task["corpus"])
        np.testing.assert_allclose(vector[dim], cosine_scores(q[:, :dim], d[:, :dim]), rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(index[dim], SearchIndex(model, task["corpus"], dim=dim).scores(task["queries"]))
        assert index[dim].shape == (5, 20)
        # The index adds the best passage and the terms to the vector: not the same scores.
        assert not np.allclose(index[dim], vector[dim])
    with pytest.raises(ValueError, match="static must be one of"):
        H.static_scores(model, task, "bm25")


def test_report_names_the_static_side(monkeypatch):
    monkeypatch.setattr(H, "hardware", lambda: "a test machine")
    text = H.render([_row("bbc", 0.93, 0.95)], command="c", seconds=60, static="index")
    assert "| held-out source | dim | fold's SearchIndex | BM25 (stemmed) |" in text
    assert "searched by SearchIndex" in text
    assert "searched by SearchIndex" not in H.render([_row("bbc", 0.93, 0.95)], command="c", seconds=60)


def test_minmax_fusion_is_the_librarys_mean_of_normalized_scores():
    from staticemb.index import minmax_fusion

    assert H.FUSIONS["minmax"][0] is minmax_fusion  # the experiment scores what SearchIndex(bm25=...) runs
    a = np.array([[3.0, 2.0, 1.0], [5.0, 5.0, 5.0]])
    b = np.array([[0.0, 4.0, 2.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(minmax_fusion(a, b), [[0.5, 0.75, 0.25], [0.0, 0.0, 0.5]])
    # A margin counts, not only the order: b's wide lead for document 1 outweighs a's narrow one for document 0.
    close = np.array([[1.0, 0.99, 0.0]])
    wide = np.array([[0.1, 1.0, 0.0]])
    assert np.argmax(minmax_fusion(close, wide)) == 1
    assert minmax_fusion(a, b).dtype == np.float32
    with pytest.raises(ValueError, match="different shapes"):
        minmax_fusion(a, b[:, :2])
    with pytest.raises(ValueError, match="at least one"):
        minmax_fusion()


def test_significance_report_of_the_fused_index():
    from training import hybrid_significance as HS

    fused, bm25 = np.array([1.0, 0.5, 1.0, 0.0]), np.array([0.5, 0.5, 1.0, 0.5])
    r = HS.row("bbc, plain", fused, bm25, resamples=200)
    assert (r["queries"], r["fused"], r["bm25"], r["wins"], r["losses"]) == (4, 0.625, 0.625, 1, 1)
    text = HS.render([r], [HS.row("test split", fused, bm25, 200)], command="python -m training.hybrid_significance",
                     seconds=60, resamples=200)
    assert "| bbc, plain | 4 | 62.5 | 62.5 | +0.0 |" in text and "| test split | 4 |" in text
    assert "bm25='english'" in text
