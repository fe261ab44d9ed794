"""training/late_interaction.py: the parts of the library's score it compares, the report and the rule (the
score itself is checked against a direct computation in test_index.py)."""

from __future__ import annotations

import numpy as np
from _study import study_row

from training import late_interaction as L


def test_the_parts_add_up_to_the_librarys_score(tiny_st_folder):
    from staticemb import SearchIndex, StaticModel

    model = StaticModel.from_pretrained(tiny_st_folder)
    docs = ["the model reads the table. the model pools its rows.", "rust is a library", "", "python python python"]
    queries = ["the model reads", "python rust python", "", "library"]
    index = SearchIndex(model, docs)
    parts = L.components(index, queries)
    assert set(parts) == {"document", "passages", "terms"}
    np.testing.assert_allclose(parts["document"] + parts["passages"] + parts["terms"], index.scores(queries),
                               atol=1e-6)
    np.testing.assert_allclose(parts["document"] + parts["passages"],
                               SearchIndex(model, docs, terms=False).scores(queries), atol=1e-6)


def _row(source, base, new):
    return study_row(L.STUDY, source, base, new)


def test_report_and_rule():
    rows = [_row("debian", 0.70, 0.75), _row("bbc", 0.80, 0.82)]
    text = L.render(rows, command="python -m training.late_interaction", seconds=60)
    assert "**adopted**" in text and "| **mean of 2** | lead | 1024 | 75.0 | 78.5 (+3.5) |" in text
    assert "above BM25 with stemming on 1 of 2 (bbc)" in text
    assert L.decide([_row("debian", 0.70, 0.75), _row("pydoc", 0.46, 0.44)])[0] is False
