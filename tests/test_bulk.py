"""``staticemb encode`` / :func:`staticemb.bulk.encode_files`: every input type, every output precision, bounded
streaming, resuming after an interruption or a kill, and one-line errors on bad input. Light tier: the tiny
fixture model and files written here."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet as pq
import pytest
from staticemb import InvalidInputError, StaticModel
from staticemb.bulk import MANIFEST, encode_files, read_embeddings

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MODEL = FIXTURES / "st-tiny"
BASE: list[str] = json.loads((FIXTURES / "texts.json").read_text(encoding="utf-8"))
TEXTS = [t.replace("\n", " ").replace("\r", " ") for t in BASE] * 8  # one text per line
TSV_TEXTS = [t.replace("\t", " ") for t in TEXTS]  # TSV has no quoting: its values hold no tab


@pytest.fixture(scope="module")
def model() -> StaticModel:
    return StaticModel.from_pretrained(MODEL)


def write_inputs(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    ids = [f"doc-{i}" for i in range(len(TEXTS))]
    (folder / "a.txt").write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    (folder / "b.jsonl").write_text(
        "".join(json.dumps({"id": i, "body": t, "n": k}) + "\n" for k, (i, t) in enumerate(zip(ids, TEXTS, strict=True))),
        encoding="utf-8",
    )
    table = pa.table({"id": ids, "body": TEXTS})
    pyarrow.csv.write_csv(table, folder / "c.csv")
    (folder / "d.tsv").write_text("id\tbody\n" + "".join(f"{i}\t{t}\n" for i, t in zip(ids, TSV_TEXTS, strict=True)),
                                  encoding="utf-8")
    pq.write_table(table, folder / "e.parquet", row_group_size=37)
    return {p.suffix: p for p in folder.iterdir()}


@pytest.mark.parametrize("suffix", [".txt", ".jsonl", ".csv", ".tsv", ".parquet"])
def test_every_input_type_gives_the_single_process_vectors(tmp_path, model, suffix):
    files = write_inputs(tmp_path / "in")
    keep = [] if suffix == ".txt" else ["id"]
    column = "text" if suffix == ".txt" else "body"
    out = encode_files(MODEL, [str(files[suffix])], tmp_path / "out", column=column, keep=keep, batch_rows=50,
                       rows_per_part=70, progress=False)
    vectors, table = read_embeddings(out)
    np.testing.assert_array_equal(vectors, model.encode(TSV_TEXTS if suffix == ".tsv" else TEXTS))
    assert table.column("row").to_pylist() == list(range(len(TEXTS)))
    if keep:
        assert table.column("id").to_pylist() == [f"doc-{i}" for i in range(len(TEXTS))]
    assert len(list(out.glob("part-*.parquet"))) == -(-len(TEXTS) // 70)
    meta = json.loads(pq.read_schema(out / "part-00000.parquet").metadata[b"staticemb"])
    assert meta["model"] == str(MODEL) and meta["precision"] == "float32" and meta["dim"] == model.dim


@pytest.mark.parametrize("precision", ["float16", "int8", "binary"])
def test_precisions(tmp_path, model, precision):
    files = write_inputs(tmp_path / "in")
    out = encode_files(model, [str(files[".txt"])], tmp_path / "out", precision=precision, dim=8,
                       progress=False)
    vectors, _ = read_embeddings(out)
    want = model.encode(TEXTS, dim=8)
    if precision == "float16":
        np.testing.assert_array_equal(vectors, want.astype(np.float16).astype(np.float32))
    elif precision == "int8":
        step = np.abs(want).max(axis=1, keepdims=True) / 127
        assert np.all(np.abs(vectors - want) <= step / 2 + 1e-7)
    else:
        np.testing.assert_array_equal(vectors, np.packbits(want > 0, axis=1))
    column = pq.read_table(out / "part-00000.parquet").column("embedding")
    assert pa.types.is_fixed_size_list(column.type)


def test_npy_output_folders_and_globs(tmp_path, model):
    files = write_inputs(tmp_path / "in")
    out = encode_files(model, [str(tmp_path / "in" / "*.txt"), str(files[".txt"])], tmp_path / "v.npy",
                       rows_per_part=100, progress=False)
    array = np.load(out)
    np.testing.assert_array_equal(array, model.encode(TEXTS + TEXTS))
    with pytest.raises(InvalidInputError, match="per-row scales"):
        encode_files(model, [str(files[".txt"])], tmp_path / "w.npy", precision="int8", progress=False)


def test_stdin(tmp_path, model):
    done = subprocess.run(
        [sys.executable, "-m", "staticemb", "encode", str(MODEL), "-", "-o", str(tmp_path / "out"), "-q"],
        input="\n".join(TEXTS[:50]) + "\n", capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(read_embeddings(tmp_path / "out")[0], model.encode(TEXTS[:50]))


def _interrupt_encode_at(monkeypatch, call: int):
    """Make StaticModel.encode raise KeyboardInterrupt on its ``call``-th call (as Ctrl-C would); the real
    encode, to put back."""
    calls = {"n": 0}
    real = StaticModel.encode

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == call:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(StaticModel, "encode", flaky)
    return real


def test_an_interrupted_run_resumes_and_gives_the_same_output(tmp_path, model, monkeypatch):
    files = write_inputs(tmp_path / "in")
    real = _interrupt_encode_at(monkeypatch, 4)
    with pytest.raises(KeyboardInterrupt):
        encode_files(model, [str(files[".jsonl"])], tmp_path / "out", column="body", keep=["id"], batch_rows=20,
                     rows_per_part=30, progress=False)
    names = sorted(os.listdir(tmp_path / "out"))
    assert names == [MANIFEST, "part-00000.parquet", "part-00001.parquet"], names  # 60 rows; no partial part
    with pytest.raises(InvalidInputError, match="unfinished run"):
        read_embeddings(tmp_path / "out")
    with pytest.raises(InvalidInputError, match="different run.*dim"):
        encode_files(model, [str(files[".jsonl"])], tmp_path / "out", column="body", keep=["id"], batch_rows=20,
                     rows_per_part=30, dim=8, progress=False)
    monkeypatch.setattr(StaticModel, "encode", real)
    encode_files(model, [str(files[".jsonl"])], tmp_path / "out", column="body", keep=["id"], batch_rows=20,
                 rows_per_part=30, progress=False)
    vectors, table = read_embeddings(tmp_path / "out")
    np.testing.assert_array_equal(vectors, model.encode(TEXTS))
    assert table.column("id").to_pylist() == [f"doc-{i}" for i in range(len(TEXTS))]


def _stopped_run(tmp_path: Path, options: list[str], until, sig: int):
    """``staticemb encode`` of 400 copies of the texts, one process, sent ``sig`` once ``until(out)`` holds:
    the command, the texts, the output and the process (waited for)."""
    big = tmp_path / "big.txt"
    lines = TEXTS * 400
    big.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "staticemb", "encode", str(MODEL), str(big), "-o", str(out), "-q", *options,
           "--num-threads", "1"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not until(out) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(sig)
    proc.err = proc.communicate(timeout=60)[1]
    return cmd, lines, out, proc


def test_a_killed_run_resumes(tmp_path, model):
    cmd, lines, out, _ = _stopped_run(tmp_path, ["--batch-rows", "500", "--rows-per-part", "2000"],
                                      lambda out: (out / "part-00001.parquet").exists(), signal.SIGKILL)
    for p in out.iterdir():  # whatever is there is finished or visibly unfinished
        assert p.name == MANIFEST or p.name.startswith("part-") or p.name.endswith(".inprogress"), p.name
    for p in out.glob("part-*.parquet"):
        assert pq.read_metadata(p).num_rows == 2000
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not list(out.glob(".*inprogress"))
    np.testing.assert_array_equal(read_embeddings(out)[0], model.encode(lines))


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "staticemb", "encode", *args], capture_output=True, text=True,
                          timeout=120)


def test_bad_input_gives_one_line(tmp_path):
    files = write_inputs(tmp_path / "in")
    (tmp_path / "bad.txt").write_bytes(b"fine\n\xff\xfe broken\n")
    (tmp_path / "file").write_text("x")
    cases = [
        ((str(MODEL), str(tmp_path / "missing.txt"), "-o", str(tmp_path / "o1")), "no such file"),
        ((str(MODEL), str(files[".csv"]), "-o", str(tmp_path / "o2"), "--column", "nope"), "no column 'nope'"),
        ((str(MODEL), str(files[".jsonl"]), "-o", str(tmp_path / "o3")), "has no field 'text'"),
        ((str(MODEL), str(tmp_path / "bad.txt"), "-o", str(tmp_path / "o4")), "bad.txt:2: not UTF-8"),
        ((str(MODEL), str(files[".txt"]), "-o", str(tmp_path / "file" / "out")), "file, not a folder"),
        ((str(tmp_path / "no-model"), str(files[".txt"]), "-o", str(tmp_path / "o5")), "model not found"),
        ((str(MODEL), str(files[".txt"]), "-o", str(files[".txt"])), "not a .txt file"),
        ((str(MODEL), str(files[".txt"]), "-o", str(tmp_path / "file")), "is a file, not a folder"),
    ]
    for args, message in cases:
        done = _cli(*args, "-q")
        assert done.returncode != 0, args
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, done.stderr)
    assert not (tmp_path / "o4" / "part-00000.parquet").exists()


def test_refusals(tmp_path, model):
    files = write_inputs(tmp_path / "in")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="not empty and holds no staticemb output"):
        encode_files(model, [str(files[".txt"])], tmp_path / "busy", progress=False)
    assert os.listdir(tmp_path / "busy") == ["notes.txt"]
    with pytest.raises(InvalidInputError, match="text file has no columns"):
        encode_files(model, [str(files[".txt"])], tmp_path / "o1", keep=["id"], progress=False)
    pq.write_table(pa.table({"text": ["fine", None, "x"]}), tmp_path / "nulls.parquet")
    with pytest.raises(InvalidInputError, match="row 1 has no text"):
        encode_files(model, [str(tmp_path / "nulls.parquet")], tmp_path / "o2", progress=False)
    pq.write_table(pa.table({"text": [1, 2]}), tmp_path / "ints.parquet")
    with pytest.raises(InvalidInputError, match="not text"):
        encode_files(model, [str(tmp_path / "ints.parquet")], tmp_path / "o3", progress=False)
    (tmp_path / "notes.md").write_text("x")
    with pytest.raises(InvalidInputError, match="unknown input type"):
        encode_files(model, [str(tmp_path / "notes.md")], tmp_path / "o4", progress=False)
    with pytest.raises(InvalidInputError, match="precision"):
        encode_files(model, [str(files[".txt"])], tmp_path / "o5", precision="ubinary", progress=False)
    # The refused runs left nothing behind (a corrected run then starts afresh).
    assert not list(tmp_path.glob("o*"))
    encode_files(model, [str(files[".txt"])], tmp_path / "o1", progress=False)


@pytest.mark.parametrize("name", ["row", "embedding", "scale"])
def test_keeping_a_column_named_like_an_output_column_is_refused(tmp_path, model, name):
    # --keep row overwrote the positions with the input's column; --keep embedding was silently dropped.
    files = write_inputs(tmp_path / "in")
    with pytest.raises(InvalidInputError, match=f"--keep {name}: the output's own columns"):
        encode_files(model, [str(files[".jsonl"])], tmp_path / "out", column="body", keep=[name], progress=False)
    assert not (tmp_path / "out").exists()


def test_a_run_stopped_after_its_short_last_part_resumes(tmp_path, model, monkeypatch):
    # A full disk (or a kill) just after the last, short part was closed, before the manifest said complete:
    # every rerun failed with "already holds 30 rows but the inputs have 25".
    from staticemb import bulk

    path = tmp_path / "25.txt"
    path.write_text("".join(f"{t}\n" for t in TEXTS[:25]))
    real, calls = bulk._Parts.save_manifest, []

    def full_disk(self):
        calls.append(1)
        if len(calls) == 2:  # the save that marks the run complete
            raise OSError(28, "No space left on device")
        real(self)

    monkeypatch.setattr(bulk._Parts, "save_manifest", full_disk)
    with pytest.raises(OSError, match="No space"):
        encode_files(model, [str(path)], tmp_path / "out", rows_per_part=10, progress=False)
    monkeypatch.setattr(bulk._Parts, "save_manifest", real)
    encode_files(model, [str(path)], tmp_path / "out", rows_per_part=10, progress=False)
    vectors, table = read_embeddings(tmp_path / "out")
    np.testing.assert_array_equal(vectors, model.encode(TEXTS[:25]))
    assert table.column("row").to_pylist() == list(range(25))


def test_stdin_into_an_earlier_output_is_refused(tmp_path):
    # The second run exited 0 and left the first (empty) output in place of the new input's.
    def run(text: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "staticemb", "encode", str(MODEL), "-", "-o",
                               str(tmp_path / "out"), "-q"], input=text, capture_output=True, text=True, timeout=120)

    assert run("").returncode == 0
    again = run("a new text\n")
    assert again.returncode != 0 and "stdin cannot resume or repeat" in again.stderr, again.stderr


# ------------------------------------------------------------------------------------------------ review of the CLI


def test_a_full_disk_while_writing_npy_is_an_error_naming_it_and_resumes(tmp_path, model, monkeypatch):
    # The .npy was a memory-mapped sparse file: a full disk killed the process with SIGBUS (exit 135).
    from staticemb import bulk

    files = write_inputs(tmp_path / "in")
    out = tmp_path / "v.npy"

    def full(fd, offset, length):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full, raising=False)
    with pytest.raises(OSError, match="No space left on device") as e:
        encode_files(model, [str(files[".txt"])], out, rows_per_part=70, progress=False)
    assert str(out) in str(e.value)
    assert sorted(os.listdir(tmp_path)) == ["in", "v.npy.parts"]  # no hidden .v.npy.inprogress
    monkeypatch.undo()
    calls = {"n": 0}
    real = bulk._fixed_values

    def interrupted(*args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(bulk, "_fixed_values", interrupted)
    with pytest.raises(KeyboardInterrupt):
        encode_files(model, [str(files[".txt"])], out, rows_per_part=70, progress=False)
    assert sorted(os.listdir(tmp_path)) == ["in", "v.npy.parts"]
    monkeypatch.undo()
    encode_files(model, [str(files[".txt"])], out, rows_per_part=70, progress=False)
    np.testing.assert_array_equal(np.load(out), model.encode(TEXTS))


@pytest.mark.parametrize("change", ["grow", "shrink", "replace"])
def test_an_output_whose_input_changed_is_refused(tmp_path, model, change):
    # Growing the input to 300 lines, shrinking it to 50 or replacing its lines: the rerun printed "wrote" and
    # kept the old rows.
    path = tmp_path / "texts.txt"
    path.write_text("".join(f"text {i}\n" for i in range(100)))
    encode_files(model, [str(path)], tmp_path / "out", progress=False)
    before = path.stat()
    lines = {"grow": 300, "shrink": 50, "replace": 100}[change]
    path.write_text("".join(f"word {i}\n" for i in range(lines)))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    with pytest.raises(InvalidInputError, match=f"{path} changed .*new output, or delete the old one"):
        encode_files(model, [str(path)], tmp_path / "out", progress=False)
    encode_files(model, [str(path)], tmp_path / "new", progress=False)
    assert len(read_embeddings(tmp_path / "new")[0]) == lines


def test_an_interrupted_run_whose_input_changed_does_not_resume(tmp_path, model, monkeypatch):
    path = tmp_path / "texts.txt"
    path.write_text("".join(f"text {i}\n" for i in range(100)))
    _interrupt_encode_at(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        encode_files(model, [str(path)], tmp_path / "out", batch_rows=20, rows_per_part=20, progress=False)
    monkeypatch.undo()
    path.write_text("".join(f"edited {i}\n" for i in range(100)))
    with pytest.raises(InvalidInputError, match="changed"):
        encode_files(model, [str(path)], tmp_path / "out", batch_rows=20, rows_per_part=20, progress=False)


def test_a_local_model_spelled_another_way_is_the_same_run(tmp_path, model, monkeypatch):
    # `../m`, `../m/` and the absolute path were three different runs on resume.
    files = write_inputs(tmp_path / "in")
    monkeypatch.chdir(MODEL.parent)
    for spec in ["st-tiny", "./st-tiny/", str(MODEL)]:
        encode_files(spec, [str(files[".txt"])], tmp_path / "out", progress=False)
    assert json.loads((tmp_path / "out" / MANIFEST).read_text())["model"] == str(MODEL.resolve())


def test_a_keep_field_missing_from_a_jsonl_line_is_refused(tmp_path, model):
    # `--keep idd` (a typo) gave an all-null column.
    path = tmp_path / "k.jsonl"
    path.write_text('{"id": "1", "text": "a"}\n{"idd": "2", "text": "b"}\n')
    with pytest.raises(InvalidInputError, match=r"k\.jsonl:2: has no field 'id' to --keep"):
        encode_files(model, [str(path)], tmp_path / "out", keep=["id"], progress=False)
    path.write_text('{"id": null, "text": "a"}\n')  # present, null: kept as null
    encode_files(model, [str(path)], tmp_path / "out2", keep=["id"], progress=False)
    assert read_embeddings(tmp_path / "out2")[1].column("id").to_pylist() == [None]


def test_tsv_has_no_quoting_and_an_unclosed_csv_quote_is_refused(tmp_path, model):
    # A TSV of 6 rows gave 4 vectors: a value starting with a quote swallowed the next rows.
    texts = ['"Quoted" start of a text', "second text", 'third "text" here', '"unterminated start', "fifth", "sixth"]
    (tmp_path / "q.tsv").write_text("id\ttext\n" + "".join(f"{i}\t{t}\n" for i, t in enumerate(texts)))
    encode_files(model, [str(tmp_path / "q.tsv")], tmp_path / "otsv", keep=["id"], progress=False)
    vectors, table = read_embeddings(tmp_path / "otsv")
    np.testing.assert_array_equal(vectors, model.encode(texts))
    assert table.column("id").to_pylist() == [str(i) for i in range(6)]
    (tmp_path / "q.csv").write_text('id,text\n1,"unterminated start\n2,second\n3,third\n')
    with pytest.raises(InvalidInputError, match=r"q\.csv: a quote is never closed"):
        encode_files(model, [str(tmp_path / "q.csv")], tmp_path / "ocsv", progress=False)
    (tmp_path / "ok.csv").write_text('id,text\n1,plain\n2,"two\nlines"\n')  # a closed quote holds newlines
    encode_files(model, [str(tmp_path / "ok.csv")], tmp_path / "ook", progress=False)
    np.testing.assert_array_equal(read_embeddings(tmp_path / "ook")[0], model.encode(["plain", "two\nlines"]))


def test_an_unreadable_folder_or_file_under_an_input_folder_is_an_error(tmp_path, monkeypatch):
    # rglob skipped them silently (the tests run as root too: the permission errors are simulated).
    from staticemb.bulk import expand_inputs

    write_inputs(tmp_path / "in")
    (tmp_path / "in" / "locked").mkdir()
    (tmp_path / "in" / "locked" / "x.txt").write_text("x\n")
    real_scandir, real_access = os.scandir, os.access

    def scandir(path="."):
        if Path(path) == tmp_path / "in" / "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(PermissionError, match=f"cannot read {tmp_path / 'in' / 'locked'}, a folder under"):
        expand_inputs([str(tmp_path / "in")])
    monkeypatch.setattr(os, "scandir", real_scandir)
    hidden = str(tmp_path / "in" / "c.csv")
    monkeypatch.setattr(os, "access", lambda p, mode: str(p) != hidden and real_access(p, mode))
    with pytest.raises(PermissionError, match=f"cannot read {hidden}, a file under the input"):
        expand_inputs([str(tmp_path / "in")])


def test_a_named_pipe_is_read_as_a_stream(tmp_path, model):
    # A FIFO, or `<(cmd)`, was "no such file or folder".
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def feed():
        try:
            with open(fifo, "w") as f:
                f.write("".join(f"{t}\n" for t in TEXTS[:30]))
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        encode_files(model, [str(fifo)], tmp_path / "out", progress=False)
    finally:
        if writer.is_alive():  # the run failed before reading: let the writer go
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        writer.join(5)
    np.testing.assert_array_equal(read_embeddings(tmp_path / "out")[0], model.encode(TEXTS[:30]))
    with pytest.raises(InvalidInputError, match="the stream .*pipe cannot resume"):
        encode_files(model, [str(fifo)], tmp_path / "out", progress=False)
    with pytest.raises(InvalidInputError, match="pipe is a stream: it can be read as text lines or JSONL, not csv"):
        encode_files(model, [str(fifo)], tmp_path / "o2", format="csv", progress=False)


@pytest.mark.parametrize(("name", "content", "message"), [
    # A lone surrogate was "texts[0] is not valid Unicode text", naming no file.
    ("surrogate.jsonl", b'{"text": "a"}\n{"text": "bad \\ud800"}\n', r"surrogate\.jsonl:2: field 'text' is not valid"),
    # A RecursionError.
    ("deep.jsonl", b'{"text": "ok"}\n' + b"[" * 200_000 + b"\n", r"deep\.jsonl:2: a JSON line nested too deep"),
    # A bare ArrowInvalid naming no file.
    ("bad.csv", b"text\nok\n\xff\xfe bad\n", r"bad\.csv: not readable as CSV"),
    # "" was the current folder.
    ("", b"", "empty name"),
], ids=["surrogate", "deep-json", "bad-utf8-csv", "empty-name"])
def test_small_input_refusals_name_the_file(tmp_path, model, monkeypatch, name, content, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "here.txt").write_text("a text\n")
    if name:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(InvalidInputError, match=message):
        encode_files(model, [str(tmp_path / name) if name else ""], tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_a_jsonl_file_with_a_byte_order_mark_is_read(tmp_path, model):
    (tmp_path / "bom.jsonl").write_bytes(b'\xef\xbb\xbf{"text": "one"}\n{"text": "two"}\n')
    encode_files(model, [str(tmp_path / "bom.jsonl")], tmp_path / "out", progress=False)
    np.testing.assert_array_equal(read_embeddings(tmp_path / "out")[0], model.encode(["one", "two"]))


def test_an_npy_output_is_written_only_over_its_own_run(tmp_path, model):
    # `-o existing.npy` replaced a file of the user's.
    files = write_inputs(tmp_path / "in")
    mine = tmp_path / "mine.npy"
    np.save(mine, np.arange(3))
    with pytest.raises(InvalidInputError, match="mine.npy exists and is not the output of an earlier run"):
        encode_files(model, [str(files[".txt"])], mine, progress=False)
    np.testing.assert_array_equal(np.load(mine), np.arange(3))
    assert not (tmp_path / "mine.npy.parts").exists()
    for _ in range(2):  # the same run again rewrites its own output
        encode_files(model, [str(files[".txt"])], tmp_path / "v.npy", progress=False)
    np.testing.assert_array_equal(np.load(tmp_path / "v.npy"), model.encode(TEXTS))


def test_a_kept_column_keeps_one_type_through_the_run(tmp_path, model):
    """Parquet ids (int64) then JSONL ids ("007"): the second file's were cast to the first's type, 7, silently;
    "A7" failed inside pyarrow. And a resume whose next batch came from another format wrote a part of another
    schema, which the reader then refused."""
    pq.write_table(pa.table({"text": ["a b", "c d"], "id": [1, 2]}), tmp_path / "k1.parquet")
    (tmp_path / "k2.jsonl").write_text('{"text": "e f", "id": "007"}\n')
    with pytest.raises(InvalidInputError, match="--keep id: it is string in this input but int64"):
        encode_files(model, [str(tmp_path / "k1.parquet"), str(tmp_path / "k2.jsonl")], tmp_path / "out",
                     keep=["id"], progress=False)
    # Within one format the type holds, and a resume writes the finished parts' types.
    (tmp_path / "k3.jsonl").write_text("".join(json.dumps({"text": f"t {i}", "id": f"{i:03d}"}) + "\n"
                                               for i in range(7)))
    out = encode_files(model, [str(tmp_path / "k2.jsonl"), str(tmp_path / "k3.jsonl")], tmp_path / "ok",
                       keep=["id"], progress=False, batch_rows=2, rows_per_part=2)
    ids = pq.read_table(out).column("id").to_pylist()
    assert ids == ["007"] + [f"{i:03d}" for i in range(7)]


def test_an_output_inside_an_input_folder_is_refused(tmp_path, model):
    """The first run worked; the second (a resume, or a repeat) read the first's parts back as input texts."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("one text\nanother\n")
    for output in (tmp_path / "in" / "emb", tmp_path / "in" / "emb.npy"):
        with pytest.raises(InvalidInputError, match="lies where the input"):
            encode_files(model, [str(tmp_path / "in")], output, progress=False)
        assert not output.exists()


