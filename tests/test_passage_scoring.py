"""training/passage_scoring.py: a document's passages, its scores by its whole and its passages, the report."""

from __future__ import annotations

import numpy as np
import pytest

from training import passage_scoring as P


def test_passages_pack_sentences_to_the_minimum_and_cut_at_the_maximum():
    text = "Short one. " + " ".join(f"w{i}" for i in range(8)) + ". Tail end."
    parts = P.passages(text)
    # "Short one." is packed with the next sentence; the two-word tail joins the passage before it.
    assert parts == [" ".join(["Short", "one."] + [f"w{i}" for i in range(7)] + ["w7.", "Tail", "end."])]
    long = " ".join(f"x{i}" for i in range(2 * P.MAX_WORDS + 5))  # no sentence end at all
    parts = P.passages(long)
    assert [len(p.split()) for p in parts] == [P.MAX_WORDS, P.MAX_WORDS, 5]
    assert " ".join(parts) == long
    assert P.passages("a b") == ["a b"] and P.passages("") == [""] and P.passages("   ") == [""]
    sentences = " ".join(f"s{k}a s{k}b s{k}c s{k}d s{k}e s{k}f." for k in range(3))
    assert len(P.passages(sentences)) == 3
    # Every word of the text is in exactly one passage, in order.
    for t in (text, long, sentences):
        assert " ".join(P.passages(t)).split() == t.split()


def test_passage_scores_match_a_direct_computation():
    rng = np.random.default_rng(0)
    q, d = rng.normal(size=(7, 5)), rng.normal(size=(4, 5))
    owner = np.array([0, 0, 1, 2, 2, 2, 3])
    p = rng.normal(size=(len(owner), 5))
    got = P.passage_scores(q, d, p, owner, block=3)

    def cos(a, b):
        return a @ b / np.linalg.norm(a) / np.linalg.norm(b)

    for i in range(len(q)):
        for j in range(len(d)):
            mine = [cos(q[i], p[k]) for k in np.nonzero(owner == j)[0]]
            whole = cos(q[i], d[j])
            assert got["doc"][i, j] == pytest.approx(whole, abs=1e-9)
            assert got["maxp"][i, j] == pytest.approx(max(mine), abs=1e-9)
            assert got["doc+maxp"][i, j] == pytest.approx(whole + max(mine), abs=1e-9)
            assert got["doc+firstp"][i, j] == pytest.approx(whole + mine[0], abs=1e-9)
    with pytest.raises(ValueError, match="at least one passage"):
        P.passage_scores(q, d, p[:6], owner[:6])
    with pytest.raises(ValueError, match="document order"):
        P.passage_scores(q, d, p, owner[::-1])


def _row(source, doc, maxp):
    row = {"source": source, "stem": 0.8, "minilm": 0.85}
    for model in P.MODELS:
        for dim in ("1024", "256"):
            row.update({f"{model} doc {dim}": doc, f"{model} doc+maxp {dim}": maxp,
                        f"{model} maxp {dim}": maxp - 0.01, f"{model} doc+firstp {dim}": doc})
    return row


def test_report_and_rule():
    rows = [_row("debian", 0.70, 0.75), _row("bbc", 0.80, 0.82)]
    text = P.render(rows, command="python -m training.passage_scoring", seconds=60)
    assert "**adopted**" in text and "| **mean of 2** | lead | 1024 | 75.0 | 78.5 (+3.5) |" in text
    assert "above BM25 with stemming on 1 of 2 (bbc)" in text
    assert P.decide([_row("debian", 0.70, 0.75), _row("pydoc", 0.46, 0.44)])[0] is False
