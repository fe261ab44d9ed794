"""staticemb.train.crops and ``staticemb crops``: inverse-cloze pairs cut from unlabeled documents, and
``--set train_datasets.NAME=...`` adding them to a training stage."""

from __future__ import annotations

import json

import pytest
from staticemb.cli import main
from staticemb.errors import InvalidInputError
from staticemb.train import TrainConfig
from staticemb.train.crops import MAX_WORDS, MIN_TEXT_WORDS, MIN_WORDS, crop, crop_pairs, write_crop_pairs


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
    assert main(["crops", str(tmp_path / "missing.jsonl"), "-o", str(out)]) == 1
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