def test_read_embeddings_gives_the_documented_types_for_every_output(tmp_path, model):
    """An empty binary output came back as (0, dim) float32, not packed uint8 bits; a float16 .npy as float16."""
    (tmp_path / "empty.txt").write_text("")
    out = encode_files(model, [str(tmp_path / "empty.txt")], tmp_path / "bits", precision="binary", progress=False)
    vectors, _ = read_embeddings(out)
    assert vectors.shape == (0, (model.dim + 7) // 8) and vectors.dtype == np.uint8
    (tmp_path / "two.txt").write_text("a b\nc d\n")
    out = encode_files(model, [str(tmp_path / "two.txt")], tmp_path / "half.npy", precision="float16",
                       progress=False)
    vectors, _ = read_embeddings(out)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, model.encode(["a b", "c d"]), atol=1e-3)


@pytest.mark.parametrize("first, second", [
    (pa.array(["a", "b"]), pa.array(["a", "b"]).dictionary_encode()),  # a pandas category column
    (pa.array(["a", "b"]).dictionary_encode(), pa.array(["c", "d"])),
    (pa.array(["a", "b"]), pa.array([None, None], type=pa.null())),  # an optional column left empty
    (pa.array([1.5, 2.5], type=pa.float32()), pa.array([3.5, 4.5], type=pa.float64())),
    (pa.array([[1], [2]], type=pa.list_(pa.int32())), pa.array([[3], [4]], type=pa.list_(pa.int64()))),
    (pa.array([1, 2], type=pa.int32()), pa.array([3, 4], type=pa.int64())),
    # The first file's type was the part's: nulls only, then numbers ("Unsupported cast from int64 to null"),
    # or narrow integers, then wider ones ("Integer value 1000 not in range: -128 to 127").
    (pa.array([None, None], type=pa.null()), pa.array([3, 4], type=pa.int64())),
    (pa.array([1, 2], type=pa.int8()), pa.array([1000, -70000], type=pa.int32())),
    (pa.array([1, 2], type=pa.uint8()), pa.array([-1, 300], type=pa.int16())),
    (pa.array([1.5, 2.5], type=pa.float16()), pa.array([1e300, 4.5], type=pa.float64())),
])
def test_kept_columns_of_one_kind_are_cast_across_inputs(tmp_path, model, first, second):
    """Within a kind the values take the widest type of the inputs and are kept (the first check refused
    these, and then a wider type after the first file)."""
    for name, values in (("k1", first), ("k2", second)):
        pq.write_table(pa.table({"text": ["a b", "c d"], "k": values}), tmp_path / f"{name}.parquet")
    out = encode_files(model, [str(tmp_path / "k1.parquet"), str(tmp_path / "k2.parquet")], tmp_path / "out",
                       keep=["k"], progress=False)
    kept = pq.read_table(out).column("k").to_pylist()
    want = [*first.to_pylist(), *second.to_pylist()]
    assert kept == want


