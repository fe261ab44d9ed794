"""training/teacher_filter.py: the teacher's rank of each pair's positive, the cache, the filter, the report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from training import datasets as D
from training import teacher_filter as T


def _unit(rng, n, d=16):
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("block", [1, 7, 64, 4096])
def test_ranks_are_those_of_the_full_similarity_matrix(block):
    rng = np.random.default_rng(3)
    anchors, positives = _unit(rng, 50), _unit(rng, 30)
    true = rng.integers(0, 30, 50)
    cos, rank = T.rank_positives(anchors, positives, true, block=block)
    sim = anchors @ positives.T
    assert rank.tolist() == [int((sim[i] > sim[i, true[i]]).sum()) for i in range(50)]
    np.testing.assert_allclose(cos, np.einsum("ij,ij->i", anchors, positives[true]), atol=1e-6)


def test_a_positive_never_outranks_itself_and_ties_do_not_count():
    # Two identical positives: the anchor scores them equally, so each is the first choice (rank 0).
    p = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    a = np.array([[0.6, 0.8], [0.6, 0.8], [0.6, 0.8]], dtype=np.float32)
    cos, rank = T.rank_positives(a, p, np.array([0, 1, 2]))
    assert rank.tolist() == [1, 1, 0]
    np.testing.assert_allclose(cos, [0.6, 0.6, 0.8], atol=1e-6)


def test_the_top_fraction_or_at_least_ten_are_kept():
    rank = np.array([0, 9, 10, 20, 99, 100, 500])
    assert T.keep(rank, 50).tolist() == [True, True, False, False, False, False, False]  # 1% of 50 < 10
    assert T.keep(rank, 10_000).tolist() == [True, True, True, True, True, False, False]  # top 100
    assert T.keep(rank, 10_001).tolist() == [True, True, True, True, True, True, False]  # ceil: top 101


@pytest.fixture
def pair_files(tmp_path, monkeypatch, fake_teacher_embeddings):
    """A pair set under a data folder of its own, and the fake bag-of-words teacher (conftest): an anchor agrees
    with the positives that share its words."""
    monkeypatch.setenv("STATICEMB_DATA", str(tmp_path / "data"))
    (tmp_path / "pairs").mkdir()
    monkeypatch.setattr(D, "pairs_path", lambda name, root=None: tmp_path / "pairs" / f"{name}.jsonl")
    calls = fake_teacher_embeddings
    rows = [{"anchor": f"w{k} summary", "positive": f"w{k} body"} for k in range(30)]
    rows[3] = {"anchor": "w4 summary", "positive": "zz unrelated"}  # a false pair: w4's positive outranks it
    D._write_jsonl(D.pairs_path("en-bbc"), rows)
    return tmp_path, rows, calls


def test_scores_are_cached_by_the_pair_files_digest(pair_files):
    tmp_path, rows, calls = pair_files
    scores = T.pair_scores("en-bbc", model="teacher")
    assert len(calls) == 1 and calls[0][1][:30] == [r["anchor"] for r in rows]
    assert scores["rank"][3] > 0 and scores["rank"][[0, 1, 2, 4]].tolist() == [0, 0, 0, 0]
    cache = tmp_path / "data" / "teacher-scores" / "fake" / "en-bbc.npz"
    assert cache.is_file() and not cache.with_suffix(".partial").exists()
    again = T.pair_scores("en-bbc", model="teacher")
    assert len(calls) == 1 and again["rank"].tolist() == scores["rank"].tolist()
    # A changed pair file is scored again, not read from the stale cache.
    D._write_jsonl(D.pairs_path("en-bbc"), rows[:10])
    assert len(T.pair_scores("en-bbc", model="teacher")["rank"]) == 10 and len(calls) == 2


def test_the_filtered_set_drops_the_pairs_the_teacher_disowns(pair_files, monkeypatch):
    tmp_path, rows, calls = pair_files
    monkeypatch.setattr(T, "teacher", lambda: "teacher")
    monkeypatch.setattr(T, "TOP_AT_LEAST", 1)
    monkeypatch.setattr(T, "TOP_FRACTION", 0.0)
    files = T._datasets(["en-bbc"])
    assert set(files) == {"en-bbc"} and files["en-bbc"] == T.filtered_path("en-bbc")
    kept = [json.loads(line) for line in open(files["en-bbc"], encoding="utf-8")]
    scores = T.pair_scores("en-bbc", model="teacher")
    assert kept == [r for r, s in zip(rows, scores["rank"], strict=True) if s == 0]
    assert rows[3] not in kept and len(kept) >= 25


def test_report_and_rule(monkeypatch):
    monkeypatch.setattr(T, "hardware", lambda: "a test machine")

    def row(source, base, new):
        return {"source": source, "pairs 1024": base, "filtered 1024": new, "pairs 256": base - 0.01,
                "filtered 256": new - 0.01, "stem": 0.8, "minilm": 0.85}

    rows = [row("debian", 0.70, 0.73), row("pydoc", 0.46, 0.48)]
    text = T.render(rows, "python -m training.teacher_filter", 600, 300)
    assert "| debian | 70.0 | 73.0 | +3.0 | 69.0 | 72.0 | +3.0 | 80.0 | 85.0 |" in text
    assert "| **mean** | 58.0 | 60.5 | +2.5 | 57.0 | 59.5 | +2.5 | 80.0 | 85.0 |" in text
    assert "top 1% (at least 10)" in text and "**adopted**" in text
    assert T.decide([row("debian", 0.70, 0.75), row("pydoc", 0.46, 0.445)])[0] is False
    assert "**not adopted**" in T.render([row("bbc", 0.8, 0.8)], "c", 60)
