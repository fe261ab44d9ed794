"""Evaluation metrics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from staticemb.errors import InvalidInputError
from staticemb.evaluation import (
    bitext_accuracy,
    cosine_scores,
    knn_accuracy,
    multi_retrieval_metrics,
    ranks_of_relevant,
    retrieval_metrics,
    spearman,
)


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
    assert retrieval_metrics(eye, np.arange(5)) == {"NDCG@10": 1.0, "MRR@10": 1.0, "MAP@10": 1.0,
                                                        "Recall@1": 1.0, "Recall@10": 1.0}
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
    with pytest.raises(InvalidInputError, match="k must be a positive integer, got 0"):
        knn_accuracy(np.ones((2, 2)), ["a", "b"], np.ones((1, 2)), ["a"], k=0)
    for bad in (2.5, None, "3", True):  # a TypeError from deep inside, or True taken as 1
        with pytest.raises(TypeError, match="k must be"):
            knn_accuracy(np.ones((2, 2)), ["a", "b"], np.ones((1, 2)), ["a"], k=bad)


def test_a_k_past_the_corpus_means_the_whole_corpus():
    # The discounts were k long: 10**15 was a MemoryError, sys.maxsize an IndexError.
    import sys

    from staticemb.evaluation import multi_retrieval_metrics

    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.3]])
    relevant = [[2], [0, 2]]
    whole = {name.split("@")[0]: v for name, v in multi_retrieval_metrics(scores, relevant, k=3).items()}
    for k in (4, 10**15, sys.maxsize):
        got = {name.split("@")[0]: v for name, v in multi_retrieval_metrics(scores, relevant, k=k).items()}
        assert got == whole


def test_multi_relevant_metrics_by_hand():
    from staticemb.evaluation import multi_retrieval_metrics

    scores = np.array(
        [
            [0.9, 0.8, 0.1, 0.0],  # relevant {0, 2}: ranks 1 and 3
            [0.1, 0.2, 0.9, 0.3],  # relevant {1}: rank 3
            [0.5, 0.5, 0.5, 0.9],  # relevant {0, 1} tied with 2: pessimistic ranks 3 and 4
        ]
    )
    relevant = [[0, 2], [1], [1, 0]]
    m = multi_retrieval_metrics(scores, relevant, k=3)
    d = [1 / math.log2(r + 1) for r in (1, 2, 3)]
    ndcg = ((d[0] + d[2]) / (d[0] + d[1]) + d[2] / d[0] + d[2] / (d[0] + d[1])) / 3
    assert m["NDCG@3"] == pytest.approx(ndcg)
    assert m["MRR@3"] == pytest.approx((1 + 1 / 3 + 1 / 3) / 3)
    assert m["MAP@3"] == pytest.approx(((1 + 2 / 3) / 2 + 1 / 3 + (1 / 3) / 2) / 3)
    assert m["Recall@1"] == pytest.approx((0.5 + 0 + 0) / 3)
    assert m["Recall@3"] == pytest.approx((1.0 + 1.0 + 0.5) / 3)
    # One relevant document per query: the same as retrieval_metrics.
    rng = np.random.default_rng(0)
    s = rng.normal(size=(20, 30))
    rel = rng.integers(0, 30, size=20)
    single = retrieval_metrics(s, rel, k=10)
    multi = multi_retrieval_metrics(s, [[r] for r in rel], k=10)
    for key in single:
        assert multi[key] == pytest.approx(single[key])
    with pytest.raises(InvalidInputError, match="relevant"):
        multi_retrieval_metrics(s, [[]] * 20)
    with pytest.raises(InvalidInputError, match="one relevant list per query"):
        multi_retrieval_metrics(s, [[0]])
    # Sets and arrays of ids are lists of ids; anything else is named, never cast.
    sets = multi_retrieval_metrics(s, [{int(r)} for r in rel], k=10)
    arrays = multi_retrieval_metrics(s, [np.array([r]) for r in rel], k=10)
    assert sets == arrays == multi
    with pytest.raises(InvalidInputError, match=r"relevant\[0\] is empty"):
        multi_retrieval_metrics(s, [[]] * 20)
    with pytest.raises(InvalidInputError, match=r"relevant\[1\] holds 30, not a document index of 30"):
        multi_retrieval_metrics(s, [[0], [30]] + [[0]] * 18)
    with pytest.raises(TypeError, match=r"relevant\[0\] must hold int document indices, not float"):
        multi_retrieval_metrics(s, [[1.7]] + [[0]] * 19)
    with pytest.raises(TypeError, match=r"relevant\[0\] must hold int document indices, not str"):
        multi_retrieval_metrics(s, [["3"]] + [[0]] * 19)
    with pytest.raises(TypeError, match=r"relevant\[0\] must be a list or array of document indices, not a masked"):
        multi_retrieval_metrics(s, [np.ma.masked_array([5, 40], mask=[False, True])] + [[0]] * 19)
    with pytest.raises(TypeError, match=r"relevant\[2\] must be a list of document indices, not int"):
        multi_retrieval_metrics(s, [[0], [0], 5] + [[0]] * 17)


def test_spearman_and_bitext_by_hand():
    from staticemb.evaluation import bitext_accuracy, spearman

    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # Ranks with a tie: a = (1, 2.5, 2.5, 4), b = (1, 2, 3, 4) -> rho = 4.5 / sqrt(4.5 * 5)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / math.sqrt(4.5 * 5))
    with pytest.raises(InvalidInputError):
        spearman([1], [2])
    src = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    tgt = np.array([[0.9, 0.1], [1.0, 0.2], [0.5, 0.5]])  # source 1's nearest target is 2, not 1
    assert bitext_accuracy(src, tgt) == pytest.approx(2 / 3)
    with pytest.raises(InvalidInputError, match="aligned"):
        bitext_accuracy(src, tgt[:2])


def test_nan_scores_rank_below_every_number():
    # A model whose vectors hold NaN must not score as perfect: NaN ranks last and ties with the other NaNs.
    nan = np.nan
    s = np.array([[nan, 0.9, 0.8], [0.1, nan, 0.3], [0.5, nan, nan]])
    np.testing.assert_array_equal(ranks_of_relevant(s, [0, 1, 2]), [3, 3, 3])
    np.testing.assert_array_equal(ranks_of_relevant(s, [1, 0, 0]), [1, 2, 1])
    allnan = np.full((2, 3), nan)
    for metrics in (retrieval_metrics(allnan, [0, 1], k=2), multi_retrieval_metrics(allnan, [[0], [1]], k=2)):
        assert metrics == {"NDCG@2": 0.0, "MRR@2": 0.0, "MAP@2": 0.0, "Recall@1": 0.0, "Recall@2": 0.0}
    m = multi_retrieval_metrics(s, [[0, 1], [1], [0]], k=3)
    assert all(math.isfinite(v) and 0 <= v <= 1 for v in m.values())
    assert m["Recall@1"] == pytest.approx((1 / 2 + 0 + 1) / 3)
    assert bitext_accuracy(np.full((2, 2), nan, np.float32), np.eye(2, dtype=np.float32)) == 0.0
    with pytest.raises(InvalidInputError, match="NaN at position 2"):
        spearman([1, 2, nan], [1, 2, 3])


def test_bad_indices_k_and_object_scores_are_refused_or_read_right():
    scores = np.array([[0.1, 0.9, 0.5]])
    with pytest.raises(TypeError, match="integer document indices"):
        ranks_of_relevant(scores, [0.9])  # was document 0, rank 3
    with pytest.raises(TypeError, match="integer document indices"):
        ranks_of_relevant(scores, [True])
    # An object array of floats: NaN still ranks lowest (it gave rank 0 and NDCG@10 = inf).
    out = retrieval_metrics(np.array([[np.nan, 0.5]], dtype=object), [0])
    assert out["NDCG@10"] == pytest.approx(1 / math.log2(3)) and out["MRR@10"] == 0.5
    for k, error in ((0, InvalidInputError), (-3, InvalidInputError), (2.5, TypeError), (True, TypeError),
                     ("10", TypeError), (None, TypeError)):
        with pytest.raises(error, match="^k must be"):
            retrieval_metrics(scores, [1], k=k)
        with pytest.raises(error, match="^k must be"):
            multi_retrieval_metrics(scores, [[1]], k=k)
    # Integer indices that NumPy does not make an integer array of are still integers.
    for relevant in ([np.int64(1)], np.array([1], dtype=object)):
        assert retrieval_metrics(scores, relevant)["Recall@1"] == 1.0
    two = np.array([[0.9, 0.1], [0.1, 0.9]])
    assert retrieval_metrics(two, [np.int64(0), np.uint64(1)])["Recall@1"] == 1.0
    assert retrieval_metrics(scores, [1], k=np.int64(1))["Recall@1"] == 1.0


@pytest.mark.reference
def test_multi_relevant_metrics_equal_sentence_transformers_evaluator():
    """NDCG@k, MRR@k, MAP@k and Recall@k against Sentence Transformers' InformationRetrievalEvaluator on the same
    scores (no ties, where the two tie conventions would differ), 1 to 5 relevant documents a query."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
    from staticemb.evaluation import multi_retrieval_metrics

    rng = np.random.default_rng(3)
    n_queries, n_docs, k = 40, 60, 10
    scores = rng.permutation(n_queries * n_docs).reshape(n_queries, n_docs).astype(np.float64)
    relevant = [sorted(rng.choice(n_docs, size=rng.integers(1, 6), replace=False).tolist())
                for _ in range(n_queries)]
    evaluator = InformationRetrievalEvaluator(
        {str(q): "q" for q in range(n_queries)}, {str(d): "d" for d in range(n_docs)},
        {str(q): {str(d) for d in rel} for q, rel in enumerate(relevant)},
        mrr_at_k=[k], ndcg_at_k=[k], accuracy_at_k=[1], precision_recall_at_k=[1, k], map_at_k=[k],
        write_csv=False,
    )
    results = [[{"corpus_id": str(d), "score": float(row[d])} for d in range(n_docs)] for row in scores]
    theirs = evaluator.compute_metrics(results)
    ours = multi_retrieval_metrics(scores, relevant, k=k)
    assert ours[f"NDCG@{k}"] == pytest.approx(theirs["ndcg@k"][k])
    assert ours[f"MRR@{k}"] == pytest.approx(theirs["mrr@k"][k])
    assert ours[f"MAP@{k}"] == pytest.approx(theirs["map@k"][k])
    assert ours["Recall@1"] == pytest.approx(theirs["recall@k"][1])
    assert ours[f"Recall@{k}"] == pytest.approx(theirs["recall@k"][k])
    assert ours[f"MAP@{k}"] != pytest.approx(ours[f"MRR@{k}"])  # several relevant documents: MAP is not MRR


def test_widths_wider_than_the_model_are_refused_not_dropped():
    # open_model(..., dims=[100, 4096]) on a 16-d model scored at [16] in their place, without a word.
    from pathlib import Path

    from staticemb.tasks import open_model

    model = Path(__file__).resolve().parent / "fixtures" / "m2v-f32"
    with pytest.raises(InvalidInputError, match=r"dims 100,4096: .* is a 16-d model; a width must be between 1"):
        open_model(str(model), dims=[100, 4096])
    assert open_model(str(model), dims=[8, 16]).dims == [8, 16]
