"""The ``staticemb`` command: ``encode``, ``crops``, ``train``, ``distill`` and ``eval``.

    staticemb encode MODEL INPUT... --output OUT [--column text] [--keep COL[,COL...]]... [--dim K] [--precision P]

    staticemb crops INPUT... --output PAIRS.jsonl [--column text] [--per-file] [--teacher MODEL | --lead]
    staticemb train CONFIG [--set key=value ...] [--set train_datasets.NAME=PAIRS.jsonl] [--resume]
    staticemb distill --teacher MODEL --output DIR [--tokenizer TOKENIZER] [--dim 1024] [--pca-dims N] [--corpus FILE]
    staticemb eval MODEL [MODEL ...] --tasks DIR [--only NAME ...] [--dims 64,256,1024] [--output results.json]

``python -m staticemb`` is the same command (use it with ``accelerate launch -m staticemb train CONFIG`` or
``torchrun --nproc_per_node N -m staticemb train CONFIG`` for several GPUs).

Every error ends the command with one line on stderr that names the problem (a bad argument, config, model,
task file or output path) and a non-zero exit status: 2 for bad input (arguments, configs, models and task
files staticemb refuses, a path that does not exist or is a file where a folder belongs, or the reverse), 1 for
anything else (a file the system cannot read or write, an error inside a library), 130 when interrupted. ``--debug`` prints the traceback too. Outputs are checked to be writable before
the work starts. A stdout whose reader goes away (``| head``) ends the command with 141; a stderr that is closed
or fails (``2>&-``, a full disk, a reader gone) only silences the progress bars and messages: the run goes on.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any, NoReturn

from ._paths import looks_like_local_path
from .errors import InvalidInputError, StaticembError


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line, like every other error of the command."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


# ------------------------------------------------------------------------------------------------ arguments


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _widths(text: str) -> list[int]:
    """``--dims``: positive integer widths separated by commas."""
    from .tasks import check_widths

    try:
        return check_widths([int(part) for part in text.split(",")])
    except ValueError:  # int() or check_widths (InvalidInputError is a ValueError)
        raise argparse.ArgumentTypeError(
            f"expected positive integer widths separated by commas (e.g. 64,256,1024), got {text!r}") from None


def _names(text: str) -> list[str]:
    """``--keep``: one column name, or several separated by commas."""
    names = text.split(",")
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected column names separated by commas, got {text!r}")
    return names


def _parse_value(text: str, *, textual: bool = False):
    """A ``--set`` value: JSON where it parses, else the text itself. For a ``textual`` field (a path, a name),
    only a JSON string or ``null`` is taken as JSON: ``output_dir=2024`` is the folder "2024", not a number."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return value if not textual or value is None or isinstance(value, str) else text


