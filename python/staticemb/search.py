"""Exact semantic search over embeddings, in NumPy, in blocks of the corpus.

    >>> from staticemb import StaticModel, semantic_search
    >>> hits = semantic_search(model.encode(queries), model.encode(corpus), top_k=5)
    >>> hits[0][0]
    {'corpus_id': 42, 'score': 0.8731...}

:func:`semantic_search` takes the same arguments and returns the same structure as Sentence Transformers'
``sentence_transformers.util.semantic_search``, without torch: the corpus is scanned in blocks of
``corpus_chunk_size`` rows and each query keeps a running top-k, so memory stays at one
``query_chunk_size`` x ``corpus_chunk_size`` score block (plus one prepared corpus block) whatever the corpus
size: a 10M x 256 float32 corpus (a memory-mapped ``np.load(..., mmap_mode="r")`` array works) is never
turned into a 10M-column score matrix.

Approximate (ANN) search is deliberately not implemented here: for that, use a maintained index through
Sentence Transformers' helpers, ``sentence_transformers.quantization.semantic_search_usearch`` or
``semantic_search_faiss`` (``pip install usearch`` / ``faiss-cpu``), which also accept the quantized
embeddings :meth:`StaticModel.encode` produces with ``precision=``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, Union

import numpy as np

from .errors import InvalidInputError

__all__ = ["passage_search", "semantic_search", "split_passages"]

Precision = Literal["float32", "int8", "uint8", "binary", "ubinary"]
ScoreFunction = Union[Literal["cosine", "dot"], Callable[[np.ndarray, np.ndarray], Any]]

_PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")
_EPS = 1e-12  # torch.nn.functional.normalize's eps, used by Sentence Transformers' normalize_embeddings
_NO_ID = np.iinfo(np.int64).max  # the corpus id of an empty slot: sorts after every real id
_F32_EXACT = 2**24  # integers up to this magnitude (and every partial sum below it) are exact in float32
_F64_EXACT = 2**53


def semantic_search(
    query_embeddings: Any,
    corpus_embeddings: Any,
    top_k: int = 10,
    *,
    score_function: ScoreFunction | None = None,
    corpus_precision: Precision | None = None,
    query_chunk_size: int = 1024,
    corpus_chunk_size: int = 16384,
) -> list[list[dict[str, int | float]]]:
    """The ``top_k`` corpus entries closest to each query, exactly, as Sentence Transformers returns them.

    Args:
        query_embeddings: a 2-D array (one row per query) or a 1-D array (one query; the result is still a
            list with one entry, as in Sentence Transformers). A NumPy array, anything with
            ``.detach().cpu().numpy()`` (a torch tensor; torch is never imported here) or a list of rows.
        corpus_embeddings: a 2-D array, one row per corpus entry; a ``np.memmap`` is read block by block.
        top_k: results per query; a corpus with fewer rows gives every row, and 0 an empty list per query (as
            Sentence Transformers does).
        score_function: for float corpora: ``None`` or ``"cosine"`` (the default, as Sentence Transformers'
            ``cos_sim``; zero vectors score 0), ``"dot"``, Sentence Transformers' own ``util.cos_sim`` or
            ``util.dot_score`` (recognised and computed here in NumPy), or any callable
            ``f(query_block, corpus_block) -> (n_queries, n_corpus)`` array, called with NumPy arrays
            (a returned torch tensor is converted). Quantized corpora have their own score (below) and
            refuse a ``score_function``.
        corpus_precision: what the corpus rows are, with the names of Sentence Transformers'
            ``quantize_embeddings`` precisions. ``None`` (default) takes the dtype's name: a float dtype is
            ``"float32"``, ``int8`` is ``"int8"``, ``uint8`` is ``"uint8"``. **Packed binary corpora
            (``np.packbits`` output, or ``precision="ubinary"`` / ``"binary"``) must say so** with
            ``corpus_precision="ubinary"`` (uint8) or ``"binary"`` (int8, the packed bytes minus 128).
        query_chunk_size, corpus_chunk_size: the block shape (memory: about
            ``14 * query_chunk_size * corpus_chunk_size`` bytes at most, plus a prepared corpus block). The
            result does not depend on them, except that the float rounding of a matrix product can vary
            with its shape in the last bits (integer and binary scores are exact).

    Scores:
        - ``"float32"`` corpus (any float dtype; computed in float32, or float64 when an input is float64):
          cosine similarity by default, as Sentence Transformers computes it.
        - ``"int8"`` / ``"uint8"`` (scalar-quantized) corpus: the dot product with the raw integer rows
          (usearch's ``"ip"`` metric on ``i8`` data). With an integer query it is exact integer arithmetic
          (the int32 dot product); with a float query it is the float dot product.
        - ``"ubinary"`` / ``"binary"`` (packed bits) corpus with a packed query (same dtype and width):
          ``score = -hamming_distance`` (a float holding an integer), so the closest row still comes first.
          With a float query of ``dim`` columns (``ceil(dim / 8)`` == corpus width): ``query · bits`` where
          ``bits`` are the row's unpacked 0/1 bits (padding dropped), the rescoring score of Sentence
          Transformers' ``semantic_search_usearch`` / ``semantic_search_faiss``, here computed for every row
          (no oversampling, so it is their result with an unbounded ``rescore_multiplier``). To search by
          Hamming distance with a float query, quantize it first (``quantize_embeddings(q, "ubinary")``).

    Returns:
        One list per query of ``{"corpus_id": int, "score": float}``, sorted by decreasing score, at most
        ``top_k`` long. Ties are ordered by increasing ``corpus_id`` (Sentence Transformers leaves their
        order to ``torch.topk`` and a heap, so it may order tied entries differently). A tie is an equal score:
        copies of one row can score apart in the last bit, as BLAS rounds a product by its shape, the row's
        place in it and the threads (most often with one query), and then come by that score, as in Sentence
        Transformers. :class:`~staticemb.SearchIndex` indexes a text listed twice once, so its copies tie.

    Raises:
        TypeError: an embedding argument that is not a numeric array (or tensor, or list of rows), a
            ``top_k`` or chunk size that is not an int, a ``score_function`` of the wrong kind.
        InvalidInputError: a query or corpus with the wrong number of dimensions, widths that do not match,
            a negative ``top_k``, a chunk size below 1, an unknown ``corpus_precision``, non-finite float
            embeddings, or a ``score_function`` that returns the wrong shape or NaN.

    For approximate search over large corpora use an index: ``sentence_transformers.quantization``'s
    ``semantic_search_usearch`` or ``semantic_search_faiss``.
    """
    queries, top_k, query_chunk_size, corpus_chunk_size = _search_arguments(
        query_embeddings, top_k, query_chunk_size, corpus_chunk_size
    )
    corpus = _as_array(corpus_embeddings, "corpus_embeddings")
    if corpus.ndim != 2:
        raise InvalidInputError(f"corpus_embeddings must be 2-D (entries x dim), got shape {corpus.shape}")
    precision = _precision(corpus, corpus_precision)
    if queries.shape == (0, 0):  # no queries, of no width: nothing to compare
        return []
    scorer = _Scorer(queries, corpus, precision, score_function)

    n_queries, n_corpus = queries.shape[0], corpus.shape[0]
    k = min(top_k, n_corpus)
    if n_queries == 0:
        return []
    if k == 0:
        return [[] for _ in range(n_queries)]

    prepared = scorer.prepare_queries(queries)

    def blocks() -> Iterator[tuple[int, int, np.ndarray]]:
        for start in range(0, n_corpus, corpus_chunk_size):
            block = scorer.prepare_block(corpus[start : start + corpus_chunk_size], start)
            for q0 in range(0, n_queries, query_chunk_size):
                q1 = min(q0 + query_chunk_size, n_queries)
                yield q0, start, scorer.scores(prepared[q0:q1], block)

    return _hits(*_top_k(n_queries, k, blocks()))


# ---------------------------------------------------------------- long documents: the whole and its best passage

#: :func:`split_passages`' defaults: a passage has at least this many words (sentences are packed to it) ...
PASSAGE_MIN_WORDS = 6
#: ... and at most this many (longer runs without a sentence end are cut).
PASSAGE_MAX_WORDS = 48


def split_passages(
    documents: Iterable[str], *, min_words: int = PASSAGE_MIN_WORDS, max_words: int = PASSAGE_MAX_WORDS
) -> tuple[list[str], np.ndarray]:
    """The passages of each document, for :func:`passage_search`: ``(passages, owner)``, ``owner[i]`` being
    the index of the document that passage ``i`` comes from (non-decreasing).

    A document's passages are its sentences (split on whitespace; a sentence ends at a word ending in ".",
    "!" or "?", or "。", "！", "？"), packed in order until each has at least ``min_words`` words (a shorter tail
    joins the passage before it) and cut into pieces of at most ``max_words`` words (lists, code and manual
    pages often have no sentence ends). In scripts written without spaces (Chinese, Japanese, Thai, ...) each
    character counts as a word. Words are joined by single spaces (characters of such scripts by none). Every document has at least one passage: a document of
    fewer than ``min_words`` words is one passage, an empty one an empty passage.
    """
    from . import _inputs
    from ._text import joined, sentences, units

    lo, hi = _positive_int(min_words, "min_words"), _positive_int(max_words, "max_words")
    if lo > hi:
        raise InvalidInputError(f"min_words ({lo}) must not exceed max_words ({hi})")
    texts = _inputs.str_texts(documents, "documents", "document")
    out: list[str] = []
    counts = np.zeros(len(texts), dtype=np.int64)
    for n, text in enumerate(texts):
        words, spaced = units(text)
        packed: list[tuple[int, int]] = []
        start = 0
        for _, end in sentences(words):
            if end - start >= lo:
                packed.append((start, end))
                start = end
        if start < len(words):
            if packed:
                packed[-1] = (packed[-1][0], len(words))
            else:
                packed.append((start, len(words)))
        pieces = [joined(words[i : min(i + hi, e)], spaced[i : min(i + hi, e)])
                  for s, e in packed for i in range(s, e, hi)] or [""]
        out += pieces
        counts[n] = len(pieces)
    return out, np.repeat(np.arange(len(texts), dtype=np.int64), counts)


def passage_search(
    query_embeddings: Any,
    document_embeddings: Any,
    passage_embeddings: Any,
    passage_owner: Any,
    top_k: int = 10,
    *,
    query_chunk_size: int = 1024,
    corpus_chunk_size: int = 16384,
) -> list[list[dict[str, int | float]]]:
    """The ``top_k`` documents for each query, a document scored by its whole and its best passage:
    ``cos(q, document) + max over its passages cos(q, passage)`` (a score in [-2, 2]).

    A static model's document vector is the mean of all its tokens, so in a long document the few words a
    short query shares with it are diluted; its best passage keeps them. On six sources no model was trained
    on, this score raised NDCG@10 by 1.4 to 2.2 points on average over the whole document's cosine
    (``training/RESULTS-passage-scoring.md``).

    Args:
        query_embeddings: a 2-D float array (one row per query) or a 1-D array (one query).
        document_embeddings: a 2-D float array, one row per document.
        passage_embeddings: a 2-D float array, one row per passage, of the same width, grouped by document in
            document order (what :func:`split_passages` gives, encoded with the same model).
        passage_owner: for each passage, the index of its document: non-decreasing integers, every document
            at least once (:func:`split_passages`' second value).
        top_k, query_chunk_size: as in :func:`semantic_search`.
        corpus_chunk_size: documents, and passages, scored per block (memory: about
            ``8 * query_chunk_size * corpus_chunk_size`` bytes).

    Returns:
        :func:`semantic_search`'s structure: per query, ``{"corpus_id": document index, "score": float}``,
        best first, ties by increasing id.

    Raises:
        TypeError: an argument of the wrong type.
        InvalidInputError: shapes or widths that do not match, non-float or non-finite embeddings, or a
            ``passage_owner`` that does not list every document, in order.
    """
    queries, top_k, query_chunk_size, corpus_chunk_size = _search_arguments(
        query_embeddings, top_k, query_chunk_size, corpus_chunk_size
    )
    documents = _as_array(document_embeddings, "document_embeddings")
    parts = _as_array(passage_embeddings, "passage_embeddings")
    for name, array in (("query_embeddings", queries), ("document_embeddings", documents),
                        ("passage_embeddings", parts)):
        if array.ndim != 2:
            raise InvalidInputError(f"{name} must be 2-D (rows x dim), got shape {array.shape}")
        if array.dtype.kind != "f":
            raise InvalidInputError(
                f"{name} must be float embeddings, got dtype {array.dtype.name} (passage_search scores cosines "
                "of float vectors; quantized corpora are searched with semantic_search)"
            )
    if parts.shape[1] != documents.shape[1]:
        raise InvalidInputError(
            f"passage_embeddings have {parts.shape[1]} dimensions but document_embeddings have {documents.shape[1]}"
        )
    n_queries, n_docs = queries.shape[0], documents.shape[0]
    bounds = _passage_bounds(passage_owner, len(parts), n_docs)
    corpus_chunk_size = min(corpus_chunk_size, max(n_docs, len(parts), 1))  # no block is larger than everything
    if queries.shape == (0, 0):  # no queries, of no width: nothing to compare
        return []
    scorer = _Scorer(queries, documents, "float32", None, "document_embeddings")
    part_scorer = _Scorer(queries, parts, "float32", None, "passage_embeddings")
    k = min(top_k, n_docs)
    if n_queries == 0:
        return []
    if k == 0:
        return [[] for _ in range(n_queries)]
    prepared = scorer.prepare_queries(queries)

    def blocks() -> Iterator[tuple[int, int, np.ndarray]]:
        start = 0
        while start < n_docs:
            # At most corpus_chunk_size documents and passages a block (always one document at least).
            last = int(np.searchsorted(bounds, bounds[start] + corpus_chunk_size, "right")) - 1
            end = min(start + corpus_chunk_size, last)
            end = max(end, start + 1)
            p0, p1 = int(bounds[start]), int(bounds[end])
            block = scorer.prepare_block(documents[start:end], start)
            passages = part_scorer.prepare_block(parts[p0:p1], p0)
            for q0 in range(0, n_queries, query_chunk_size):
                q = prepared[q0 : q0 + query_chunk_size]
                scores = scorer.scores(q, block)
                scores += np.maximum.reduceat(q @ passages.T, bounds[start:end] - p0, axis=1)
                yield q0, start, scores
            start = end

    return _hits(*_top_k(n_queries, k, blocks()))


def _passage_bounds(owner: Any, n_passages: int, n_docs: int) -> np.ndarray:
    """``bounds[d]:bounds[d + 1]`` are document ``d``'s passages, from a checked ``passage_owner``."""
    array = _as_array(np.asarray(owner) if isinstance(owner, range) else owner, "passage_owner")
    if array.size == 0 and array.ndim == 1:
        array = array.astype(np.int64)  # an empty list reads as float64
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise InvalidInputError(
            f"passage_owner must be a 1-D array of document indices (integers), got dtype {array.dtype.name} "
            f"and shape {array.shape}"
        )
    if len(array) != n_passages:
        raise InvalidInputError(f"passage_owner has {len(array)} entries for {n_passages} passage embeddings")
    if n_passages and (array.min() < 0 or array.max() >= n_docs):
        bad = int(np.flatnonzero((array < 0) | (array >= n_docs))[0])
        raise InvalidInputError(f"passage_owner[{bad}] = {int(array[bad])} is not a document index (0..{n_docs - 1})")
    array = array.astype(np.int64)  # in range, so exact; unsigned differences would wrap instead of going negative
    if np.any(np.diff(array) < 0):
        bad = int(np.flatnonzero(np.diff(array) < 0)[0]) + 1
        raise InvalidInputError(
            f"passage_owner must be non-decreasing (passages grouped by document, in document order); "
            f"passage {bad} goes back from document {int(array[bad - 1])} to {int(array[bad])}"
        )
    bounds = np.searchsorted(array, np.arange(n_docs + 1), side="left").astype(np.int64)
    empty = np.flatnonzero(np.diff(bounds) == 0)
    if empty.size:
        raise InvalidInputError(
            f"document {int(empty[0])} has no passage: passage_owner must list every document at least once "
            "(split_passages gives every document one)"
        )
    return bounds


# ---------------------------------------------------------------- top-k in blocks


def _block_top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best columns of each row of a score block by (score desc, column asc): scores and columns."""
    n_rows, n_cols = scores.shape
    if n_cols <= k:
        return scores, np.broadcast_to(np.arange(n_cols, dtype=np.int64), (n_rows, n_cols))
    # NaN (from a table holding NaN) ranks below every number: partition on -inf in its place.
    key = np.where(np.isnan(scores), -np.inf, scores) if np.isnan(scores).any() else scores
    cols = np.argpartition(key, n_cols - k, axis=1)[:, n_cols - k :]
    top = np.take_along_axis(key, cols, axis=1)
    kth = top.min(axis=1)
    # argpartition picks any of the entries tied with the k-th best; keep the lowest columns instead, so the
    # result is the same whatever the block boundaries.
    ambiguous = np.flatnonzero(np.count_nonzero(key >= kth[:, None], axis=1) > k)
    for r in ambiguous:
        row = key[r]
        above = np.flatnonzero(row > kth[r])
        tied = np.flatnonzero(row == kth[r])
        if kth[r] == -np.inf:  # -inf stands for NaN in the key: a real -inf is a number, and ranks first
            tied = tied[np.argsort(np.isnan(scores[r, tied]), kind="stable")]
        cols[r] = np.concatenate([above, tied[: k - above.size]])
    return np.take_along_axis(scores, cols, axis=1), cols


def _top_k(n_queries: int, k: int, blocks: Iterable[tuple[int, int, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The running top ``k`` (scores, ids) of ``n_queries`` queries over score ``blocks``: ``(first query, first
    corpus row, scores)``, in any order."""
    best_scores = np.full((n_queries, k), -np.inf)
    best_ids = np.full((n_queries, k), _NO_ID, dtype=np.int64)
    for q0, start, scores in blocks:
        _update(best_scores, best_ids, q0, scores, start, k)
    return best_scores, best_ids


def _hits(scores: np.ndarray, ids: np.ndarray) -> list[list[dict[str, int | float]]]:
    """Rows of ``(scores, ids)`` as Sentence Transformers' hits: ``{"corpus_id", "score"}`` dicts."""
    return [[{"corpus_id": i, "score": s} for i, s in zip(row_ids, row, strict=True)]
            for row_ids, row in zip(ids.tolist(), scores.tolist(), strict=True)]


def _update(
    best_scores: np.ndarray, best_ids: np.ndarray, q0: int, scores: np.ndarray, start: int, k: int
) -> None:
    """Merge one score block (queries ``q0...``, corpus rows ``start...``) into the running top k."""
    if start < k:  # fewer than k rows seen: every entry of the block may enter
        rows = np.arange(q0, q0 + scores.shape[0])
        _merge_into(best_scores, best_ids, rows, *_block_top_k(scores, k), start, k)
        return
    # Every row holds k real entries: only entries strictly above the k-th best can enter (an equal score
    # loses, its id being larger than every id kept so far).
    kth = best_scores[q0 : q0 + scores.shape[0], k - 1, None]
    nan_kth = np.isnan(kth)
    mask = scores > np.where(nan_kth, -np.inf, kth)
    if nan_kth.any():  # a NaN k-th best yields to any number, -inf included
        mask |= nan_kth & (scores == -np.inf)
    counts = np.count_nonzero(mask, axis=1)
    many = np.flatnonzero(counts > k)
    if many.size:  # a partition of these rows is cheaper than listing their entries
        _merge_into(best_scores, best_ids, q0 + many, *_block_top_k(scores[many], k), start, k)
    is_few = (counts > 0) & (counts <= k)
    few = np.flatnonzero(is_few)
    if few.size:
        rows, cols = _nonzero(mask)
        if many.size:
            keep = counts[rows] <= k
            rows, cols = rows[keep], cols[keep]
        position = np.cumsum(is_few) - 1  # a row's position in `few`
        sub_counts = counts[few]
        width = int(sub_counts.max())
        slots = np.arange(rows.size) - (np.cumsum(sub_counts) - sub_counts)[position[rows]]
        cand_scores = np.full((few.size, width), -np.inf)
        cand_cols = np.full((few.size, width), _NO_ID - start, dtype=np.int64)  # empty: id _NO_ID
        cand_scores[position[rows], slots] = scores[rows, cols]
        cand_cols[position[rows], slots] = cols
        _merge_into(best_scores, best_ids, q0 + few, cand_scores, cand_cols, start, k)


def _nonzero(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.nonzero`` of a sparse 2-D bool array, scanning it eight bytes at a time."""
    n_rows, n_cols = mask.shape
    if n_cols % 8 or not mask.flags.c_contiguous:
        rows, cols = np.nonzero(mask)
        return rows, cols
    word_rows, word_cols = np.nonzero(mask.view(np.uint64))
    hit_words, hit_bytes = np.nonzero(mask.reshape(n_rows, n_cols // 8, 8)[word_rows, word_cols])
    return word_rows[hit_words], word_cols[hit_words] * 8 + hit_bytes


def _merge_into(
    best_scores: np.ndarray,
    best_ids: np.ndarray,
    rows: np.ndarray,
    cand_scores: np.ndarray,
    cand_cols: np.ndarray,
    start: int,
    k: int,
) -> None:
    """Keep the k best of each row's running entries and its candidates, by (score desc, id asc), NaN scores
    after every number and the empty slots last."""
    scores = np.concatenate([best_scores[rows], cand_scores.astype(np.float64, copy=False)], axis=1)
    ids = np.concatenate([best_ids[rows], cand_cols + start], axis=1)
    order = np.lexsort((ids, -scores, ids == _NO_ID), axis=1)[:, :k]
    best_scores[rows] = np.take_along_axis(scores, order, axis=1)
    best_ids[rows] = np.take_along_axis(ids, order, axis=1)


# ---------------------------------------------------------------- scores per precision


class _Scorer:
    """Prepares queries once and each corpus block once, and scores a query block against a corpus block."""

    def __init__(
        self,
        queries: np.ndarray,
        corpus: np.ndarray,
        precision: str,
        score_function: Any,
        corpus_name: str = "corpus_embeddings",
    ) -> None:
        self.precision = precision
        self.corpus_name = corpus_name  # the argument the corpus came in, as errors name it
        self.custom: Callable[[np.ndarray, np.ndarray], Any] | None = None
        self.cosine = False
        self.packed_query = False
        self.bits = 0
        q_dim, c_dim = queries.shape[1], corpus.shape[1]
        q_int = queries.dtype.kind in "iu"
        if precision != "float32" and score_function is not None:
            raise InvalidInputError(
                f"score_function applies to float corpora only; a {precision!r} corpus is scored by "
                "its own rule (see semantic_search's docstring)"
            )
        if precision in ("binary", "ubinary"):
            packed_dtype = np.uint8 if precision == "ubinary" else np.int8
            if corpus.dtype != packed_dtype:
                raise InvalidInputError(
                    f"a {precision!r} corpus is packed bits of dtype {np.dtype(packed_dtype).name}, "
                    f"got {corpus.dtype.name}"
                )
            self.packed_query = q_int
            if q_int:
                if queries.dtype != corpus.dtype or q_dim != c_dim:
                    raise InvalidInputError(
                        f"a packed query for a {precision!r} corpus must have its dtype and width "
                        f"({corpus.dtype.name}, {c_dim} bytes), got {queries.dtype.name} x {q_dim}"
                    )
                self.dtype: type[np.floating[Any]] = np.float32 if 8 * c_dim <= _F32_EXACT else np.float64
            else:
                if (q_dim + 7) // 8 != c_dim:
                    raise InvalidInputError(
                        f"a float query of {q_dim} dimensions needs a packed corpus of {(q_dim + 7) // 8} "
                        f"bytes per row, got {c_dim}"
                    )
                self.dtype = _float_dtype(queries.dtype)
            self.bits = q_dim if not q_int else 8 * c_dim
            return
        if q_dim != c_dim:
            hint = ""
            if corpus.dtype in (np.uint8, np.int8) and (q_dim + 7) // 8 == c_dim:
                hint = ' (a packed binary corpus? pass corpus_precision="ubinary" or "binary")'
            raise InvalidInputError(
                f"query_embeddings have {q_dim} dimensions but {corpus_name} have {c_dim}{hint}"
            )
        if precision in ("int8", "uint8"):
            expected = np.dtype(precision)
            if corpus.dtype != expected:
                raise InvalidInputError(
                    f"a {precision!r} corpus must have dtype {precision}, got {corpus.dtype.name}"
                )
            if q_int:  # the bound of the products by the queries' own values, the corpus's by its dtype
                peak = max(int(queries.max()), -int(queries.min())) if queries.size else 0
                bound = c_dim * peak * _max_abs(corpus.dtype)
                self.dtype = np.float32 if bound <= _F32_EXACT else np.float64
                if bound > _F64_EXACT:
                    raise InvalidInputError("integer dot products this large cannot be computed exactly")
            else:
                self.dtype = _float_dtype(queries.dtype)
            return
        # float corpus
        self.dtype = _float_dtype(np.result_type(queries.dtype, corpus.dtype))
        if score_function is None or score_function == "cosine":
            self.cosine = True
        elif score_function == "dot":
            pass
        elif callable(score_function):
            name = getattr(score_function, "__name__", "")
            module = getattr(score_function, "__module__", "") or ""
            if module.startswith("sentence_transformers") and name in ("cos_sim", "dot_score"):
                self.cosine = name == "cos_sim"
            else:
                self.custom = score_function
        elif isinstance(score_function, str):
            raise InvalidInputError(
                f'score_function must be "cosine", "dot" or a callable, got {score_function!r}'
            )
        else:
            raise TypeError(
                f'score_function must be None, "cosine", "dot" or a callable, got {type(score_function).__name__}'
            )

    def prepare_queries(self, queries: np.ndarray) -> np.ndarray:
        if self.precision in ("binary", "ubinary") and self.packed_query:
            return _unpack(queries, self.precision, self.bits, self.dtype)
        if queries.dtype.kind == "f" and not np.isfinite(queries).all():
            raise InvalidInputError(f"query_embeddings hold NaN or infinity (row {_first_bad(queries)})")
        out = np.array(queries, dtype=self.dtype, order="C", copy=True)
        return _normalize(out) if self.cosine else out

    def prepare_block(self, block: np.ndarray, start: int) -> Any:
        if self.precision in ("binary", "ubinary"):
            bits = _unpack(block, self.precision, self.bits, self.dtype)
            if self.packed_query:
                return bits, bits.sum(axis=1)
            return bits
        if self.precision == "float32" and not np.isfinite(block).all():
            raise InvalidInputError(
                f"{self.corpus_name} hold NaN or infinity (row {start + _first_bad(block)})"
            )
        if self.custom is not None:
            return block
        out = np.array(block, dtype=self.dtype, order="C", copy=True)
        return _normalize(out) if self.cosine else out

    def scores(self, queries: np.ndarray, block: Any) -> np.ndarray:
        if self.custom is not None:
            raw = self.custom(queries, block)
            scores = _as_array(raw, "score_function's result")
            expected = (queries.shape[0], block.shape[0])
            if scores.shape != expected:
                raise InvalidInputError(f"score_function returned shape {scores.shape}, expected {expected}")
            if scores.dtype.kind != "f":
                scores = scores.astype(np.float64)
            if np.isnan(scores).any():
                raise InvalidInputError("score_function returned NaN")
            return scores
        if self.precision in ("binary", "ubinary") and self.packed_query:
            bits, ones = block
            # hamming(q, c) = |q| + |c| - 2 q.c on 0/1 bits; score = -hamming
            scores = queries @ bits.T
            scores *= 2
            scores -= queries.sum(axis=1)[:, None]
            scores -= ones[None, :]
            return scores
        result: np.ndarray = queries @ block.T
        return result


def _unpack(packed: np.ndarray, precision: str, n_bits: int, dtype: Any) -> np.ndarray:
    raw = packed.view(np.uint8) ^ np.uint8(0x80) if precision == "binary" else packed
    return np.unpackbits(np.ascontiguousarray(raw, dtype=np.uint8), axis=1)[:, :n_bits].astype(dtype)


def unit_rows(x: np.ndarray) -> np.ndarray:
    """``x``'s rows divided by their norms (at least ``_EPS``, as torch's ``normalize``), as a new array. A finite
    row whose norm is too large for its dtype is still made unit length (:func:`unit_by_peak`)."""
    norms = row_norms(x)
    at, rows = unit_by_peak(x, np.flatnonzero(np.isinf(norms)))
    out = x / np.maximum(norms, _EPS)[:, None]
    out[at] = rows
    return out


def _normalize(x: np.ndarray) -> np.ndarray:
    """:func:`unit_rows`, in place."""
    norms = row_norms(x)
    at, rows = unit_by_peak(x, np.flatnonzero(np.isinf(norms)))  # before x changes
    x /= np.maximum(norms, _EPS)[:, None]
    x[at] = rows
    return x


def unit_by_peak(x: np.ndarray, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows ``which`` of ``x`` made unit length by dividing them by their largest magnitude first, never by a
    norm their dtype cannot hold (too large, or too small to square): ``(their indices, the unit rows)``. Rows
    holding infinity, and zero rows, are left out."""
    at, scale, rows = _scaled_down(x, which)
    keep = scale > 0
    rows = rows[keep]
    return at[keep], rows / np.sqrt(np.einsum("ij,ij->i", rows, rows))[:, None]


def _scaled_down(x: np.ndarray, over: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows ``over`` of ``x`` that hold no infinity (one that does keeps its infinite norm), divided by their
    largest magnitude: ``(their indices, those magnitudes, the scaled rows)``."""
    rows = x[over]
    scale = np.abs(rows).max(axis=1) if rows.size else np.zeros(len(over), x.dtype)
    finite = np.isfinite(scale)
    return over[finite], scale[finite], rows[finite] / np.where(scale[finite] > 0, scale[finite], 1)[:, None]


def row_norms(x: np.ndarray) -> np.ndarray:
    """The Euclidean norm of each row of the 2-D float array ``x``, in its dtype. A finite row whose squares
    overflow (float32 values above about 1e19) is measured scaled down by its largest magnitude; only a norm
    beyond the dtype's range is infinite (:func:`unit_rows` still scales such a row to unit length)."""
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    over = np.flatnonzero(np.isinf(norms))
    if over.size:
        at, scale, rows = _scaled_down(x, over)
        with np.errstate(over="ignore"):  # a norm above the dtype's range stays infinite (see unit_by_peak)
            norms[at] = scale * np.sqrt(np.einsum("ij,ij->i", rows, rows))
    return norms


def _first_bad(x: np.ndarray) -> int:
    return int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])


