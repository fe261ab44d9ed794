"""Sentences of whitespace-split text: the one splitter that the inverse-cloze pairs
(:mod:`staticemb.train.crops`) and the passages of a search (:func:`staticemb.split_passages`) share."""

from __future__ import annotations

import re
from collections.abc import Sequence

#: A sentence ends at a word ending in ".", "!" or "?" (closing quotes or brackets after it allowed).
SENTENCE_END = re.compile(r"[.!?][\"')\]]*$")


def sentences(words: Sequence[str]) -> list[tuple[int, int]]:
    """The word spans ``[start, end)`` of the sentences of ``words``, in order, covering every word."""
    spans, start = [], 0
    for i, word in enumerate(words):
        if SENTENCE_END.search(word):
            spans.append((start, i + 1))
            start = i + 1
    if start < len(words):
        spans.append((start, len(words)))
    return spans
