"""Evaluation metrics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from staticemb.evaluation import cosine_scores, knn_accuracy, ranks_of_relevant, retrieval_metrics


def test_ranks_and_metrics_by_hand():
    scores = np.array(
        [
            [0.9, 0.1, 0.2, 0.3],  # relevant 0 -> rank 1
            [0.5, 0.4, 0.9, 0.1],  # relevant 1 -> rank 3 (0.9 and 0.5 above)
            [0.2, 0.2, 0.2, 0.1],  # relevant 2 -> rank 3 (ties count above)
            [0.9, 0.8, 0.7, 0.0],  # relevant 3 -> rank 4
        ]
    )
    relevant = np.array([0, 1, 2, 3])
    assert ranks_of_relevant(scores, relevant).tolist() == [1, 3, 3, 4]
    m = retrieval_metrics(scores, relevant, k=3)
    ndcg = (1 + 1 / math.log2(4) + 1 / math.log2(4) + 0) / 4
    mrr = (1 + 1 / 3 + 1 / 3 + 0) / 4
    assert m["NDCG@3"] == pytest.approx(ndcg)
    assert m["MRR@3"] == pytest.approx(mrr)
    assert m["Recall@1"] == pytest.approx(0.25)
    assert m["Recall@3"] == pytest.approx(0.75)


def test_perfect_and_worst_retrieval():
    eye = np.eye(5)
    assert retrieval_metrics(eye, np.arange(5)) == {"NDCG@10": 1.0, "MRR@10": 1.0, "Recall@1": 1.0, "Recall@10": 1.0}
    worst = retrieval_metrics(np.ones((12, 12)) - np.eye(12), np.arange(12))
    assert worst["NDCG@10"] == 0.0 and worst["Recall@1"] == 0.0


def test_bad_shapes():
    with pytest.raises(ValueError, match="one relevant index per query"):
        retrieval_metrics(np.zeros((3, 4)), np.array([0, 1]))
    with pytest.raises(ValueError, match="valid document indices"):
        retrieval_metrics(np.zeros((2, 4)), np.array([0, 4]))


def test_cosine_scores():
    s = cosine_scores(np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([[2.0, 0.0], [1.0, 1.0]]))
    np.testing.assert_allclose(s, [[1.0, 1 / math.sqrt(2)], [0.0, 0.0]], atol=1e-6)


def test_knn_accuracy_by_hand():
    train = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    labels = ["a", "a", "b", "b"]
    test = np.array([[1.0, 0.05], [0.05, 1.0], [0.6, 0.5]])
    assert knn_accuracy(train, labels, test, ["a", "b", "a"], k=1) == pytest.approx(1.0)
    assert knn_accuracy(train, labels, test, ["a", "a", "a"], k=1) == pytest.approx(2 / 3)
    # k=3: the third test point's neighbours are a, a, b -> a
    assert knn_accuracy(train, labels, test, ["a", "b", "a"], k=3) == pytest.approx(1.0)


def test_bad_vectors_and_labels():
    from staticemb import InvalidInputError

    with pytest.raises(InvalidInputError, match="2-D"):
        cosine_scores(np.ones(3), np.ones((2, 3)))
    with pytest.raises(InvalidInputError, match="width 3 and 2"):
        cosine_scores(np.ones((1, 3)), np.ones((2, 2)))
    with pytest.raises(InvalidInputError, match="2 training vectors with 3 labels"):
        knn_accuracy(np.ones((2, 2)), ["a", "b", "c"], np.ones((1, 2)), ["a"])
    with pytest.raises(InvalidInputError, match="k must be at least 1"):
        knn_accuracy(np.ones((2, 2)), ["a", "b"], np.ones((1, 2)), ["a"], k=0)
