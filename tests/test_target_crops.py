"""training/target_crops.py: the held-out source's unlabeled documents as crop pairs, and the report."""

from __future__ import annotations

import json

import pytest
from staticemb.train.crops import crop

from training import datasets as D
from training import target_crops as T


def _long(k: int) -> str:
    return " ".join(f"w{k}x{i}" for i in range(60))


def test_a_fold_gets_its_pairs_and_the_held_out_sources_crops_only(tmp_path, monkeypatch):
    (tmp_path / "pairs").mkdir()
    for name in ("en-bbc", "en-debian"):
        D._write_jsonl(D.pairs_path(name, tmp_path),
                       [{"anchor": f"{name} summary {k}", "positive": _long(k)} for k in range(4)])
    monkeypatch.setattr(D, "pairs_path", lambda name, root=None, _p=D.pairs_path: _p(name, root or tmp_path))
    files = T._datasets("bbc")(["en-debian"])
    assert set(files) == {"en-debian", "crop-en-bbc"}
    crops = [json.loads(line) for line in open(files["crop-en-bbc"], encoding="utf-8")]
    # Crops of the held-out source's long sides: never its summaries (the queries of its task).
    assert len(crops) == 4 and not any("summary" in c["anchor"] + c["positive"] for c in crops)
    assert [(c["anchor"], c["positive"]) for c in crops] == [crop(_long(k)) for k in range(4)]
    # The held-out source's own pairs in its fold would be a leak.
    with pytest.raises(RuntimeError, match="trains on its pairs"):
        T._datasets("bbc")(["en-debian", "en-bbc"])
    # Filtered: the fold's pair sets as training.teacher_filter keeps them, the crops as before.
    from training import teacher_filter

    monkeypatch.setattr(teacher_filter, "build", lambda names: {n: tmp_path / f"kept-{n}.jsonl" for n in names})
    filtered = T._datasets("bbc", filtered=True)(["en-debian"])
    assert filtered == {"en-debian": tmp_path / "kept-en-debian.jsonl", "crop-en-bbc": files["crop-en-bbc"]}


def test_report(monkeypatch):
    monkeypatch.setattr(T, "hardware", lambda: "a test machine")
    rows = [{"source": "bbc", "pairs 1024": 0.80, "crop 1024": 0.83, "pairs 256": 0.79, "crop 256": 0.82,
             "stem": 0.8, "minilm": 0.85}]
    text = T.render(rows, "python -m training.target_crops", 600, 300)
    assert "| bbc | 80.0 | 83.0 | +3.0 | 79.0 | 82.0 | +3.0 | 80.0 | 85.0 | +3.0 |" in text
    assert "the second stages took 5 min in all" in text
    assert "Decision" in text and "**adopted**" in text
    assert "teacher all-MiniLM-L6-v2)" in text
    mpnet = T.render(rows, "python -m training.target_crops --regress-teacher mpnet", 600, 300, "mpnet")
    assert "teacher all-mpnet-base-v2 (training.regress_teacher's folds))" in mpnet


def test_report_with_corpus_weights(monkeypatch):
    monkeypatch.setattr(T, "hardware", lambda: "a test machine")
    scores = {"pairs 1024": 0.80, "crop 1024": 0.83, "pairs 256": 0.79, "crop 256": 0.82}
    rows = [T._make_row("bbc", {"1024": 0.80, "256": 0.79}, {"1024": 0.83, "256": 0.82},
                        {"BM25 (stemmed)": 0.84, "all-MiniLM-L6-v2": 0.90}.__getitem__,
                        ({"1024": 0.81, "256": 0.80}, {"1024": 0.855, "256": 0.85})),
            T._make_row("debian", {"1024": 0.60, "256": 0.59}, {"1024": 0.65, "256": 0.64},
                        {"BM25 (stemmed)": 0.70, "all-MiniLM-L6-v2": 0.70}.__getitem__,
                        ({"1024": 0.62, "256": 0.61}, {"1024": 0.68, "256": 0.67}))]
    assert {k: rows[0][k] for k in scores} == scores
    text = T.render(rows, "python -m training.target_crops", 600)
    assert "## With the searched corpus's token weights as well" in text
    assert "| bbc | 81.0 | 85.5 | 80.0 | 85.0 | 84.0 | 90.0 | +1.5 | 95.0 |" in text
    assert "| debian | 62.0 | 68.0 | 61.0 | 67.0 | 70.0 | 70.0 | -2.0 | 97.1 |" in text
    assert "Above BM25 with stemming at 1024-d: 1 of 2 held-out sources (bbc)" in text
    # Mean 76.75 of a MiniLM mean of 80.0; 256-d mean 76.0 of 76.75.
    assert "mean 76.8, 95.9% of all-MiniLM-L6-v2's mean; 256-d keeps 99.0% of 1024-d." in text
