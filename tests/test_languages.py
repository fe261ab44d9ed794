"""training/languages.py: the per-language table separates trained and held-out languages and states the checks."""

from __future__ import annotations

from pathlib import Path

from staticemb.corpora import HELD_OUT_LANGS, TRANSLATION_LANGS

from training import languages as L


def test_table_groups_trained_and_held_out_languages(monkeypatch):
    monkeypatch.setattr(L, "hardware", lambda: "a test machine")
    langs = [*TRANSLATION_LANGS, *HELD_OUT_LANGS]
    ours = {lang: {"1024": 0.9, "256": 0.8} for lang in langs}
    ours["hu"] = {"1024": 0.4, "256": 0.3}
    minilm = {lang: {"384": 0.5} for lang in langs}
    text = L.render(ours, minilm, {lang: 100 for lang in langs}, command="python -m training.languages",
                    seconds=60, model_path=Path("m"))
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| language")]
    assert [r.split(" | ")[0][2:] for r in rows[: len(langs)]] == langs
    assert all(" | yes | " in r for r in rows[: len(TRANSLATION_LANGS)])
    assert all(" | no | " in r for r in rows[len(TRANSLATION_LANGS) : len(langs)])
    assert "| **mean, trained** | | | 90.0 | 80.0 | 50.0 |" in text
    # Held-out mean: four languages at 90 and Hungarian at 40.
    assert "| **mean, held out** | | | 80.0 | 70.0 | 50.0 |" in text
    assert "Held-out languages: mean 80.0% at 1024-d" in text
    assert "the lowest language overall is hu at 40.0% (below 50%)" in text
