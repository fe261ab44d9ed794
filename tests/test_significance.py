"""training/significance.py: per-query NDCG averaging to the library's metric, the paired interval and test on
known differences, and the report."""

from __future__ import annotations

import numpy as np

from training import significance as S


def test_per_query_ndcg_averages_to_the_librarys_metric():
    from staticemb.evaluation import multi_retrieval_metrics

    rng = np.random.default_rng(0)
    scores = rng.normal(size=(30, 50))
    scores[3, 7] = scores[3, 8] = scores[3].max() + 1  # a tie between a relevant document and another
    relevant = [[int(i)] for i in rng.integers(0, 50, 30)]
    relevant[3] = [8]
    relevant[4] = [1, 2, 9]
    per_query = S.per_query_ndcg(scores, relevant)
    assert per_query.shape == (30,)
    assert per_query.mean() == multi_retrieval_metrics(scores, relevant)["NDCG@10"]


def test_paired_interval_and_test():
    rng = np.random.default_rng(1)
    b = rng.uniform(size=400)
    shifted = S.paired(b + 0.05 + rng.normal(0, 0.02, 400), b, 2000)
    assert shifted["low"] > 0.04 and shifted["high"] < 0.06 and shifted["p"] < 0.001
    assert shifted["wins"] > 390 and shifted["n"] == 400
    noise = S.paired(b + rng.normal(0, 0.1, 400), b, 2000)
    assert noise["low"] < 0 < noise["high"] and noise["p"] > 0.05
    same = S.paired(b, b, 500)
    assert same["mean"] == 0 and same["p"] == 1.0 and same["wins"] == same["losses"] == 0


def test_report():
    m = {"ndcg": 0.9, "mean": -0.015, "low": -0.03, "high": -0.001, "p": 0.043, "wins": 32, "losses": 47, "n": 428}
    text = S.render([{"source": "bbc", "queries": 428, "bm25": 0.915, "lead": m}], command="python -m x", seconds=60,
                    resamples=10_000)
    assert "| bbc | 428 | lead | 90.0 | 91.5 | -1.5 | [-3.0, -0.1] | 0.043 | 32 / 47 |" in text
