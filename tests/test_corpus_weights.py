"""training/corpus_weights.py: SIF weights counted on the searched corpus, the report and the rule."""

from __future__ import annotations

from training import corpus_weights as C


def _row(source, none, corpus, corpus_256=None, model="loso/x"):
    corpus_256 = corpus if corpus_256 is None else corpus_256
    row = {"model": model, "source": source, "stem": 0.8, "minilm": 0.85}
    for dim, shift in (("1024", 0.0), ("256", -0.01)):
        row[f"none {dim}"] = none + shift
        row[f"train 0.001 {dim}"] = none + 0.005 + shift
        row[f"corpus 0.001 {dim}"] = (corpus if dim == "1024" else corpus_256) + shift
        row[f"train 0.0001 {dim}"] = none + shift
        row[f"corpus 0.0001 {dim}"] = none - 0.01 + shift
    return row


def test_report_and_rule(monkeypatch):
    monkeypatch.setattr(C, "hardware", lambda: "a test machine")
    folds = [_row("debian", 0.70, 0.73), _row("pydoc", 0.46, 0.474)]
    text = C.render([_row("bbc", 0.7, 0.72, model=C.UNTRAINED)], folds, C.A_GRID, command="c", seconds=120)
    assert "| debian | 1024 | 70.0 | 70.5 (+0.5) | 73.0 (+3.0) | 70.0 (+0.0) | 69.0 (-1.0) | 80.0 | 85.0 |" in text
    assert "| debian | 256 | 69.0 | 69.5 (+0.5) | 72.0 (+3.0) |" in text
    assert "| **mean of 2** | 1024 | 58.0 | 58.5 (+0.5) | 60.2 (+2.2) |" in text
    assert "The untrained MiniLM distillation" in text and "| bbc | 1024 | 70.0 |" in text
    assert "**adopted**: at a=0.001, mean +2.2 at 1024-d and +2.2 at 256-d; smallest change at 1024-d +1.4 (pydoc)" \
        in text
    # A fold down by more than a point, a mean gain within a point, or none at 256-d: not adopted.
    assert C.decide([_row("debian", 0.70, 0.76), _row("pydoc", 0.46, 0.445)])[0] is False
    assert C.decide([_row("debian", 0.70, 0.705), _row("pydoc", 0.46, 0.465)])[0] is False
    assert C.decide([_row("debian", 0.70, 0.73, 0.70), _row("pydoc", 0.46, 0.49, 0.46)])[0] is False
    assert C.decide([]) == (False, "no trained fold was scored")
    assert "**not adopted**" in C.render([], [_row("debian", 0.70, 0.70)], C.A_GRID, command="c", seconds=1)