def _check_output(path: str | os.PathLike, what: str, *, folder: bool) -> Path:
    """Check, before any work, that ``path`` (a file, or a folder when ``folder``) can be written: it is not the
    other kind, and its parent folder exists (created if needed) and takes a new file."""
    from ._io import open_descriptor

    if not os.fspath(path):  # Path("") is the current folder
        raise InvalidInputError(f"{what} is an empty name")
    p = Path(path).expanduser()
    if not folder and (open_descriptor(p) is not None or p.exists() and not p.is_file() and not p.is_dir()):
        return p  # /dev/stdout, a pipe, a device: written into, no file made beside it
    if folder and p.exists() and not p.is_dir():
        raise InvalidInputError(f"{what} {p} is a file, not a folder")
    if not folder and p.is_dir():
        raise InvalidInputError(f"{what} {p} is a folder, not a file")
    parent = p.parent
    for ancestor in (parent, *parent.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                raise InvalidInputError(f"cannot write {what} {p}: {ancestor} is a file, not a folder")
            break
    missing = [d for d in (parent, *parent.parents) if not d.exists()]
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _MADE_FOR_OUTPUT.extend(missing)  # deepest first: removed again if the command fails
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as e:
        raise InvalidInputError(f"cannot write {what} {p}: {e.strerror or e}") from None
    return p


_MADE_FOR_OUTPUT: list[Path] = []
"""Folders :func:`_check_output` made for an output (deepest first): a command that then fails removes those
still empty, so a corrected command finds the tree as it was."""


def _remove_folders_made_for_output() -> None:
    while _MADE_FOR_OUTPUT:
        try:
            _MADE_FOR_OUTPUT.pop(0).rmdir()  # only while empty
        except OSError:
            pass


def _read_texts(path: str, limit: int | None) -> list[str]:
    """The texts of a corpus file, read line by line as ``encode`` reads them (a byte order mark skipped, lines
    ending at \n, a CR inside a line kept): each non-blank line of a text file, the ``text``, ``anchor`` and
    ``positive`` of each JSONL line."""
    from .bulk import _decode, _lines, json_object

    texts: list[str] = []
    jsonl = Path(path).suffix.lower() in (".jsonl", ".ndjson")
    for n, raw in _lines(path):
        line = _decode(path, n, raw)
        if not line.strip():
            continue
        if jsonl:
            row = json_object(path, n, line)
            texts.extend(row[k] for k in ("text", "anchor", "positive") if isinstance(row.get(k), str))
        else:
            texts.append(line)
        if limit is not None and len(texts) >= limit:
            break
    return texts[:limit] if limit is not None else texts


# ------------------------------------------------------------------------------------------------ commands


def cmd_encode(args) -> int:
    from .bulk import encode_files, expand_inputs, output_is_npy, require_pyarrow

    require_pyarrow()  # before the output folder is made
    out = Path(args.output).expanduser()
    _check_output(out, "--output", folder=not output_is_npy(args.output))
    expand_inputs(args.inputs, args.format)  # a missing input fails before the model loads
    models = _model_specs([args.model])
    path = encode_files(models[0][1], args.inputs, out, column=args.column, keep=args.keep or [],
                        format=args.format, dim=args.dim, precision=args.precision, normalize=args.normalize,
                        num_threads=args.num_threads, batch_rows=args.batch_rows,
                        rows_per_part=args.rows_per_part, progress=not args.quiet)
    print(f"wrote {path}", file=sys.stderr)
    return 0


def cmd_crops(args) -> int:
    from tqdm.auto import tqdm

    from .bulk import _format_of, expand_inputs, read_batches, require_pyarrow
    from .train.crops import (
        MIN_TEXT_WORDS,
        lead_passage_pairs,
        teacher_passage_pairs,
        write_crop_pairs,
        write_pairs,
    )

    if args.per_file and (args.format or args.column != "text"):
        raise InvalidInputError("--per-file reads each file whole: --format and --column do not apply")
    if args.teacher and args.lead:
        raise InvalidInputError("--teacher and --lead choose the passage two ways: give one")
    files = expand_inputs(args.inputs, args.format, any_file=args.per_file)
    if not args.per_file and any(_format_of(f, args.format) in ("csv", "tsv", "parquet") for f in files):
        require_pyarrow()
    out = _check_output(args.output, "--output", folder=False)
    _check_not_an_input(Path(out), args.inputs, files, args.per_file)
    bar = tqdm(desc="documents", unit=" docs", disable=args.quiet)
    read = 0

    def whole_files():
        for path in files:
            if path == "-" and sys.stdin is None:
                raise InvalidInputError("- reads stdin, and this process has none (it was closed)")
            raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
            try:
                yield [raw.decode("utf-8-sig")]  # a byte order mark is not part of the text
            except UnicodeDecodeError as e:
                raise InvalidInputError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); name the text "
                                        "files, or a glob such as 'docs/**/*.md'") from None

    def documents():
        nonlocal read
        batches = whole_files() if args.per_file else (
            texts for texts, _ in read_batches(files, fmt=args.format, column=args.column, keep=[], rows=10_000))
        for texts in batches:
            yield from texts
            read += len(texts)
            bar.update(len(texts))

    try:
        if args.teacher:
            texts = list(documents())
            bar.close()
            n = write_pairs(teacher_passage_pairs(texts, args.teacher, progress=not args.quiet), out)
        elif args.lead:
            n = write_pairs(lead_passage_pairs(documents()), out)
        else:
            n = write_crop_pairs(documents(), out)
    finally:
        bar.close()
    print(f"wrote {n:,} pairs from {read:,} documents to {out}"
          + ("" if n else f" (no document has {MIN_TEXT_WORDS} words or more"
             + (" and a sentence to pick)" if args.teacher or args.lead else ")")), file=sys.stderr)
    return 0


