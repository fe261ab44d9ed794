"""Sentences of whitespace-split text: the one splitter that the inverse-cloze pairs
(:mod:`staticemb.train.crops`) and the passages of a search (:func:`staticemb.split_passages`) share."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

#: A sentence ends at a word ending in ".", "!" or "?", or their full-width forms "。", "！", "？", "｡" (closing
#: quotes or brackets after it allowed).
SENTENCE_END = re.compile("[.!?\u3002\uff01\uff1f\uff61][\"')\\]\u300d\u300f\uff09]*$")

#: Scripts written without spaces between words: CJK ideographs, kana, Thai, Lao, Myanmar, Khmer.
_UNSPACED = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
#: Punctuation that stays with the character before it: 、。！，？｡」』）
_TRAILING = "\u3001\u3002\uff01\uff0c\uff1f\uff61\u300d\u300f\uff09"
_HAS_UNSPACED = re.compile(f"[{_UNSPACED}]")
_UNIT = re.compile(f"[{_UNSPACED}][{_TRAILING}]*|[^{_UNSPACED}]+")


def units(text: str) -> tuple[list[str], list[bool]]:
    """The words of ``text`` by which passages are measured, and whether a space comes before each: its
    whitespace-separated words, except that a word holding a script written without spaces is cut into
    each of those characters (with the punctuation after it) and the runs of other characters between them."""
    if not _HAS_UNSPACED.search(text):  # the common case, fast
        plain = text.split()
        return plain, [True] * len(plain)
    words: list[str] = []
    spaced: list[bool] = []
    for word in text.split():
        pieces: list[str] = []
        for piece in _UNIT.findall(word) if _HAS_UNSPACED.search(word) else [word]:
            if pieces and _continues(pieces[-1], piece):
                pieces[-1] += piece
            else:
                pieces.append(piece)
        words += pieces
        spaced += [True] + [False] * (len(pieces) - 1)
    return words, spaced


#: Thai and Lao vowels written before their consonant, and vowels written after it that are letters (Lo).
_PRE_VOWELS = frozenset("\u0e40\u0e41\u0e42\u0e43\u0e44\u0ec0\u0ec1\u0ec2\u0ec3\u0ec4")
_POST_VOWELS = frozenset("\u0e30\u0e32\u0e33\u0e45\u0eb0\u0eb2\u0eb3")


def _continues(before: str, piece: str) -> bool:
    """Whether ``piece`` belongs to the syllable of the unit ``before``: a vowel sign or tone mark (any combining
    mark), a Thai or Lao vowel written after its consonant, the consonant after a virama or coeng (Khmer and
    Myanmar stack consonants so), or the consonant of a vowel written before it."""
    return (unicodedata.category(piece[0])[0] == "M" or piece[0] in _POST_VOWELS
            or unicodedata.combining(before[-1]) == 9 or before[-1] in _PRE_VOWELS)


def joined(words: Sequence[str], spaced: Sequence[bool]) -> str:
    """``words`` as text again: a single space before each word that had one (none before the first)."""
    if all(spaced):
        return " ".join(words)
    return "".join((" " if space and i else "") + word for i, (word, space) in enumerate(zip(words, spaced,
                                                                                               strict=True)))


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
