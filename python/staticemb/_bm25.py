"""Okapi BM25 over one collection (the ``bm25s`` package): the lexical side of ``SearchIndex(bm25=...)`` and the
BM25 baseline of the evaluation (:class:`staticemb.tasks.BM25Scorer`). The one place that says how a text becomes
BM25 terms: lowercased words of two or more letters or digits, stop words of the language dropped, each reduced
by its Snowball stemmer (``PyStemmer``) when one is named."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import InvalidInputError

__all__ = ["BM25Index", "STOPWORD_LANGUAGES"]

STOPWORD_LANGUAGES = frozenset({"danish", "dutch", "english", "french", "german", "italian", "norwegian",
                                "portuguese", "russian", "spanish", "swedish", "turkish",
                                "da", "nl", "en", "fr", "de", "it", "no", "pt", "ru", "es", "sv", "tr"})
"""The Snowball language names (and their two-letter codes) whose stop words ``bm25s`` has; the others keep every
word."""


def snowball_stemmer(language: str, option: str) -> Any:
    """PyStemmer's Snowball stemmer for ``language``; ``option`` names the argument in the errors."""
    try:
        import Stemmer
    except ImportError:
        raise ImportError(f"{option}= needs PyStemmer: pip install PyStemmer "
                          "(or pip install \"staticemb[search]\")") from None
    try:
        return Stemmer.Stemmer(language)
    except KeyError:
        raise InvalidInputError(f"{option}={language!r} is not a Snowball stemmer of PyStemmer; choose one of "
                                f"{', '.join(sorted(Stemmer.algorithms()))}") from None


class BM25Index:
    """BM25 (``bm25s``' defaults: Lucene's variant, ``k1 = 1.5``, ``b = 0.75``) of ``corpus``, its words reduced by
    the Snowball ``stemmer`` (a language name, or ``None`` for none) and the ``stopwords`` language's stop words
    dropped (``None``: none dropped)."""

    def __init__(self, corpus: Sequence[str], *, stemmer: str | None, stopwords: str | None,
                 option: str = "bm25") -> None:
        try:
            import bm25s
        except ImportError:
            raise ImportError(f"{option}= needs bm25s: pip install bm25s PyStemmer "
                              "(or pip install \"staticemb[search]\")") from None
        if stopwords is not None and stopwords not in STOPWORD_LANGUAGES:
            raise InvalidInputError(f"no stop words for {stopwords!r}; choose one of {sorted(STOPWORD_LANGUAGES)}")
        self._stemmer = None if stemmer is None else snowball_stemmer(stemmer, option)
        self._stopwords = stopwords if stopwords is not None else []
        self._size = len(corpus)
        tokens = self._tokenize(corpus)
        if not tokens.vocab:
            raise InvalidInputError("BM25 cannot index this corpus: no document holds a word of two or more letters "
                                    "or digits that is not a stop word")
        self._retriever = bm25s.BM25()
        self._retriever.index(tokens, show_progress=False)

    def _tokenize(self, texts: Sequence[str], *, ids: bool = True) -> Any:
        import bm25s

        return bm25s.tokenize(list(texts), stopwords=self._stopwords, stemmer=self._stemmer, show_progress=False,
                              return_ids=ids)

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        """Every query's BM25 score for every document: a ``(queries, documents)`` float32 array (0 for a
        document that shares no term with the query). Each query's row is ``bm25s``' own scores, unsorted (its
        ``retrieve`` of every document gives the same values, sorted, at 20 times the cost)."""
        out = np.zeros((len(queries), self._size), dtype=np.float32)
        vocab = self._retriever.vocab_dict
        for row, words in zip(out, self._tokenize(queries, ids=False), strict=True):
            known = [w for w in words if w in vocab]
            if known:
                row[:] = self._retriever.get_scores(known)
        return out
