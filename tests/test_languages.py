"""training/languages.py: the per-language table separates trained and held-out languages and states the checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from staticemb import corpora
from staticemb.corpora import HELD_OUT_LANGS, TRANSLATION_LANGS

from training import languages as L
from training import ui


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
    assert "the lowest language is hu at 40.0% (below 50%)" in text
    assert "User-interface" not in text


def test_ui_table_counts_every_language_and_names_the_lowest(monkeypatch):
    monkeypatch.setattr(L, "hardware", lambda: "a test machine")
    langs = [*TRANSLATION_LANGS, *HELD_OUT_LANGS]
    debian = {lang: {"1024": 0.9, "256": 0.8} for lang in langs}
    minilm = {lang: {"384": 0.5} for lang in langs}
    ui = {lang: {"1024": 0.8, "256": 0.7} for lang in L.UI_LANGS}
    ui["el"] = {"1024": 0.2, "256": 0.1}
    ui_minilm = {lang: {"384": 0.4} for lang in L.UI_LANGS}
    text = L.render(debian, minilm, {lang: 100 for lang in langs}, command="c", seconds=60, model_path=Path("m"),
                    ui=(ui, ui_minilm, {lang: 1000 for lang in L.UI_LANGS}))
    part = text.split("## User-interface messages")[1]
    rows = [line for line in part.splitlines() if line.startswith("| ") and not line.startswith("| language")]
    assert [r.split(" | ")[0][2:] for r in rows[: len(L.UI_LANGS)]] == list(L.UI_LANGS)
    n_out = len(L.UI_LANGS) - len(TRANSLATION_LANGS)
    assert "| **mean, trained** | | | 80.0 | 70.0 | 40.0 |" in part
    held_mean = 100 * (0.8 * (n_out - 1) + 0.2) / n_out
    assert f"{held_mean:.1f}% over the {n_out} the model never trained on" in part
    assert "the lowest is el at 20.0% (below 50%)" in part


def _catalog(path: Path, entries: list[dict]) -> None:
    import polib
    po = polib.POFile()
    po.metadata = {"Content-Type": "text/plain; charset=UTF-8"}
    for e in entries:
        po.append(polib.POEntry(**e))
    path.parent.mkdir(parents=True, exist_ok=True)
    po.save_as_mofile(str(path))


@pytest.mark.corpus
def test_ui_messages_read_installed_catalogs_and_build_a_task(tmp_path, monkeypatch):
    monkeypatch.setenv("STATICEMB_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(corpora, "LOCALE_DIR", tmp_path / "locale")
    _catalog(tmp_path / "locale" / "xx" / "LC_MESSAGES" / "alpha.mo", [
        {"msgid": "_Open the file", "msgstr": "Datei _öffnen"},
        {"msgid": "Save  all\nchanges", "msgstr": "Alle Änderungen speichern"},
        {"msgid": "%d file copied", "msgid_plural": "%d files copied",
         "msgstr_plural": {0: "%d Datei kopiert", 1: "%d Dateien kopiert"}},
        {"msgid": "OK", "msgstr": "Gut"},  # one word: dropped
        {"msgid": "Not translated yet", "msgstr": ""},  # untranslated: dropped
        {"msgid": "Same text here", "msgstr": "Same text here"},  # identical: dropped
    ])
    _catalog(tmp_path / "locale" / "xx" / "LC_MESSAGES" / "beta.mo", [
        {"msgid": "_Open the file", "msgstr": "Eine andere Übersetzung"},  # seen in alpha: its first kept
        {"msgid": "Quit the program", "msgstr": "Programm beenden"},
    ])
    got = corpora.ui_messages("xx")
    assert got == [
        corpora.UIMessage("alpha", "%d file copied", "%d Datei kopiert"),
        corpora.UIMessage("alpha", "Open the file", "Datei öffnen"),
        corpora.UIMessage("alpha", "Save all changes", "Alle Änderungen speichern"),
        corpora.UIMessage("beta", "Quit the program", "Programm beenden"),
    ]
    # Programs split in halves by name: alpha's messages test, beta's train (the experiment's pairs).
    assert (L.ui_split("alpha"), L.ui_split("beta")) == ("test", "train")
    task = json.loads(L.ui_task("xx", cap=5).read_text(encoding="utf-8"))
    assert task["type"] == "bitext" and task["name"] == "ui-xx"
    assert sorted(task["target"]) == ["%d file copied", "Open the file", "Save all changes"]
    by_english = {m.english: m.translation for m in got}
    assert all(by_english[e] == t for t, e in zip(task["source"], task["target"], strict=True))
    assert ui.ui_pairs("xx", frozenset()) == [("Programm beenden", "Quit the program")]
    assert ui.ui_pairs("xx", frozenset({"Quit the program"})) == []
    # Hostile catalogs beside good ones: a wrong magic number and a valid header cut short are skipped.
    folder = tmp_path / "locale" / "zz" / "LC_MESSAGES"
    _catalog(folder / "good.mo", [{"msgid": "Quit the program", "msgstr": "Programm beenden"}])
    (folder / "garbage.mo").write_bytes(b"not a catalog at all")
    (folder / "truncated.mo").write_bytes((folder / "good.mo").read_bytes()[:12])
    with pytest.warns(UserWarning, match="skipping") as caught:
        assert corpora.ui_messages("zz") == [corpora.UIMessage("good", "Quit the program", "Programm beenden")]
    assert sorted(Path(str(w.message).split()[1].rstrip(":")).name for w in caught) == ["garbage.mo", "truncated.mo"]
    with pytest.raises(corpora.SourceMissingError, match="no gettext catalogs"):
        corpora.ui_messages("yy")
    with pytest.raises(ValueError, match="locale name"):
        corpora.ui_messages("../etc")


def test_ui_experiment_reports_each_run_and_decides_over_the_pooled_seeds(monkeypatch):
    monkeypatch.setattr(ui, "hardware", lambda: "a test machine")
    debian_langs = [*TRANSLATION_LANGS, *HELD_OUT_LANGS]

    def scores(ui_held: float, debian_held: float, ui_256: float = 0.5) -> dict:
        return {
            "ui": {x: {"1024": 0.6 if x in TRANSLATION_LANGS else ui_held,
                       "256": 0.5 if x in TRANSLATION_LANGS else ui_256} for x in L.UI_LANGS},
            "debian": {x: {"1024": 0.9 if x in TRANSLATION_LANGS else debian_held, "256": 0.8} for x in debian_langs},
        }

    base = scores(0.40, 0.80)
    text, gains = ui.render(base, scores(0.50, 0.85), {"de": 10}, command="c", seconds=60, train_seconds=30)
    assert gains == pytest.approx([0.10, 0.0, 0.05, 0.0])
    assert "Held-out gains of this run: +10.0, +0.0, +5.0, +0.0" in text
    assert "| user-interface messages, test-half programs | held out (11) | 40.0 | 50.0 | 50.0 | 50.0 |" in text
    assert "| tr | no | 40.0 → 50.0 | – |" in text and "| fi | no | 40.0 → 50.0 | 80.0 → 85.0 |" in text

    def run(variant: dict) -> dict:
        return {"without": base, "with": variant}

    # UI up at both widths; Debian down 1.5 in one run and up 0.5 in the other: a mean of -0.5, adopted.
    pooled = {"a": run(scores(0.50, 0.785, 0.55)), "b": run(scores(0.45, 0.805, 0.52))}
    mean, adopted = ui.decide({k: ui.held_out_gains(v) for k, v in pooled.items()})
    assert adopted and mean == pytest.approx([0.075, 0.035, -0.005, 0.0])
    text, adopted = ui.render_pool(pooled, command="c")
    assert adopted and "| **mean gain** | +7.5 | +3.5 | -0.5 | +0.0 | |" in text and "**adopted**." in text
    assert "| a | 40.0 → 50.0 | 50.0 → 55.0 | 80.0 → 78.5 | 80.0 → 80.0 | " in text
    # Debian down 1.5 on the mean: not adopted; UI not up at 256-d on the mean: not adopted.
    assert not ui.decide({"a": [0.1, 0.1, -0.015, 0.0]})[1]
    assert not ui.decide({"a": [0.1, 0.02, 0.0, 0.0], "b": [0.1, -0.02, 0.0, 0.0]})[1]
