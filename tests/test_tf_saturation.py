"""training/tf_saturation.py: pooling with saturated term frequency, the report and the rule."""

from __future__ import annotations

import numpy as np
import pytest

from training import tf_saturation as T


def _model(tokenizer_path, weights=False, width=32, seed=4):
    from staticemb import StaticModel
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(tokenizer.get_vocab_size(), width)).astype(np.float32)
    own = rng.uniform(0.5, 2.0, tokenizer.get_vocab_size()).astype(np.float32) if weights else None
    return StaticModel(tokenizer, table, weights=own, normalize=False)


TEXTS = ["the model reads the table the model", "python rust python python", "", "a single word",
         "library library library library library library"]


@pytest.mark.parametrize("weights", [False, True])
def test_linear_pooling_is_the_model_and_the_others_reweigh_repeats(tiny_tokenizer_path, weights):
    model = _model(tiny_tokenizer_path, weights)
    assert T.check_linear(model, TEXTS) == pytest.approx(1.0, abs=1e-5)
    table = model._folded_table()
    ids, offsets = model.tokenize(TEXTS)
    bags = np.split(ids, offsets[1:])
    for f in T.SATURATIONS.values():
        got = T.pooled(model, TEXTS, f)
        for bag, vec in zip(bags, got, strict=True):
            uniq, tf = np.unique(bag, return_counts=True)
            expected = (f(tf.astype(np.float64))[:, None] * table[uniq]).sum(0) if len(bag) else 0 * vec
            np.testing.assert_allclose(vec, expected, rtol=1e-4, atol=1e-4)
    # Binary: a word said six times is the word said once; bm25 caps a repeat below k1 + 1 times.
    binary, bm25 = T.SATURATIONS["binary"], T.SATURATIONS["bm25"]
    np.testing.assert_allclose(T.pooled(model, ["library " * 6], binary), T.pooled(model, ["library"], binary),
                               rtol=1e-6)
    assert bm25(np.array([1.0]))[0] == 1.0 and bm25(np.array([1e6]))[0] < T.K1 + 1


def _row(source, linear, bm25):
    row = {"source": source, "check": 1.0, "stem": 0.8, "minilm": 0.85}
    for dim, shift in (("1024", 0.0), ("256", -0.01)):
        row[f"linear {dim}"] = linear + shift
        row[f"bm25 {dim}"] = bm25 + shift
        row[f"sqrt {dim}"] = linear + 0.005 + shift
        row[f"binary {dim}"] = linear - 0.05 + shift
    return row


def test_report_and_rule(monkeypatch):
    monkeypatch.setattr(T, "hardware", lambda: "a test machine")
    text = T.render([_row("bbc", 0.80, 0.83), _row("debian", 0.70, 0.715)], command="c", seconds=60)
    assert "| bbc | 1024 | 80.0 | 83.0 (+3.0) | 80.5 (+0.5) | 75.0 (-5.0) | 80.0 | 85.0 |" in text
    assert "| **mean of 2** | 256 | 74.0 | 76.2 (+2.2) |" in text
    assert "**adopted**: mean +2.2 at 1024-d and +2.2 at 256-d; smallest change at 1024-d +1.5 (debian)" in text
    assert "**not adopted**" in T.render([_row("bbc", 0.80, 0.86), _row("debian", 0.70, 0.685)], command="c",
                                         seconds=1)