def _check_not_an_input(out: Path, inputs: list[str], files: list[str], any_file: bool) -> None:
    """Refuse an output that is one of the input files (it would replace the documents) or that a later run
    would read back from an input folder as a document."""
    from .bulk import reads

    target = out.expanduser().resolve()
    for f in files:
        if f != "-" and Path(f).resolve() == target:
            raise InvalidInputError(f"--output {out} is also an input: the pairs would replace the documents; "
                                    "write them elsewhere")
    for spec in inputs:
        folder = Path(spec).expanduser()
        if (spec != "-" and folder.is_dir() and target.is_relative_to(folder.resolve())
                and reads(folder.resolve(), target, any_file)):
            raise InvalidInputError(f"--output {out} lies in the input folder {spec}: a later run would read "
                                    "it back as a document; write it elsewhere")


def cmd_train(args) -> int:
    import dataclasses

    from .train import TrainConfig, train

    textual = {f.name for f in dataclasses.fields(TrainConfig) if str(f.type) in ("str", "str | None")}
    overrides = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"--set needs key=value, got {item!r}")
        overrides[key] = _parse_value(value, textual=key in textual)
    if args.resume:
        overrides["resume_from_checkpoint"] = True
    config = TrainConfig.from_file(args.config, **overrides)
    _check_output(config.output_dir, "the output folder", folder=True)
    path, _ = train(config)
    if os.environ.get("RANK", "0") == "0":  # under torchrun every process returns here; rank 0 saved
        print(f"saved {path}")
    return 0


