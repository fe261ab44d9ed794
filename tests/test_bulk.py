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
    pyarrow.csv.write_csv(table, folder / "d.tsv", write_options=pyarrow.csv.WriteOptions(delimiter="\t"))
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
    np.testing.assert_array_equal(vectors, model.encode(TEXTS))
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


def test_an_interrupted_run_resumes_and_gives_the_same_output(tmp_path, model, monkeypatch):
    files = write_inputs(tmp_path / "in")
    calls = {"n": 0}
    real = StaticModel.encode

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(StaticModel, "encode", flaky)
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


def test_a_killed_run_resumes(tmp_path, model):
    big = tmp_path / "big.txt"
    lines = TEXTS * 400
    big.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "staticemb", "encode", str(MODEL), str(big), "-o", str(out), "-q",
           "--batch-rows", "500", "--rows-per-part", "2000", "--num-threads", "1"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (out / "part-00001.parquet").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
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
        ((str(MODEL), str(files[".txt"]), "-o", str(files[".txt"])), "is a file, not a folder"),
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