def _float_dtype(dtype: np.dtype[Any]) -> type[np.floating[Any]]:
    return np.float64 if dtype == np.float64 or dtype.kind in "iu" and dtype.itemsize >= 4 else np.float32


def _max_abs(dtype: np.dtype[Any]) -> int:
    info = np.iinfo(dtype)
    return max(abs(int(info.min)), int(info.max))


# ---------------------------------------------------------------- argument checks


def _search_arguments(
    query_embeddings: Any, top_k: Any, query_chunk_size: Any, corpus_chunk_size: Any
) -> tuple[np.ndarray, int, int, int]:
    """The arguments every search takes: the queries as a 2-D array (one 1-D query becomes one row), and
    ``top_k`` and the chunk sizes as positive ints."""
    queries = _as_array(query_embeddings, "query_embeddings")
    top_k = _result_count(top_k)
    query_chunk_size = _positive_int(query_chunk_size, "query_chunk_size")
    corpus_chunk_size = _positive_int(corpus_chunk_size, "corpus_chunk_size")
    if queries.ndim == 1:  # one query; an empty list is no query at all (shape (0, 0))
        queries = queries[None, :] if queries.size else queries.reshape(0, 0)
    if queries.ndim != 2:
        raise InvalidInputError(
            f"query_embeddings must be 1-D (one query) or 2-D (queries x dim), got shape {queries.shape}"
        )
    return queries, top_k, query_chunk_size, corpus_chunk_size