def cmd_distill(args) -> int:
    from .train import distill

    _check_output(args.output, "--output", folder=True)
    corpus = None
    if args.corpus:
        per_file = max(1, args.max_corpus // len(args.corpus))
        corpus = []
        for path in args.corpus:
            texts = _read_texts(path, per_file)
            if not texts:  # its weights would be counted on nothing, and the card would say they were
                raise InvalidInputError(f"--corpus {path} gives no text (a JSONL file needs 'text', 'anchor' or "
                                        "'positive' fields)")
            corpus += texts
    model = distill(args.teacher, tokenizer=args.tokenizer, dim=args.dim, pca_dims=args.pca_dims, corpus=corpus,
                    device=args.device, output=args.output)
    print(f"saved {args.output}: {model.vocab_size} tokens x {model.full_dim} dims")
    return 0


def _model_specs(specs: list[str]) -> list[tuple[str | None, str]]:
    """``(label, spec)`` of each model argument; a local path that does not exist is refused before any work."""
    out = []
    for spec in specs:
        name = None
        if "=" in spec and not Path(spec).exists():
            name, spec = spec.split("=", 1)
            if not name or not spec:
                raise InvalidInputError(f"a labelled model is NAME=PATH, got {name}={spec}")
        if spec.lower() not in ("bm25", "bm25-stem") and not Path(spec).expanduser().exists() and looks_like_local_path(spec):
            raise InvalidInputError(f"model not found: {spec} (no such folder)")
        out.append((name, spec))
    return out


def _check_not_a_task(out: Path, tasks: list[str]) -> None:
    """Refuse an ``eval --output`` that is one of the task files (the results would replace the task) or a
    ``.json`` file in a ``--tasks`` folder (the next run would read the results as a task, and fail)."""
    target = out.resolve()
    for spec in tasks:
        where = Path(spec).expanduser()
        folder = where.is_dir()
        if target == where.resolve() or folder and target.parent == where.resolve() and target.suffix == ".json":
            raise InvalidInputError(
                f"--output {out} " + ("is a task file: the results would replace it" if target.exists() else
                                      f"lies in the task folder {spec}: the next run would read the results as a task")
                + "; write them elsewhere")


def cmd_eval(args) -> int:
    from .tasks import evaluate, load_tasks, markdown_table, open_model

    output = _check_output(args.output, "--output", folder=False) if args.output is not None else None
    if output is not None:
        _check_not_a_task(output, args.tasks)
    models = _model_specs(args.models)
    if output is not None:  # results written over a model's weights (it was scored, then overwritten)
        target = output.resolve()
        for _, spec in models:
            folder = Path(spec).expanduser()
            if folder.is_dir() and (target == folder.resolve() or folder.resolve() in target.parents):
                raise InvalidInputError(f"--output {output} lies in the model folder {spec}: the results would be "
                                        "written into the model; write them elsewhere")
    tasks = load_tasks(args.tasks, args.only)
    bm25 = [spec for _, spec in models if spec.lower() in ("bm25", "bm25-stem")]
    if bm25 and not any(t["type"] == "retrieval" for t in tasks):
        raise InvalidInputError(f"{bm25[0]} scores retrieval tasks only, and none of the tasks is one")
    speed_texts = None
    if args.speed_task:
        source = next((t for t in tasks if t["name"] == args.speed_task), None)
        if source is None:
            source = load_tasks(args.tasks, [args.speed_task])[0]
        pool = [*source.get("corpus", []), *source.get("queries", [])] or source.get("source", [])
        if not pool:
            raise InvalidInputError(f"--speed-task {args.speed_task}: a {source['type']} task has no texts to time; "
                                    "use a retrieval or bitext task")
        speed_texts = pool[: args.speed_n]
    # Every model is opened and its widths checked before any is scored: a bad one found after hours of another's
    # scoring would throw that work away.
    encoders = [open_model(spec, name=name, dims=args.dims, device=args.device) for name, spec in models]
    results = [evaluate(encoder, tasks, speed_texts=speed_texts,
                        progress=lambda m: print(m, file=sys.stderr, flush=True)) for encoder in encoders]
    if output is not None:  # first: the results are kept even if the table's reader goes away (| head)
        from ._io import write_file

        write_file(output, lambda f: f.write(json.dumps(results, indent=1)))
        print(f"wrote {output}", file=sys.stderr)
    print(markdown_table(results, args.dims))
    return 0


# ------------------------------------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="on an error, print the traceback as well as the one-line message")
    parser = _Parser(prog="staticemb", description="Encode corpora with static embedding models, cut training "
                     "pairs from documents, and train, distill and evaluate the models.", parents=[common])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    from .bulk import BULK_PRECISIONS, INPUT_FORMATS
    from .train.crops import MAX_WORDS, MIN_TEXT_WORDS, MIN_WORDS

    p = sub.add_parser("encode", parents=[common], help="embed a corpus from files into Parquet parts or .npy",
                       description="Embed every text of the inputs, streaming, into a folder of Parquet parts "
                       "(or OUT.npy). An interrupted run resumes when run again.")
    p.add_argument("model", help="a model folder or Hub id")
    p.add_argument("inputs", nargs="+", help="text (one per line), JSONL, CSV, TSV or Parquet files, folders "
                   "(searched for those, hidden names aside), glob patterns, - for stdin, or a named pipe such as "
                   "<(cmd)")
    p.add_argument("--output", "-o", required=True,
                   help="an output folder of Parquet parts (any name, OUT.parquet included, but not one of another "
                   "file type such as OUT.csv) or an OUT.npy file")
    p.add_argument("--column", default="text", help="the text field (JSONL) or column (CSV, TSV, Parquet)")
    p.add_argument("--keep", type=_names, action="extend", metavar="COL[,COL...]",
                   help="a column to carry over (an id, a key): repeat the flag or separate names with commas; "
                   "every row must have it")
    p.add_argument("--format", choices=sorted(set(INPUT_FORMATS.values())),
                   help="read every input as this type (default: by file extension; stdin: text)")
    p.add_argument("--dim", type=_positive_int, help="Matryoshka width (default: the model's)")
    p.add_argument("--precision", choices=BULK_PRECISIONS, default="float32")
    p.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None,
                   help="L2-normalize (default: as the model does)")
    p.add_argument("--num-threads", type=_positive_int, help="encoding threads (default: every core)")
    p.add_argument("--batch-rows", type=_positive_int, default=50_000, help="texts read and encoded at a time")
    p.add_argument("--rows-per-part", type=_positive_int, default=1_000_000)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("crops", parents=[common],
                       help="cut inverse-cloze training pairs out of unlabeled documents",
                       description=f"One pair per distinct document of {MIN_TEXT_WORDS} words or more: a passage of "
                       f"{MIN_WORDS}-{MAX_WORDS} words cut out -> the rest of the document, as JSONL anchor/positive rows for a training stage's "
                       "train_datasets (staticemb train CONFIG --set train_datasets.NAME=PAIRS.jsonl).")
    p.add_argument("inputs", nargs="+", help="text (one document per line), JSONL, CSV, TSV or Parquet files, "
                   "folders, glob patterns, - for stdin, or a named pipe such as <(cmd)")
    p.add_argument("--output", "-o", required=True, help="the JSONL file of pairs")
    p.add_argument("--column", default="text", help="the text field (JSONL) or column (CSV, TSV, Parquet)")
    p.add_argument("--format", choices=sorted(set(INPUT_FORMATS.values())),
                   help="read every input as this type (default: by file extension; stdin: text)")
    p.add_argument("--per-file", action="store_true",
                   help="each file is one document, whatever its type (a folder gives every file in it)")
    p.add_argument("--teacher", metavar="MODEL",
                   help=f"instead of a random passage, cut out the sentence of {MIN_WORDS}-{MAX_WORDS} words this "
                   "Sentence Transformers model (folder or Hub id) finds closest to its document; train on these "
                   "pairs beside the random crops (two files, two train_datasets entries)")
    p.add_argument("--lead", action="store_true",
                   help=f"instead of a random passage, cut out the document's first sentence of {MIN_WORDS}-{MAX_WORDS} "
                   "words (no teacher); train on these pairs beside the random crops")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_crops)

    p = sub.add_parser("train", parents=[common],
                       help="run one training stage from a JSON config (Sentence Transformers trainer)")
    p.add_argument("config")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config value (JSON or text); KEY.NAME sets one entry of a mapping, such as "
                   "train_datasets.mine=pairs.jsonl")
    p.add_argument("--resume", action="store_true",
                   help="continue from the latest complete checkpoint in OUTPUT_DIR/checkpoints, which must be this "
                   "run's (same config, same dataset files); without it a run starts fresh and removes the "
                   "checkpoints an earlier run left there")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("distill", parents=[common], help="make a static table from a transformer teacher")
    p.add_argument("--teacher", required=True, help="a Sentence Transformers folder or Hub id")
    p.add_argument("--output", required=True)
    p.add_argument("--tokenizer", help="tokenizer.json (or a folder) to distill into; default: the teacher's own")
    p.add_argument("--dim", type=_positive_int,
                   help="table width (wider than the teacher: extra noise columns to train)")
    p.add_argument("--pca-dims", type=_positive_int, help="principal components kept (default: the teacher's width)")
    p.add_argument("--corpus", nargs="+", help="text or JSONL files whose token counts give the SIF weights "
                   "(--tokenizer only)")
    p.add_argument("--max-corpus", type=_positive_int, default=400_000,
                   help="texts read in all (split evenly over the files)")
    p.add_argument("--device")
    p.set_defaults(func=cmd_distill)

    p = sub.add_parser("eval", parents=[common],
                       help="score models on task files (retrieval, classification, bitext, word similarity)")
    p.add_argument("models", nargs="+", help="model folders / Hub ids, 'bm25', 'bm25-stem', or NAME=PATH to label one")
    p.add_argument("--tasks", nargs="+", required=True, help="task files or folders of them")
    p.add_argument("--only", nargs="+", help="task names or types to run")
    p.add_argument("--dims", type=_widths,
                   help="Matryoshka widths for static models, e.g. 64,256,1024, each at most every static "
                   "model's width (default: all of each model's)")
    p.add_argument("--speed-task", help="time encoding this task's texts for a texts/s figure")
    p.add_argument("--speed-n", type=_positive_int, default=2000)
    p.add_argument("--output", help="write the results as JSON")
    p.add_argument("--device")
    p.set_defaults(func=cmd_eval)
    return parser


