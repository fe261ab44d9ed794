"""training/cropping.py: the inverse-cloze pairs cut from the long side of the English pair sets, and the report."""

from __future__ import annotations

import json

import pytest
from staticemb import corpora
from staticemb.train.crops import crop

from training import cropping as C
from training import datasets as D


def _text(n: int, tag: str = "w") -> str:
    return "\n".join(" ".join(f"{tag}{i}" for i in range(start, min(start + 7, n))) for start in range(0, n, 7))


def test_crop_files_come_from_the_long_side_of_train_pairs(tmp_path):
    rows = [{"anchor": f"summary {k}", "positive": _text(60 + k, f"p{k}x")} for k in range(5)]
    rows.append({"anchor": "a summary", "positive": "a short body"})
    (tmp_path / "pairs").mkdir()
    D._write_jsonl(D.pairs_path("en-bbc", tmp_path), rows)
    paths = C.build(["en-bbc"], tmp_path)
    assert paths == {"crop-en-bbc": tmp_path / "pairs-crop" / "crop-en-bbc.jsonl"}
    crops = [json.loads(line) for line in paths["crop-en-bbc"].read_text(encoding="utf-8").splitlines()]
    assert [(c["anchor"], c["positive"]) for c in crops] == [crop(r["positive"]) for r in rows[:5]]
    # Summaries never become crops; a cached file is reused.
    assert not any("summary" in c["anchor"] + c["positive"] for c in crops)
    paths["crop-en-bbc"].write_text("", encoding="utf-8")
    C.build(["en-bbc"], tmp_path)
    assert paths["crop-en-bbc"].read_text(encoding="utf-8") == ""
    assert "en-wordnet" not in C.CROPPED and set(C.CROPPED) < set(D.PAIR_SETS)


@pytest.mark.corpus
def test_no_crop_holds_an_evaluation_text():
    try:
        src = D.Sources()
        held = src.held_out
    except corpora.SourceMissingError as e:
        pytest.skip(f"source missing: {e}")
    pairs = C.crop_pairs(p for _, p in D.load_pairs("en-bbc"))
    assert len(pairs) > 1000
    assert not any(a in held or p in held for a, p in pairs)


def _row(source, base, crop, stem=0.8):
    return {"source": source, "pairs 1024": base, "crop 1024": crop, "pairs 256": base - 0.01,
            "crop 256": crop - 0.01, "stem": stem, "minilm": 0.85}


def test_report_and_rule(monkeypatch):
    monkeypatch.setattr(C, "hardware", lambda: "a test machine")  # the real one asks torch, not in every tier
    rows = [_row("bbc", 0.80, 0.83), _row("debian", 0.70, 0.715)]
    text = C.render(rows, "python -m training.cropping", 600, sizes={"en-bbc": 1556})
    assert "| bbc | 80.0 | 83.0 | +3.0 | 79.0 | 82.0 | +3.0 | 80.0 | 85.0 | +3.0 |" in text
    assert "| **mean** | 75.0 | 77.2 | +2.2 |" in text
    assert "Crop pairs per pair set: en-bbc 1,556." in text
    assert "**adopted**: mean +2.2 at 1024-d and +2.2 at 256-d; smallest change at 1024-d +1.5 (debian)" in text
    # One source down by more than a point, or a mean gain within a point, keeps the recipe as it is.
    assert C.decide([_row("bbc", 0.80, 0.86), _row("debian", 0.70, 0.685)])[0] is False
    assert C.decide([_row("bbc", 0.80, 0.805), _row("debian", 0.70, 0.705)])[0] is False
