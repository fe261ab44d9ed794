"""Smooth inverse frequency (SIF) token weights: the one implementation used by distillation, by the trainer's
``sif`` option and by the experiments in ``training/``.

A static model averages its tokens' rows, so frequent, uninformative tokens ("the", "of", "##s") pull every
text towards one direction. SIF (Arora et al., 2017) weighs token ``t`` by ``a / (a + p_t)``, ``p_t`` being the
token's share of the tokens of a corpus; a token never seen gets ``p_t = 0`` and weight 1. Folded into the table
(row ``t`` times ``w_t``), the mean of a text's rows is its SIF-weighted sum divided by its token count: the
same direction as the weighted mean, so the model stays a plain table that every static-model library encodes
identically.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import InvalidInputError

#: Texts tokenized per call while counting (bounds the id buffer, and lets a progress bar move).
_CHUNK = 20_000


MIN_COEFFICIENT = 1e-30
"""The smallest SIF ``a`` accepted: its weights ``a / (a + p)`` and the rows they scale stay float32 numbers."""


def check_coefficient(a: Any) -> float:
    """``a`` as a float, or :class:`InvalidInputError` unless it is a finite real number of at least
    :data:`MIN_COEFFICIENT` (a Python or NumPy int or float; not a bool)."""
    if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, float, np.integer, np.floating)):
        raise InvalidInputError(f"the SIF coefficient must be a number, not {type(a).__name__}")
    if not math.isfinite(a) or a <= 0:
        raise InvalidInputError(f"the SIF coefficient must be a positive finite number, not {a!r}")
    if a < MIN_COEFFICIENT:
        raise InvalidInputError(
            f"the SIF coefficient must be at least {MIN_COEFFICIENT:g}, not {a!r}: the weights a / (a + p) of "
            f"smaller ones fall out of float32's range"
        )
    return float(a)


def token_counts(tokenizer: Any, texts: Iterable[str], *, vocab_size: int, progress: Any = None,
                 pooled: bool = False) -> np.ndarray:
    """How often each token id occurs in ``texts`` (no special tokens), as int64 counts of length
    ``vocab_size`` (at least the tokenizer's vocabulary, added tokens included).

    ``tokenizer`` is a :class:`~staticemb.StaticModel` (its own tokenizer is used) or anything it accepts (a
    ``tokenizers.Tokenizer``, a ``tokenizer.json`` string); texts are tokenized by staticemb itself (the same ids
    as the ``tokenizers`` crate), ``_CHUNK`` at a time; ``progress`` (a tqdm bar) is advanced by the texts
    counted. ``pooled`` (a model only) counts the tokens :meth:`~staticemb.StaticModel.encode` pools by default
    instead: the default prompt prepended, ``max_length`` applied, model2vec's unknown token left out. A text
    that cannot be tokenized is named by its place in ``texts``."""
    from ..model import StaticModel

    size = int(vocab_size)
    counter = tokenizer if isinstance(tokenizer, StaticModel) else StaticModel(tokenizer, np.zeros((size, 1), np.float32))
    counts = np.zeros(size, dtype=np.int64)
    chunk: list[str] = []
    done = 0

    def flush() -> None:
        nonlocal done
        try:
            ids = counter._default_pooled_ids(chunk)[0] if pooled else counter.tokenize(chunk)[0]
        except (InvalidInputError, TypeError) as e:  # the binding names the text by its place in the chunk
            found = re.match(r"texts\[(\d+)\]", str(e))
            if found is None:
                raise
            raise type(e)(f"texts[{int(found.group(1)) + done}]{str(e)[found.end():]}") from None
        done += len(chunk)
        counts[:] += np.bincount(ids, minlength=size)[:size]
        if progress is not None:
            progress.update(len(chunk))
        chunk.clear()

    for text in texts:
        chunk.append(text)
        if len(chunk) == _CHUNK:
            flush()
    if chunk:
        flush()
    return counts


def sif_weights(counts: np.ndarray, a: float) -> np.ndarray:
    """``a / (a + p_t)`` with ``p_t = counts[t] / counts.sum()``, as float32: in (0, 1], 1 for a token never
    counted, smaller the more frequent the token."""
    a = check_coefficient(a)
    counts = np.asarray(counts)
    if counts.ndim != 1 or counts.dtype.kind not in "iuf" or (counts.size and counts.min() < 0):
        raise InvalidInputError("token counts must be a 1-D array of non-negative numbers")
    p = counts.astype(np.float64) / max(float(counts.sum()), 1.0)
    return (a / (a + p)).astype(np.float32)