def _one_line(error: BaseException) -> str:
    """An exception as one line: staticemb's and the system's own messages (and a missing package's install
    hint) as they are, anything else with its type and a pointer to ``--debug``."""
    text = " ".join(str(error).split())
    plain = isinstance(error, (StaticembError, OSError)) or (isinstance(error, ImportError) and "pip install" in text)
    if plain and text:
        return text
    name = type(error).__name__
    return f"{name}: {text} (--debug shows the traceback)" if text else f"{name} (--debug shows the traceback)"


class _Status:
    """stderr for the command's progress bars and messages. A write that fails (stderr closed, on a full disk,
    or a reader that went away) points the stream at /dev/null instead of ending the run: the output is the
    point, and the exit status still tells how it went."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def _silence(self) -> None:
        try:  # what the stream still buffers then goes nowhere, and Python's flush at exit succeeds
            fd = self._stream.fileno()
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, fd)
            finally:
                os.close(null)
        except (OSError, ValueError, AttributeError):
            self._stream = open(os.devnull, "w")  # noqa: SIM115 - for the rest of the process

    def write(self, text: str) -> int:
        try:
            self._stream.write(text)
        except UnicodeEncodeError:  # a strict encoding (PYTHONIOENCODING): the message, with what it cannot show
            encoding = getattr(self._stream, "encoding", None) or "ascii"
            self.write(text.encode(encoding, "replace").decode(encoding, "replace"))
        except BlockingIOError:  # a non-blocking stderr that is full this instant: this write is dropped, no more
            pass
        except (OSError, ValueError):  # closed, a full disk, a reader gone: silent from now on
            self._silence()
        return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError):
            self._silence()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding: the stream's own
        return getattr(self._stream, name)


def _reopen_closed_outputs() -> None:
    """Open /dev/null on file descriptors 1 and 2 when the command was started with them closed (``2>&-``):
    else the next file opened (an output part) takes the number, and what a library writes to stderr lands in
    it."""
    for fd in (1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_WRONLY)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def main(argv: list[str] | None = None) -> int:
    _reopen_closed_outputs()
    saved = sys.stdout, sys.stderr
    if sys.stdout is None:  # started with stdout closed (>&-): what it prints goes nowhere
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    sys.stderr = _Status(sys.stderr if sys.stderr is not None else open(os.devnull, "w"))  # noqa: SIM115
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = saved


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and hasattr(args, "inputs") and all(x == "-" or not x.startswith("-") for x in extra):
        args.inputs += extra  # inputs after an option (argparse takes only the first run of them)
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    previous = _terminate_as_interrupt()
    _MADE_FOR_OUTPUT.clear()
    code = 1
    try:
        code = args.func(args)
        sys.stdout.flush()  # here, not at exit: a reader that went away is a BrokenPipeError below
        return code
    except _Terminated:
        print(f"staticemb {args.command}: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print(f"staticemb {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # a reader went away (| head): stop quietly, with SIGPIPE's status, as Unix tools do
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()  # a stream whose reader is alive keeps what it holds
            except BrokenPipeError:  # Python's own flush at exit would complain: point it at /dev/null
                try:
                    os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
                except (OSError, ValueError):
                    pass
            except (OSError, ValueError):
                pass
        return 141
    except Exception as e:  # noqa: BLE001 - every error becomes one line (and a traceback with --debug)
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"staticemb {args.command}: {_one_line(e)}", file=sys.stderr)
        return 2 if isinstance(e, _BAD_INPUT) else 1
    finally:
        if code != 0:
            _remove_folders_made_for_output()
        _MADE_FOR_OUTPUT.clear()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


#: Errors that mean the command was given something wrong (exit status 2), not that something failed (1).
_BAD_INPUT = (StaticembError, FileNotFoundError, NotADirectoryError, IsADirectoryError)


class _Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``, a scheduler ending a job), raised where Ctrl-C would be: every command
    cleans up the same way (no half-written part or model is left for the next run to trip on)."""


def _terminate_as_interrupt() -> Any:
    """Make SIGTERM raise :class:`_Terminated` in the main thread, where nothing else handles it; the handler
    to put back, or None."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return None

        def terminated(signum: int, frame: Any) -> None:
            raise _Terminated

        return signal.signal(signal.SIGTERM, terminated)
    except (ValueError, OSError, AttributeError):
        return None


if __name__ == "__main__":
    sys.exit(main())
