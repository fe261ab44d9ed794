"""Query terms matched one by one against the document's tokens through the table, on sources held out entirely
(English).

    python -m training.late_interaction [--sources debian pydoc ...] [--output training/RESULTS-late-interaction.md]

Where the folds lose to BM25 (RESULTS-passage-scoring.md), the query names several things and the relevant
document has all of them in different sentences ("Haskell fuzzy matching; documentation"), while a competitor
has one of them at length: a mean of tokens, even with the document's best passage, does not count how many of
the query's terms a document covers, and BM25 is exactly that sum over query terms. The table can score it
without giving up its soft matching: each distinct query token ``t`` is matched to the document token ``s``
closest to it (cosine of their rows: 1 for the same token, less for a related one), and those matches are
averaged with the weight the model's own pooling gives ``t``, the norm of its folded row (table row times its
weights, corpus weights included):

    terms(q, d) = sum_t n_t max_s cos(e_t, e_s) / sum_t n_t

(late interaction over static token vectors; no index of vectors per token is needed, only each document's
distinct token ids). Written here for the run and moved into the library as :class:`staticemb.SearchIndex`, whose
parts this module now reads. Scores compared, all at the same width, with the test split's corpus weights:

- ``doc+maxp``: ``cos(q, d) + max_p cos(q, p)``, adopted in RESULTS-passage-scoring.md;
- ``doc+maxp+terms``: that plus ``terms(q, d)`` with equal weight (the rule's arm);
- ``terms`` alone and ``doc+terms``: reported, not chosen from.

Models: the lead-trained folds (``model-target-crop-lead``) and the plain folds, as in
``training.passage_scoring``. The rule, fixed on 2026-12-04 before any document was scored this way:
``doc+maxp+terms`` becomes a search option of the library when, over the lead-trained folds with corpus weights,
it raises the mean NDCG@10 over ``doc+maxp`` by more than one point at both widths and lowers no fold by more
than one point at 1024-d (:func:`training.loso.rule`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import datasets as D
from . import loso
from . import passage_scoring as P

A = 1e-3
SCORES = ("doc+maxp", "doc+maxp+terms", "terms", "doc+terms")
RULE = "doc+maxp+terms"
MODELS = P.MODELS


def components(index: Any, queries: list[str]) -> dict[str, np.ndarray]:
    """The parts of :class:`staticemb.SearchIndex`'s score (``"document"``, ``"passages"``, ``"terms"``) of every
    query against every document of ``index``, each a ``(queries, documents)`` array."""
    blocks = list(index._score_parts(queries, len(index)))
    return {name: index._per_document(np.concatenate([parts[name] for _, parts in blocks], axis=1))
            for name in blocks[0][1]}


def score_model(model: Any, source: str) -> dict[str, float]:
    """NDCG@10 of each score of :data:`SCORES` on ``source``'s test split at each width, with the split's corpus
    weights: ``"<score> <dim>"`` -> NDCG@10."""
    from staticemb import SearchIndex
    from staticemb.evaluation import multi_retrieval_metrics
    from staticemb.tasks import load_task

    task = load_task(D.task_path(loso.SOURCES[source][1], "test"))
    row: dict[str, float] = {}
    for dim in loso.DIMS:
        c = components(SearchIndex(model, task["corpus"], dim=dim, a=A), task["queries"])
        scores = {"doc+maxp": c["document"] + c["passages"], "doc+maxp+terms": c["document"] + c["passages"] + c["terms"],
                  "terms": c["terms"], "doc+terms": c["document"] + c["terms"]}
        for name, s in scores.items():
            row[f"{name} {dim}"] = multi_retrieval_metrics(s, task["relevant"])["NDCG@10"]
    return row


def terms_variant(model: Any, source: str, name: str, build: Callable[..., Any],
                  extra: Callable[[Any, dict[str, Any]], dict[str, np.ndarray]] | None = None) -> dict[str, float]:
    """NDCG@10 on ``source``'s test split, at each width with the split's corpus weights, of the adopted index
    (``doc+maxp+terms``) and of the same with the terms part of the index ``build(model, documents, dim=, a=)``
    (``doc+maxp+<name>``, and ``<name>`` alone); ``extra(variant index, task)`` adds scores (name -> terms-like
    part, added to the whole and best passage): ``"<score> <dim>"`` -> NDCG@10."""
    from staticemb import SearchIndex
    from staticemb.evaluation import multi_retrieval_metrics
    from staticemb.tasks import load_task

    task = load_task(D.task_path(loso.SOURCES[source][1], "test"))
    row: dict[str, float] = {}
    for dim in loso.DIMS:
        base = components(SearchIndex(model, task["corpus"], dim=dim, a=A), task["queries"])
        index = build(model, task["corpus"], dim=dim, a=A)
        variant = components(index, task["queries"])
        whole = base["document"] + base["passages"]
        scores = {"doc+maxp+terms": whole + base["terms"], f"doc+maxp+{name}": whole + variant["terms"],
                  name: variant["terms"]}
        scores.update({k: whole + v for k, v in (extra(index, task) if extra else {}).items()})
        for key, s in scores.items():
            row[f"{key} {dim}"] = multi_retrieval_metrics(s, task["relevant"])["NDCG@10"]
    return row


def _describe() -> list[str]:
    return ["- terms(q, d) = sum over q's distinct tokens t of n_t max over d's tokens s cos(e_t, e_s), over sum n_t",
            "  (n_t: the norm of t's folded row); doc+maxp = cos(q, d) + max over passages cos(q, p)"]


STUDY = P.Study("# Query terms matched one by one through the table, on held-out sources (English)", _describe,
                SCORES, RULE, score_model, "training.late_interaction", "RESULTS-late-interaction.md")

decide, render = STUDY.decide, STUDY.render


def main(argv: Sequence[str] | None = None) -> int:
    return STUDY.main(__doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
