"""Inverse-cloze pairs: training pairs cut from unlabeled documents.

A passage of :data:`MIN_WORDS`-:data:`MAX_WORDS` words is cut out of a document of at least
:data:`MIN_TEXT_WORDS` words and paired with what is left of it (the inverse cloze task of unsupervised dense
retrieval). The passage is removed, so its words are found in the rest only where the document repeats them:
what a title or a query shares with its document. One pair per distinct long document; the cut is drawn from a
generator seeded by the document's SHA-1, so the same documents give the same pairs on every machine and in any
order.

What they are for: a model searches a kind of document better when its contrastive stage also trains on pairs
cut from documents of that kind (``training/RESULTS-target-crops.md``: on every leave-one-source-out fold,
+3.6 NDCG@10 on average). Write the pairs with :func:`write_crop_pairs` (or ``staticemb crops``) and add the
file to a stage's ``train_datasets`` beside its other pair sets::

    staticemb crops my-documents.jsonl --output my-crops.jsonl
    staticemb train training/configs/en-retrieval.json --set train_datasets.mine=my-crops.jsonl \\
        --set output_dir=my-model

Teacher-picked passages: a query says what its document is about, which a random passage rarely does. With a
transformer teacher, :func:`teacher_passage_pairs` (``staticemb crops --teacher MODEL``) cuts out, instead, the
sentence of :data:`MIN_WORDS`-:data:`MAX_WORDS` words that the teacher finds closest to its document (cosine of
their embeddings: the centroid sentence of extractive summarization) and pairs it with the rest. Added to a stage
beside the random crops of the same documents, they raised every held-out source again
(``training/RESULTS-teacher-passages.md``). The teacher's embeddings are cached text by text
(:func:`staticemb.train.trainer.teacher_embeddings`), so an interrupted run resumes.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import _io
from .._text import sentences
from ..errors import InvalidInputError

#: The passage cut out of a document: this many words at least, and at most.
MIN_WORDS, MAX_WORDS = 6, 24
#: A document shorter than this (in words) gives no pair: the passage would be most of it.
MIN_TEXT_WORDS = 40


def _digest(text: str) -> bytes:
    """The SHA-1 of ``text``'s UTF-8: the seed of its cut and its identity among a corpus's documents."""
    try:
        return hashlib.sha1(text.encode("utf-8")).digest()
    except UnicodeEncodeError as e:
        raise InvalidInputError(f"the text holds a lone surrogate at character {e.start}; it is not valid "
                                "Unicode text") from None


def _cut(words: list[str], seed: bytes) -> tuple[str, str]:
    rng = random.Random(seed)
    size = rng.randint(MIN_WORDS, min(MAX_WORDS, len(words) // 4))
    start = rng.randrange(len(words) - size + 1)
    return " ".join(words[start:start + size]), " ".join(words[:start] + words[start + size:])


def crop(text: str) -> tuple[str, str] | None:
    """(passage, the rest) of ``text``, split on whitespace and joined with single spaces; ``None`` for a text of
    fewer than :data:`MIN_TEXT_WORDS` words. The cut depends on the text alone."""
    if not isinstance(text, str):
        raise TypeError(f"crop expects a str, got {type(text).__name__}")
    words = text.split()
    return _cut(words, _digest(text)) if len(words) >= MIN_TEXT_WORDS else None


def _distinct_long_texts(texts: Iterable[str], caller: str) -> Iterator[tuple[list[str], bytes]]:
    """The words and SHA-1 of every distinct text of ``texts`` with :data:`MIN_TEXT_WORDS` words or more, in
    first-seen order; a single string, a non-string item or a text holding a lone surrogate is refused by name."""
    if isinstance(texts, (str, bytes)):
        raise TypeError(f"{caller} expects an iterable of texts, not a single string")
    seen: set[bytes] = set()
    for n, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{caller} expects texts (str); item {n} is {type(text).__name__}")
        words = text.split()
        if len(words) < MIN_TEXT_WORDS:
            continue
        try:
            digest = _digest(text)
        except InvalidInputError as e:
            raise InvalidInputError(f"text {n}: {e}") from None
        if digest not in seen:
            seen.add(digest)
            yield words, digest


def crop_pairs(texts: Iterable[str]) -> list[tuple[str, str]]:
    """One inverse-cloze pair per distinct long text of ``texts``, in first-seen order (see :func:`crop`)."""
    # A repeated document is cut once (its digest is its seed).
    return [_cut(words, seed) for words, seed in _distinct_long_texts(texts, "crop_pairs")]


def write_crop_pairs(texts: Iterable[str], path: str | os.PathLike) -> int:
    """Write :func:`crop_pairs` of ``texts`` to ``path`` as JSONL rows ``{"anchor": passage, "positive": rest}``
    (a stage's ``train_datasets`` file) and return how many. The file appears whole or not at all: it is written
    beside ``path`` and renamed."""
    return write_pairs(crop_pairs(texts), path)


def write_pairs(pairs: Sequence[tuple[str, str]], path: str | os.PathLike) -> int:
    """Write ``(anchor, positive)`` pairs to ``path`` as JSONL rows, whole or not at all; returns how many."""
    def write(f: Any) -> None:
        for anchor, positive in pairs:
            f.write(json.dumps({"anchor": anchor, "positive": positive}, ensure_ascii=False) + "\n")

    _io.write_file(Path(path).expanduser(), write)
    return len(pairs)


# ------------------------------------------------------------------------------------------ teacher-picked passages

#: A document as the passage picker sees it: its words and the word spans of its candidate sentences.
Document = tuple[list[str], list[tuple[int, int]]]


def passage_candidates(words: Sequence[str]) -> list[tuple[int, int]]:
    """The sentences of ``words`` a teacher may pick: those of :data:`MIN_WORDS`-:data:`MAX_WORDS` words, in a
    document of :data:`MIN_TEXT_WORDS` words or more (none in a shorter one)."""
    if len(words) < MIN_TEXT_WORDS:
        return []
    return [(s, e) for s, e in sentences(words) if MIN_WORDS <= e - s <= MAX_WORDS]


def passage_documents(texts: Iterable[str]) -> list[Document]:
    """(words, candidate spans) of every distinct text of ``texts`` (first-seen order) that has a candidate."""
    docs = ((words, passage_candidates(words)) for words, _ in _distinct_long_texts(texts, "passage_documents"))
    return [(words, spans) for words, spans in docs if spans]


def teacher_inputs(docs: Sequence[Document]) -> tuple[list[str], list[str], np.ndarray]:
    """What the teacher embeds: each document (its words joined by single spaces), every candidate sentence in
    document order, and for each candidate the index of its document."""
    texts = [" ".join(words) for words, _ in docs]
    sents = [" ".join(words[s:e]) for words, spans in docs for s, e in spans]
    owner = np.array([i for i, (_, spans) in enumerate(docs) for _ in spans], dtype=np.int64)
    return texts, sents, owner


def pick_passages(doc_emb: np.ndarray, sent_emb: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each document (unit rows of ``doc_emb``): the index among *its own* candidates of the one whose
    embedding (a row of ``sent_emb``, owned as ``owner`` says, grouped by document) is closest by cosine, the
    first on a tie, and that cosine."""
    owner = np.asarray(owner)
    if len(owner) != len(sent_emb) or np.any(np.diff(owner) < 0):
        raise ValueError("owner must give, in document order, the document of every candidate")
    cos = np.einsum("ij,ij->i", sent_emb, doc_emb[owner]).astype(np.float32)
    starts = np.searchsorted(owner, np.arange(len(doc_emb)))
    ends = np.searchsorted(owner, np.arange(len(doc_emb)), side="right")
    if np.any(ends <= starts):
        raise ValueError("every document needs at least one candidate")
    best = np.array([int(np.argmax(cos[s:e])) for s, e in zip(starts, ends, strict=True)], dtype=np.int64)
    return best, cos[starts + best]


def passage_pairs(docs: Sequence[Document], best: Sequence[int] | np.ndarray) -> list[tuple[str, str]]:
    """(picked sentence, the rest of its document) for each document, words joined by single spaces."""
    if len(best) != len(docs):
        raise ValueError(f"{len(best)} picks for {len(docs)} documents")
    out = []
    for (words, spans), b in zip(docs, best, strict=True):
        s, e = spans[int(b)]
        out.append((" ".join(words[s:e]), " ".join(words[:s] + words[e:])))
    return out


def lead_passage_pairs(texts: Iterable[str]) -> list[tuple[str, str]]:
    """One pair per distinct text of :data:`MIN_TEXT_WORDS` words or more that has a sentence of
    :data:`MIN_WORDS`-:data:`MAX_WORDS` words: the first such sentence, and the rest of the text. No teacher: the
    sentence a teacher most often picks in descriptions that open by saying what they describe."""
    docs = passage_documents(texts)
    return passage_pairs(docs, np.zeros(len(docs), dtype=np.int64))


def teacher_passage_pairs(texts: Iterable[str], teacher: str | os.PathLike, *, cache_dir: Any = None,
                          device: str | None = None, batch_size: int = 64,
                          progress: bool = True) -> list[tuple[str, str]]:
    """One pair per distinct text of :data:`MIN_TEXT_WORDS` words or more that has a sentence of
    :data:`MIN_WORDS`-:data:`MAX_WORDS` words: the sentence ``teacher`` (a Sentence Transformers folder or Hub
    id) finds closest to the text, and the rest of the text. The teacher's embeddings are cached
    (:func:`staticemb.train.trainer.teacher_embeddings`, ``cache_dir``; ``progress`` shows its bar)."""
    from .distill import _check_source
    from .trainer import teacher_embeddings

    _check_source("teacher", teacher)
    docs = passage_documents(texts)
    if not docs:
        return []
    doc_texts, sents, owner = teacher_inputs(docs)
    emb = teacher_embeddings(str(teacher), doc_texts + sents, cache_dir=cache_dir, device=device,
                             batch_size=batch_size, progress=progress)
    best, _ = pick_passages(emb[:len(doc_texts)], emb[len(doc_texts):], owner)
    return passage_pairs(docs, best)
