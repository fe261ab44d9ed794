"""What a shortlist costs in quality: :class:`staticemb.SearchIndex` scoring only the vector's best candidates,
on sources held out entirely (English).

    python -m training.shortlist [--sources debian pydoc ...] [--output training/RESULTS-shortlist.md]

``index.search(queries, candidates=n)`` ranks every document by its vector alone and gives the full score (whole,
best passage, terms) to the best ``n`` only, so a search's cost grows with the collection through the dot
products alone (benches/RESULTS-search-index.md). The hits are the exact search's wherever the exact top 10 is
among the vector's top ``n``. This measures how often that fails, as NDCG@10 on the folds' held-out test splits
with the split's corpus weights: ``exact`` (every document fully scored, the default) against ``n`` = 20, 100
and 500 candidates. No rule: the exact search stays the default, the option's documentation quotes this table.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import datasets as D
from . import loso
from . import passage_scoring as P

A = 1e-3
CANDIDATES = (20, 100, 500)
SCORES = ("exact", *(f"top {n}" for n in CANDIDATES))
MODELS = P.MODELS


def score_model(model: Any, source: str) -> dict[str, float]:
    """NDCG@10 of the exact search and of each shortlist on ``source``'s test split at each width:
    ``"<score> <dim>"`` -> NDCG@10."""
    from staticemb import SearchIndex
    from staticemb.evaluation import multi_retrieval_metrics
    from staticemb.tasks import load_task

    task = load_task(D.task_path(loso.SOURCES[source][1], "test"))
    row: dict[str, float] = {}
    for dim in loso.DIMS:
        index = SearchIndex(model, task["corpus"], dim=dim, a=A)
        for name, n in zip(SCORES, (None, *CANDIDATES), strict=True):
            hits = index.search(task["queries"], top_k=10, candidates=n)
            row[f"{name} {dim}"] = multi_retrieval_metrics(_matrix(hits, len(index)), task["relevant"])["NDCG@10"]
    return row


def _matrix(hits: list[list[dict[str, Any]]], n: int) -> np.ndarray:
    """The hits as a score matrix for the evaluation: each hit's rank order kept, every other document last."""
    scores = np.full((len(hits), n), -np.inf, np.float32)
    for i, row in enumerate(hits):
        for rank, h in enumerate(row):
            scores[i, h["corpus_id"]] = len(row) - rank
    return scores


def _describe() -> list[str]:
    return ["- exact: SearchIndex's full score (whole + best passage + terms) of every document; top n: of the "
            "vector's best n only (`search(..., candidates=n)`)"]


STUDY = P.Study("# A shortlist for the index: the full score of the vector's best candidates only, on held-out "
                "sources (English)", _describe, SCORES, None, score_model, "training.shortlist",
                "RESULTS-shortlist.md")

render = STUDY.render


def main(argv: Sequence[str] | None = None) -> int:
    return STUDY.main(__doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
