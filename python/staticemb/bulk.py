"""Whole corpora from files to vectors: :func:`encode_files` and ``staticemb encode``.

    staticemb encode MODEL INPUT... --output OUT [--column text] [--keep id ...] [--dim 256]
        [--precision float32|float16|int8|binary] [--num-threads N] [--rows-per-part 1000000]

Inputs are text files (one text per line), JSONL (``--column``, default ``text``), CSV / TSV (a column, with a
header row), Parquet (a string column), folders or glob patterns of those, or ``-`` for stdin (lines, or JSONL
with ``--format jsonl``). They are read as a stream, ``batch_rows`` texts at a time, so memory stays bounded
whatever the input size.

The output is a folder of Parquet parts (``part-00000.parquet``, …, ``rows_per_part`` rows each) or, for an
``OUT`` ending in ``.npy``, one NumPy array assembled from such parts at the end (the parts stay in
``OUT.npy.parts/``, the run's resume state, so a ``.npy`` output takes twice the disk until that folder is
deleted). Each Parquet row holds
``row`` (the text's position in the whole input, from 0), the ``--keep`` columns carried over, and
``embedding``:

=============  ==========================================  =====================================
precision      ``embedding`` column                        bytes per 256-d vector
=============  ==========================================  =====================================
``float32``    ``FixedSizeList<float32, dim>``             1,024
``float16``    ``FixedSizeList<float16, dim>``             512
``int8``       ``FixedSizeList<int8, dim>`` + ``scale``    260 (vector = ``scale * int8``)
``binary``     ``FixedSizeList<uint8, dim / 8>``           32 (bit set where the value is > 0)
=============  ==========================================  =====================================

A part is written under a temporary name and renamed when complete, so an interrupted run (Ctrl-C, a kill, a
full disk) never leaves a part that looks finished; running the same command again keeps the finished parts
and goes on after them. ``_staticemb.json`` in the output folder records the model, its revision, the inputs and
the options (also stored in every part's Parquet metadata); a run with other options refuses to mix with it.
:func:`read_embeddings` reads an output back as NumPy.
"""

from __future__ import annotations

import glob
import json
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import _inputs
from .errors import InvalidInputError

__all__ = ["encode_files", "read_embeddings", "BULK_PRECISIONS", "INPUT_FORMATS"]

BULK_PRECISIONS = ("float32", "float16", "int8", "binary")
INPUT_FORMATS = {".txt": "text", ".text": "text", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv",
                 ".tsv": "tsv", ".parquet": "parquet"}
MANIFEST = "_staticemb.json"
_PART = "part-{:05d}.parquet"


@dataclass
class RunInfo:
    """What an output records of the run that made it; a resumed run must match it."""

    model: str
    revision: str | None
    inputs: list[str]
    column: str
    keep: list[str]
    format: str | None
    dim: int
    precision: str
    normalize: bool
    rows_per_part: int
    staticemb_version: str
    complete: bool = False
    rows: int | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def same_run(self, other: RunInfo) -> list[str]:
        """The fields (other than progress) in which two runs differ."""
        skip = {"complete", "rows", "staticemb_version"}
        mine, theirs = asdict(self), asdict(other)
        return [k for k in mine if k not in skip and mine[k] != theirs[k]]


# ------------------------------------------------------------------------------------------------ inputs


def reads(folder: Path, path: Path, any_file: bool) -> bool:
    """Whether :func:`expand_inputs` takes the file ``path`` (under ``folder``) when given ``folder``: one of
    the :data:`INPUT_FORMATS` types, or with ``any_file`` any file not under a hidden folder."""
    if any_file:
        return not any(part.startswith(".") for part in path.relative_to(folder).parts)
    return path.suffix.lower() in INPUT_FORMATS


def expand_inputs(specs: Sequence[str], fmt: str | None = None, *, any_file: bool = False) -> list[str]:
    """Files named by ``specs`` (files, folders searched recursively, glob patterns, ``-`` for stdin), in
    order, folders and patterns sorted. A name that matches nothing raises :class:`FileNotFoundError`. A folder
    gives its files of the :data:`INPUT_FORMATS` types, or with ``any_file`` every file not under a hidden
    (dot) name, and then the names' types are not checked."""
    files: list[str] = []
    for spec in specs:
        if spec == "-":
            files.append("-")
            continue
        path = Path(spec).expanduser()
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.is_file() and reads(path, p, any_file))
            if not found:
                raise FileNotFoundError(f"{spec}: no {'' if any_file else ', '.join(INPUT_FORMATS) + ' '}files in "
                                        "this folder")
            files.extend(found)
        elif path.is_file():
            files.append(str(path))
        elif glob.has_magic(spec):
            found = sorted(p for p in glob.glob(os.path.expanduser(spec), recursive=True) if os.path.isfile(p))
            if not found:
                raise FileNotFoundError(f"{spec}: no file matches this pattern")
            files.extend(found)
        else:
            raise FileNotFoundError(f"{spec}: no such file or folder")
    if not any_file:
        for f in files:
            _format_of(f, fmt)
    return files


