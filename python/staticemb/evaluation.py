"""Retrieval and classification metrics for embedding models.

Every function takes plain NumPy arrays, so any model (staticemb, Sentence Transformers, BM25 scores) can be
scored the same way. Ranks are 1-based; ties are broken against the relevant document (a relevant document
ranks below every other document with the same score), which never overstates a model.
"""

from __future__ import annotations

import numpy as np

from .errors import InvalidInputError

__all__ = ["ranks_of_relevant", "retrieval_metrics", "cosine_scores", "knn_accuracy"]


def cosine_scores(queries: np.ndarray, documents: np.ndarray) -> np.ndarray:
    """Cosine similarity matrix ``(len(queries), len(documents))`` as float32; a zero vector scores 0 with
    everything. Both inputs are 2-D arrays of the same width."""
    q = np.asarray(queries, dtype=np.float32)
    d = np.asarray(documents, dtype=np.float32)
    if q.ndim != 2 or d.ndim != 2:
        raise InvalidInputError(f"need 2-D arrays of vectors, got shapes {q.shape} and {d.shape}")
    if q.shape[1] != d.shape[1]:
        raise InvalidInputError(f"cannot compare vectors of width {q.shape[1]} and {d.shape[1]}")
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    d = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
    return q @ d.T


def ranks_of_relevant(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """The 1-based rank of each query's single relevant document.

    ``scores[i, j]`` is query ``i``'s score for document ``j``; ``relevant[i]`` is the index of its relevant
    document. A document with the same score as the relevant one counts as ranked above it.
    """
    scores = np.asarray(scores)
    relevant = np.asarray(relevant, dtype=np.int64)
    if scores.ndim != 2 or relevant.shape != (scores.shape[0],):
        raise InvalidInputError(
            f"need scores (queries x documents) and one relevant index per query, got "
            f"{scores.shape} and {relevant.shape}"
        )
    if relevant.size and (relevant.min() < 0 or relevant.max() >= scores.shape[1]):
        raise InvalidInputError("relevant indices must be valid document indices")
    target = scores[np.arange(len(scores)), relevant]
    above_or_tied = (scores >= target[:, None]).sum(axis=1)  # includes the relevant document itself
    return above_or_tied.astype(np.int64)


def retrieval_metrics(scores: np.ndarray, relevant: np.ndarray, k: int = 10) -> dict[str, float]:
    """NDCG@k, MRR@k and Recall@1 (and Recall@k) with one relevant document per query, averaged over queries.

    With a single relevant document the ideal DCG is 1, so NDCG@k is ``1 / log2(rank + 1)`` when
    ``rank <= k`` and 0 otherwise; MRR@k is ``1 / rank`` when ``rank <= k``.
    """
    rank = ranks_of_relevant(scores, relevant)
    hit = rank <= k
    return {
        f"NDCG@{k}": float(np.mean(np.where(hit, 1.0 / np.log2(rank + 1), 0.0))),
        f"MRR@{k}": float(np.mean(np.where(hit, 1.0 / rank, 0.0))),
        "Recall@1": float(np.mean(rank == 1)),
        f"Recall@{k}": float(np.mean(hit)),
    }


def knn_accuracy(train: np.ndarray, train_labels, test: np.ndarray, test_labels, k: int = 1) -> float:
    """Accuracy of a k-nearest-neighbour classifier (cosine similarity, majority vote, ties to the nearest)."""
    train_labels = np.asarray(train_labels)
    test_labels = np.asarray(test_labels)
    if k < 1:
        raise InvalidInputError(f"k must be at least 1, got {k}")
    sims = cosine_scores(test, train)
    if sims.shape != (len(test_labels), len(train_labels)):
        raise InvalidInputError(
            f"got {sims.shape[1]} training vectors with {len(train_labels)} labels and {sims.shape[0]} test "
            f"vectors with {len(test_labels)} labels"
        )
    k = min(k, sims.shape[1])
    nearest = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    correct = 0
    for row, label in zip(nearest, test_labels, strict=True):
        votes = train_labels[row]
        values, counts = np.unique(votes, return_counts=True)
        best = values[counts == counts.max()]
        predicted = next(v for v in votes if v in best)  # ties go to the nearest neighbour's label
        correct += predicted == label
    return correct / len(test_labels) if len(test_labels) else 0.0