def _as_array(value: Any, name: str) -> np.ndarray:
    if isinstance(value, np.ma.MaskedArray):  # NumPy drops the mask: masked rows would be searched as data
        raise TypeError(f"{name} must be a plain array, not a masked array (its mask would be ignored); "
                        "drop the masked rows first")
    if isinstance(value, np.ndarray):
        array = value
    elif hasattr(value, "detach") and hasattr(value, "cpu") and hasattr(value, "numpy"):
        if getattr(value, "is_sparse", False):
            raise TypeError(f"{name}: sparse tensors are not supported; pass a dense array")
        try:
            array = np.asarray(value.detach().cpu().numpy())
        except (TypeError, RuntimeError) as exc:  # bfloat16 and other dtypes NumPy lacks
            raise TypeError(
                f"{name}: cannot convert a tensor of dtype {getattr(value, 'dtype', '?')} to NumPy ({exc}); "
                "convert it to float32 first"
            ) from exc
    elif isinstance(value, (list, tuple)):
        try:
            array = np.asarray(value)
        except ValueError as exc:
            raise InvalidInputError(f"{name}: rows of different lengths ({exc})") from exc
    else:
        raise TypeError(
            f"{name} must be a NumPy array, a tensor or a list of rows, got {type(value).__name__}"
        )
    if array.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold numbers (float or integer), got dtype {array.dtype}")
    return array


def _positive_int(value: Any, name: str, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < least:
        raise InvalidInputError(f"{name} must be at least {least}, got {value}")
    return int(value)


def _result_count(top_k: Any) -> int:
    """``top_k`` of a search: an int >= 0; 0 gives every query an empty list, as Sentence Transformers does."""
    return _positive_int(top_k, "top_k", least=0)


def _precision(corpus: np.ndarray, precision: Any) -> str:
    if precision is None:
        if corpus.dtype.kind == "f":
            return "float32"
        if corpus.dtype in (np.int8, np.uint8):
            return corpus.dtype.name
        raise InvalidInputError(
            f"corpus_embeddings of dtype {corpus.dtype.name} are neither float nor int8/uint8; "
            "convert them to float32"
        )
    if not isinstance(precision, str):
        raise TypeError(f"corpus_precision must be a str or None, got {type(precision).__name__}")
    if precision not in _PRECISIONS:
        raise InvalidInputError(
            f"corpus_precision must be one of {', '.join(_PRECISIONS)}; got {precision!r}"
        )
    if precision == "float32" and corpus.dtype.kind != "f":
        raise InvalidInputError(f'corpus_precision="float32" needs a float corpus, got {corpus.dtype.name}')
    return precision
