"""training/late_interaction.py: each text's distinct tokens, the term score against a direct computation, the
report and the rule."""

from __future__ import annotations

import numpy as np
import pytest

from training import late_interaction as L


def _model(tokenizer_path, width=16, seed=2):
    from staticemb import StaticModel
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(tokenizer.get_vocab_size(), width)).astype(np.float32)
    weights = rng.uniform(0.5, 2.0, tokenizer.get_vocab_size()).astype(np.float32)
    return StaticModel(tokenizer, table, weights=weights, normalize=False)


QUERIES = ["the model reads", "python rust python", "", "library"]
DOCS = ["the model reads the table the model", "rust is a library", "", "python python python", "a single word"]


def test_distinct_tokens_are_each_texts_pooled_tokens_once(tiny_tokenizer_path):
    model = _model(tiny_tokenizer_path)
    ids, starts = L.distinct_tokens(model, DOCS)
    flat, offsets = model.tokenize(DOCS)
    bags = np.split(flat, offsets[1:])
    assert len(starts) == len(DOCS) + 1
    for k, bag in enumerate(bags):
        assert ids[starts[k]:starts[k + 1]].tolist() == sorted(set(bag.tolist()))


def test_term_scores_match_a_direct_computation(tiny_tokenizer_path):
    model = _model(tiny_tokenizer_path)
    table = model._folded_table()
    q_tok, d_tok = L.distinct_tokens(model, QUERIES), L.distinct_tokens(model, DOCS)
    got = L.term_scores(table, q_tok, d_tok, block=2)
    unit = table / np.linalg.norm(table, axis=1, keepdims=True)
    norms = np.linalg.norm(table, axis=1)
    for i in range(len(QUERIES)):
        qi = q_tok[0][q_tok[1][i]:q_tok[1][i + 1]]
        for j in range(len(DOCS)):
            dj = d_tok[0][d_tok[1][j]:d_tok[1][j + 1]]
            if len(qi) == 0 or len(dj) == 0:
                assert got[i, j] == 0
                continue
            best = (unit[qi] @ unit[dj].T).max(axis=1)
            assert got[i, j] == pytest.approx((norms[qi] * best).sum() / norms[qi].sum(), abs=1e-5)
    # A document holding every query token scores 1, the most there is.
    assert got[0, 0] == pytest.approx(1.0, abs=1e-5) and got.max() <= 1 + 1e-5


def _row(source, base, new):
    row = {"source": source, "stem": 0.8, "minilm": 0.85}
    for model in L.MODELS:
        for dim in ("1024", "256"):
            row.update({f"{model} doc+maxp {dim}": base, f"{model} doc+maxp+terms {dim}": new,
                        f"{model} terms {dim}": new - 0.1, f"{model} doc+terms {dim}": base})
    return row


def test_report_and_rule():
    rows = [_row("debian", 0.70, 0.75), _row("bbc", 0.80, 0.82)]
    text = L.render(rows, command="python -m training.late_interaction", seconds=60)
    assert "**adopted**" in text and "| **mean of 2** | lead | 1024 | 75.0 | 78.5 (+3.5) |" in text
    assert "above BM25 with stemming on 1 of 2 (bbc)" in text
    assert L.decide([_row("debian", 0.70, 0.75), _row("pydoc", 0.46, 0.44)])[0] is False
