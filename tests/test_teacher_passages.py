"""training/teacher_passages.py: the teacher's picks cached per pair file, the passage files, the control arm, the report."""

from __future__ import annotations

import json

import pytest
from staticemb.train.crops import MAX_WORDS, MIN_TEXT_WORDS, MIN_WORDS, passage_documents

from training import datasets as D
from training import teacher_passages as T


def _words(n, tag="w"):
    return [f"{tag}{i}" for i in range(n)]


def _doc(k, n_sentences=3):
    """A long document: ``n_sentences`` candidate sentences about topic k, then filler without an end."""
    out = []
    for j in range(n_sentences):
        out += [f"t{k}s{j}w{i}" for i in range(MIN_WORDS)] + ["stop."]
    return " ".join(out + [f"f{k}w{i}" for i in range(MIN_TEXT_WORDS)])


@pytest.fixture
def fake_teacher(tmp_path, monkeypatch, fake_teacher_embeddings):
    """A pair set under a data folder of its own, and the fake bag-of-words teacher (conftest): a sentence is
    closest to a document that repeats its words."""
    monkeypatch.setenv("STATICEMB_DATA", str(tmp_path / "data"))
    (tmp_path / "pairs").mkdir()
    monkeypatch.setattr(D, "pairs_path", lambda name, root=None: tmp_path / "pairs" / f"{name}.jsonl")
    calls = fake_teacher_embeddings
    # Each document repeats its second sentence's words in its filler: the teacher should pick that one.
    texts = []
    for k in range(5):
        second = " ".join(f"t{k}s1w{i}" for i in range(MIN_WORDS))
        texts.append(_doc(k) + " " + second + " " + second)
    rows = [{"anchor": f"summary {k}", "positive": t} for k, t in enumerate(texts)]
    D._write_jsonl(D.pairs_path("en-bbc"), rows + rows[:1])
    return tmp_path, rows, calls


def test_picks_are_cached_by_the_pair_files_digest(fake_teacher):
    tmp_path, rows, calls = fake_teacher
    docs = passage_documents(r["positive"] for r in rows)
    best = T.picks("en-bbc", docs, model="teacher")
    assert best.tolist() == [1] * 5 and len(calls) == 1
    cache = tmp_path / "data" / "teacher-scores" / "fake" / "passages-en-bbc.npz"
    assert cache.is_file() and not cache.with_suffix(".partial").exists()
    assert T.picks("en-bbc", docs, model="teacher").tolist() == best.tolist() and len(calls) == 1
    # A changed pair file is picked again, not read from the stale cache.
    D._write_jsonl(D.pairs_path("en-bbc"), rows[:3])
    docs = passage_documents(r["positive"] for r in rows[:3])
    assert len(T.picks("en-bbc", docs, model="teacher")) == 3 and len(calls) == 2


def test_the_passage_file_holds_one_picked_pair_per_document(fake_teacher, monkeypatch):
    tmp_path, rows, calls = fake_teacher
    import training.teacher_filter as F

    monkeypatch.setattr(F, "teacher", lambda: "teacher")
    files = T.build(["en-bbc"])
    assert set(files) == {"passage-en-bbc"}
    pairs = [json.loads(line) for line in open(files["passage-en-bbc"], encoding="utf-8")]
    assert len(pairs) == 5  # the repeated document once
    for k, pair in enumerate(pairs):
        assert pair["anchor"] == " ".join(f"t{k}s1w{i}" for i in range(MIN_WORDS)) + " stop."
        assert pair["positive"].startswith(f"t{k}s0w0") and "summary" not in pair["positive"]


def test_the_fold_trains_on_its_pairs_the_target_crops_and_the_picked_passages(fake_teacher, monkeypatch):
    import training.cropping as C
    import training.target_crops as TC

    monkeypatch.setattr(TC, "_datasets", lambda source, filtered=False: lambda sets: {"x": "crops and pairs"})
    monkeypatch.setattr(T, "build", lambda names: {f"passage-{n}": f"/p/{n}" for n in names})
    assert T._datasets("bbc")(["en-debian"]) == {"x": "crops and pairs", "passage-en-bbc": "/p/en-bbc"}
    assert "en-bbc" in C.CROPPED