def test_stdin_by_name_once_and_a_redirected_file_read_as_that_file(tmp_path, model):
    with pytest.raises(InvalidInputError, match="stdin is named twice"):
        encode_files(model, ["-", "-"], tmp_path / "twice", progress=False)
    pq.write_table(pa.table({"text": ["a b", "c d"]}), tmp_path / "in.parquet")
    script = ("import sys; from staticemb.bulk import encode_files; from staticemb import StaticModel; "
              f"encode_files(StaticModel.from_pretrained({str(MODEL)!r}), ['/dev/stdin'], sys.argv[1], "
              "progress=False)")
    with open(tmp_path / "in.parquet", "rb") as stdin:  # a Parquet file on stdin: read as that file
        proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "out")], stdin=stdin,
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(read_embeddings(tmp_path / "out")[0], model.encode(["a b", "c d"]))


def test_an_output_where_an_input_pattern_reads_is_refused(tmp_path, model):
    (tmp_path / "data").mkdir()
    pq.write_table(pa.table({"text": ["a b"]}), tmp_path / "data" / "x.parquet")
    pattern = str(tmp_path / "data" / "**" / "*.parquet")
    with pytest.raises(InvalidInputError, match="lies where the input"):
        encode_files(model, [pattern], tmp_path / "data" / "out", progress=False)
    out = encode_files(model, [str(tmp_path / "data" / "*.txt"), pattern][1:], tmp_path / "elsewhere",
                       progress=False)  # outside the pattern's folder: written
    assert read_embeddings(out)[0].shape == (1, model.dim)


