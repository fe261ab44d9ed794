"""A query token matched exactly by any token with the same stem, in the terms part of the index, on sources held
out entirely (English).

    python -m training.stem_terms [--sources debian bbc ...] [--output training/RESULTS-stem-terms-whole.md]

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

The rule's run (RESULTS-stem-terms.md, commit dd09b48) stemmed every token that starts a word, also where it is
only the first piece of a longer one (``pine`` of ``pine ##apple ##s`` then matched ``pines``), and the library's
option, reviewed afterwards, stems whole words only: a token where it is a word by itself in its text (it starts a
word and the next token does not continue it). This module now scores the library's
``SearchIndex(..., stemmer="english")`` and writes RESULTS-stem-terms-whole.md (reported, no second rule).

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

import sys
from collections.abc import Sequence
from typing import Any

from . import passage_scoring as P
from .late_interaction import terms_variant

A = 1e-3
SCORES = ("doc+maxp+terms", "doc+maxp+terms-stem", "terms-stem")
RULE = "doc+maxp+terms-stem"
MODELS = P.MODELS


def stem_index(model: Any, documents: list[str], **options: Any) -> Any:
    """A :class:`staticemb.SearchIndex` whose terms part matches tokens with the same English stem exactly
    (``stemmer="english"``)."""
    from staticemb import SearchIndex

    return SearchIndex(model, documents, stemmer="english", **options)


def score_model(model: Any, source: str) -> dict[str, float]:
    """NDCG@10 of each score of :data:`SCORES` on ``source``'s test split at each width, with the split's corpus
    weights: ``"<score> <dim>"`` -> NDCG@10."""
    return terms_variant(model, source, "terms-stem", stem_index)


def _describe() -> list[str]:
    return ["- terms-stem: the terms part with match(t, s) = 1 when t and s are whole words in their texts and their",
            "  Snowball English stems are equal, cos(e_t, e_s) otherwise (SearchIndex(stemmer='english'));",
            "  the rule decided on the first run, which stemmed every word-starting token (RESULTS-stem-terms.md)"]


STUDY = P.Study("# Tokens with the same stem matched exactly in the terms part, on held-out sources (English)",
                _describe, SCORES, RULE, score_model, "training.stem_terms", "RESULTS-stem-terms-whole.md", gain=0.005)

decide, render = STUDY.decide, STUDY.render


def main(argv: Sequence[str] | None = None) -> int:
    return STUDY.main(__doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
