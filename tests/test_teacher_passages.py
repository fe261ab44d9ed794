"""training/teacher_passages.py: sentences and candidates, the teacher's pick, the pairs, the cache, the report."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from staticemb.train.crops import MAX_WORDS, MIN_TEXT_WORDS, MIN_WORDS

from training import datasets as D
from training import teacher_passages as T


def _words(n, tag="w"):
    return [f"{tag}{i}" for i in range(n)]


def test_sentences_cover_every_word_once_in_order():
    words = "It parses XML. Fast, too! Does it (really?) work? \"Yes.\" [See docs.] trailing words".split()
    spans = T.sentences(words)
    assert [" ".join(words[s:e]) for s, e in spans] == [
        "It parses XML.", "Fast, too!", "Does it (really?)", "work?", "\"Yes.\"", "[See docs.]", "trailing words"]
    assert [i for s, e in spans for i in range(s, e)] == list(range(len(words)))
    assert T.sentences([]) == []


def test_candidates_are_sentences_of_a_crops_length_in_a_long_enough_document():
    short = _words(MIN_WORDS - 1) + ["end."]      # MIN_WORDS words: the shortest candidate
    long = _words(MAX_WORDS, "x") + ["end."]      # MAX_WORDS + 1 words: too long
    fitting = _words(MAX_WORDS - 1, "y") + ["end."]  # MAX_WORDS words: the longest candidate
    tiny = ["Too", "short."]
    filler = _words(MIN_TEXT_WORDS, "f")
    words = short + long + tiny + fitting + filler
    spans = T.candidates(words)
    assert [e - s for s, e in spans] == [MIN_WORDS, MAX_WORDS]
    assert words[spans[1][0]] == "y0"
    # The same sentences in a document under the crops' minimum give nothing.
    assert T.candidates((short + fitting)[:MIN_TEXT_WORDS - 1]) == []


def _doc(k, sentences=3):
    """A long document: ``sentences`` candidate sentences about topic k, then filler without an end."""
    out = []
    for j in range(sentences):
        out += [f"t{k}s{j}w{i}" for i in range(MIN_WORDS)] + ["stop."]
    return " ".join(out + [f"f{k}w{i}" for i in range(MIN_TEXT_WORDS)])


def test_documents_are_distinct_long_and_have_a_candidate():
    no_sentence = " ".join(_words(MIN_TEXT_WORDS + 5))
    docs = T.documents([_doc(1), "short text.", _doc(1), no_sentence, "  " + _doc(2).replace(" ", "   ")])
    assert len(docs) == 2
    assert [len(spans) for _, spans in docs] == [3, 3]
    texts, sents, owner = T.teacher_inputs(docs)
    assert texts[1] == _doc(2)  # whitespace normalized
    assert owner.tolist() == [0, 0, 0, 1, 1, 1] and sents[0].startswith("t1s0w0") and sents[0].endswith("stop.")


def test_the_pick_is_each_documents_own_closest_candidate_first_on_a_tie():
    doc = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    sent = np.array([[0.0, 1.0], [0.8, 0.6], [1.0, 0.0],      # doc 0: the last is closest
                     [0.6, 0.8], [0.6, 0.8],                  # doc 1: a tie, the first wins
                     [1.0, 0.0]], dtype=np.float32)           # doc 2: its only candidate
    best, cos = T.pick(doc, sent, np.array([0, 0, 0, 1, 1, 2]))
    assert best.tolist() == [2, 0, 0]
    np.testing.assert_allclose(cos, [1.0, 0.8, 0.6], atol=1e-6)
    # A candidate of another document never wins, however close.
    best, _ = T.pick(doc[:2], np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32), np.array([0, 1]))
    assert best.tolist() == [0, 0]
    with pytest.raises(ValueError, match="at least one candidate"):
        T.pick(doc, sent[:3], np.array([0, 0, 2]))


def test_a_pair_is_the_picked_sentence_and_the_rest_of_its_document():
    docs = T.documents([_doc(1), _doc(2)])
    pairs = T.passage_pairs(docs, np.array([1, 0]))
    assert pairs[0][0] == " ".join(f"t1s1w{i}" for i in range(MIN_WORDS)) + " stop."
    assert pairs[0][0] not in pairs[0][1] and pairs[0][1].startswith("t1s0w0") and "t1s2w0" in pairs[0][1]
    for (anchor, rest), text in zip(pairs, [_doc(1), _doc(2)], strict=True):
        assert sorted((anchor + " " + rest).split()) == sorted(text.split())
    with pytest.raises(ValueError, match="2 documents"):
        T.passage_pairs(docs, np.array([0]))


@pytest.fixture
def fake_teacher(tmp_path, monkeypatch):
    """A pair set under a data folder of its own, and a fake teacher whose vector of a text is its bag of words
    (hashed) with the topic word of each sentence doubled: a sentence is closest to a document that repeats it."""
    monkeypatch.setenv("STATICEMB_DATA", str(tmp_path / "data"))
    (tmp_path / "pairs").mkdir()
    monkeypatch.setattr(D, "pairs_path", lambda name, root=None: tmp_path / "pairs" / f"{name}.jsonl")
    calls = []

    def embeddings(teacher, texts, **kwargs):
        calls.append(list(texts))
        out = np.zeros((len(texts), 4096), dtype=np.float32)
        for i, t in enumerate(texts):
            for word in t.split():
                out[i, int(hashlib.sha1(word.encode()).hexdigest(), 16) % 4096] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    import staticemb.train.trainer as trainer

    monkeypatch.setattr(trainer, "teacher_embeddings", embeddings)
    monkeypatch.setattr(trainer, "teacher_fingerprint", lambda teacher: "fake")
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
    docs = T.documents(r["positive"] for r in rows)
    best = T.picks("en-bbc", docs, model="teacher")
    assert best.tolist() == [1] * 5 and len(calls) == 1
    cache = tmp_path / "data" / "teacher-scores" / "fake" / "passages-en-bbc.npz"
    assert cache.is_file() and not cache.with_suffix(".partial").exists()
    assert T.picks("en-bbc", docs, model="teacher").tolist() == best.tolist() and len(calls) == 1
    # A changed pair file is picked again, not read from the stale cache.
    D._write_jsonl(D.pairs_path("en-bbc"), rows[:3])
    docs = T.documents(r["positive"] for r in rows[:3])
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
