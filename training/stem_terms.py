"""A query token matched exactly by any token with the same stem, in the terms part of the index, on sources held
out entirely (English).

    python -m training.stem_terms [--sources debian bbc ...] [--output training/RESULTS-stem-terms.md]

Where the index is still below BM25 with stemming (BBC news and Python docstrings, RESULTS-significance.md), it
is above BM25 *without* stemming (BBC 91.6 against 91.2, Python docstrings 55.9 against 53.8, RESULTS-loso.md),
and stemming is worth most to BM25 on exactly those two sources (+1.9 and +3.3 of its +1.9 mean). The terms part
(RESULTS-late-interaction.md) credits a query token ``t`` with ``max_s cos(e_t, e_s)`` over the document's tokens:
``profit`` against ``profits`` or ``elections`` against ``election`` gets whatever cosine the table learned for
the two rows, where BM25 with stemming counts the same term. The arm gives such pairs an exact match:

    match(t, s) = 1 if stem(t) == stem(s) else cos(e_t, e_s)

with ``stem`` the Snowball English stemmer (``PyStemmer``, the stemmer of the BM25 baseline), applied to the
tokens that start a word (for bert-base-uncased every token not starting with ``##``) and made only of letters;
word pieces and other tokens keep their own class. Everything else is the index as adopted (its vectors, best
passage, soft matches and weights).

Scores compared, at the same width, with the test split's corpus weights (a=1e-3):

- ``doc+maxp+terms``: the index as adopted (base);
- ``doc+maxp+terms-stem``: the same with ``terms-stem`` in place of ``terms`` (the rule's arm);
- ``terms-stem`` alone: reported, not chosen from.

Models: the lead-trained folds and the plain folds, as in ``training.passage_scoring``. The rule, fixed on
2026-12-05 before any document was scored this way: stemmed matches become the index's default (for models whose
tokenizer marks word starts) when, over the lead-trained folds, ``doc+maxp+terms-stem`` raises the mean NDCG@10
over ``doc+maxp+terms`` by more than half a point at both widths and lowers no fold by more than one point at
1024-d (:func:`training.loso.rule` with ``gain=0.005``, as in ``training.term_frequency``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import passage_scoring as P
from .late_interaction import terms_variant

A = 1e-3
SCORES = ("doc+maxp+terms", "doc+maxp+terms-stem", "terms-stem")
RULE = "doc+maxp+terms-stem"
MODELS = P.MODELS


def stem_classes(tokenizer: Any, language: str = "english") -> np.ndarray:
    """Each token id's class: tokens that start a word and are made of letters share a class when their
    lowercased Snowball stems are equal; every other token is a class of its own."""
    import Stemmer

    stemmer = Stemmer.Stemmer(language)
    model = json.loads(tokenizer.to_str())["model"]
    prefix = model.get("continuing_subword_prefix") if model.get("type") == "WordPiece" else None
    vocab = tokenizer.get_vocab()
    size = max(vocab.values()) + 1
    keys: dict[tuple[str, str], int] = {}
    classes = np.empty(size, np.int64)
    for token, i in vocab.items():
        word = token
        if prefix is None and token[:1] in ("\u2581", "\u0120"):  # Metaspace and byte-level word starts
            word = token[1:]
        starts = not token.startswith(prefix) if prefix else word != token
        key = ("w", stemmer.stemWord(word.lower())) if starts and word.isalpha() else ("t", token)
        classes[i] = keys.setdefault(key, len(keys))
    return classes


def stem_index(model: Any, documents: list[str], **options: Any) -> Any:
    """A :class:`staticemb.SearchIndex` whose terms part matches tokens with the same stem exactly."""
    from staticemb import SearchIndex

    classes = stem_classes(model.tokenizer)

    class StemIndex(SearchIndex):
        def __init__(self) -> None:
            super().__init__(model, documents, **options)
            vocab = np.unique(self._term_counts(list(documents))[0])
            self._entry_class = classes[vocab][self._entries]
            self._query_class = np.zeros(0, np.int64)

        def _query_terms(self, items: list[str]) -> Any:
            self._query_class = classes[np.unique(self._term_counts(items)[0])]
            return super()._query_terms(items)

        def _best_matches(self, term_unit: np.ndarray, start: int, end: int) -> np.ndarray:
            best = super()._best_matches(term_unit, start, end)
            qc = self._query_class
            assert len(qc) == len(term_unit) and self._scales is None
            e0, e1 = int(self._starts[start]), int(self._starts[end])
            doc = np.repeat(np.arange(end - start), np.diff(self._starts[start:end + 1]))
            order = np.argsort(qc, kind="stable")
            lo = np.searchsorted(qc[order], self._entry_class[e0:e1], "left")
            hi = np.searchsorted(qc[order], self._entry_class[e0:e1], "right")
            n = hi - lo
            first = np.repeat(lo, n) + np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
            best[order[first], np.repeat(doc, n)] = 1.0
            return best

    return StemIndex()


def score_model(model: Any, source: str) -> dict[str, float]:
    """NDCG@10 of each score of :data:`SCORES` on ``source``'s test split at each width, with the split's corpus
    weights: ``"<score> <dim>"`` -> NDCG@10."""
    return terms_variant(model, source, "terms-stem", stem_index)


def _describe() -> list[str]:
    return ["- terms-stem: the terms part with match(t, s) = 1 when t and s start words and their Snowball English",
            "  stems are equal, cos(e_t, e_s) otherwise"]


STUDY = P.Study("# Tokens with the same stem matched exactly in the terms part, on held-out sources (English)",
                _describe, SCORES, RULE, score_model, "training.stem_terms", "RESULTS-stem-terms.md", gain=0.005)

decide, render = STUDY.decide, STUDY.render


def main(argv: Sequence[str] | None = None) -> int:
    return STUDY.main(__doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
