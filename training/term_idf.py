"""The query's terms weighed by their rarity in the collection, as BM25 weighs them, on sources held out entirely
(English).

    python -m training.term_idf [--sources debian bbc ...] [--output training/RESULTS-term-idf.md]

:class:`staticemb.SearchIndex`'s terms part averages the query tokens' best matches with the weight the model's
pooling gives each token, the norm ``n_t`` of its folded row (the trained row's length times the collection's
SIF weight ``a / (a + p_t)``). SIF flattens among rare tokens: every token with ``p_t`` well below ``a`` weighs
about its row's length, however rare. Where the index still loses to BM25 (BBC news, RESULTS-significance.md),
the query's rare words (a name, a place) decide, and BM25 weighs each query term by its inverse document
frequency, which keeps rising as a term gets rarer. The arm weighs ``t`` with BM25's (Lucene's) IDF over the
searched collection instead:

    idf_t = ln(1 + (N - df_t + 0.5) / (df_t + 0.5)),   terms-idf(q, d) = sum_t idf_t max_s cos(e_t, e_s) / sum_t idf_t

(``N`` documents, ``df_t`` of them pooling ``t``; a token no document has gets the largest weight). Everything else
is the index as adopted (its vectors, best passage and soft matches).

Scores compared, at the same width, with the test split's corpus weights (a=1e-3):

- ``doc+maxp+terms``: the index as adopted (base);
- ``doc+maxp+terms-idf``: the same with ``terms-idf`` in place of ``terms`` (the rule's arm);
- ``terms-idf`` alone: reported, not chosen from.

Models: the lead-trained folds and the plain folds, as in ``training.passage_scoring``. The rule, fixed on
2026-12-05 before any document was scored this way: IDF weights become the index's default when, over the
lead-trained folds, ``doc+maxp+terms-idf`` raises the mean NDCG@10 over ``doc+maxp+terms`` by more than half a
point at both widths and lowers no fold by more than one point at 1024-d (:func:`training.loso.rule` with
``gain=0.005``, as in ``training.term_frequency``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import passage_scoring as P
from .late_interaction import terms_variant

A = 1e-3
SCORES = ("doc+maxp+terms", "doc+maxp+terms-idf", "terms-idf")
RULE = "doc+maxp+terms-idf"
MODELS = P.MODELS


def idf_index(model: Any, documents: list[str], **options: Any) -> Any:
    """A :class:`staticemb.SearchIndex` whose terms part weighs each query token by its IDF in ``documents``."""
    from staticemb import SearchIndex

    class IdfIndex(SearchIndex):
        def __init__(self) -> None:
            super().__init__(model, documents, **options)
            ids = self._term_counts(list(documents))[0]
            self._idf_vocab = np.unique(ids)
            # Each distinct text's entries counted once per copy of it (the index holds each text once).
            copies = np.bincount(self._inverse, minlength=self._size)
            df = np.bincount(self._entries, weights=np.repeat(copies, np.diff(self._starts)),
                             minlength=len(self._idf_vocab))
            n = len(documents)
            self._idf = np.log1p((n - df + 0.5) / (df + 0.5))
            self._idf_unseen = float(np.log1p((n + 0.5) / 0.5))

        def _term_weights(self, terms: np.ndarray, norms: np.ndarray) -> np.ndarray:
            if not len(self._idf_vocab):
                return np.full(len(terms), self._idf_unseen)
            at = np.minimum(np.searchsorted(self._idf_vocab, terms), len(self._idf_vocab) - 1)
            return np.where(self._idf_vocab[at] == terms, self._idf[at], self._idf_unseen)

    return IdfIndex()


def score_model(model: Any, source: str) -> dict[str, float]:
    """NDCG@10 of each score of :data:`SCORES` on ``source``'s test split at each width, with the split's corpus
    weights: ``"<score> <dim>"`` -> NDCG@10."""
    return terms_variant(model, source, "terms-idf", idf_index)



def _describe() -> list[str]:
    return ["- terms-idf: the terms part with each query token weighed by idf_t = ln(1 + (N - df_t + 0.5) / "
            "(df_t + 0.5)) over the searched collection instead of its row's norm; doc+maxp = cos(q, d) + max over "
            "passages cos(q, p)"]


STUDY = P.Study("# The query's terms weighed by their rarity in the collection (IDF), on held-out sources (English)",
                _describe, SCORES, RULE, score_model, "training.term_idf", "RESULTS-term-idf.md", gain=0.005)
decide, render = STUDY.decide, STUDY.render


def main(argv: Sequence[str] | None = None) -> int:
    return STUDY.main(__doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
