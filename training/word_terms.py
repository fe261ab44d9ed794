"""The query's terms matched as whole words instead of word pieces, on sources held out entirely (English).

    python -m training.word_terms [--sources debian pydoc ...] [--output training/RESULTS-word-terms.md]

:class:`staticemb.SearchIndex`'s terms part (RESULTS-late-interaction.md) matches the query's distinct *tokens*
one by one. bert-base-uncased splits a word it does not hold into pieces, and 15-28% of the words of the
held-out sources' queries are split so ("greens ##pan", "opens ##sl", "en ##code"): each piece is then matched on
its own, and a document holding only the common piece ("greens", "##sl") gets half the word's credit. BM25
scores words. The terms part can match words and keep its soft matching: a word is a token with the
continuation pieces that follow it (WordPiece's ``##`` prefix), its vector the sum of its pieces' folded rows
(as the pooling sums them), and

    terms-words(q, d) = sum_w n_w max_v cos(e_w, e_v) / sum_w n_w

over the query's distinct words ``w`` and the document's ``v`` (``n_w = |e_w|``). A word of one piece is its
token, so only split words change.

Scores compared, at the same width, with the test split's corpus weights (a=1e-3):

- ``doc+maxp+terms``: the index as adopted (base);
- ``doc+maxp+words``: the same with ``terms-words`` in place of ``terms`` (the rule's arm);
- ``words`` alone: reported, not chosen from.

Models: the lead-trained folds and the plain folds, as in ``training.passage_scoring``. The rule, fixed on
2026-12-05 before any document was scored this way: word terms become the index's terms (for tokenizers that mark
continuation pieces) when, over the lead-trained folds, ``doc+maxp+words`` raises the mean NDCG@10 over
``doc+maxp+terms`` by more than half a point at both widths and lowers no fold by more than one point at 1024-d
(:func:`training.loso.rule` with ``gain=0.005``, as in ``training.term_frequency``: it changes what an adopted
part counts, it adds no part).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import passage_scoring as P
from .late_interaction import terms_variant

A = 1e-3
SCORES = ("doc+maxp+terms", "doc+maxp+words", "words")
RULE = "doc+maxp+words"
MODELS = P.MODELS


def word_index(model: Any, documents: list[str], **options: Any) -> Any:
    """A :class:`staticemb.SearchIndex` whose terms are whole words: a token and the ``##`` pieces after it."""
    from staticemb import SearchIndex

    vocab = model.tokenizer.get_vocab()
    continuation = np.zeros(max(vocab.values()) + 1, dtype=bool)
    for token, i in vocab.items():
        continuation[i] = token.startswith("##")

    class WordIndex(SearchIndex):
        def _pooled_terms(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
            ids, lengths = super()._pooled_terms(texts)
            if not hasattr(self, "_words"):
                self._words: dict[tuple[int, ...], int] = {}
                self._pieces: list[tuple[int, ...]] = []
            ends = np.cumsum(lengths)
            starts = np.zeros(len(ids), dtype=bool)
            starts[ends[ends < len(ids)]] = True  # a text's first token starts a word
            if len(ids):
                starts[0] = True
            starts |= ~continuation[ids]
            bounds = np.append(np.flatnonzero(starts), len(ids))
            flat = ids.tolist()
            words = np.empty(len(bounds) - 1, dtype=np.int64)
            for j in range(len(bounds) - 1):
                key = tuple(flat[bounds[j]:bounds[j + 1]])
                if key not in self._words:
                    self._words[key] = len(self._pieces)
                    self._pieces.append(key)
                words[j] = self._words[key]
            owner = np.repeat(np.arange(len(texts)), lengths)[bounds[:-1]]
            return words, np.bincount(owner, minlength=len(texts)).astype(np.int64)

        def _unknown_term(self) -> int | None:  # the word the unknown token makes on its own (it takes no ##)
            unknown = super()._unknown_term()
            return None if unknown is None else self._words.get((unknown,))

        def _term_rows(self, terms: np.ndarray) -> np.ndarray:
            pieces = [self._pieces[int(t)] for t in terms]
            if not pieces:
                return np.zeros((0, self._dim), np.float32)
            flat = np.fromiter((i for p in pieces for i in p), dtype=np.int64)
            rows = self._model._token_rows(flat, self._dim)
            return np.add.reduceat(rows, np.cumsum([0] + [len(p) for p in pieces[:-1]]), axis=0)

    return WordIndex(model, documents, **options)


def score_model(model: Any, source: str) -> dict[str, float]:
    """NDCG@10 of each score of :data:`SCORES` on ``source``'s test split at each width, with the split's corpus
    weights: ``"<score> <dim>"`` -> NDCG@10."""
    return terms_variant(model, source, "words", word_index)



def _describe() -> list[str]:
    return ["- words: terms(q, d) over whole words (a token and the ## pieces after it, its vector the sum of its "
            "pieces' folded rows) instead of tokens; doc+maxp = cos(q, d) + max over passages cos(q, p)"]


STUDY = P.Study("# The query's terms matched as whole words, on held-out sources (English)", _describe, SCORES, RULE,
                score_model, "training.word_terms", "RESULTS-word-terms.md", gain=0.005)

decide, render = STUDY.decide, STUDY.render


def main(argv: Sequence[str] | None = None) -> int:
    return STUDY.main(__doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
