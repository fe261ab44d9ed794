"""The weights of the index's three parts chosen by each fold on its own training sources, on sources held out
entirely (English).

    python -m training.fold_weights [--sources debian bbc ...] [--output training/RESULTS-fold-weights.md]

:class:`staticemb.SearchIndex` adds its three parts with equal weights, a choice made once for every source:

    score(q, d) = cos(q, d) + w_p max_p cos(q, p) + w_t terms(q, d),    w_p = w_t = 1

The sources disagree about what decides: on BBC news (where the index is still below BM25 with stemming,
RESULTS-significance.md) and on Python docstrings the query's exact names decide; on Rust docs and Wikipedia the
vectors' soft matching does. The leave-one-source-out protocol says how to choose such a constant without
looking at the source it is judged on: each fold picks ``(w_p, w_t)`` on the dev splits of the five sources it
was trained on (never trained on, never tested on), by the mean NDCG@10 over those five, from the grid
:data:`GRID_PASSAGES` x :data:`GRID_TERMS` (ties go to the equal weights, then to the grid's order), separately
at each width, and is then scored on its held-out source's test split with them.

Scores compared, at the same width, with each split's corpus weights (a=1e-3):

- ``doc+maxp+terms``: the index as adopted (base);
- ``fold-weights``: the same parts with the weights the fold chose on its training sources' dev splits (the
  rule's arm);
- ``terms-x2``: ``w_p = 1, w_t = 2``, one fixed point of the grid: reported, not chosen from.

Models: the lead-trained folds and the plain folds, as in ``training.passage_scoring``. The rule, fixed on
2026-12-05 before any document was scored this way: ``SearchIndex`` takes the parts' weights as an option, and
its default becomes the weights chosen the same way on all six sources' dev splits, when over the lead-trained
folds ``fold-weights`` raises the mean NDCG@10 over ``doc+maxp+terms`` by more than half a point at both widths
and lowers no fold by more than one point at 1024-d (:func:`training.loso.rule` with ``gain=0.005``, as for the
other changes to an adopted part at no cost in speed).
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import datasets as D
from . import loso
from . import passage_scoring as P
from .late_interaction import components

A = 1e-3
SCORES = ("doc+maxp+terms", "fold-weights", "terms-x2")
RULE = "fold-weights"
MODELS = P.MODELS
GRID_PASSAGES = (0.0, 0.5, 1.0, 1.5, 2.0)
GRID_TERMS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
EQUAL = (1.0, 1.0)


def grid() -> list[tuple[float, float]]:
    """Every ``(w_p, w_t)`` the folds choose from, the equal weights first."""
    return [EQUAL] + [w for w in itertools.product(GRID_PASSAGES, GRID_TERMS) if w != EQUAL]


def parts(model: Any, task_name: str, split: str, dim: int) -> tuple[dict[str, np.ndarray], Any]:
    """The index's parts of ``task_name``'s ``split`` at width ``dim`` (corpus weights of that split's documents)
    and the task's relevance."""
    from staticemb import SearchIndex
    from staticemb.tasks import load_task

    task = load_task(D.task_path(task_name, split))
    return components(SearchIndex(model, task["corpus"], dim=dim, a=A), task["queries"]), task["relevant"]


def ndcg(c: dict[str, np.ndarray], relevant: Any, w: tuple[float, float]) -> float:
    """NDCG@10 of ``document + w_p passages + w_t terms``."""
    from staticemb.evaluation import multi_retrieval_metrics

    return multi_retrieval_metrics(c["document"] + w[0] * c["passages"] + w[1] * c["terms"], relevant)["NDCG@10"]


def choose(dev: Sequence[tuple[dict[str, np.ndarray], Any]]) -> tuple[tuple[float, float], float]:
    """The weights of :func:`grid` with the best mean NDCG@10 over the dev tasks ``dev`` (parts, relevance), the
    first in the grid's order on a tie, and that mean."""
    best, best_score = EQUAL, -1.0
    for w in grid():
        score = float(np.mean([ndcg(c, rel, w) for c, rel in dev]))
        if score > best_score + 1e-12:
            best, best_score = w, score
    return best, best_score


def score_model(model: Any, source: str) -> dict[str, float]:
    """NDCG@10 of each score of :data:`SCORES` on ``source``'s test split at each width, and the weights the fold
    chose (``"w_p <dim>"``, ``"w_t <dim>"``): ``"<key> <dim>"`` -> value."""
    row: dict[str, float] = {}
    training = [s for s in loso.SOURCES if s != source]
    for dim in loso.DIMS:
        dev = [parts(model, loso.SOURCES[s][1], "dev", dim) for s in training]
        (w_p, w_t), _ = choose(dev)
        test, relevant = parts(model, loso.SOURCES[source][1], "test", dim)
        row[f"doc+maxp+terms {dim}"] = ndcg(test, relevant, EQUAL)
        row[f"fold-weights {dim}"] = ndcg(test, relevant, (w_p, w_t))
        row[f"terms-x2 {dim}"] = ndcg(test, relevant, (1.0, 2.0))
        row[f"w_p {dim}"], row[f"w_t {dim}"] = w_p, w_t
    return row


def _describe() -> list[str]:
    return ["- score = cos(q, d) + w_p max over passages cos(q, p) + w_t terms(q, d); doc+maxp+terms: w_p = w_t = 1;",
            "  fold-weights: (w_p, w_t) the fold chose by its mean NDCG@10 over its five training sources' dev splits,",
            f"  from w_p in {GRID_PASSAGES} x w_t in {GRID_TERMS}; terms-x2: w_p = 1, w_t = 2"]


def _weights(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["", "Weights each fold chose on its training sources' dev splits (w_p, w_t):", "",
             "| held-out source | model | 1024-d | 256-d |", "|---|---|---|---|"]
    for r in rows:
        for model in MODELS:
            cells = [f"({r[f'{model} w_p {d}']:g}, {r[f'{model} w_t {d}']:g})" for d in reversed(loso.DIMS)]
            lines.append(f"| {r['source']} | {model} | " + " | ".join(cells) + " |")
    return lines


STUDY = P.Study("# The index's weights chosen by each fold on its training sources, on held-out sources (English)",
                _describe, SCORES, RULE, score_model, "training.fold_weights", "RESULTS-fold-weights.md",
                gain=0.005, extra=_weights)

decide, render = STUDY.decide, STUDY.render


def main(argv: Sequence[str] | None = None) -> int:
    return STUDY.main(__doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
