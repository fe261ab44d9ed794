"""training/minilm_passages.py: the two scores of a transformer encoder on a held-out split, and the report."""

from __future__ import annotations

import json

import numpy as np

from training import datasets as D
from training import minilm_passages as M


def test_scores_and_report(tmp_path, monkeypatch):
    docs = ["Alpha beta gamma delta epsilon zeta. Cats sleep on warm mats all day long.",
            "Rust compiles fast code. Borrow checking keeps memory safe in every thread."]
    task = {"type": "retrieval", "name": "retrieval-debian", "queries": ["cats sleeping", "memory safe code"],
            "corpus": docs, "relevant": [[0], [1]]}
    path = tmp_path / "retrieval-debian.json"
    path.write_text(json.dumps(task), encoding="utf-8")
    monkeypatch.setattr(D, "task_path", lambda name, split: path)
    vocab = sorted({w.strip(".").lower() for t in docs + task["queries"] for w in t.split()})

    def encode(texts):  # bag of words: a passage that holds the query's words matches it best
        out = np.zeros((len(texts), len(vocab)), np.float32)
        for i, t in enumerate(texts):
            for w in t.split():
                w = w.strip(".").lower()
                if w in vocab:
                    out[i, vocab.index(w)] += 1
        return out

    row = M.score_source(encode, "debian")
    assert set(row) == {"doc", "doc+maxp"} and row["doc+maxp"] == 1.0
    text = M.render([{"source": "debian", "doc": 0.8, "doc+maxp": 0.84, "stem": 0.83},
                     {"source": "bbc", "doc": 0.9, "doc+maxp": 0.9, "stem": 0.93}], command="c", seconds=60)
    assert "| debian | 80.0 | 84.0 | +4.0 | 83.0 |" in text and "| **mean of 2** | 85.0 | 87.0 | +2.0 | 88.0 |" in text
