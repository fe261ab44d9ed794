"""Retrieval and classification metrics for embedding models.

Every function takes plain NumPy arrays, so any model (staticemb, Sentence Transformers, BM25 scores) can be
scored the same way. Ranks are 1-based; ties are broken against the relevant document (a relevant document
ranks below every other document with the same score), which never overstates a model. A NaN score (a model
whose vectors hold NaN) ranks below every number and ties with the other NaNs, so it can only lower a score.
"""

from __future__ import annotations

import numpy as np

from . import _inputs
from .errors import InvalidInputError
from .search import unit_rows

__all__ = [
    "bitext_accuracy",
    "cosine_scores",
    "knn_accuracy",
    "multi_retrieval_metrics",
    "ranks_of_relevant",
    "retrieval_metrics",
    "spearman",
]


def cosine_scores(queries: np.ndarray, documents: np.ndarray) -> np.ndarray:
    """Cosine similarity matrix ``(len(queries), len(documents))`` as float32; a zero vector scores 0 with
    everything. Both inputs are 2-D arrays of the same width.

    Equal documents get equal scores, so the metrics' ties go against the right answer as they say: each
    distinct document vector is scored once. A float32 matrix product rounds a sum by where its column falls
    in BLAS's blocks, and a document given twice scored 1 ulp apart from its copy."""
    q = np.asarray(queries, dtype=np.float32)
    d = np.asarray(documents, dtype=np.float32)
    if q.ndim != 2 or d.ndim != 2:
        raise InvalidInputError(f"need 2-D arrays of vectors, got shapes {q.shape} and {d.shape}")
    if q.shape[1] != d.shape[1]:
        raise InvalidInputError(f"cannot compare vectors of width {q.shape[1]} and {d.shape[1]}")
    q, d = unit_rows(q), np.ascontiguousarray(unit_rows(d))
    if d.size:
        rows = d.view(np.dtype((np.void, d.shape[1] * d.itemsize))).reshape(-1)  # one byte string a row
        _, first, column = np.unique(rows, return_index=True, return_inverse=True)
        if len(first) < len(d):
            return (q @ d[first].T)[:, column.reshape(-1)]
    return q @ d.T


