"""How often a document has each query term, in the terms part of the index, on sources held out entirely
(English).

    python -m training.term_frequency [--sources debian pydoc ...] [--output training/RESULTS-term-frequency.md]

:class:`staticemb.SearchIndex`'s terms part (RESULTS-late-interaction.md) credits a query token ``t`` with its
best match over the document's distinct tokens: a document that names the query's subject once scores as one
that is about it. That is binary term frequency, and in the pooled vector binary frequency was the worst
choice on every source (RESULTS-tf-saturation.md: -18.2 on BBC news, whose relevant article repeats its
subject). BM25 counts each term's occurrences, saturates them and normalizes them by the document's length.
The terms part can do the same without giving up its soft matching: each document token ``s`` is evidence for
``t`` worth ``cos(e_t, e_s)`` times BM25's factor for ``s``'s count ``c`` in a document of ``L`` tokens

    bm25(c, L) = c (k1 + 1) / (c + k1 (1 - b + b L / avgL)),    k1 = 1.2, b = 0.75

(BM25's standard constants, fixed in advance; ``L`` counts the tokens the model pools, ``avgL`` is the
collection's mean; a token seen once in a document of average length weighs 1, as in the binary part), and
``t`` takes its strongest evidence:

    terms-tf(q, d) = sum_t n_t max_s [cos(e_t, e_s) bm25(c_s, L_d)] / sum_t n_t

(the library's option has since weighed only positive evidence: a token ``t`` with no document token of positive
cosine keeps its best plain cosine, so a document repeating an unlike token is not pushed down the more it repeats
it; on the shipped model's six test splits no score changed, a trained table having no negative best match)

Scores compared, at the same width, with the test split's corpus weights (a=1e-3):

- ``doc+maxp+terms``: the index as adopted (base);
- ``doc+maxp+terms-tf``: the same with ``terms-tf`` in place of ``terms`` (the rule's arm;
  ``SearchIndex(term_frequency=True)``);
- ``terms-tf`` alone, and ``doc+maxp+exact-tf``, the same as the arm but a token matches itself only (BM25 over
  the model's tokens with ``n_t`` for the rarity): reported, not chosen from.

Models: the lead-trained folds and the plain folds, as in ``training.passage_scoring``. The rule, fixed on
2026-12-04 before any document was scored this way: ``term_frequency=True`` becomes the index's default when,
over the lead-trained folds, ``doc+maxp+terms-tf`` raises the mean NDCG@10 over ``doc+maxp+terms`` by more than
half a point at both widths and lowers no fold by more than one point at 1024-d (:func:`training.loso.rule` with
``gain=0.005``: half the usual gain, because the arm changes how an adopted part counts instead of adding a part,
at no cost in speed).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import passage_scoring as P
from .late_interaction import terms_variant

A = 1e-3
SCORES = ("doc+maxp+terms", "doc+maxp+terms-tf", "terms-tf", "doc+maxp+exact-tf")
RULE = "doc+maxp+terms-tf"
MODELS = P.MODELS


def exact_terms(index: Any, documents: list[str], queries: list[str]) -> np.ndarray:
    """``terms-tf`` with exact matches only: ``sum_t n_t bm25(c_t, L_d) / sum_t n_t`` over the query's distinct
    tokens ``t`` (``c_t`` their count in the document), for every query against every document of ``index``
    (built on ``documents``)."""
    model = index.model
    ids, starts, counts, lengths = index._term_counts(documents)
    factors = index._bm25(counts, lengths, starts)
    q_ids, q_starts, _, _ = index._term_counts(queries)
    weights = np.linalg.norm(model._token_rows(np.unique(q_ids), index.dim), axis=1)
    weight_of = dict(zip(np.unique(q_ids).tolist(), weights.tolist(), strict=True))
    doc_of = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
    postings: dict[int, tuple[list[int], list[float]]] = {}
    for token, doc, factor in zip(ids.tolist(), doc_of.tolist(), factors.tolist(), strict=True):
        entry = postings.setdefault(token, ([], []))
        entry[0].append(doc)
        entry[1].append(factor)
    out = np.zeros((len(queries), len(starts) - 1), np.float32)
    for qi in range(len(queries)):
        tokens = q_ids[q_starts[qi]:q_starts[qi + 1]].tolist()
        total = sum(weight_of[t] for t in tokens)
        for t in tokens:
            if t in postings:
                docs, values = postings[t]
                out[qi, docs] += weight_of[t] / max(total, 1e-12) * np.asarray(values, np.float32)
    return out


def score_model(model: Any, source: str) -> dict[str, float]:
    """NDCG@10 of each score of :data:`SCORES` on ``source``'s test split at each width, with the split's corpus
    weights: ``"<score> <dim>"`` -> NDCG@10."""
    from staticemb import SearchIndex

    def counted(model: Any, documents: list[str], **options: Any) -> Any:
        return SearchIndex(model, documents, term_frequency=True, **options)

    def exact(index: Any, task: dict[str, Any]) -> dict[str, np.ndarray]:
        return {"doc+maxp+exact-tf": exact_terms(index, task["corpus"], task["queries"])}

    return terms_variant(model, source, "terms-tf", counted, exact)



def _describe() -> list[str]:
    return ["- terms-tf(q, d) = sum_t n_t max_s [cos(e_t, e_s) bm25(c_s, L_d)] / sum_t n_t, with "
            "bm25(c, L) = c (k1 + 1) / (c + k1 (1 - b + b L / avgL)), k1 = 1.2, b = 0.75;",
            "  exact-tf: the same with exact matches only; doc+maxp = cos(q, d) + max over passages cos(q, p)"]


STUDY = P.Study("# How often a document has each query term, in the index's terms part, on held-out sources (English)",
                _describe, SCORES, RULE, score_model, "training.term_frequency", "RESULTS-term-frequency.md",
                gain=0.005)

decide, render = STUDY.decide, STUDY.render


def main(argv: Sequence[str] | None = None) -> int:
    return STUDY.main(__doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
