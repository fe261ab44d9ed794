"""training/passage_scoring.py: a document's passages, its scores by its whole and its passages, the report."""

from __future__ import annotations

import numpy as np
import pytest

from training import passage_scoring as P


def test_passage_scores_match_a_direct_computation():
    rng = np.random.default_rng(0)
    q, d = rng.normal(size=(7, 5)), rng.normal(size=(4, 5))
    owner = np.array([0, 0, 1, 2, 2, 2, 3])
    p = rng.normal(size=(len(owner), 5))
    got = P.passage_scores(q, d, p, owner, block=3)

    def cos(a, b):
        return a @ b / np.linalg.norm(a) / np.linalg.norm(b)

    for i in range(len(q)):
        for j in range(len(d)):
            mine = [cos(q[i], p[k]) for k in np.nonzero(owner == j)[0]]
            whole = cos(q[i], d[j])
            assert got["doc"][i, j] == pytest.approx(whole, abs=1e-9)
            assert got["maxp"][i, j] == pytest.approx(max(mine), abs=1e-9)
            assert got["doc+maxp"][i, j] == pytest.approx(whole + max(mine), abs=1e-9)
            assert got["doc+firstp"][i, j] == pytest.approx(whole + mine[0], abs=1e-9)
    with pytest.raises(ValueError, match="at least one passage"):
        P.passage_scores(q, d, p[:6], owner[:6])
    with pytest.raises(ValueError, match="document order"):
        P.passage_scores(q, d, p, owner[::-1])


def _row(source, doc, maxp):
    row = {"source": source, "stem": 0.8, "minilm": 0.85}
    for model in P.MODELS:
        for dim in ("1024", "256"):
            row.update({f"{model} doc {dim}": doc, f"{model} doc+maxp {dim}": maxp,
                        f"{model} maxp {dim}": maxp - 0.01, f"{model} doc+firstp {dim}": doc})
    return row


def test_report_and_rule():
    rows = [_row("debian", 0.70, 0.75), _row("bbc", 0.80, 0.82)]
    text = P.render(rows, command="python -m training.passage_scoring", seconds=60)
    assert "**adopted**" in text and "| **mean of 2** | lead | 1024 | 75.0 | 78.5 (+3.5) |" in text
    assert "above BM25 with stemming on 1 of 2 (bbc)" in text
    assert P.decide([_row("debian", 0.70, 0.75), _row("pydoc", 0.46, 0.44)])[0] is False


def test_the_rules_score_is_the_librarys_passage_search():
    from staticemb import passage_search

    rng = np.random.default_rng(5)
    owner = np.repeat(np.arange(12), rng.integers(1, 4, size=12))
    q, d, p = rng.normal(size=(9, 8)), rng.normal(size=(12, 8)), rng.normal(size=(len(owner), 8))
    scores = P.passage_scores(q, d, p, owner)[P.RULE]
    for row, hits in zip(scores, passage_search(q, d, p, owner, top_k=5), strict=True):
        assert [h["corpus_id"] for h in hits] == np.argsort(-row, kind="stable")[:5].tolist()
        np.testing.assert_allclose([h["score"] for h in hits], np.sort(row)[::-1][:5], rtol=1e-6)