def test_a_resume_after_the_model_folder_changed_is_refused(tmp_path, model, monkeypatch):
    # The run was identified by the model's path alone: a model put at the same path between an interruption
    # and the resume wrote the rest of the rows, and the output was marked complete with two models' vectors.
    import shutil

    files = write_inputs(tmp_path / "in")
    folder = Path(shutil.copytree(MODEL, tmp_path / "model"))
    real = _interrupt_encode_at(monkeypatch, 3)
    args = dict(batch_rows=20, rows_per_part=20, progress=False)
    with pytest.raises(KeyboardInterrupt):
        encode_files(str(folder), [str(files[".txt"])], tmp_path / "out", **args)
    monkeypatch.setattr(StaticModel, "encode", real)
    other = StaticModel(model.tokenizer, np.asarray(model.embeddings)[:, ::-1].copy(), normalize=model.normalize)
    other.save(folder, overwrite=True)  # another model at the same path, same shape and options
    with pytest.raises(InvalidInputError, match="holds the output of another model"):
        encode_files(str(folder), [str(files[".txt"])], tmp_path / "out", **args)
    # The first model put back (saved anew: its files are laid out otherwise) resumes the run.
    model.save(folder, overwrite=True)
    encode_files(str(folder), [str(files[".txt"])], tmp_path / "out", **args)
    np.testing.assert_array_equal(read_embeddings(tmp_path / "out")[0], model.encode(TEXTS))


