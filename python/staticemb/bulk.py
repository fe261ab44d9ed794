"""Whole corpora from files to vectors: :func:`encode_files` and ``staticemb encode``.

    staticemb encode MODEL INPUT... --output OUT [--column text] [--keep id[,title]] [--keep COL] [--dim 256]
        [--precision float32|float16|int8|binary] [--num-threads N] [--rows-per-part 1000000]

Inputs are text files (one text per line), JSONL (``--column``, default ``text``), CSV / TSV (a column, with a
header row; CSV values may be quoted, TSV has no quoting), Parquet (a string column), folders or glob patterns of
those, ``-`` for stdin, or a named pipe such as ``<(zcat corpus.txt.gz)`` (streams: lines, or JSONL with
``--format jsonl``). They are read as a stream, ``batch_rows`` texts at a time, so memory stays bounded
whatever the input size. Each ``--keep`` column must be in every row (a JSONL line without it is refused).

The output is a folder of Parquet parts (``part-00000.parquet``, …, ``rows_per_part`` rows each; any name, such
as ``OUT`` or ``OUT.parquet``, but not one of another file type such as ``OUT.csv``) or, for an ``OUT`` ending in
``.npy`` (any case), one NumPy array assembled from such parts at the end (the parts stay in
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
the options (also stored in every part's Parquet metadata), and each input file's size and modification time:
a run with other options refuses to mix with it, and a run whose inputs changed since refuses to resume or
repeat it (stdin and other streams cannot be read again: a run reading one never resumes). A ``.npy`` output is
written only over an earlier ``.npy`` of the same run. :func:`read_embeddings` reads an output back as NumPy.
"""

from __future__ import annotations

import errno
import fnmatch
import glob
import hashlib
import json
import os
import stat
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import _inputs, _io
from .errors import InvalidInputError

__all__ = ["encode_files", "read_embeddings", "BULK_PRECISIONS", "INPUT_FORMATS"]

BULK_PRECISIONS = ("float32", "float16", "int8", "binary")
INPUT_FORMATS = {".txt": "text", ".text": "text", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv",
                 ".tsv": "tsv", ".parquet": "parquet"}
MANIFEST = "_staticemb.json"
_PART = "part-{:05d}.parquet"
# Names that say "a file of this type": an output named so would have become a folder of Parquet parts.
_FILE_SUFFIXES = (".txt", ".text", ".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".npz", ".pt", ".pth", ".pkl",
                  ".pickle", ".h5", ".hdf5", ".arrow", ".feather", ".safetensors", ".bin", ".gz", ".zip", ".tar")


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
    # What identifies each input's content (see _stamp), None for stdin and other streams; empty in outputs of
    # staticemb versions that did not record it.
    input_files: list[dict[str, int] | None] = field(default_factory=list)
    # A digest of what the model computes with (model_fingerprint): the same path may hold another model by the
    # time a run resumes. None in outputs of staticemb versions that did not record it.
    model_fingerprint: str | None = None

    def same_run(self, other: RunInfo) -> list[str]:
        """The fields (other than progress and the inputs' stamps) in which two runs differ."""
        skip = {"complete", "rows", "staticemb_version", "input_files"}
        mine, theirs = asdict(self), asdict(other)
        return [k for k in mine if k not in skip and mine[k] != theirs[k]]


def model_fingerprint(model: Any) -> str:
    """A digest of everything a model's vectors depend on: its tokenizer, table (and row scales, token weights and
    mapping) and pooling options, whatever folder or path it came from. It reads the whole table (about a
    second per GB)."""
    state = model.__getstate__()
    digest = hashlib.blake2b(b"staticemb model 1\0", digest_size=16)
    # The tokenizer as its content, not its bytes: a save writes the same tokenizer in another layout.
    digest.update(json.dumps(json.loads(state.pop("tokenizer")), sort_keys=True).encode("utf-8", "surrogatepass"))
    for key in ("embeddings", "scales", "weights", "token_mapping"):
        array = state.pop(key)
        if array is None:
            digest.update(f"\0{key}:none".encode())
            continue
        array = np.asarray(array)
        digest.update(f"\0{key}:{array.dtype.str}:{array.shape}".encode())
        rows = array.reshape(len(array), -1) if array.ndim else array.reshape(1, 1)
        for start in range(0, len(rows), 65_536):  # row blocks: a memory-mapped table is read, never copied whole
            digest.update(np.ascontiguousarray(rows[start:start + 65_536]).data)
    for key in ("dim", "info", "tokenizer_backend", "similarity_fn_name"):  # nothing a vector depends on
        state.pop(key)
    digest.update(json.dumps(state, sort_keys=True, default=str).encode())
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------------ inputs


