"""training/term_frequency.py: the exact-match arm against the index's counted terms on a table whose rows are
orthogonal (where a token matches itself only), the report and the rule with its half-point gain."""

from __future__ import annotations

import numpy as np
from _study import study_row
from tokenizers import Tokenizer

from training import term_frequency as T
from training.late_interaction import components


def test_exact_terms_are_the_counted_terms_when_tokens_match_only_themselves(tiny_tokenizer_path):
    from staticemb import SearchIndex, StaticModel

    tok = Tokenizer.from_file(str(tiny_tokenizer_path))
    rng = np.random.default_rng(0)
    vocab = tok.get_vocab_size()
    model = StaticModel(tok, (np.eye(vocab) * rng.uniform(0.5, 2.0, vocab)[:, None]).astype(np.float32))
    docs = ["the model reads the table. the model pools its rows.", "rust is a library", "",
            "python python python rust", "the table " * 12]
    queries = ["the model reads", "python rust python", "", "library table"]
    index = SearchIndex(model, docs, term_frequency=True)
    exact = T.exact_terms(index, docs, queries)
    np.testing.assert_allclose(exact, components(index, queries)["terms"], atol=1e-5)
    assert exact[1, 3] > exact[1, 1] > 0 and exact[2].max() == 0  # three "python" beat none; no query tokens


def _row(source, base, new):
    return study_row(T.STUDY, source, base, new)


def test_report_and_rule_ask_for_half_a_point():
    rows = [_row("debian", 0.700, 0.706), _row("bbc", 0.800, 0.806)]
    text = T.render(rows, command="python -m training.term_frequency", seconds=60)
    assert "**adopted**" in text and "mean up by more than 0.5 point at both widths" in text
    assert "| **mean of 2** | lead | 1024 | 75.0 | 75.6 (+0.6) |" in text
    assert T.decide([_row("debian", 0.700, 0.704), _row("bbc", 0.800, 0.804)])[0] is False
    assert T.decide([_row("debian", 0.700, 0.720), _row("pydoc", 0.460, 0.445)])[0] is False