def test_a_second_run_into_an_output_being_written_is_refused(tmp_path, model, monkeypatch):
    # Two runs at once: the second took the first's part in progress for a killed run's and deleted it.
    files = write_inputs(tmp_path / "in")
    real = StaticModel.encode
    seen = []

    def second_run_meanwhile(self, *args, **kwargs):
        if not seen:
            with pytest.raises(InvalidInputError, match="another run is writing .*out now"):
                encode_files(model, [str(files[".txt"])], tmp_path / "out", progress=False)
            seen.append(True)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(StaticModel, "encode", second_run_meanwhile)
    encode_files(model, [str(files[".txt"])], tmp_path / "out", batch_rows=20, rows_per_part=20, progress=False)
    assert seen
    monkeypatch.setattr(StaticModel, "encode", real)
    np.testing.assert_array_equal(read_embeddings(tmp_path / "out")[0], model.encode(TEXTS))
    # The lock went with the run: the same command again finds its output complete.
    encode_files(model, [str(files[".txt"])], tmp_path / "out", batch_rows=20, rows_per_part=20, progress=False)


def test_a_complete_output_missing_a_part_is_an_error_not_a_short_read(tmp_path, model):
    files = write_inputs(tmp_path / "in")
    args = dict(batch_rows=20, rows_per_part=30, progress=False)
    encode_files(model, [str(files[".txt"])], tmp_path / "out", **args)
    (tmp_path / "out" / "part-00001.parquet").unlink()
    with pytest.raises(InvalidInputError, match="part part-00001.parquet is missing"):
        read_embeddings(tmp_path / "out")
    with pytest.raises(InvalidInputError, match="part part-00001.parquet is missing"):
        encode_files(model, [str(files[".txt"])], tmp_path / "out", **args)  # a rerun said "done"
    encode_files(model, [str(files[".txt"])], tmp_path / "out2", **args)
    sorted((tmp_path / "out2").glob("part-*.parquet"))[-1].unlink()  # the numbering holds, the rows do not
    with pytest.raises(InvalidInputError, match=f"its parts hold .* rows, its manifest says {len(TEXTS):,}"):
        read_embeddings(tmp_path / "out2")