def test_report_and_rule(monkeypatch):
    import training.report as R

    monkeypatch.setattr(R, "hardware", lambda: "a test machine")

    def row(source, base, new):
        return {"source": source, "crops 1024": base, "picked 1024": new, "crops 256": base - 0.01,
                "picked 256": new - 0.01, "crops cw 1024": base + 0.01, "picked cw 1024": new + 0.01,
                "crops cw 256": base, "picked cw 256": new, "stem": 0.8, "minilm": 0.85}

    rows = [row("debian", 0.70, 0.73), row("pydoc", 0.46, 0.48)]
    text = T.render(rows, "python -m training.teacher_passages", 600, 300)
    assert "| debian | 70.0 | 73.0 | +3.0 | 69.0 | 72.0 | +3.0 | 71.0 | 74.0 | 73.0 | 80.0 | 85.0 |" in text
    assert "| **mean** | 58.0 | 60.5 | +2.5 | 57.0 | 59.5 | +2.5 | 59.0 | 61.5 | 60.5 | 80.0 | 85.0 |" in text
    assert "**adopted**" in text and "mean 61.5 at 1024-d = 72.4% of all-MiniLM-L6-v2" in text
    assert T.decide([row("debian", 0.70, 0.75), row("pydoc", 0.46, 0.445)])[0] is False
    assert "**not adopted**" in T.render([row("bbc", 0.8, 0.8)], "c", 60)
    control = T.render(rows, "python -m training.teacher_passages --arm crops2", 600, arm="crops2")
    assert "+ 2nd crop 1024-d" in control and "a second random crop" in control and "+ picked" not in control
    lead = T.render(rows, "python -m training.teacher_passages --arm lead", 600, arm="lead")
    assert "+ lead 1024-d" in lead and "first sentence" in lead and "+ picked" not in lead


def test_the_control_cuts_a_second_crop_of_the_same_size_bounds_from_another_seed():
    from staticemb.train.crops import crop

    texts = [" ".join(f"w{k}x{i}" for i in range(MIN_TEXT_WORDS + 3 * k)) for k in range(20)]
    firsts, seconds = [crop(t) for t in texts], [T.second_crop(t) for t in texts]
    assert seconds == [T.second_crop(t) for t in texts]  # the text alone decides
    assert sum(a != b for a, b in zip(firsts, seconds, strict=True)) >= 15
    for text, (passage, rest) in zip(texts, seconds, strict=True):
        assert MIN_WORDS <= len(passage.split()) <= MAX_WORDS
        assert passage not in rest and sorted((passage + " " + rest).split()) == sorted(text.split())
    assert T.second_crop(" ".join(_words(MIN_TEXT_WORDS - 1))) is None


def test_the_control_arm_trains_on_second_crops(fake_teacher):
    tmp_path, rows, calls = fake_teacher
    files = T.build_second_crops(["en-bbc"])
    pairs = [json.loads(line) for line in open(files["crop2-en-bbc"], encoding="utf-8")]
    assert [(p["anchor"], p["positive"]) for p in pairs] == [T.second_crop(r["positive"]) for r in rows]
    assert calls == []  # no teacher
    assert T.ARMS["crops2"][0] == T.CONTROL != T.VARIANT


def test_the_lead_arm_pairs_each_documents_first_candidate_without_a_teacher(fake_teacher):
    tmp_path, rows, calls = fake_teacher
    files = T.build_lead(["en-bbc"])
    pairs = [json.loads(line) for line in open(files["lead-en-bbc"], encoding="utf-8")]
    assert len(pairs) == 5 and calls == []
    for k, pair in enumerate(pairs):
        assert pair["anchor"] == " ".join(f"t{k}s0w{i}" for i in range(MIN_WORDS)) + " stop."
        assert pair["positive"].startswith(f"t{k}s1w0")
    assert T.ARMS["lead"][0] == T.LEAD


def test_the_lead_kept_arm_pairs_the_same_sentence_with_the_whole_document(fake_teacher):
    tmp_path, rows, calls = fake_teacher
    lead = [json.loads(line) for line in open(T.build_lead(["en-bbc"])["lead-en-bbc"], encoding="utf-8")]
    files = T.build_lead_kept(["en-bbc"])
    pairs = [json.loads(line) for line in open(files["leadkept-en-bbc"], encoding="utf-8")]
    assert calls == [] and [p["anchor"] for p in pairs] == [p["anchor"] for p in lead]
    # The positive is the document itself (the repeated row gives no second pair), the anchor still in it.
    assert [p["positive"] for p in pairs] == [" ".join(r["positive"].split()) for r in rows]
    assert all(p["positive"].startswith(p["anchor"] + " ") for p in pairs)
    assert T.ARMS["lead-kept"].variant == T.LEAD_KEPT not in (T.LEAD, T.VARIANT, T.CONTROL)
    text = T.render([], "python -m training.teacher_passages --arm lead-kept", 60, arm="lead-kept")
    assert "kept in the document" in text and "+ lead kept 1024-d" in text