def reads(folder: Path, path: Path, any_file: bool) -> bool:
    """Whether :func:`expand_inputs` takes the file ``path`` (under ``folder``) when given ``folder``: a file
    with no hidden (dot) name on its way from ``folder`` (``.git/``, ``.ipynb_checkpoints/``: a notebook's
    checkpoint copies would repeat its rows), of one of the :data:`INPUT_FORMATS` types, or any with
    ``any_file``."""
    if any(part.startswith(".") for part in path.relative_to(folder).parts):
        return False
    return any_file or path.suffix.lower() in INPUT_FORMATS


def expand_inputs(specs: Sequence[str], fmt: str | None = None, *, any_file: bool = False) -> list[str]:
    """Files named by ``specs`` (files, folders searched recursively, glob patterns, ``-`` for stdin, named
    pipes such as ``<(cmd)``), in order, folders and patterns sorted. A name that matches nothing raises
    :class:`FileNotFoundError`, a folder or file under a folder that cannot be read :class:`PermissionError`. A
    folder gives its files of the :data:`INPUT_FORMATS` types, or with ``any_file`` every file, and then the
    names' types are not checked; either way nothing under a hidden (dot) name in it (name such a file itself,
    or with a pattern)."""
    files: list[str] = []
    for spec in specs:
        if spec == "/dev/stdin" and Path(spec).is_file():  # a file redirected to stdin: read (and resumed) as it
            spec = os.path.realpath(spec)
        elif spec == "/dev/stdin":  # a pipe or a terminal: stdin, as "-"
            spec = "-"
        if spec == "-":
            if "-" in files:
                raise InvalidInputError("stdin is named twice (- or /dev/stdin): it can be read only once")
            files.append("-")
            continue
        if not spec:
            raise InvalidInputError("an input is an empty name: name a file, a folder (. for this one) or a pattern")
        path = Path(spec).expanduser()
        if path.is_dir():
            found = _walk(path, spec, any_file)
            if not found:
                raise FileNotFoundError(f"{spec}: no {'' if any_file else ', '.join(INPUT_FORMATS) + ' '}files in "
                                        "this folder")
            files.extend(found)
        elif path.exists():  # a file, or a named pipe / <(cmd), read as a stream
            _check_readable(str(path), "an input")
            files.append(str(path))
        elif glob.has_magic(spec):
            found = sorted(p for p in glob.glob(os.path.expanduser(spec), recursive=True) if os.path.isfile(p))
            if not found:
                raise FileNotFoundError(f"{spec}: no file matches this pattern")
            for p in found:
                _check_readable(p, f"a file the pattern {spec} matches")
            files.extend(found)
        else:
            raise FileNotFoundError(f"{spec}: no such file or folder")
    if not any_file:
        for f in files:
            kind = _format_of(f, fmt)
            if kind not in ("text", "jsonl") and _is_stream(f):
                raise InvalidInputError(f"{'stdin' if f == '-' else f + ' is a stream: it'} can be read as text "
                                        f"lines or JSONL, not {kind}")
    return files


def _would_read(spec: str, part: Path) -> bool:
    """Whether the input ``spec`` (a folder, or a glob pattern) would take the output part ``part`` once it is
    written: the part lies in the folder, or under the pattern's fixed folder with a name its last part matches."""
    where = Path(spec).expanduser()
    target = part.expanduser().resolve()
    if where.is_dir():
        return target.is_relative_to(where.resolve()) and reads(where.resolve(), target, False)
    if not glob.has_magic(spec):
        return False
    pieces = where.parts
    fixed = Path(*pieces[:next(i for i, piece in enumerate(pieces) if glob.has_magic(piece))] or ["."])
    return target.is_relative_to(fixed.resolve()) and fnmatch.fnmatch(target.name, pieces[-1])


def _walk(folder: Path, spec: str, any_file: bool) -> list[str]:
    """The files :func:`expand_inputs` takes from ``folder``, sorted; a folder or file in it that cannot be read
    is an error (``Path.rglob`` skipped them silently)."""

    def refuse(e: OSError) -> None:
        raise type(e)(e.errno, f"cannot read {e.filename}, a folder under the input {spec}: {e.strerror}")

    found = []
    for top, dirs, names in os.walk(folder, onerror=refuse):
        dirs[:] = [d for d in dirs if not d.startswith(".")]  # hidden folders are not read: nothing in them is taken
        for name in names:
            p = Path(top) / name
            if p.is_file() and reads(folder, p, any_file):
                _check_readable(str(p), f"a file under the input {spec}")
                found.append(str(p))
    return sorted(found)