def test_sigterm_stops_a_run_as_ctrl_c_does(tmp_path, model):
    # SIGTERM (timeout, a scheduler) killed the process where it stood: a run stopped before its first part left
    # a manifest and a part in progress, and the corrected command was refused as "a different run".
    cmd, lines, out, proc = _stopped_run(tmp_path, ["--batch-rows", "100"],
                                         lambda out: list(out.glob(".*inprogress")), signal.SIGTERM)
    assert proc.returncode == 143, proc.err
    assert proc.err.strip().endswith("staticemb encode: terminated"), proc.err
    assert not out.exists()  # nothing finished: nothing left
    done = subprocess.run([*cmd, "--dim", "8"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(read_embeddings(out)[0], model.encode(lines, dim=8))


def test_damaged_parquet_inputs_are_refused_naming_the_file(tmp_path, model):
    # Strings that are not UTF-8 were an anonymous UnicodeDecodeError (text column) or copied into the output,
    # which then could not be read back (kept column); a damaged data page was an error naming no file.
    bad = lambda xs: pa.array(xs, pa.binary()).view(pa.string())  # noqa: E731
    pq.write_table(pa.table({"text": bad([b"ok", b"bad \xff", b"fine"])}), tmp_path / "text.parquet")
    pq.write_table(pa.table({"text": ["a", "b", "c"], "id": bad([b"x", b"\xff", b"z"])}), tmp_path / "id.parquet")
    with pytest.raises(InvalidInputError, match=r"text\.parquet: column 'text' holds text that is not UTF-8"):
        encode_files(model, [str(tmp_path / "text.parquet")], tmp_path / "o1", progress=False)
    with pytest.raises(InvalidInputError, match=r"id\.parquet: column 'id' holds text that is not UTF-8"):
        encode_files(model, [str(tmp_path / "id.parquet")], tmp_path / "o2", keep=["id"], progress=False)
    pq.write_table(pa.table({"text": TEXTS * 50}), tmp_path / "page.parquet", compression="snappy")
    raw = bytearray((tmp_path / "page.parquet").read_bytes())
    raw[200:260] = b"\x00" * 60  # inside the first data page
    (tmp_path / "page.parquet").write_bytes(bytes(raw))
    with pytest.raises(InvalidInputError, match=r"page\.parquet: "):
        encode_files(model, [str(tmp_path / "page.parquet")], tmp_path / "o3", progress=False)


def test_inputs_and_keep_are_lists_not_strings(tmp_path, model):
    # A str was taken as a list of one-letter names ("t: no such file or folder", "has no field 'i'"), and no
    # inputs at all wrote an empty output marked complete.
    files = write_inputs(tmp_path / "in")
    with pytest.raises(TypeError, match="inputs must be a list of files, not a single str"):
        encode_files(model, str(files[".jsonl"]), tmp_path / "o", progress=False)
    with pytest.raises(TypeError, match="inputs must be a list of files, not a single PosixPath"):
        encode_files(model, files[".jsonl"], tmp_path / "o", progress=False)
    with pytest.raises(TypeError, match="keep must be a list of column names, not a single str"):
        encode_files(model, [str(files[".jsonl"])], tmp_path / "o", column="body", keep="id", progress=False)
    with pytest.raises(InvalidInputError, match="inputs is empty"):
        encode_files(model, [], tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists()
    encode_files(model, [files[".jsonl"]], tmp_path / "o", column="body", keep=["id"], progress=False)  # a Path
    assert read_embeddings(tmp_path / "o")[1].column("id").to_pylist()[:2] == ["doc-0", "doc-1"]


def test_an_input_that_cannot_give_its_columns_is_refused_before_any_encoding(tmp_path, model, monkeypatch):
    # `--keep id` over a Parquet file without it, or a text file, was refused only on reaching that file, after
    # encoding every file before it (and the rerun without it was then refused as another run).
    files = write_inputs(tmp_path / "in")
    pq.write_table(pa.table({"body": ["x", "y"]}), tmp_path / "noid.parquet")
    (tmp_path / "noid.csv").write_text("body\nx\n", encoding="utf-8")
    encoded = []
    real = StaticModel.encode
    monkeypatch.setattr(StaticModel, "encode", lambda self, *a, **k: encoded.append(1) or real(self, *a, **k))
    for late, message in ((tmp_path / "noid.parquet", r"noid\.parquet: no column 'id'"),
                          (tmp_path / "noid.csv", r"noid\.csv: no column 'id'"),
                          (files[".txt"], r"a\.txt: a text file has no columns to --keep")):
        with pytest.raises(InvalidInputError, match=message):
            encode_files(model, [str(files[".parquet"]), str(late)], tmp_path / "out", column="body", keep=["id"],
                         progress=False)
        assert not encoded and not (tmp_path / "out").exists()


def test_a_failed_command_leaves_no_folders_made_for_its_output(tmp_path):
    # The output's parent folders were made before the inputs and the model were checked, and stayed.
    out = tmp_path / "new" / "sub" / "out"
    done = _cli(str(MODEL), str(tmp_path / "missing.txt"), "-o", str(out), "-q")
    assert done.returncode != 0 and "missing.txt: no such file or folder" in done.stderr
    assert sorted(os.listdir(tmp_path)) == []
    (tmp_path / "a.txt").write_text("one\ntwo\n", encoding="utf-8")
    done = _cli(str(MODEL), str(tmp_path / "a.txt"), "-o", str(out), "-q")
    assert done.returncode == 0, done.stderr
    assert read_embeddings(out)[0].shape[0] == 2


def test_a_dangling_symlink_as_the_output_is_refused_clearly(tmp_path, model):
    files = write_inputs(tmp_path / "in")
    (tmp_path / "out").symlink_to(tmp_path / "nowhere")
    with pytest.raises(InvalidInputError, match=r"out is a symlink to .*nowhere, which does not exist"):
        encode_files(model, [str(files[".txt"])], tmp_path / "out", progress=False)  # was [Errno 17] File exists
    (tmp_path / "nowhere").mkdir()
    encode_files(model, [str(files[".txt"])], tmp_path / "out", progress=False)  # through the link
    np.testing.assert_array_equal(read_embeddings(tmp_path / "nowhere")[0], model.encode(TEXTS))


def test_a_folder_input_leaves_out_hidden_names(tmp_path, model):
    # A notebook's .ipynb_checkpoints/ copy (and .git/) under an input folder were read: its rows came twice.
    folder = tmp_path / "in"
    (folder / ".ipynb_checkpoints").mkdir(parents=True)
    (folder / "a.txt").write_text("one\ntwo\n", encoding="utf-8")
    (folder / ".ipynb_checkpoints" / "a-checkpoint.txt").write_text("one\ntwo\n", encoding="utf-8")
    (folder / ".notes.txt").write_text("three\n", encoding="utf-8")
    encode_files(model, [str(folder)], tmp_path / "out", progress=False)
    np.testing.assert_array_equal(read_embeddings(tmp_path / "out")[0], model.encode(["one", "two"]))
    # Named, or matched by a pattern, a hidden file is read.
    encode_files(model, [str(folder / ".notes.txt"), str(folder / ".ipynb_checkpoints" / "*.txt")], tmp_path / "o2",
                 progress=False)
    np.testing.assert_array_equal(read_embeddings(tmp_path / "o2")[0], model.encode(["three", "one", "two"]))
