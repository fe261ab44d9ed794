"""training/shortlist.py: hits turned into the evaluation's score matrix, NDCG of the exact search equal to the
full scores', and the report (a study without a rule has no decision)."""

from __future__ import annotations

import numpy as np

from training import shortlist as S


def test_hits_keep_their_order_and_score_what_the_full_scores_score(tiny_st_folder):
    from staticemb import SearchIndex, StaticModel
    from staticemb.evaluation import multi_retrieval_metrics

    model = StaticModel.from_pretrained(tiny_st_folder)
    docs = [f"document {i} about topic {i % 7}. It has a second sentence with words {i * 3}." for i in range(40)]
    queries = [f"topic {i % 7} words {i * 3}" for i in range(12)]
    relevant = [[i] for i in range(12)]
    index = SearchIndex(model, docs)
    hits = index.search(queries, top_k=10)
    matrix = S._matrix(hits, len(index))
    assert [np.argsort(-row, kind="stable")[:10].tolist() for row in matrix] == [
        [h["corpus_id"] for h in row] for row in hits]
    exact = multi_retrieval_metrics(index.scores(queries), relevant)["NDCG@10"]
    assert multi_retrieval_metrics(matrix, relevant)["NDCG@10"] == exact


def _row(source, exact, short):
    row = {"source": source, "stem": 0.8, "minilm": 0.85}
    for model in S.MODELS:
        for dim in ("1024", "256"):
            row.update({f"{model} exact {dim}": exact, **{f"{model} {s} {dim}": short for s in S.SCORES[1:]}})
    return row


def test_report_has_no_decision():
    text = S.render([_row("debian", 0.80, 0.79), _row("bbc", 0.90, 0.90)], command="python -m training.shortlist",
                    seconds=60)
    assert "| **mean of 2** | lead | 1024 | 85.0 | 84.5 (-0.5) |" in text and "Decision" not in text
