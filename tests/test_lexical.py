"""training/lexical.py: the IDF-weighted random identity term added to a table, and what it does to similarity."""

from __future__ import annotations

import numpy as np
import pytest

from training import lexical as L
from training import weighting as W


@pytest.fixture(scope="module")
def model(bert_tokenizer, table):
    from staticemb import StaticModel

    return StaticModel(bert_tokenizer, table, normalize=False)


@pytest.fixture(scope="module")
def counts(model, real_texts) -> np.ndarray:
    return W.count_tokens(model, real_texts[:3_000])


def test_idf_weights():
    w = L.idf_weights(np.array([0, 1, 10, 1000, 0]))
    assert w.dtype == np.float32 and w[0] == w[4] == 1.0
    assert (np.diff(w[:4]) < 0).all() and (w > 0).all() and (w <= 1).all()
    np.testing.assert_allclose(L.idf_weights(np.zeros(3, dtype=np.int64)), 1.0)
    for bad in (np.array([]), np.array([[1, 2]]), np.array([1, -1])):
        with pytest.raises(ValueError, match="counts"):
            L.idf_weights(bad)


def test_term_is_exactly_the_described_rows(model, table, counts):
    out = L.with_lexical(model, counts, 1.5)
    assert out.full_dim == model.full_dim and out.normalize == model.normalize and out.vocab_size == model.vocab_size
    m = np.median(np.linalg.norm(table, axis=1))
    r = L.lexical_rows(*table.shape)
    expected = table + (1.5 * m * L.idf_weights(counts))[:, None] * r
    np.testing.assert_allclose(out.dequantized(), expected, rtol=1e-5, atol=1e-6)
    # Fixed by the seed, about unit length, nearly orthogonal in 1,024 dims.
    np.testing.assert_array_equal(r, L.lexical_rows(*table.shape))
    assert not np.array_equal(r, L.lexical_rows(*table.shape, seed=L.SEED + 1))
    norms = np.linalg.norm(r[:2_000], axis=1)
    assert abs(norms.mean() - 1) < 0.01
    assert np.abs(r[:200] @ r[200:400].T).max() < 0.2
    # Scale 0 is the table itself; a bad scale or a count vector of the wrong size is refused.
    np.testing.assert_array_equal(L.with_lexical(model, counts, 0.0).dequantized(), table)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="scale"):
            L.with_lexical(model, counts, bad)
    with pytest.raises(ValueError, match="counts for"):
        L.with_lexical(model, counts[:-1], 1.0)


def test_term_rewards_shared_rare_tokens(model, counts, bert_tokenizer):
    """Sharing a word never counted pulls two texts together more than sharing frequent words does."""
    vocab = bert_tokenizer.get_vocab()
    rare = next(w for w, i in sorted(vocab.items(), key=lambda x: x[1])
                if w.isalpha() and w.isascii() and len(w) > 5 and counts[i] == 0)
    assert bert_tokenizer.encode(rare, add_special_tokens=False).ids == [vocab[rare]]
    a, b, c = f"the {rare} of it", f"one {rare} was here", "the river of it"
    plain = model.encode([a, b, c], normalize=True)
    lex = L.with_lexical(model, counts, 2.0).encode([a, b, c], normalize=True)
    gain_rare = lex[0] @ lex[1] - plain[0] @ plain[1]
    gain_common = lex[0] @ lex[2] - plain[0] @ plain[2]
    assert gain_rare > 0.05 and gain_rare > gain_common + 0.05


def test_dev_tasks_never_name_the_held_out_source():
    from training import loso

    for source, (_, task) in loso.SOURCES.items():
        assert task not in loso.dev_tasks(source)
    assert loso.dev_tasks(None) == ["retrieval-debian", "retrieval-wikipedia", "retrieval-pydoc"]


def test_with_table_refuses_mismatched_tables(model, table):
    with pytest.raises(ValueError, match="rows for a table"):
        W.with_table(model, table[:-1])


def test_report_adopts_only_what_helps_every_fold_at_both_widths(monkeypatch):
    monkeypatch.setattr(L, "hardware", lambda: "a test machine")  # the wheel tier has no torch to ask
    untrained = [{"model": "t", "source": s, "dim": d, "stem": 0.8, 0.0: 0.5, 1.0: 0.55, 2.0: 0.6}
                 for s in ("a", "b") for d in (1024, 256)]

    def fold(source, lex256):
        return {"source": source, "dev": {0.0: 0.6, 1.0: 0.7}, "scale": 1.0, "stem": 0.8,
                "plain": {"1024": 0.60, "256": 0.58}, "posthoc": {"1024": 0.61, "256": 0.57},
                "lex": {"1024": 0.62, "256": lex256}}

    mixed = L.render(untrained, [fold("a", 0.59), fold("b", 0.57)], [1.0, 2.0], command="c", seconds=60,
                     minutes=5)
    assert "helped 1 of 2, so the shipped configs do not use it" in mixed
    assert "+2.0 at 1024-d and +0.0 at 256-d" in mixed
    assert "| a | 0: 60.0, 1: 70.0 | 1 | 256 | 58.0 | 57.0 | 59.0 | 80.0 |" in mixed
    both = L.render(untrained, [fold("a", 0.59), fold("b", 0.59)], [1.0, 2.0], command="c", seconds=60, minutes=5)
    assert "helped 2 of 2, so it qualifies" in both
    assert "t: mean 50.0 at s=0, +10.0 at s=2 (better on 2 of 2)" in both
