"""Issue 8, point 7: every error of the ``staticemb`` command exits non-zero with one line on stderr that names
the problem, never a traceback (``--debug`` shows it); ``--dims`` takes positive integers only; an empty task is
refused where task files are read, not scored.

Each case runs :func:`staticemb.cli.main` as the ``staticemb`` script would (a ``SystemExit`` or an escaping
exception is turned into what the process would print), and a few run ``python -m staticemb`` for real. None of
these error paths needs torch.
"""

from __future__ import annotations

import json
import subprocess
import sys
import traceback

import numpy as np
import pytest
from staticemb import StaticModel
from staticemb.cli import main

WORDS = ["[UNK]", "the", "a", "cat", "dog", "sat", "on", "mat", "car", "automobile", "banana", "cup", "mug"]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """``(exit status, stdout, stderr)`` of ``staticemb ARGV``, as the process would end."""
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
            code = 1
        else:
            code = e.code or 0
    except Exception:  # noqa: BLE001 - what the interpreter would print for an escaping exception
        traceback.print_exc()
        code = 1
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(result: tuple[int, str, str], *names: str) -> str:
    code, out, err = result
    assert code != 0, (out, err)
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert out == "", out
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


def word_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return tok


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A 13-token, 16-d static model saved as a Sentence Transformers folder."""
    table = np.random.default_rng(0).standard_normal((len(WORDS), 16)).astype(np.float32)
    return StaticModel(word_tokenizer(), table).save(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def task_file(tmp_path):
    path = tmp_path / "tasks" / "retrieval-pets.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"type": "retrieval", "queries": ["the cat", "a car"],
                                "corpus": ["cat sat on the mat", "automobile", "banana"], "relevant": [[0], [1]]}))
    return path


def write_task(tmp_path, content, name="broken.json"):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------ --dims


@pytest.mark.parametrize("dims", ["0,-5", "-5", "16,0", "64,abc", "1.5", "", "16,,8", " , "])
def test_bad_dims_are_refused(capsys, tiny_model, task_file, dims):
    result = run_cli(capsys, "eval", str(tiny_model), "--tasks", str(task_file), f"--dims={dims}")
    assert_one_line_error(result, "--dims")


def test_bad_dims_are_refused_by_the_real_command(task_file):
    """The installed entry point, as a user runs it (BM25: nothing to load)."""
    proc = subprocess.run([sys.executable, "-m", "staticemb", "eval", "bm25", "--tasks", str(task_file),
                           "--dims", "0,-5"], capture_output=True, text=True, timeout=120)
    assert_one_line_error((proc.returncode, proc.stdout, proc.stderr), "--dims", "0,-5")


# ------------------------------------------------------------------------------------------------ configs


def _config(tmp_path, **kw) -> dict:
    """A valid training config (a real tokenizer and dataset), changed by ``kw``."""
    data = tmp_path / "pairs.jsonl"
    data.write_text(json.dumps({"anchor": "the cat", "positive": "cat sat on the mat"}) + "\n"
                    + json.dumps({"anchor": "a car", "positive": "automobile"}) + "\n")
    word_tokenizer().save(str(tmp_path / "tokenizer.json"))
    return {"output_dir": str(tmp_path / "out"), "train_datasets": {"pets": str(data)},
            "tokenizer": str(tmp_path / "tokenizer.json"), "embedding_dim": 16,
            "matryoshka_dims": [8, 16], "batch_size": 2, "max_steps": 1, **kw}


@pytest.mark.parametrize("case", ["folder", "not-utf8", "dims-not-numbers", "batch-size-text", "set-batch-size"])
def test_bad_configs_are_refused(capsys, tmp_path, case):
    path = tmp_path / "config.json"
    extra: list[str] = []
    if case == "folder":
        path.mkdir()
        names = (str(path),)
    elif case == "not-utf8":
        path.write_bytes(b'{"output_dir": "\xff\xfe"}')
        names = (str(path),)
    elif case == "dims-not-numbers":
        path.write_text(json.dumps(_config(tmp_path, matryoshka_dims=["a", "b"])))
        names = ("matryoshka_dims",)
    elif case == "batch-size-text":
        path.write_text(json.dumps(_config(tmp_path, batch_size="big")))
        names = ("batch_size",)
    else:
        path.write_text(json.dumps(_config(tmp_path)))
        extra = ["--set", "batch_size=lots"]
        names = ("batch_size",)
    assert_one_line_error(run_cli(capsys, "train", str(path), *extra), *names)


def test_unwritable_training_output_is_refused_before_training(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(_config(tmp_path, output_dir=str(blocker / "model"))))
    assert_one_line_error(run_cli(capsys, "train", str(path)), str(blocker / "model"))


# ------------------------------------------------------------------------------------------------ models


def test_missing_model(capsys, tmp_path, task_file):
    missing = tmp_path / "no-such-model"
    assert_one_line_error(run_cli(capsys, "eval", str(missing), "--tasks", str(task_file)), str(missing))


def _corrupt(tiny_model, tmp_path, which: str):
    import shutil

    folder = tmp_path / f"corrupt-{which}"
    shutil.copytree(tiny_model, folder)
    target = next(folder.rglob(which))
    target.write_bytes(target.read_bytes()[: len(target.read_bytes()) // 2])  # truncated
    return folder, target.name


@pytest.mark.parametrize("which", ["model.safetensors", "modules.json"])
def test_corrupt_model(capsys, tiny_model, tmp_path, task_file, which):
    folder, name = _corrupt(tiny_model, tmp_path, which)
    assert_one_line_error(run_cli(capsys, "eval", str(folder), "--tasks", str(task_file)), name)


def test_model_errors_need_no_torch(tiny_model, tmp_path, task_file):
    """A missing or corrupt static model is reported as such, without falling back to loading it as a
    transformer (torch and Sentence Transformers are never imported)."""
    folder, name = _corrupt(tiny_model, tmp_path, "model.safetensors")
    script = ("import sys; from staticemb.cli import main; code = main(sys.argv[1:]); "
              "print('torch' in sys.modules); sys.exit(code)")
    for model, named in ((tmp_path / "missing", "missing"), (folder, name)):
        proc = subprocess.run([sys.executable, "-c", script, "eval", str(model), "--tasks", str(task_file)],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode != 0 and proc.stdout.strip() == "False", (proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert named in proc.stderr


def test_missing_teacher(capsys, tmp_path):
    missing = tmp_path / "no-such-teacher"
    result = run_cli(capsys, "distill", "--teacher", str(missing), "--output", str(tmp_path / "out"))
    assert_one_line_error(result, str(missing))
    assert not (tmp_path / "out").exists()


def test_distill_refuses_a_busy_output_and_a_corpus_without_tokenizer_before_the_work(capsys, tmp_path,
                                                                                        monkeypatch):
    # The refusal came from the final save, after the distillation; --corpus without --tokenizer was ignored.
    import importlib

    distill_module = importlib.import_module("staticemb.train.distill")

    def no_work(*args, **kwargs):
        raise AssertionError("the distillation started")

    monkeypatch.setattr(distill_module, "_distill_model2vec", no_work)
    monkeypatch.setattr(distill_module, "_distill_vocabulary", no_work)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    assert_one_line_error(run_cli(capsys, "distill", "--teacher", str(teacher), "--output", str(busy)),
                          str(busy), "choose another output")
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]
    corpus = write_task(tmp_path, "the cat\n", "corpus.txt")
    assert_one_line_error(run_cli(capsys, "distill", "--teacher", str(teacher), "--corpus", str(corpus),
                                  "--output", str(tmp_path / "new")), "tokenizer")


@pytest.mark.parametrize("where", ["the-input", "in-the-input-folder"])
def test_crops_refuses_an_output_among_its_inputs(capsys, tmp_path, where):
    # `staticemb crops docs.jsonl -o docs.jsonl` replaced the documents with the pairs.
    docs = tmp_path / "docs"
    docs.mkdir()
    doc = docs / "docs.jsonl"
    doc.write_text(json.dumps({"text": "word " * 300}) + "\n")
    before = doc.read_bytes()
    target, inputs = (doc, [str(doc)]) if where == "the-input" else (docs / "pairs.jsonl", [str(docs)])
    assert_one_line_error(run_cli(capsys, "crops", *inputs, "-o", str(target)), str(target))
    assert doc.read_bytes() == before and sorted(p.name for p in docs.iterdir()) == ["docs.jsonl"]
    # An output a later run would not read (not an input type; a sibling folder) is fine.
    for fine in (docs / "pairs.out", tmp_path / "docs2" / "pairs.jsonl"):
        code, _, err = run_cli(capsys, "crops", str(docs), "-o", str(fine))
        assert code == 0 and fine.exists(), err


# ------------------------------------------------------------------------------------------------ tasks


MALFORMED = {
    "texts-not-lists": {"type": "retrieval", "queries": "the cat", "corpus": 5, "relevant": [[0]]},
    "relevant-not-ints": {"type": "retrieval", "queries": ["the cat"], "corpus": ["cat"], "relevant": [["0"]]},
    "pair-without-score": {"type": "wordsim", "pairs": [["cat", "dog"], ["car", "automobile"]]},
    "not-utf8": b'{"type": "bitext", "source": ["\xff"], "target": ["a"]}',
    "type-a-list": {"type": [], "queries": ["a"], "corpus": ["x"], "relevant": [[0]]},
    "type-a-dict": {"type": {"retrieval": 1}, "queries": ["a"], "corpus": ["x"], "relevant": [[0]]},
    "labels-mix-ints-and-strings": {"type": "classification", "train_texts": ["a", "b"], "train_labels": [0, 1],
                                    "test_texts": ["a", "b"], "test_labels": ["0", "1"]},
    "score-too-large-for-a-float": '{"type": "wordsim", "pairs": [["cat", "dog", 1], ["car", "mug", 1%s]]}'
    % ("0" * 400),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_task_file(capsys, tiny_model, tmp_path, case):
    path = write_task(tmp_path, MALFORMED[case])
    assert_one_line_error(run_cli(capsys, "eval", str(tiny_model), "--tasks", str(path)), str(path))


EMPTY = {
    "retrieval": {"type": "retrieval", "queries": [], "corpus": [], "relevant": []},
    "classification": {"type": "classification", "train_texts": [], "train_labels": [], "test_texts": [],
                       "test_labels": []},
    "bitext": {"type": "bitext", "source": [], "target": []},
    "wordsim": {"type": "wordsim", "pairs": []},
}


@pytest.mark.parametrize("kind", sorted(EMPTY))
def test_empty_task_is_refused_not_scored(capsys, tiny_model, tmp_path, kind):
    path = write_task(tmp_path, EMPTY[kind], f"empty-{kind}.json")
    line = assert_one_line_error(run_cli(capsys, "eval", str(tiny_model), "--tasks", str(path)), str(path))
    assert "empty" in line


def test_only_names_that_match_nothing_are_refused(capsys, tiny_model, task_file):
    # A misspelt name beside a right one would silently drop the task the user asked for.
    line = assert_one_line_error(run_cli(capsys, "eval", str(tiny_model), "--tasks", str(task_file), "--only",
                                         "retrieval-pets", "retrieval-pest"), "'retrieval-pest'")
    assert "retrieval-pets" not in line.replace(str(task_file), "")
    code, out, _ = run_cli(capsys, "eval", str(tiny_model), "--tasks", str(task_file), "--only", "retrieval")
    assert code == 0 and "retrieval-pets" in out


def test_bm25_without_a_retrieval_task_is_refused(capsys, tmp_path):
    path = write_task(tmp_path, {"type": "bitext", "source": ["the cat"], "target": ["a dog"]}, "bitext.json")
    assert_one_line_error(run_cli(capsys, "eval", "bm25", "--tasks", str(path)), "bm25", "retrieval")


# ------------------------------------------------------------------------------------------------ output


@pytest.mark.parametrize("case", ["under-a-file", "a-folder"])
def test_unwritable_output_is_refused_before_the_work(capsys, tiny_model, task_file, tmp_path, case):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    output = blocker / "results.json" if case == "under-a-file" else tmp_path
    result = run_cli(capsys, "eval", str(tiny_model), "--tasks", str(task_file), "--output", str(output))
    assert_one_line_error(result, str(output))


# ------------------------------------------------------------------------------------------------ --debug


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback(capsys, tmp_path, task_file, where):
    missing = tmp_path / "no-such-model"
    argv = ["eval", str(missing), "--tasks", str(task_file)]
    argv = ["--debug", *argv] if where == "before" else [*argv, "--debug"]
    code, out, err = run_cli(capsys, *argv)
    assert code != 0
    assert "Traceback (most recent call last)" in err
    assert str(missing) in err.strip().splitlines()[-1]


# ------------------------------------------------------------------------------------------------ staticemb encode


def test_keep_takes_one_name_per_flag_or_commas(capsys, tiny_model, tmp_path):
    # `--keep id b.jsonl` made a column named b.jsonl and skipped b.jsonl's rows.
    import pyarrow.parquet as pq

    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text('{"id": "a1", "title": "x", "text": "the cat"}\n')
    b.write_text('{"id": "b1", "title": "y", "text": "a dog"}\n{"id": "b2", "title": "z", "text": "the mat"}\n')
    code, _, err = run_cli(capsys, "encode", str(tiny_model), str(a), "--keep", "id", str(b), "--keep", "title",
                           "-o", str(tmp_path / "o1"), "-q")
    assert code == 0, err
    table = pq.read_table(tmp_path / "o1")
    assert table.column_names == ["row", "id", "title", "embedding"]
    assert table.column("id").to_pylist() == ["a1", "b1", "b2"]
    code, _, err = run_cli(capsys, "encode", str(tiny_model), str(a), "--keep", "id,title", "-o", str(tmp_path / "o2"),
                           "-q")
    assert code == 0, err
    assert pq.read_table(tmp_path / "o2").column("title").to_pylist() == ["x"]
    assert_one_line_error(run_cli(capsys, "encode", str(tiny_model), str(a), "--keep", "id,", "-o",
                                  str(tmp_path / "o3")), "column names separated by commas")
    assert_one_line_error(run_cli(capsys, "encode", str(tiny_model), str(a), "--bogus", "-o", str(tmp_path / "o4")),
                          "unrecognized arguments: --bogus")


def test_encode_without_pyarrow_says_how_to_install_it(capsys, tiny_model, tmp_path, monkeypatch):
    docs = tmp_path / "docs.txt"
    docs.write_text("the cat\n")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    assert_one_line_error(run_cli(capsys, "encode", str(tiny_model), str(docs), "-o", str(tmp_path / "new" / "out")),
                          'pip install "staticemb[encode]"')
    assert not (tmp_path / "new").exists()


def test_the_description_names_every_command():
    from staticemb.cli import build_parser

    description = build_parser().description or ""
    assert "Encode" in description and "pairs" in description and "evaluate" in description


@pytest.mark.reference  # bm25s: not among the light tier's dependencies (make test-wheel, wheels.yml)
def test_bm25_on_a_corpus_with_nothing_to_index_is_refused(capsys, tmp_path):
    # Only stop words and one-letter words: bm25s failed inside with "max() arg is an empty sequence".
    path = write_task(tmp_path, {"type": "retrieval", "queries": ["the cat"], "corpus": ["the", "of a", "x y"],
                                 "relevant": [[0]]})
    code, out, err = run_cli(capsys, "eval", "bm25", "--tasks", str(path))
    lines = err.strip().splitlines()
    assert code == 2 and "Traceback" not in err and out == "", err
    assert lines[-1].startswith("staticemb eval: BM25 cannot index") and len(lines) == 2, err  # after the progress line


# ------------------------------------------------------------------------------------------------ pipes and stdin


def test_eval_into_a_reader_that_goes_away_keeps_its_results(tiny_model, task_file, tmp_path):
    """`staticemb eval ... --output r.json | head -1`: the table was printed first, the write to the closed pipe
    failed ("[Errno 32] Broken pipe", exit 1) and r.json was never written."""
    out = tmp_path / "r.json"
    proc = subprocess.Popen([sys.executable, "-m", "staticemb", "eval", str(tiny_model), "--tasks", str(task_file),
                             "--output", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the table is printed
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, stderr
    assert "Broken pipe" not in stderr and "Traceback" not in stderr
    assert json.loads(out.read_text())  # the results, written before the table


def test_an_atomic_write_to_dev_stdout_goes_into_the_pipe():
    """write_file resolved /dev/stdout to /proc/PID/fd/pipe:[N], no path at all, and failed after the work."""
    script = ("from pathlib import Path; from staticemb._io import write_file; "
              "write_file(Path('/dev/stdout'), lambda f: f.write('through the pipe'))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout) == (0, "through the pipe"), proc.stderr


def test_stdin_by_its_device_name_and_a_closed_stdin(tiny_model, tmp_path):
    from staticemb.bulk import read_embeddings

    texts = tmp_path / "texts.txt"
    texts.write_text("the cat\na car\n")
    with open(texts, "rb") as stdin:  # a file on stdin: /dev/stdin was read as a file of unknown type
        proc = subprocess.run([sys.executable, "-m", "staticemb", "encode", str(tiny_model), "/dev/stdin",
                               "--output", str(tmp_path / "emb")], stdin=stdin, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    vectors, _ = read_embeddings(tmp_path / "emb")
    np.testing.assert_array_equal(vectors, StaticModel.from_pretrained(tiny_model).encode(["the cat", "a car"]))
    proc = subprocess.run([sys.executable, "-m", "staticemb", "encode", str(tiny_model), "-", "--quiet",
                           "--output", str(tmp_path / "none")], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=120, preexec_fn=lambda: __import__("os").close(0))
    assert_one_line_error((proc.returncode, proc.stdout, proc.stderr), "stdin", "closed")


def test_a_distill_corpus_that_gives_no_text_is_refused_and_jsonl_is_read_as_encode_reads_it(capsys, tmp_path):
    from staticemb.cli import _read_texts

    bom = write_task(tmp_path, '\ufeff{"text": "first"}\r\n{"anchor": "a", "positive": "b"}\n', "c.ndjson")
    assert _read_texts(str(bom), None) == ["first", "a", "b"]
    empty = write_task(tmp_path, '{"id": 1}\n{"title": 2}\n', "no-text.jsonl")
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    tok = tmp_path / "tok.json"
    tok.write_text(word_tokenizer().to_str())
    assert_one_line_error(run_cli(capsys, "distill", "--teacher", str(teacher), "--tokenizer", str(tok),
                                  "--corpus", str(empty), "--output", str(tmp_path / "new")), "no-text.jsonl",
                          "gives no text")


def test_dev_stdout_needs_no_file_beside_it_and_an_appended_file_keeps_its_lines(tmp_path, monkeypatch):
    """--output /dev/stdout was checked by making a temporary file in /dev (refused to a user); with stdout a file
    a shell opened for appending, the atomic write renamed over it and its earlier lines were lost."""
    import tempfile

    from staticemb.cli import _check_output

    def no_temporary_file(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", no_temporary_file)
    assert str(_check_output("/dev/stdout", "--output", folder=False)) == "/dev/stdout"
    log = tmp_path / "log.txt"
    log.write_text("earlier line\n")
    script = ("from pathlib import Path; from staticemb._io import write_file; print('before', flush=True); "
              "write_file(Path('/dev/stdout'), lambda f: f.write('the results\\n')); print('after')")
    with open(log, "a") as out:
        proc = subprocess.run([sys.executable, "-c", script], stdout=out, stderr=subprocess.PIPE, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert log.read_text() == "earlier line\nbefore\nthe results\nafter\n"


def test_a_reader_that_goes_away_ends_the_command_quietly_without_unbuffered_output(tiny_model, task_file):
    """Without PYTHONUNBUFFERED the table sat in stdout's buffer: main returned 0 and the flush at exit printed
    'Exception ignored ... BrokenPipeError' and exited 120. A stdout whose reader went away ends the command
    (141); a stderr whose reader went away only silences the progress lines: the table is printed whole."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    for dead in ("stdout", "stderr"):
        proc = subprocess.Popen([sys.executable, "-m", "staticemb", "eval", str(tiny_model), "--tasks",
                                 str(task_file)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        alive = proc.stderr if dead == "stdout" else proc.stdout
        getattr(proc, dead).close()
        said = alive.read().decode()
        assert proc.wait(timeout=120) == (141 if dead == "stdout" else 0), (dead, said)
        assert "Exception ignored" not in said and "Traceback" not in said
        if dead == "stderr":
            assert said.splitlines()[0].startswith("| model | dim | retrieval-pets |") and "| 16 |" in said


def test_prompts_that_are_not_text_are_named_by_pickles_copies_and_saves(tiny_model, tmp_path):
    import pickle

    model = StaticModel.from_pretrained(tiny_model)
    model.prompts["bad"] = 5
    for attempt in (lambda: pickle.dumps(model), lambda: model.with_options(dim=8),
                    lambda: model.save(tmp_path / "m")):
        with pytest.raises(TypeError, match=r"prompts\['bad'\] must be a str"):
            attempt()


@pytest.mark.reference  # datasets: not among the light tier's dependencies (make test-wheel, wheels.yml)
def test_a_mnrl_file_without_pairs_names_the_columns_it_has(tmp_path):
    from staticemb.errors import InvalidInputError
    from staticemb.train.trainer import _read_dataset

    path = write_task(tmp_path, '{"text": "a", "id": 1}\n{"text": "b", "id": 2}\n', "texts.jsonl")
    with pytest.raises(InvalidInputError, match=r"needs 'anchor' and 'positive' columns for mnrl \(its rows have "
                                                r"\['text', 'id'\]\)"):
        _read_dataset(str(path), "mnrl")
    assert _read_dataset(str(path), "distill")["text"] == ["a", "b"]


def test_a_carriage_return_inside_a_corpus_line_is_kept_as_encode_keeps_it(tmp_path):
    from staticemb.cli import _read_texts

    path = write_task(tmp_path, "one\rline\r\nnext\n", "corpus.txt")
    assert _read_texts(str(path), None) == ["one\rline", "next"]
