"""training/weighting.py: SIF weights folded into the table, counted without the held-out source."""

from __future__ import annotations

import numpy as np
import pytest

from training import weighting as W


@pytest.fixture(scope="module")
def model(bert_tokenizer, table):
    from staticemb import StaticModel

    return StaticModel(bert_tokenizer, table)


@pytest.fixture(scope="module")
def texts(real_texts) -> list[str]:
    """Real Debian sentences and descriptions, and the edge cases (empty and whitespace-only texts included)."""
    return real_texts[:6_000] + real_texts[-20:]


@pytest.fixture(scope="module")
def buckets(model, texts) -> dict[str, np.ndarray]:
    """Three disjoint 'sources' of real text: ``s`` the one held out."""
    return {"x": W.count_tokens(model, texts[:2_000]), "s": W.count_tokens(model, texts[2_000:4_000]),
            W.REST: W.count_tokens(model, texts[4_000:6_000])}


def test_folded_weights_give_model2vec_weighted_vectors(model, bert_tokenizer, table, texts, buckets):
    from staticemb import StaticModel

    w = W.sif_weights(W.held_out_counts(buckets, "s"), 1e-3)
    folded = W.weighted(model, w)
    assert folded.full_dim == model.full_dim and folded.normalize == model.normalize
    got = folded.encode(texts, normalize=True)
    # The same weights given to StaticModel as model2vec per-token weights (scaled inside the Rust core).
    reference = StaticModel(bert_tokenizer, table, weights=w).encode(texts, normalize=True)
    np.testing.assert_allclose(got, reference, atol=1e-5)
    # And the SIF-weighted mean by hand, from the tokenizer's ids: same direction as sum(w_t row_t) / sum(w_t).
    ids, offsets = model.tokenize(texts[:200])
    bounds = [*offsets.tolist(), len(ids)]
    for i in range(200):
        tok = ids[bounds[i] : bounds[i + 1]].astype(np.int64)
        if len(tok) == 0:
            assert not got[i].any()
            continue
        v = (w[tok, None].astype(np.float64) * table[tok]).sum(0) / w[tok].sum()
        np.testing.assert_allclose(got[i], v / np.linalg.norm(v), atol=1e-5)
    # Truncated widths (what the 256-d score reads) agree too, and the weighting is no no-op.
    np.testing.assert_allclose(folded.encode(texts, dim=256, normalize=True),
                               StaticModel(bert_tokenizer, table, weights=w).encode(texts, dim=256, normalize=True),
                               atol=1e-5)
    plain = model.encode(texts, normalize=True)
    assert np.abs(got - plain).max() > 0.05


def test_held_out_source_never_counted(buckets):
    held = W.held_out_counts(buckets, "s")
    np.testing.assert_array_equal(held, buckets["x"] + buckets[W.REST])
    only_s = (buckets["s"] > 0) & (buckets["x"] == 0) & (buckets[W.REST] == 0)
    assert only_s.sum() > 50  # real text: plenty of tokens occur in one slice only
    for a in (1e-3, 1e-4):
        assert (W.sif_weights(held, a)[only_s] == 1).all()  # never seen without s: weight 1
        # ... while holding out another source counts s's texts, and those tokens are down-weighted.
        assert (W.sif_weights(W.held_out_counts(buckets, "x"), a)[only_s] < 1).all()
    with pytest.raises(KeyError):
        W.held_out_counts(buckets, "nowhere")


@pytest.mark.corpus
def test_buckets_hold_each_source_apart():
    """Real texts of every source, of no source and of two sources: each lands in its own source's bucket
    only, so the frequencies used for held-out source s never include one of s's texts."""
    from training import datasets as D
    from training import loso

    src = D.Sources()
    owners = {s: loso.source_texts(src, s) for s in loso.SOURCES}
    # 200 texts of each source that no other source also has.
    sample = {s: sorted(held.difference(*(o for k, o in owners.items() if k != s)))[:200]
              for s, held in owners.items()}
    shared = "a text of two sources"
    owners["pydoc"].add(shared)
    owners["rustdoc"].add(shared)
    others = ["a WordNet gloss of no source", "another text of none"]
    pool = [t for texts in sample.values() for t in texts] + others + [shared]
    texts, dropped = W.assign_buckets(pool, owners)
    assert dropped == 1 and set(texts) == set(W.BUCKETS)
    assert texts[W.REST] == sorted(others)
    for s in loso.SOURCES:
        assert set(texts[s]) == set(sample[s]) and set(texts[s]) <= owners[s]
        assert all(not set(texts[b]) & owners[s] for b in W.BUCKETS if b != s)


def test_weights_in_unit_interval_and_decreasing_in_frequency(buckets):
    counts = W.held_out_counts(buckets, "s")
    order = np.argsort(counts, kind="stable")
    previous = None
    for a in W.A_GRID:
        w = W.sif_weights(counts, a)
        assert w.dtype == np.float32 and w.shape == counts.shape
        assert (w > 0).all() and (w <= 1).all()
        assert (w[counts == 0] == 1).all() and (w[counts > 0] < 1).all()
        steps_c, steps_w = np.diff(counts[order]), np.diff(w[order])
        assert (steps_w <= 0).all() and (steps_w[steps_c > 0] < 0).all()
        assert (steps_w[steps_c == 0] == 0).all()
        if previous is not None:  # a smaller a down-weights every counted token more
            assert (w[counts > 0] < previous[counts > 0]).all()
        previous = w
    with pytest.raises(ValueError):
        W.sif_weights(counts, 0.0)


def test_report_table(monkeypatch):
    monkeypatch.setattr(W, "hardware", lambda: "a test machine")  # no torch import
    rows = [
        {"model": "m", "source": s, "dim": d, "unweighted": u, "1e-3": u + 0.01, "1e-4": u - 0.02, "stem": 0.5}
        for s, u in (("bbc", 0.8), ("pydoc", 0.4)) for d in (1024, 256)
    ]
    text = W.render(rows, ["1e-3", "1e-4"], command="python -m training.weighting", seconds=60)
    assert "| model | held-out source | dim | unweighted | SIF a=1e-3 | SIF a=1e-4 | BM25 (stemmed) |" in text
    assert "| m | bbc | 1024 | 80.0 | 81.0 (+1.0) | 78.0 (-2.0) | 50.0 |" in text
    assert "| m | **mean of 2** | 256 | 60.0 | 61.0 (+1.0) | 58.0 (-2.0) | 50.0 |" in text
    assert "a=1e-3 +1.0 at 1024-d (better on 2 of 2), +1.0 at 256-d (better on 2 of 2)" in text
    assert "a=1e-4 -2.0 at 1024-d (better on 0 of 2)" in text
    assert "with the better weight, mean points: m -11.0." in text  # the better weight (1e-3): 61.0 vs 50.0
    assert [W.a_label(a) for a in (1e-3, 1e-4, 5e-4)] == ["1e-3", "1e-4", "5×1e-4"]