def _check_readable(path: str, what: str) -> None:
    if not os.access(path, os.R_OK):
        raise PermissionError(errno.EACCES, f"cannot read {path}, {what}: {os.strerror(errno.EACCES)}")


def _is_stream(path: str) -> bool:
    """Whether ``path`` is stdin or another input that can be read only once (a named pipe, ``<(cmd)``)."""
    try:
        return path == "-" or not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _stamp(path: str) -> dict[str, int] | None:
    """What tells that an input file changed between two runs: its size and modification time; ``None`` for
    stdin and other streams, which cannot be compared."""
    if path == "-":
        return None
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns} if stat.S_ISREG(st.st_mode) else None


def _changed_input(files: Sequence[str], stamps: Sequence[dict[str, int] | None]) -> str | None:
    """The first of ``files`` that no longer has its recorded stamp."""
    for path, before in zip(files, stamps, strict=False):
        if before is not None and _stamp(path) != before:
            return path
    return None


def require_pyarrow() -> None:
    """``staticemb encode`` and CSV / TSV / Parquet inputs need pyarrow: say how to install it."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ModuleNotFoundError('reading CSV, TSV or Parquet and writing Parquet parts need pyarrow: '
                                  'pip install "staticemb[encode]"', name="pyarrow") from None


def _format_of(path: str, fmt: str | None) -> str:
    if fmt is not None:
        return fmt
    if path == "-" or (not Path(path).suffix and _is_stream(path)):  # stdin, <(cmd): lines, as stdin
        return "text"
    kind = INPUT_FORMATS.get(Path(path).suffix.lower())
    if kind is None:
        raise InvalidInputError(
            f"{path}: unknown input type {Path(path).suffix!r}; name it {', '.join(INPUT_FORMATS)} or pass --format"
        )
    return kind


def _lines(path: str) -> Iterator[tuple[int, bytes]]:
    if path == "-" and sys.stdin is None:
        raise InvalidInputError("- reads stdin, and this process has none (it was closed)")
    stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 - closed below
    try:
        for n, raw in enumerate(stream, 1):
            if n == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark
                raw = raw[3:]
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
    except RecursionError:
        raise InvalidInputError(f"{path}:{n}: a JSON line nested too deep to read") from None
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
            if "\\u" in line:  # an escape can make a lone surrogate, which no model (nor Parquet) takes
                _check_unicode(path, n, column, text)
            texts.append(text)
            for k in keep:
                if k not in obj:
                    raise InvalidInputError(
                        f"{path}:{n}: has no field {k!r} to --keep (its fields: {', '.join(map(str, obj))})"
                    )
                value = obj[k]
                if isinstance(value, str) and "\\u" in line:
                    _check_unicode(path, n, k, value)
                carried[k].append(value if value is None or isinstance(value, str) else json.dumps(value))
        if len(texts) >= rows:
            yield texts, carried
            texts, carried = [], {k: [] for k in keep}
    if texts:
        yield texts, carried


def _check_unicode(path: str, n: int, name: str, value: str) -> None:
    at = _inputs.lone_surrogate(value)
    if at is not None:
        raise InvalidInputError(f"{path}:{n}: field {name!r} is not valid Unicode text (a lone surrogate "
                                f"{value[at]!r} at character {at})")


def _arrow_name(path: str | os.PathLike, what: str) -> None:
    """pyarrow opens files by UTF-8 name only: another name (bytes a shell passed as they are) is refused
    naming the file, where pyarrow failed with a UnicodeEncodeError."""
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(f"{what} {os.fspath(path)!r}: its name is not UTF-8 text, and pyarrow opens "
                                "no other name; rename it") from None


def _arrow_batches(path: str, fmt: str, column: str, keep: list[str], rows: int) -> Iterator[tuple[list, dict]]:
    require_pyarrow()
    import pyarrow as pa

    _arrow_name(path, "the input")

    wanted = [column, *[k for k in keep if k != column]]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            source = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as e:
            raise InvalidInputError(f"{path}: not a readable Parquet file ({e})") from None
        names = source.schema_arrow.names
        _check_columns(path, names, wanted)
        if _kind(source.schema_arrow.field(column).type) != "text":  # a pandas category is text too
            raise InvalidInputError(
                f"{path}: column {column!r} holds {source.schema_arrow.field(column).type}, not text"
            )
        batches: Iterator[Any] = source.iter_batches(batch_size=rows, columns=wanted)
    else:
        from pyarrow import csv

        parse = _csv_parse(fmt)
        try:
            names = _csv_names(path, parse)
        except pa.ArrowInvalid as e:
            raise InvalidInputError(f"{path}: not readable as {fmt.upper()} ({e})") from None
        _check_columns(path, names, wanted)
        # The last column too: a CSV quote never closed makes its last value hold the rest of the file.
        last = names[-1] if fmt == "csv" and names else None
        read = [*wanted, *([last] if last is not None and last not in wanted else [])]
        convert = csv.ConvertOptions(include_columns=read, column_types={k: pa.string() for k in read},
                                     strings_can_be_null=False)
        batches = _csv_batches(path, parse, convert)
    done = 0
    end: Any = None
    try:
        for batch in batches:
            if fmt == "csv" and batch.num_rows:
                end = batch.column(last)[-1].as_py()
            if fmt == "parquet":  # Parquet strings are not checked as UTF-8 on read (the CSV reader checks)
                for name in dict.fromkeys(wanted):
                    if _kind(batch.schema.field(name).type) == "text":
                        try:
                            batch.column(name).validate(full=True)
                        except pa.ArrowInvalid as e:
                            raise InvalidInputError(f"{path}: column {name!r} holds text that is not UTF-8, in "
                                                    f"rows {done:,} to {done + batch.num_rows - 1:,} ({e})") from None
            texts = batch.column(column).to_pylist()
            if None in texts:
                bad = done + texts.index(None)
                raise InvalidInputError(f"{path}: row {bad} has no text (null) in column {column!r}")
            carried = {k: batch.column(k) for k in keep}
            for start in range(0, len(texts), rows):
                yield texts[start : start + rows], {k: v.slice(start, rows) for k, v in carried.items()}
            done += len(texts)
    except (pa.ArrowInvalid, OSError) as e:  # OSError: a damaged page ("Corrupt snappy compressed data")
        raise InvalidInputError(f"{path}: {e}" if fmt == "parquet" else
                                f"{path}: not readable as {fmt.upper()} ({e})") from None
    if isinstance(end, str) and ("\n" in end or "\r" in end) and not _ends_quoted(path):
        raise InvalidInputError(f"{path}: a quote is never closed: the {last!r} value of row {done - 1} holds the "
                                "rest of the file; close the quote (or double it: \"\")")


_FIRST_BLOCK = 1 << 24


def _larger_block(error: Exception, block: int) -> int:
    """pyarrow reads CSV in blocks and fails on a row longer than one ("straddling object straddles two block
    boundaries"): the block size to read again with, four times larger, up to 1 GiB; any other error is
    raised."""
    if "straddl" not in str(error) or block >= 1 << 30:
        raise error
    return block * 4


def _csv_parse(fmt: str) -> Any:
    """How a CSV or TSV input is parsed: TSV has no quoting (a value may start with a quote); CSV values may be
    quoted, newlines and all."""
    from pyarrow import csv

    if fmt == "tsv":
        return csv.ParseOptions(delimiter="\t", quote_char=False, newlines_in_values=False)
    return csv.ParseOptions(delimiter=",", newlines_in_values=True)


def _csv_names(path: str, parse: Any) -> list[str]:
    """The column names of a CSV / TSV file."""
    import pyarrow as pa
    from pyarrow import csv

    block = _FIRST_BLOCK
    while True:
        try:
            with csv.open_csv(path, parse_options=parse, read_options=csv.ReadOptions(block_size=block)) as reader:
                return list(reader.schema.names)
        except pa.ArrowInvalid as e:
            block = _larger_block(e, block)


def _csv_batches(path: str, parse: Any, convert: Any) -> Iterator[Any]:
    """The record batches of a CSV / TSV file; a row longer than a block starts the read again with larger
    blocks, after the rows already given."""
    import pyarrow as pa
    from pyarrow import csv

    block, given = _FIRST_BLOCK, 0
    while True:
        try:
            seen = 0
            with csv.open_csv(path, parse_options=parse, convert_options=convert,
                              read_options=csv.ReadOptions(block_size=block)) as reader:
                for batch in reader:
                    n = batch.num_rows
                    if seen + n > given:  # rows not given yet (a read started again gives the first ones again)
                        rest = batch.slice(given - seen) if given > seen else batch
                        given += rest.num_rows
                        yield rest
                    seen += n
            return
        except pa.ArrowInvalid as e:
            block = _larger_block(e, block)


def _ends_quoted(path: str) -> bool:
    """Whether the file's last value is a closed quoted one (its last character, newlines aside, is ``"``)."""
    with open(path, "rb") as f:
        f.seek(max(0, os.fstat(f.fileno()).st_size - 4096))
        return f.read().rstrip(b"\r\n").endswith(b'"')


def _check_columns(path: str, names: list[str], wanted: list[str]) -> None:
    missing = [c for c in wanted if c not in names]
    if missing:
        raise InvalidInputError(
            f"{path}: no column {', '.join(map(repr, missing))} (its columns: {', '.join(names)}); "
            "choose with --column / --keep"
        )
    twice = [c for c in wanted if names.count(c) > 1]
    if twice:  # CSV read the first silently, Parquet failed with a KeyError
        raise InvalidInputError(
            f"{path}: {names.count(twice[0])} columns are named {twice[0]!r} (its columns: {', '.join(names)}); "
            "a column to read or --keep needs a name of its own: rename the others"
        )


def check_columns_up_front(files: Sequence[str], *, fmt: str | None, column: str, keep: list[str]) -> None:
    """Refuse before any work what reading would refuse only on reaching the file (after encoding every file
    before it): ``keep`` from a text file, and a column missing from a Parquet file's schema or a CSV/TSV
    header. JSONL lines (and streams) are checked as they are read."""
    wanted = [column, *[k for k in keep if k != column]]
    for path in files:
        kind = _format_of(path, fmt)
        if kind == "text" and keep:
            raise InvalidInputError(f"{path}: a text file has no columns to --keep")
        if kind in ("text", "jsonl") or _is_stream(path):
            continue
        require_pyarrow()
        import pyarrow as pa

        try:
            if kind == "parquet":
                import pyarrow.parquet as pq

                names = pq.read_schema(path).names
            else:
                names = _csv_names(path, _csv_parse(kind))
        except (pa.ArrowException, OSError, ValueError, UnicodeError):
            continue  # reading it says what is wrong, naming the file
        _check_columns(path, names, wanted)


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
            if _is_stream(path):
                raise InvalidInputError(f"{'stdin' if path == '-' else path + ' is a stream: it'} can be read as "
                                        f"text lines or JSONL, not {kind}")
            yield from _arrow_batches(path, kind, column, keep, rows)


# ------------------------------------------------------------------------------------------------ outputs


def output_is_npy(output: str | os.PathLike) -> bool:
    """Whether ``output`` names one ``.npy`` file (the suffix in any case) rather than a folder of Parquet parts
    (any other name, ``OUT.parquet`` included, as Spark and pandas name such folders). A name of another file
    type (``out.csv``, ``out.json``) or ``-`` is refused: it would have become a folder of that name."""
    name = os.fspath(output)
    if not name:  # Path("") is the current folder: an unset variable in -o "$OUT" wrote the parts there
        raise InvalidInputError("--output is an empty name: name a folder (. for this one) or an OUT.npy file")
    suffix = Path(name).suffix.lower()
    if suffix == ".npy":
        return True
    if name == "-" or suffix in _FILE_SUFFIXES:
        raise InvalidInputError(
            f"--output {name}: the output is a folder of Parquet parts (a name such as OUT or OUT.parquet) or one "
            f"OUT.npy file, not {'stdout' if name == '-' else 'a ' + suffix + ' file'}"
        )
    return False


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
        return _numbered_parts(self.folder)

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
            if self.schema is not None:
                table = _same_types(table, self.schema)
            take = min(table.num_rows, self.info.rows_per_part - self.rows_in_part)
            self.writer.write_table(table.slice(0, take))
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


def _lock_output(folder: Path) -> int | None:
    """An exclusive lock on the output folder for this run (dropped by the kernel however the process ends): a
    second run writing the same output at once would take the first's parts for a killed run's leftovers. The
    descriptor to release, or None where the platform or file system has no locks."""
    try:
        import fcntl

        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except (ImportError, OSError):
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise InvalidInputError(f"another run is writing {folder} now: wait for it to end, or write elsewhere"
                                ) from None
    except OSError:
        pass  # a file system without locks
    return fd


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

    for name, value in (("inputs", inputs), ("keep", keep)):
        if isinstance(value, (str, bytes, os.PathLike)):  # its characters would be taken for names
            raise TypeError(f"{name} must be a list of {'files' if name == 'inputs' else 'column names'}, not a "
                            f"single {type(value).__name__}: write [{os.fspath(value)!r}]")
    inputs = [os.fspath(i) if isinstance(i, os.PathLike) else i for i in inputs]
    if not inputs:
        raise InvalidInputError("inputs is empty: name at least one file, folder or pattern ('-' for stdin)")
    if precision not in BULK_PRECISIONS:
        raise InvalidInputError(f"precision must be one of {', '.join(BULK_PRECISIONS)}, got {precision!r}")
    if format is not None and format not in set(INPUT_FORMATS.values()):
        raise InvalidInputError(f"format must be one of {', '.join(sorted(set(INPUT_FORMATS.values())))}")
    npy = output_is_npy(output)
    _arrow_name(output, "--output")
    if npy and precision == "int8":
        raise InvalidInputError("int8 vectors need their per-row scales: write Parquet (an output folder)")
    keep = list(dict.fromkeys(keep))
    reserved = sorted({"row", "embedding", "scale"} & set(keep))
    if reserved:
        raise InvalidInputError(f"--keep {reserved[0]}: the output's own columns are row, embedding and scale; "
                                "rename that input column")
    batch_rows = _inputs.count("batch_rows", batch_rows) or 50_000
    rows_per_part = _inputs.count("rows_per_part", rows_per_part) or 1_000_000
    require_pyarrow()
    files = expand_inputs(inputs, format)
    check_columns_up_front(files, fmt=format, column=column, keep=keep)  # before the model loads
    loaded = model if isinstance(model, StaticModel) else StaticModel.from_pretrained(model)
    spec = str(loaded._info.get("base_model") or loaded._info.get("source") or "in-memory model")
    if not isinstance(model, StaticModel):
        spec = os.fspath(model)
        if Path(spec).expanduser().exists():  # a local folder: ../m, ../m/ and /abs/m are the same run
            spec = str(Path(spec).expanduser().resolve())
    width = _inputs.dim(dim, full=loaded.full_dim, default=loaded.dim)
    norm = _inputs.flag("normalize", normalize, default=loaded.normalize)
    out = Path(output).expanduser()
    folder = out.with_name(out.name + ".parts") if npy else out
    for given in inputs:  # a second run (a resume) would read the parts written there back as texts
        if given != "-" and _would_read(given, folder / _PART.format(0)):
            raise InvalidInputError(f"--output {output} lies where the input {given} reads: a later run (a resume) "
                                    "would read its parts back as texts; write it elsewhere")
    if folder.exists() and not folder.is_dir():
        raise InvalidInputError(f"{folder} is a file, not an output folder")
    if folder.is_symlink() and not folder.exists():
        raise InvalidInputError(f"{folder} is a symlink to {os.readlink(folder)}, which does not exist: make that "
                                "folder, or write elsewhere")
    if npy and (out.exists() or out.is_symlink()) and not (folder / MANIFEST).is_file():
        raise InvalidInputError(f"{out} exists and is not the output of an earlier run of this command; "
                                "use another output, or delete it")
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    lock = _lock_output(folder)
    try:
        from . import __version__

        info = RunInfo(model=spec, revision=loaded._info.get("revision"), inputs=[os.path.abspath(f) if f != "-" else f
                       for f in files], column=column, keep=list(keep), format=format, dim=width, precision=precision,
                       normalize=norm, rows_per_part=rows_per_part, staticemb_version=__version__,
                       input_files=[_stamp(f) for f in files], model_fingerprint=model_fingerprint(loaded))
        parts = _Parts(folder, info)
        manifest = folder / MANIFEST
        fresh = not manifest.exists()
        if manifest.exists():
            try:
                before = RunInfo(**json.loads(manifest.read_text(encoding="utf-8")))
            except (ValueError, TypeError) as e:
                raise InvalidInputError(f"{manifest} is not a staticemb manifest ({e}); use another output") from None
            if before.model_fingerprint is None:  # an older version's output: nothing to compare the model with
                info.model_fingerprint = None
            differs = before.same_run(info)
            if "model_fingerprint" in differs:
                raise InvalidInputError(
                    f"{folder} holds the output of another model (the model at {spec} is not the one that wrote it: "
                    "its table, tokenizer or options changed); use another output, or delete it"
                )
            if differs:
                raise InvalidInputError(
                    f"{folder} holds the output of a different run ({', '.join(differs)} differ); "
                    "use another output, or delete it"
                )
            stream = next((f for f, s in zip(files, info.input_files, strict=True) if s is None), None)
            if stream is not None:  # its rows cannot be read again to resume, nor compared to tell a new input
                raise InvalidInputError(f"{folder} holds an earlier run, and a run reading "
                                        f"{'stdin' if stream == '-' else 'the stream ' + stream} cannot resume or "
                                        "repeat one: use another output")
            changed = _changed_input(files, before.input_files)
            if changed is not None:
                raise InvalidInputError(f"{changed} changed (size or modification time) since {out} was written from "
                                        "it: write to a new output, or delete the old one")
            info.complete, info.rows = before.complete, before.rows
        elif any(folder.iterdir()):
            raise InvalidInputError(f"{folder} is not empty and holds no staticemb output; use another output")
        if not info.complete:
            import pyarrow.parquet as pq

            done_parts = parts.finished()
            parts.index = len(done_parts)
            if done_parts:  # a resume writes the columns with the types the finished parts have
                parts.schema = pq.read_schema(done_parts[0])
            # The rows the finished parts hold (the last may be short: a run stopped after closing it).
            skip = sum(pq.ParquetFile(p).metadata.num_rows for p in done_parts)
            parts.save_manifest()
            types = _kept_types(files, format, keep)
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
                    table = _table(row + cut, vectors, precision, {k: v[cut:] for k, v in carried.items()}, types)
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
            changed = _changed_input(files, info.input_files)
            if changed is not None:
                raise InvalidInputError(f"{changed} changed while it was read: write to a new output, or delete "
                                        f"{out} and run again")
            info.complete, info.rows = True, row
            parts.save_manifest()
        if npy:
            _assemble_npy(folder, out, info)
        else:  # a finished output is still whole: a rerun says so, or why not
            _complete_parts(folder, info)
        return out
    finally:
        _io._release(lock)


def _kind(t: Any) -> str | None:
    """The kind of an Arrow type (``None`` for a column of nulls only): a ``--keep`` column is cast within its
    kind, and a text column may be any kind of text (a pandas category, pyarrow's ``string_view``)."""
    import pyarrow as pa

    if pa.types.is_dictionary(t):  # a pandas category, a dictionary-encoded write: its values' kind
        return _kind(t.value_type)
    if pa.types.is_null(t):  # a column of nulls only: fits any
        return None
    if pa.types.is_string(t) or pa.types.is_large_string(t) or str(t) == "string_view":  # pyarrow 16's view
        return "text"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return "list"
    return str(t)


def _kept_types(files: Sequence[str], fmt: str | None, keep: Sequence[str]) -> dict[str, Any]:
    """The type to write each ``--keep`` column with where the inputs give it several of one kind: the widest
    (int8 in one Parquet file and int32 in the next, or nulls only then int64, give int32 and int64), so that
    the first part's schema takes the values of every later file. Text inputs (JSONL, CSV, TSV) carry text.
    Types of different kinds are left as they are, for :func:`_same_types` to refuse."""
    if not keep:
        return {}
    import pyarrow as pa
    import pyarrow.parquet as pq

    seen: dict[str, list[Any]] = {k: [] for k in keep}
    for path in files:
        kind = _format_of(path, fmt)
        if kind != "parquet":
            for types in seen.values():
                types.append(pa.string())
            continue
        try:
            schema = pq.read_schema(path)
        except (pa.ArrowException, OSError, ValueError):
            continue  # reading it says what is wrong
        for k, types in seen.items():
            if schema.names.count(k) == 1:
                types.append(schema.field(k).type)
    widest = {}
    for k, types in seen.items():
        distinct = list(dict.fromkeys(types))
        if len(distinct) < 2 or len({_kind(t) for t in distinct} - {None}) > 1:
            continue
        try:
            merged = pa.unify_schemas([pa.schema([(k, t)]) for t in distinct], promote_options="permissive")
        except (pa.ArrowException, TypeError):  # two dictionary encodings, say: cast part by part
            continue
        widest[k] = merged.field(k).type
    return widest


def _same_types(table: Any, schema: Any) -> Any:
    """``table`` with ``schema``'s column types, cast within a kind (text, dictionary-encoded text, integers,
    floats, lists; a column of nulls fits any); a ``--keep`` column of another kind than the rows written before
    (an integer column of a Parquet input, then text of a JSONL one: ``"007"`` would become ``7``) is refused, and
    so is a cast that fails (a value too large for the type the first rows gave)."""
    import pyarrow as pa

    for column in table.schema:
        want = schema.field(column.name).type
        ours, theirs = _kind(column.type), _kind(want)
        if column.type != want and ours is not None and theirs is not None and ours != theirs:
            raise InvalidInputError(
                f"--keep {column.name}: it is {column.type} in this input but {want} in the rows written before (an "
                "earlier input file or a finished part): a kept column needs one type in every input; convert "
                "the inputs to one format, or keep that column out")
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise InvalidInputError(f"--keep: a kept column's values do not fit the type of the rows written before "
                                f"({e})") from None


def _table(first_row: int, vectors: np.ndarray, precision: str, carried: dict[str, Any],
           types: dict[str, Any] | None = None) -> Any:
    """The rows to write; ``types`` gives a ``--keep`` column its type over every input (:func:`_kept_types`)."""
    import pyarrow as pa

    columns: dict[str, Any] = {"row": pa.array(np.arange(first_row, first_row + len(vectors), dtype=np.int64))}
    for k, v in carried.items():
        columns[k] = v if isinstance(v, (pa.Array, pa.ChunkedArray)) else pa.array(v, type=pa.string())
        if types and k in types and columns[k].type != types[k]:
            try:
                columns[k] = columns[k].cast(types[k])
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                raise InvalidInputError(f"--keep {k}: its values do not fit {types[k]}, the type its column has "
                                        f"over the inputs ({e})") from None
    columns.update(_embedding_columns(vectors, precision))
    return pa.table(columns)


def _assemble_npy(folder: Path, out: Path, info: RunInfo) -> None:
    """Write the parts' vectors as ``out``, under a temporary name renamed when complete. The file is written,
    not memory-mapped, with its space reserved first: a full disk is an :class:`OSError` naming ``out`` (a
    mapped sparse file died of SIGBUS), and the temporary file is removed on any error or Ctrl-C."""
    import pyarrow.parquet as pq

    dtype = np.dtype({"float32": np.float32, "float16": np.float16, "binary": np.uint8}[info.precision])
    width = info.dim if info.precision != "binary" else (info.dim + 7) // 8
    rows = info.rows or 0
    tmp = out.with_name(f".{out.name}.inprogress")
    try:
        with open(tmp, "wb") as f:
            header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (rows, width)}
            np.lib.format.write_array_header_1_0(f, header)
            _reserve(f, f.tell() + rows * width * dtype.itemsize)
            at = 0
            for part in sorted(folder.glob("part-*.parquet")):
                values = _fixed_values(pq.read_table(part, columns=["embedding"]).column("embedding"), width)
                at += len(values)
                if at > rows:
                    break
                f.write(np.ascontiguousarray(values, dtype=dtype).data.cast("B"))
            if at != rows:
                raise InvalidInputError(f"{folder}: its parts hold {at:,} rows, its manifest says {rows:,}; "
                                        "delete it and run again")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError) and e.filename is None and e.errno is not None:
            raise OSError(e.errno, f"cannot write {out}: {e.strerror}") from None
        raise