def _format_of(path: str, fmt: str | None) -> str:
    if fmt is not None:
        return fmt
    if path == "-":
        return "text"
    kind = INPUT_FORMATS.get(Path(path).suffix.lower())
    if kind is None:
        raise InvalidInputError(
            f"{path}: unknown input type {Path(path).suffix!r}; name it {', '.join(INPUT_FORMATS)} or pass --format"
        )
    return kind


def _lines(path: str) -> Iterator[tuple[int, bytes]]:
    stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 - closed below
    try:
        for n, raw in enumerate(stream, 1):
            yield n, raw.rstrip(b"\n").rstrip(b"\r")
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _decode(path: str, n: int, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidInputError(f"{path}:{n}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def json_object(path: str, n: int, line: str) -> dict[str, Any]:
    """Line ``n`` of the JSONL file ``path`` as a JSON object, or :class:`InvalidInputError` naming the line."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise InvalidInputError(f"{path}:{n}: not a JSON line ({e.msg})") from None
    if not isinstance(obj, dict):
        raise InvalidInputError(f"{path}:{n}: a JSON line must be an object, got {type(obj).__name__}")
    return obj


def _text_batches(path: str, fmt: str, column: str, keep: list[str], rows: int) -> Iterator[tuple[list, dict]]:
    texts: list[str] = []
    carried: dict[str, list] = {k: [] for k in keep}
    for n, raw in _lines(path):
        line = _decode(path, n, raw)
        if fmt == "text":
            texts.append(line)
        else:
            if not line.strip():
                continue
            obj = json_object(path, n, line)
            text = obj.get(column)
            if not isinstance(text, str):
                what = "has no field" if column not in obj else f"has a {type(text).__name__} in field"
                raise InvalidInputError(
                    f"{path}:{n}: {what} {column!r} (its fields: {', '.join(map(str, obj)) or 'none'}); "
                    "choose the text field with --column"
                )
            texts.append(text)
            for k in keep:
                value = obj.get(k)
                carried[k].append(value if value is None or isinstance(value, str) else json.dumps(value))
        if len(texts) >= rows:
            yield texts, carried
            texts, carried = [], {k: [] for k in keep}
    if texts:
        yield texts, carried


def _arrow_batches(path: str, fmt: str, column: str, keep: list[str], rows: int) -> Iterator[tuple[list, dict]]:
    import pyarrow as pa

    wanted = [column, *[k for k in keep if k != column]]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            source = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as e:
            raise InvalidInputError(f"{path}: not a readable Parquet file ({e})") from None
        names = source.schema_arrow.names
        _check_columns(path, names, wanted)
        if not pa.types.is_string(source.schema_arrow.field(column).type) and not pa.types.is_large_string(
            source.schema_arrow.field(column).type
        ):
            raise InvalidInputError(
                f"{path}: column {column!r} holds {source.schema_arrow.field(column).type}, not text"
            )
        batches: Iterator[Any] = source.iter_batches(batch_size=rows, columns=wanted)
    else:
        from pyarrow import csv

        parse = csv.ParseOptions(delimiter="\t" if fmt == "tsv" else ",", newlines_in_values=True)
        try:
            with csv.open_csv(path, parse_options=parse) as probe:
                names = probe.schema.names
        except pa.ArrowInvalid as e:
            raise InvalidInputError(f"{path}: not readable as {fmt.upper()} ({e})") from None
        _check_columns(path, names, wanted)
        convert = csv.ConvertOptions(include_columns=wanted, column_types={k: pa.string() for k in wanted},
                                     strings_can_be_null=False)
        batches = csv.open_csv(path, parse_options=parse, convert_options=convert,
                               read_options=csv.ReadOptions(block_size=1 << 24))
    done = 0
    try:
        for batch in batches:
            texts = batch.column(column).to_pylist()
            if None in texts:
                bad = done + texts.index(None)
                raise InvalidInputError(f"{path}: row {bad} has no text (null) in column {column!r}")
            carried = {k: batch.column(k) for k in keep}
            for start in range(0, len(texts), rows):
                yield texts[start : start + rows], {k: v.slice(start, rows) for k, v in carried.items()}
            done += len(texts)
    except pa.ArrowInvalid as e:
        raise InvalidInputError(f"{path}: {e}") from None


def _check_columns(path: str, names: list[str], wanted: list[str]) -> None:
    missing = [c for c in wanted if c not in names]
    if missing:
        raise InvalidInputError(
            f"{path}: no column {', '.join(map(repr, missing))} (its columns: {', '.join(names)}); "
            "choose with --column / --keep"
        )


def read_batches(files: Sequence[str], *, fmt: str | None, column: str, keep: list[str], rows: int
                 ) -> Iterator[tuple[list[str], dict[str, Any]]]:
    """``(texts, carried columns)`` batches of at most ``rows`` texts, over every file in order."""
    for path in files:
        kind = _format_of(path, fmt)
        if kind in ("text", "jsonl"):
            if kind == "text" and keep:
                raise InvalidInputError(f"{path}: a text file has no columns to --keep")
            yield from _text_batches(path, kind, column, keep, rows)
        else:
            if path == "-":
                raise InvalidInputError(f"stdin can be read as text lines or JSONL, not {kind}")
            yield from _arrow_batches(path, kind, column, keep, rows)


# ------------------------------------------------------------------------------------------------ outputs


def _embedding_columns(vectors: np.ndarray, precision: str) -> dict[str, Any]:
    import pyarrow as pa

    def fixed(values: np.ndarray) -> Any:
        return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1])

    if precision == "float32":
        return {"embedding": fixed(vectors)}
    if precision == "float16":
        return {"embedding": fixed(vectors.astype(np.float16))}
    if precision == "int8":
        peak = np.abs(vectors).max(axis=1)
        scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
        q = np.clip(np.rint(vectors / scale[:, None]), -127, 127).astype(np.int8)
        return {"embedding": fixed(q), "scale": pa.array(scale)}
    return {"embedding": fixed(np.packbits(vectors > 0, axis=1))}


class _Parts:
    """The output folder: finished parts, the one being written (under a temporary name), the manifest."""

    def __init__(self, folder: Path, info: RunInfo) -> None:
        self.folder, self.info = folder, info
        self.writer: Any = None
        self.rows_in_part = 0
        self.index = 0
        self.schema: Any = None

    def finished(self) -> list[Path]:
        for stale in self.folder.glob(".part-*.inprogress"):  # a part a killed run never finished
            stale.unlink()
        parts = sorted(self.folder.glob("part-*.parquet"))
        for i, p in enumerate(parts):
            if p.name != _PART.format(i):
                raise InvalidInputError(f"{self.folder}: parts are not numbered 0, 1, 2, …: {p.name} is out of place")
        return parts

    def write(self, table: Any) -> None:
        import pyarrow.parquet as pq

        while table.num_rows:
            if self.writer is None:
                meta = {b"staticemb": json.dumps(asdict(self.info)).encode()}
                self.schema = self.schema or table.schema.with_metadata(meta)
                self.tmp = self.folder / f".{_PART.format(self.index)}.inprogress"
                # Vectors neither repeat nor have useful min/max: dictionary encoding and statistics only for
                # the other columns (together they cost more than the encoding itself).
                plain = [name for name in self.schema.names if name not in ("embedding", "scale")]
                self.writer = pq.ParquetWriter(self.tmp, self.schema, use_dictionary=plain, write_statistics=plain)
            take = min(table.num_rows, self.info.rows_per_part - self.rows_in_part)
            self.writer.write_table(table.slice(0, take).cast(self.schema))
            self.rows_in_part += take
            table = table.slice(take)
            if self.rows_in_part == self.info.rows_per_part:
                self.close_part()

    def close_part(self) -> None:
        if self.writer is None:
            return
        self.writer.close()
        self.writer = None
        with open(self.tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(self.tmp, self.folder / _PART.format(self.index))
        self.index += 1
        self.rows_in_part = 0

    def abandon(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            finally:
                self.writer = None
                Path(self.tmp).unlink(missing_ok=True)

    def save_manifest(self) -> None:
        tmp = self.folder / f".{MANIFEST}.tmp"
        tmp.write_text(json.dumps(asdict(self.info), indent=1), encoding="utf-8")
        os.replace(tmp, self.folder / MANIFEST)


def encode_files(
    model: Any,
    inputs: Sequence[str],
    output: str | os.PathLike,
    *,
    column: str = "text",
    keep: Sequence[str] = (),
    format: str | None = None,
    dim: int | None = None,
    precision: str = "float32",
    normalize: bool | None = None,
    num_threads: int | None = None,
    batch_rows: int = 50_000,
    rows_per_part: int = 1_000_000,
    progress: bool = True,
) -> Path:
    """Embed every text of ``inputs`` into ``output`` (a folder of Parquet parts, or a ``.npy`` file), streaming;
    see the module documentation. ``model`` is a :class:`~staticemb.StaticModel` or a folder / Hub id.
    Resumes an interrupted run of the same command. Returns the output path."""
    from tqdm.auto import tqdm

    from .model import StaticModel

    if precision not in BULK_PRECISIONS:
        raise InvalidInputError(f"precision must be one of {', '.join(BULK_PRECISIONS)}, got {precision!r}")
    if format is not None and format not in set(INPUT_FORMATS.values()):
        raise InvalidInputError(f"format must be one of {', '.join(sorted(set(INPUT_FORMATS.values())))}")
    reserved = sorted({"row", "embedding", "scale"} & set(keep))
    if reserved:
        raise InvalidInputError(f"--keep {reserved[0]}: the output's own columns are row, embedding and scale; "
                                "rename that input column")
    batch_rows = _inputs.count("batch_rows", batch_rows) or 50_000
    rows_per_part = _inputs.count("rows_per_part", rows_per_part) or 1_000_000
    loaded = model if isinstance(model, StaticModel) else StaticModel.from_pretrained(model)
    spec = str(loaded._info.get("base_model") or loaded._info.get("source") or "in-memory model")
    if not isinstance(model, StaticModel):
        spec = os.fspath(model)
    width = _inputs.dim(dim, full=loaded.full_dim, default=loaded.dim)
    norm = _inputs.flag("normalize", normalize, default=loaded.normalize)
    files = expand_inputs(inputs, format)
    out = Path(output).expanduser()
    npy = out.suffix == ".npy"
    if npy and precision == "int8":
        raise InvalidInputError("int8 vectors need their per-row scales: write Parquet (an output folder)")
    folder = out.with_name(out.name + ".parts") if npy else out
    if folder.exists() and not folder.is_dir():
        raise InvalidInputError(f"{folder} is a file, not an output folder")
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    from . import __version__

    info = RunInfo(model=spec, revision=loaded._info.get("revision"), inputs=[os.path.abspath(f) if f != "-" else f
                   for f in files], column=column, keep=list(keep), format=format, dim=width, precision=precision,
                   normalize=norm, rows_per_part=rows_per_part, staticemb_version=__version__)
    parts = _Parts(folder, info)
    manifest = folder / MANIFEST
    fresh = not manifest.exists()
    if manifest.exists():
        try:
            before = RunInfo(**json.loads(manifest.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as e:
            raise InvalidInputError(f"{manifest} is not a staticemb manifest ({e}); use another output") from None
        differs = before.same_run(info)
        if differs:
            raise InvalidInputError(
                f"{folder} holds the output of a different run ({', '.join(differs)} differ); "
                "use another output, or delete it"
            )
        if "-" in files:  # its rows cannot be read again to resume, nor compared to tell a new input
            raise InvalidInputError(f"{folder} holds an earlier run, and a run reading stdin cannot resume or "
                                    "repeat one: use another output")
        info.complete, info.rows = before.complete, before.rows
    elif any(folder.iterdir()):
        raise InvalidInputError(f"{folder} is not empty and holds no staticemb output; use another output")
    if not info.complete:
        import pyarrow.parquet as pq

        done_parts = parts.finished()
        parts.index = len(done_parts)
        # The rows the finished parts hold (the last may be short: a run stopped after closing it).
        skip = sum(pq.ParquetFile(p).metadata.num_rows for p in done_parts)
        parts.save_manifest()
        row = 0
        bar = tqdm(disable=not progress, unit=" texts", desc="encode", unit_scale=True, initial=skip)
        # One thread writes batch k (pyarrow releases the GIL) while the next batch is read and encoded; the
        # parts still get their rows in order, one write at a time.
        writer = ThreadPoolExecutor(1, thread_name_prefix="staticemb-write")
        pending: Future | None = None
        try:
            for texts, carried in read_batches(files, fmt=format, column=column, keep=list(keep), rows=batch_rows):
                n = len(texts)
                if row + n <= skip:
                    row += n
                    continue
                cut = max(0, skip - row)
                texts = texts[cut:]
                vectors = loaded.encode(texts, dim=width, normalize=norm, num_threads=num_threads,
                                        batch_size=batch_rows)
                table = _table(row + cut, vectors, precision, {k: v[cut:] for k, v in carried.items()})
                if pending is not None:
                    pending.result()
                pending = writer.submit(parts.write, table)
                row += n
                bar.update(len(texts))
            if pending is not None:
                pending.result()
                pending = None
            parts.close_part()
        except BaseException:
            if pending is not None:
                wait([pending])  # the writer finishes its table before the part is abandoned
            parts.abandon()
            if fresh and parts.index == 0:  # nothing finished: leave no trace that a corrected run would trip on
                manifest.unlink(missing_ok=True)
                if created and not any(folder.iterdir()):
                    folder.rmdir()
            raise
        finally:
            writer.shutdown(wait=True)
            bar.close()
        if row < skip:
            raise InvalidInputError(
                f"{folder} already holds {skip:,} rows but the inputs have {row:,}: the inputs changed"
            )
        info.complete, info.rows = True, row
        parts.save_manifest()
    if npy:
        _assemble_npy(folder, out, info)
    return out


def _table(first_row: int, vectors: np.ndarray, precision: str, carried: dict[str, Any]) -> Any:
    import pyarrow as pa

    columns: dict[str, Any] = {"row": pa.array(np.arange(first_row, first_row + len(vectors), dtype=np.int64))}
    for k, v in carried.items():
        columns[k] = v if isinstance(v, (pa.Array, pa.ChunkedArray)) else pa.array(v, type=pa.string())
    columns.update(_embedding_columns(vectors, precision))
    return pa.table(columns)


def _assemble_npy(folder: Path, out: Path, info: RunInfo) -> None:
    import pyarrow.parquet as pq

    dtype = {"float32": np.float32, "float16": np.float16, "binary": np.uint8}[info.precision]
    width = info.dim if info.precision != "binary" else (info.dim + 7) // 8
    tmp = out.with_name(f".{out.name}.inprogress")
    array = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=(info.rows or 0, width))
    at = 0
    for part in sorted(folder.glob("part-*.parquet")):
        values = _fixed_values(pq.read_table(part, columns=["embedding"]).column("embedding"), width)
        array[at : at + len(values)] = values
        at += len(values)
    array.flush()
    del array
    os.replace(tmp, out)


def _fixed_values(column: Any, width: int) -> np.ndarray:
    chunks = [c.values.to_numpy(zero_copy_only=False).reshape(-1, width) for c in column.chunks]
    return np.concatenate(chunks) if chunks else np.zeros((0, width))


def read_embeddings(path: str | os.PathLike) -> tuple[np.ndarray, Any]:
    """An output of :func:`encode_files` as ``(vectors, table)``: float32 vectors (int8 scaled back, float16
    widened; binary outputs as their packed ``uint8`` bits) in row order, and the other columns as a
    ``pyarrow.Table`` (``None`` for a ``.npy`` output)."""
    import pyarrow.parquet as pq

    p = Path(path)
    if p.suffix == ".npy":
        return np.load(p, mmap_mode="r"), None
    info = RunInfo(**json.loads((p / MANIFEST).read_text(encoding="utf-8")))
    if not info.complete:
        raise InvalidInputError(f"{p} is an unfinished run: run the same command again to complete it")
    import pyarrow as pa

    parts = sorted(p.glob("part-*.parquet"))
    if not parts:
        return np.zeros((0, info.dim), np.float32), None
    table = pa.concat_tables([pq.read_table(part) for part in parts])
    width = info.dim if info.precision != "binary" else (info.dim + 7) // 8
    vectors = _fixed_values(table.column("embedding"), width)
    if info.precision == "int8":
        vectors = vectors.astype(np.float32) * table.column("scale").to_numpy()[:, None]
    elif info.precision != "binary":
        vectors = vectors.astype(np.float32)
    others = [c for c in table.column_names if c not in ("embedding", "scale")]
    return vectors, table.select(others)
