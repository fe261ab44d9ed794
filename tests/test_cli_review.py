"""A review of ``staticemb encode`` and ``eval`` as a user runs them: the output's name decides its kind (an
``OUT.NPY`` was a folder, ``-o x.csv`` a folder named ``x.csv``), ``--dims`` past a model's width is refused as
``encode(dim=...)`` refuses it, a column named twice is named, and a stderr that is closed or fails does not stop
the run. Light tier: the tiny fixture model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from staticemb import InvalidInputError, StaticModel
from staticemb.bulk import encode_files, read_embeddings
from staticemb.cli import main

MODEL = Path(__file__).resolve().parent / "fixtures" / "st-tiny"
TEXTS = ["the cat sat on the mat", "a dog", "hello world"]


@pytest.fixture(scope="module")
def model() -> StaticModel:
    return StaticModel.from_pretrained(MODEL)


@pytest.fixture
def texts(tmp_path) -> Path:
    path = tmp_path / "in.txt"
    path.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(result: tuple[int, str, str], *names: str) -> str:
    code, out, err = result
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and out == "", (out, err)
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


# ------------------------------------------------------------------------------------------------ --output


def test_an_upper_case_npy_output_is_one_npy_file(capsys, tmp_path, texts, model):
    """`-o OUT.NPY` wrote a folder of Parquet parts named OUT.NPY."""
    out = tmp_path / "OUT.NPY"
    assert run(capsys, "encode", str(MODEL), str(texts), "-o", str(out), "-q")[0] == 0
    assert out.is_file()
    np.testing.assert_array_equal(np.load(out), model.encode(TEXTS))
    np.testing.assert_array_equal(read_embeddings(out)[0], model.encode(TEXTS))
    # int8 needs its scales whatever the case of the suffix
    one_line_error(run(capsys, "encode", str(MODEL), str(texts), "-o", str(tmp_path / "q.Npy"), "-q",
                       "--precision", "int8"), "int8")


@pytest.mark.parametrize("name", ["x.csv", "x.jsonl", "x.json", "x.txt", "X.CSV", "x.npz", "-"])
def test_an_output_named_as_another_file_type_is_refused(capsys, tmp_path, texts, name, monkeypatch):
    """These became folders of Parquet parts with that name, exit 0."""
    monkeypatch.chdir(tmp_path)  # where `-o -` made its folder
    line = one_line_error(run(capsys, "encode", str(MODEL), str(texts), "-o", str(tmp_path / name) if name != "-"
                              else name, "-q"), "--output", "Parquet", ".npy")
    assert ("stdout" if name == "-" else Path(name).suffix) in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]
    with pytest.raises(InvalidInputError, match="--output"):  # the library says the same
        encode_files(MODEL, [str(texts)], tmp_path / "y.csv", progress=False)
    assert not (tmp_path / "y.csv").exists()


def test_a_folder_named_parquet_is_a_folder_of_parts(capsys, tmp_path, texts, model):
    """OUT.parquet is a folder of parts, as Spark and pandas name them, and reads back as one table."""
    out = tmp_path / "emb.parquet"
    assert run(capsys, "encode", str(MODEL), str(texts), "-o", str(out), "-q")[0] == 0
    assert out.is_dir()
    table = pq.read_table(out)  # the manifest's leading underscore keeps it out of the dataset
    assert table.column("row").to_pylist() == [0, 1, 2]
    np.testing.assert_array_equal(read_embeddings(out)[0], model.encode(TEXTS))


# ------------------------------------------------------------------------------------------------ eval --dims


@pytest.mark.parametrize("dims", ["5000", "8,5000", "17"])
def test_eval_widths_past_the_model_are_refused(capsys, tmp_path, dims):
    """`--dims 5000` on a 16-d model scored it at 16 and reported that row with no word about 5000."""
    task = tmp_path / "retrieval-pets.json"
    task.write_text(json.dumps({"type": "retrieval", "queries": ["the cat", "a dog"],
                                "corpus": ["the cat sat on the mat", "a dog", "hello"], "relevant": [[0], [1]]}))
    past = ",".join(d for d in dims.split(",") if int(d) > 16)
    one_line_error(run(capsys, "eval", str(MODEL), "--tasks", str(task), "--dims", dims), f"dims {past}: ", "16")


@pytest.mark.reference  # bm25s: not among the light tier's dependencies (make test-wheel, wheels.yml)
def test_eval_widths_within_the_model_score_beside_bm25(capsys, tmp_path):
    task = tmp_path / "retrieval-pets.json"
    task.write_text(json.dumps({"type": "retrieval", "queries": ["the cat", "a dog"],
                                "corpus": ["the cat sat on the mat", "a dog", "hello"], "relevant": [[0], [1]]}))
    code, out, _ = run(capsys, "eval", str(MODEL), "bm25", "--tasks", str(task), "--dims", "8,16")
    assert code == 0 and "| 8 |" in out and "| 16 |" in out and "BM25" in out



def test_eval_checks_every_models_widths_before_scoring_any(capsys, tmp_path):
    """A later model too narrow for --dims was found only after the earlier ones had been scored (hours, with a
    transformer first), and their results were thrown away."""
    from staticemb import StaticModel

    narrow = StaticModel.from_pretrained(MODEL, dim=8).save(tmp_path / "narrow")
    task = tmp_path / "retrieval-pets.json"
    task.write_text(json.dumps({"type": "retrieval", "queries": ["the cat", "a dog"],
                                "corpus": ["the cat sat on the mat", "a dog", "hello"], "relevant": [[0], [1]]}))
    code, out, err = run(capsys, "eval", str(MODEL), str(narrow), "--tasks", str(task), "--dims", "16")
    assert code == 2 and "dims 16: " in err and "8-d model" in err
    assert "retrieval-pets" not in err  # no model was scored: no progress line


# ------------------------------------------------------------------------------------------------ columns


def test_a_text_or_kept_column_named_twice_is_refused_naming_it_and_the_file(capsys, tmp_path):
    """CSV read the first of two `text` columns silently (and the first `id` to --keep); Parquet failed with
    "KeyError: 'Column text does not exist in schema'", exit 1."""
    csv = tmp_path / "two.csv"
    csv.write_text("text,text\nthe cat,a dog\n")
    keep = tmp_path / "keep.csv"
    keep.write_text("text,id,id\nthe cat,1,2\n")
    parquet = tmp_path / "two.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array(["the cat"]), pa.array(["a dog"])], names=["text", "text"]),
                   parquet)
    for path, extra in ((csv, ()), (parquet, ()), (keep, ("--keep", "id"))):
        word = "'id'" if extra else "'text'"
        one_line_error(run(capsys, "encode", str(MODEL), str(path), "-o", str(tmp_path / "out"), "-q", *extra),
                       str(path), f"2 columns are named {word}")
        assert not (tmp_path / "out").exists()
    # A missing column names itself and the file.
    one_line_error(run(capsys, "encode", str(MODEL), str(csv), "-o", str(tmp_path / "out"), "-q", "--column",
                       "body"), str(csv), "no column 'body'", "its columns: text, text")


# ------------------------------------------------------------------------------------------------ stderr


def _encode(out: Path, texts: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "staticemb", "encode", str(MODEL), str(texts), "-o", str(out)],
                          stdout=subprocess.PIPE, timeout=120, **kwargs)


@pytest.mark.parametrize("how", ["closed", "full", "reader gone"])
def test_a_stderr_that_is_closed_or_fails_does_not_stop_encode(tmp_path, texts, model, how):
    """`2>&-`: 'AttributeError: NoneType object has no attribute write', exit 1, and 'wrote' and the error
    printed on stdout; `2>/dev/full` exit 1; a stderr whose reader went away exit 141: all with no part
    written. The progress bar is not the output: the run finishes and writes it."""
    out = tmp_path / "emb"
    if how == "closed":
        proc = _encode(out, texts, preexec_fn=lambda: os.close(2))
    elif how == "full":
        with open("/dev/full", "w") as full:
            proc = _encode(out, texts, stderr=full)
    else:
        r, w = os.pipe()
        os.close(r)
        try:
            proc = _encode(out, texts, stderr=w)
        finally:
            os.close(w)
    assert (proc.returncode, proc.stdout) == (0, b""), proc
    np.testing.assert_array_equal(read_embeddings(out)[0], model.encode(TEXTS))


def test_errors_with_a_closed_stderr_keep_off_stdout(tmp_path, texts):
    """With stderr closed, print(file=sys.stderr) wrote the error line onto stdout (sys.stderr was None)."""
    proc = _encode(tmp_path / "x.csv", texts, preexec_fn=lambda: os.close(2))
    assert (proc.returncode, proc.stdout) == (2, b"")


def test_an_error_line_stderr_cannot_encode_is_shown_with_replacements(tmp_path, texts):
    """A guard: under an ASCII stderr the error line naming `café.csv` is still shown (an encoding error in a
    write must not silence stderr for the rest of the run, as a failed write does)."""
    env = {**os.environ, "PYTHONIOENCODING": "ascii:strict"}
    proc = _encode(tmp_path / "café.csv", texts, stderr=subprocess.PIPE, env=env)
    assert proc.returncode == 2 and b"--output" in proc.stderr and b".csv" in proc.stderr, proc


def test_closed_stdout_and_stderr_let_eval_and_encode_finish(tmp_path, texts, model):
    """`>&- 2>&-`: "AttributeError: 'NoneType' object has no attribute 'flush'", exit 1, after the work."""
    task = tmp_path / "retrieval-pets.json"
    task.write_text(json.dumps({"type": "retrieval", "queries": ["the cat"], "corpus": ["the cat sat", "a dog"],
                                "relevant": [[0]]}))

    def closed():
        os.close(1)
        os.close(2)

    out = tmp_path / "results" / "r.json"
    proc = subprocess.run([sys.executable, "-m", "staticemb", "eval", str(MODEL), "--tasks", str(task), "--output",
                           str(out)], preexec_fn=closed, timeout=120)
    assert proc.returncode == 0
    assert json.loads(out.read_text())[0]["tasks"]["retrieval-pets"]["scores"]["16"]
    proc = subprocess.run([sys.executable, "-m", "staticemb", "encode", str(MODEL), str(texts), "-o",
                           str(tmp_path / "emb")], preexec_fn=closed, timeout=120)
    assert proc.returncode == 0
    np.testing.assert_array_equal(read_embeddings(tmp_path / "emb")[0], model.encode(TEXTS))


# ------------------------------------------------------------------------------------------------ eval --output


def test_eval_output_over_a_task_or_into_a_task_folder_is_refused(capsys, tmp_path):
    """`--output tasks/retrieval-pets.json` replaced the task with the results; `--output tasks/r.json` made the
    next `--tasks tasks` run fail on r.json ("a task needs a 'type'")."""
    folder = tmp_path / "tasks"
    folder.mkdir()
    task = folder / "retrieval-pets.json"
    content = json.dumps({"type": "retrieval", "queries": ["the cat"], "corpus": ["the cat sat", "a dog"],
                          "relevant": [[0]]})
    task.write_text(content)
    for tasks, output, words in ((folder, task, "is a task file"), (task, task, "is a task file"),
                                 (folder, folder / "r.json", "lies in the task folder")):
        one_line_error(run(capsys, "eval", str(MODEL), "--tasks", str(tasks), "--output", str(output)),
                       "--output", words)
        assert task.read_text() == content and not (folder / "r.json").exists()
    for output in (folder / "r.txt", folder / "sub" / "r.json", tmp_path / "r.json"):  # not read as tasks
        assert run(capsys, "eval", str(MODEL), "--tasks", str(folder), "--output", str(output))[0] == 0
        assert json.loads(output.read_text())
    assert run(capsys, "eval", str(MODEL), "--tasks", str(folder))[0] == 0


def test_eval_output_into_a_model_folder_is_refused(capsys, tmp_path):
    # `--output MODEL/model.safetensors` scored the model, then wrote the results over its weights (exit 0).
    import shutil

    model = shutil.copytree(MODEL, tmp_path / "model")
    before = {p.name: p.read_bytes() for p in model.iterdir() if p.is_file()}
    task = tmp_path / "r.json"
    task.write_text(json.dumps({"type": "retrieval", "queries": ["the cat"], "corpus": ["the cat sat", "a dog"],
                                "relevant": [[0]]}))
    for output in (model / "model.safetensors", model / "results.json", model / "sub" / "r.json"):
        one_line_error(run(capsys, "eval", str(model), "--tasks", str(task), "--output", str(output)),
                       "--output", "lies in the model folder")
    assert {p.name: p.read_bytes() for p in model.iterdir() if p.is_file()} == before
    assert not (model / "sub").exists()
    assert run(capsys, "eval", str(model), "--tasks", str(task), "--output", str(tmp_path / "r-out.json"))[0] == 0


def test_a_task_name_that_is_not_unicode_is_refused_when_loaded(tmp_path):
    # It passed load_task and failed only when the results table was printed, after every model was scored.
    from staticemb.tasks import load_task

    task = tmp_path / "s.json"
    task.write_text('{"type": "retrieval", "name": "bad\\ud800name", "queries": ["q"], "corpus": ["a", "b"], '
                    '"relevant": [[0]]}')
    with pytest.raises(InvalidInputError, match=r"s\.json: 'name' .* is not valid Unicode text"):
        load_task(task)


# ------------------------------------------------------------------------------------------------ names


def test_names_that_are_not_utf8_are_named(capsys, tmp_path, texts):
    """pyarrow opens UTF-8 names only: "UnicodeEncodeError: 'utf-8' codec can't encode character '\\udcff'",
    exit 1, after the model loaded. A text input of such a name is read by Python, and works."""
    odd = os.fsdecode(b"odd\xffname")
    one_line_error(run(capsys, "encode", str(MODEL), str(texts), "-o", str(tmp_path / odd), "-q"),
                   "--output", "not UTF-8")
    with open(tmp_path / f"{odd}.parquet", "wb") as f:  # pyarrow writes it given the open file
        pq.write_table(pa.table({"text": TEXTS}), f)
    one_line_error(run(capsys, "encode", str(MODEL), str(tmp_path / f"{odd}.parquet"), "-o", str(tmp_path / "o"),
                       "-q"), "the input", "not UTF-8")
    assert sorted(os.listdir(tmp_path)) == sorted(["in.txt", f"{odd}.parquet"])
    (tmp_path / f"{odd}.txt").write_text("\n".join(TEXTS))
    assert run(capsys, "encode", str(MODEL), str(tmp_path / f"{odd}.txt"), "-o", str(tmp_path / "o"), "-q")[0] == 0


def test_an_empty_output_name_is_refused(tmp_path, texts, monkeypatch):
    """`-o "$OUT"` with OUT unset: encode wrote its parts into the current folder, and eval wrote no results
    and said nothing (exit 0)."""
    work = tmp_path / "work"
    work.mkdir()
    task = tmp_path / "retrieval-pets.json"
    task.write_text(json.dumps({"type": "retrieval", "queries": ["the cat"], "corpus": ["the cat sat", "a dog"],
                                "relevant": [[0]]}))
    for args in (["encode", str(MODEL), str(texts), "-q", "-o", ""], ["eval", str(MODEL), "--tasks", str(task),
                                                                     "--output", ""]):
        proc = subprocess.run([sys.executable, "-m", "staticemb", *args], cwd=work, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 2 and "--output is an empty name" in proc.stderr, proc
        assert proc.stdout == "" and not os.listdir(work)
    monkeypatch.chdir(work)
    with pytest.raises(InvalidInputError, match="empty name"):
        encode_files(MODEL, [str(texts)], "", progress=False)
    assert not os.listdir(work)


def test_a_pandas_category_or_string_view_text_column_is_text(tmp_path, model):
    """pandas writes a category column as dictionary<values=string>, newer writers text as string_view:
    "column 'text' holds dictionary<values=string, indices=int8, ordered=0>, not text"."""
    texts = ["the cat", "a dog", "the cat"]
    columns = [pa.array(texts).dictionary_encode()]
    if hasattr(pa, "string_view"):
        columns.append(pa.array(texts, type=pa.string_view()))
    for i, column in enumerate(columns):
        pq.write_table(pa.table({"text": column}), tmp_path / f"{i}.parquet")
        out = encode_files(model, [str(tmp_path / f"{i}.parquet")], tmp_path / f"out{i}", progress=False)
        np.testing.assert_array_equal(read_embeddings(out)[0], model.encode(texts))


# ------------------------------------------------------------------------------------------------ long rows


@pytest.mark.parametrize("suffix, where", [(".csv", "first"), (".tsv", "middle")])
def test_a_csv_row_longer_than_a_read_block_is_read(tmp_path, model, suffix, where):
    """A value over 32 MiB: "straddling object straddles two block boundaries (try to increase block size?)",
    exit 2, with no way to give pyarrow a larger block."""
    sep = "," if suffix == ".csv" else "\t"
    long = "the cat sat " * 3_000_000  # 36 MB: longer than two blocks
    short = [f"row {i}" for i in range(50_000)]
    texts = [long, *short] if where == "first" else [*short, long, *short]
    path = tmp_path / f"in{suffix}"
    path.write_text(f"id{sep}text\n" + "".join(f"{i}{sep}{t}\n" for i, t in enumerate(texts)), encoding="utf-8")
    out = encode_files(model, [str(path)], tmp_path / "out", keep=["id"], batch_rows=7_000, progress=False)
    vectors, table = read_embeddings(out)
    assert table.column("id").to_pylist() == [str(i) for i in range(len(texts))]
    np.testing.assert_array_equal(vectors, model.encode(texts))


def test_a_write_stderr_cannot_encode_is_replaced_not_the_end_of_stderr():
    """A stream with a strict encoding (one a caller set as sys.stderr) raised UnicodeEncodeError on `café`, which
    the wrapper took for a dead stderr: every later message, the error line included, went to /dev/null."""
    from staticemb.cli import _Status

    class Strict:
        encoding = "ascii"

        def __init__(self) -> None:
            self.text = ""

        def write(self, text: str) -> int:
            self.text += text.encode("ascii").decode("ascii")
            return len(text)

        def flush(self) -> None:
            pass

    stream = Strict()
    status = _Status(stream)
    status.write("wrote café\n")
    status.write("staticemb encode: an error\n")
    assert stream.text == "wrote caf?\nstaticemb encode: an error\n"


def test_a_path_that_does_not_exist_is_bad_input_exit_2(capsys, tmp_path, texts):
    """A missing input, model or task file is the command's argument at fault, as the docstring's status 2
    says; it ended with 1, the status of a failure inside the work."""
    missing = tmp_path / "no-such.txt"
    one_line_error(run(capsys, "encode", str(MODEL), str(missing), "--output", str(tmp_path / "a.npy")), "no-such.txt")
    one_line_error(run(capsys, "encode", str(tmp_path / "no-model"), str(texts), "--output", str(tmp_path / "b.npy")),
                   "no-model")
    one_line_error(run(capsys, "eval", str(MODEL), "--tasks", str(tmp_path / "no-tasks.json")), "no-tasks.json")
    # A file where a folder belongs.
    one_line_error(run(capsys, "encode", str(MODEL), str(texts), "--output", str(texts / "x.npy")), "in.txt")
    assert not any(p.name.startswith(("a.", "b.")) for p in tmp_path.iterdir())