def _reserve(f: Any, size: int) -> None:
    """Allocate ``size`` bytes for the open file ``f``, so that a full disk fails now, before the work; where
    the system or file system cannot (no ``posix_fallocate``), the writes themselves report it."""
    if not hasattr(os, "posix_fallocate") or size == 0:
        return
    f.flush()
    try:
        os.posix_fallocate(f.fileno(), 0, size)
    except OSError as e:
        if e.errno not in (errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL, errno.ENOSYS):
            raise


def _fixed_values(column: Any, width: int) -> np.ndarray:
    chunks = [c.values.to_numpy(zero_copy_only=False).reshape(-1, width) for c in column.chunks]
    return np.concatenate(chunks) if chunks else np.zeros((0, width))


def _numbered_parts(folder: Path) -> list[Path]:
    """The output's parts, checked to be numbered 0, 1, 2, … with none missing."""
    parts = sorted(folder.glob("part-*.parquet"))
    for i, part in enumerate(parts):
        if part.name != _PART.format(i):
            raise InvalidInputError(f"{folder}: parts are not numbered 0, 1, 2, …: part {_PART.format(i)} is missing "
                                    f"({part.name} follows); run the command again into a new output")
    return parts


def _complete_parts(folder: Path, info: RunInfo) -> list[Path]:
    """The parts of a complete output, checked against its manifest: numbered 0, 1, 2, … and holding the rows it
    records (a part deleted or cut since would read back short, with no error)."""
    import pyarrow.parquet as pq

    parts = _numbered_parts(folder)
    rows = sum(pq.ParquetFile(part).metadata.num_rows for part in parts)
    if info.rows is not None and rows != info.rows:
        raise InvalidInputError(f"{folder}: its parts hold {rows:,} rows, its manifest says {info.rows:,}: a part "
                                "was removed or changed; run the command again into a new output")
    return parts


def read_embeddings(path: str | os.PathLike) -> tuple[np.ndarray, Any]:
    """An output of :func:`encode_files` as ``(vectors, table)``: float32 vectors (int8 scaled back, float16
    widened; binary outputs as their packed ``uint8`` bits) in row order, and the other columns as a
    ``pyarrow.Table`` (``None`` for a ``.npy`` output)."""
    import pyarrow.parquet as pq

    p = Path(path)
    if p.suffix.lower() == ".npy":
        stored = np.load(p, mmap_mode="r")  # memory-mapped, as written; float16 is widened as documented
        return (stored.astype(np.float32) if stored.dtype == np.float16 else stored), None
    info = RunInfo(**json.loads((p / MANIFEST).read_text(encoding="utf-8")))
    if not info.complete:
        raise InvalidInputError(f"{p} is an unfinished run: run the same command again to complete it")
    import pyarrow as pa

    parts = _complete_parts(p, info)
    if not parts:  # an empty input: no rows, of the width and type the vectors would have
        if info.precision == "binary":
            return np.zeros((0, (info.dim + 7) // 8), np.uint8), None
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