def ranks_of_relevant(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """The 1-based rank of each query's single relevant document.

    ``scores[i, j]`` is query ``i``'s score for document ``j``; ``relevant[i]`` is the index of its relevant
    document. A document with the same score as the relevant one counts as ranked above it.
    """
    scores = np.asarray(scores)
    if scores.dtype.kind not in "fiu":  # an object array of floats: NaN must still rank lowest
        scores = scores.astype(np.float64)
    given, relevant = relevant, np.asarray(relevant)
    if relevant.size and relevant.dtype.kind not in "iu":
        # Judged item by item, as _inputs.document_ids does: 0.9 must not become document 0, but NumPy also
        # turns a mix of int64 and uint64 into float64 and keeps an object array of ints as objects.
        items = np.asarray(given, dtype=object)
        bad = [v for v in items.ravel() if not _inputs._is_int(v)]
        if bad:
            raise TypeError(f"relevant must hold integer document indices, not {type(bad[0]).__name__}")
        relevant = np.array([int(v) for v in items.ravel()], dtype=np.int64).reshape(items.shape)
    relevant = relevant.astype(np.int64)
    if scores.ndim != 2 or relevant.shape != (scores.shape[0],):
        raise InvalidInputError(
            f"need scores (queries x documents) and one relevant index per query, got "
            f"{scores.shape} and {relevant.shape}"
        )
    if relevant.size and (relevant.min() < 0 or relevant.max() >= scores.shape[1]):
        raise InvalidInputError("relevant indices must be valid document indices")
    scores = nan_lowest(scores)
    target = scores[np.arange(len(scores)), relevant]
    above_or_tied = (scores >= target[:, None]).sum(axis=1)  # includes the relevant document itself
    return above_or_tied.astype(np.int64)


def retrieval_metrics(scores: np.ndarray, relevant: np.ndarray, k: int = 10) -> dict[str, float]:
    """NDCG@k, MRR@k, MAP@k and Recall@1 (and Recall@k) with one relevant document per query, averaged over
    queries.

    With a single relevant document the ideal DCG is 1, so NDCG@k is ``1 / log2(rank + 1)`` when
    ``rank <= k`` and 0 otherwise; MRR@k (and MAP@k, which equals it here) is ``1 / rank`` when ``rank <= k``.
    """
    _check_k(k)
    rank = ranks_of_relevant(scores, relevant)
    _check_some("queries", len(rank))
    hit = rank <= k
    mrr = float(np.mean(np.where(hit, 1.0 / rank, 0.0)))
    return {
        f"NDCG@{k}": float(np.mean(np.where(hit, 1.0 / np.log2(rank + 1), 0.0))),
        f"MRR@{k}": mrr,
        f"MAP@{k}": mrr,
        "Recall@1": float(np.mean(rank == 1)),
        f"Recall@{k}": float(np.mean(hit)),
    }


def knn_accuracy(train: np.ndarray, train_labels, test: np.ndarray, test_labels, k: int = 1) -> float:
    """Accuracy of a k-nearest-neighbour classifier (cosine similarity, majority vote, ties to the nearest).

    As in retrieval, ties are broken against the right answer: among training vectors with the same similarity
    to a test vector, those of another label than its own count as nearer, and a NaN similarity is below every
    number. So a test vector that matches nothing (a zero vector: an empty text, or NaN) is never classified by
    the order of the training set, and a broken model can only lose accuracy. (Sentence Transformers has no
    k-NN evaluator; scikit-learn's breaks ties by training order.)
    """
    train_labels, test_labels = _label_list(train_labels), _label_list(test_labels)
    _check_k(k)  # a float, None, a str or a bool was a TypeError deep inside, or taken as 1
    sims = cosine_scores(test, train)
    if sims.shape != (len(test_labels), len(train_labels)):
        raise InvalidInputError(
            f"got {sims.shape[1]} training vectors with {len(train_labels)} labels and {sims.shape[0]} test "
            f"vectors with {len(test_labels)} labels"
        )
    _check_some("test vectors", len(test_labels))
    codes: dict = {}  # labels as small ints, compared as Python values (NumPy would turn 1 and "1" into one)
    train_codes = np.array([codes.setdefault(v, len(codes)) for v in train_labels], dtype=np.int64)
    test_codes = np.array([codes.setdefault(v, len(codes)) for v in test_labels], dtype=np.int64)
    k = min(k, sims.shape[1])
    right = train_codes[None, :] == test_codes[:, None]
    # Most similar first; among equal similarities the wrong labels first, then by training index.
    nearest = np.lexsort((right, -nan_lowest(sims)), axis=1)[:, :k]
    correct = 0
    for row, label in zip(nearest, test_codes, strict=True):
        votes = train_codes[row]
        counts = np.bincount(votes)
        best = counts[votes] == counts.max()
        correct += int(votes[np.argmax(best)] == label)  # ties go to the nearest neighbour's label
    return correct / len(test_labels)


def _label_list(labels) -> list:
    """Labels as a list of Python values (an array's items as ``tolist`` gives them: 3, not ``np.int64(3)``)."""
    return labels.tolist() if isinstance(labels, np.ndarray) else list(labels)


def multi_retrieval_metrics(scores: np.ndarray, relevant: list[list[int]], k: int = 10) -> dict[str, float]:
    """NDCG@k (binary relevance), MRR@k, MAP@k, Recall@1 and Recall@k with any number of relevant documents per
    query.

    ``relevant[i]`` holds the indices of the documents relevant to query ``i`` (at least one; a list, a set or
    a 1-D integer array; an index listed twice counts once). Recall@n is the share of a query's relevant
    documents in its top n; ties are broken against relevant documents. With one relevant document per query
    this equals :func:`retrieval_metrics`. These are Sentence Transformers' ``InformationRetrievalEvaluator``
    figures (``ndcg@k``, ``mrr@k``, ``map@k``: the precision at each relevant document in the top k, summed and
    divided by ``min(k, relevant documents)``; ``recall@k``) but for two conventions: it breaks ties by ascending corpus
    id rather than against relevant documents, and it leaves out a query with no relevant document, which is
    refused here (it would make a task's score depend on queries that cannot be scored).
    """
    _check_k(k)
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or len(relevant) != scores.shape[0]:
        raise InvalidInputError(f"need one relevant list per query: {scores.shape[0]} queries, {len(relevant)} lists")
    _check_some("queries", scores.shape[0])
    scores = nan_lowest(scores)
    # No rank past the corpus: k above its size means the whole corpus (the discounts were k long).
    discounts = 1.0 / np.log2(np.arange(2, min(k, scores.shape[1]) + 2))
    ndcg = mrr = ap = r1 = rk = 0.0
    for i, (row, listed) in enumerate(zip(scores, relevant, strict=True)):
        rel = _inputs.document_ids(listed, f"relevant[{i}]", scores.shape[1])
        if rel.size == 0:
            raise InvalidInputError(f"relevant[{i}] is empty: every query needs at least one relevant document")
        # Pessimistic ranks: a relevant document ranks below every document with the same score, and
        # below the other relevant documents it ties with.
        target = row[rel]
        ranks = np.sort((row[None, :] >= target[:, None]).sum(axis=1))
        for j in range(rel.size - 2, -1, -1):  # tied relevant documents take distinct, adjacent places
            ranks[j] = min(ranks[j], ranks[j + 1] - 1)
        hit = ranks[ranks <= k]
        ndcg += float(discounts[hit - 1].sum() / discounts[: min(rel.size, k)].sum())
        mrr += 1.0 / float(ranks[0]) if ranks[0] <= k else 0.0
        ap += float((np.arange(1, hit.size + 1) / hit).sum()) / min(k, rel.size)
        r1 += float((ranks <= 1).sum()) / rel.size
        rk += float(hit.size) / rel.size
    n = len(relevant)
    return {f"NDCG@{k}": ndcg / n, f"MRR@{k}": mrr / n, f"MAP@{k}": ap / n, "Recall@1": r1 / n,
            f"Recall@{k}": rk / n}


def bitext_accuracy(source: np.ndarray, target: np.ndarray) -> float:
    """Bitext mining accuracy: the share of ``source[i]`` whose nearest ``target`` (cosine) is ``target[i]``
    (ties count as misses). One direction, source to target, as MTEB's bitext mining; Sentence Transformers'
    ``TranslationEvaluator`` reports the mean of both directions and gives a tie to the lower index."""
    sims = cosine_scores(source, target)
    if sims.shape[0] != sims.shape[1]:
        raise InvalidInputError(f"bitext mining needs aligned pairs, got {sims.shape[0]} sources and {sims.shape[1]} targets")
    _check_some("pairs", len(sims))
    return float(np.mean(ranks_of_relevant(sims, np.arange(len(sims))) == 1))


def _check_k(k) -> None:
    if k is None:
        raise TypeError("k must be an int, not None")
    _inputs.count("k", k)  # the owner of "a positive int": TypeError for a non-int, InvalidInputError below 1


def _check_some(what: str, n: int) -> None:
    """A mean over nothing has no value: refused, rather than reported as 0 (a model that got everything
    wrong) or NaN."""
    if n == 0:
        raise InvalidInputError(f"no {what} to score: a metric averaged over zero {what} has no value")


def nan_lowest(scores: np.ndarray) -> np.ndarray:
    """``scores`` with NaN as -inf: below every number, tied with the other NaNs (and with -inf)."""
    if scores.dtype.kind == "f" and np.isnan(scores).any():
        return np.where(np.isnan(scores), -np.inf, scores)
    return scores


def _average_ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(1, len(x) + 1)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def spearman(a, b) -> float:
    """Spearman's rank correlation (ties get their average rank). NaN in either sequence is refused: it has no
    rank. A constant sequence (no ranking at all, such as a model that gives every word the same vector) has
    correlation 0 here, where SciPy gives NaN."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise InvalidInputError(f"need two 1-D sequences of the same length >= 2, got {a.shape} and {b.shape}")
    for name, x in (("a", a), ("b", b)):
        if np.isnan(x).any():
            raise InvalidInputError(f"{name} holds NaN at position {int(np.flatnonzero(np.isnan(x))[0])}: "
                                    "a rank correlation needs numbers")
    ra, rb = _average_ranks(a), _average_ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    denom = np.sqrt((ra**2).sum() * (rb**2).sum())
    return float((ra * rb).sum() / denom) if denom else 0.0
