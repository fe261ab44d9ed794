"""Roofline check: how close staticemb's pooling comes to this machine's memory bandwidth.

Pooling a bag of token ids is a gather: each token reads one table row (``dim`` float32 values, only the first
``dim`` columns of a 30,522 x 1024 row under Matryoshka truncation) and adds it to an accumulator. The
*application* is staticemb's own pooling of pre-tokenized input, ``StaticModel.embed_ids`` (no normalization,
no weights or token mapping: the plain sum-and-scale path), on the ids of real text. The *machine limits* are
simple NumPy memory benchmarks on the same table:

* sequential read: ``np.max`` over the 125 MB table and over a 1 GiB array (a SIMD reduction, read only);
* random-row gather: ``np.take(src, ids, axis=0, out=buf, mode="clip")`` in batches whose output buffer (2 MB)
  stays in L2, i.e. a memcpy of table rows, the best a gather does from Python. For 256-d rows ``src`` is the
  table viewed as (4 x 30,522) x 256, so row ``4 * id`` is the first 256 columns of row ``id``: the same
  addresses the pooling kernel reads. Two id streams: the corpus's own token ids in order (Zipfian: frequent
  tokens' rows stay in cache) and uniform random ids (the worst case);
* NumPy runs these on one thread; the 2-thread figures run two Python threads on halves of the work
  (``np.take`` and ufunc reductions release the GIL).

A memcpy gather also writes every row it reads, so it is not a hard ceiling for a read-only sum: the pooling
kernel may beat it. The sequential read is the ceiling for reading whole rows.

Usage::

    python benches/roofline.py [--n 50000] [--repeats 5] [--output benches/RESULTS-roofline.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import shlex
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bert_tokenizer, cpu_model, load_sentences, publish, reference_table, run_main

VOCAB_SIZE = 30_522
FULL_DIM = 1024
DIMS = (1024, 256)
THREADS = (1, 2)
TABLE_SEED = 20_240_601
ID_SEED = 7
BIG_FACTOR = 8  # the "beyond cache" table: 8 x 125 MB = 1 GiB
GATHER_BUFFER_BYTES = 2 << 20  # output buffer of one np.take call: stays in L2
GATHER_BYTES = 1 << 30  # bytes of rows read per timed gather run
WARMUP_N = 1_000


@dataclass
class Row:
    """One measured line: what was run, on which rows, how many rows and bytes per run, best seconds."""

    kind: str  # "limit" or "app"
    what: str
    ids: str
    dim: int
    threads: int
    rows: int
    bytes_read: int
    seconds: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds

    @property
    def gb_per_s(self) -> float:
        return self.bytes_read / self.seconds / 1e9


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=50_000, help="sentences to tokenize (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs, best kept (default: %(default)s)")
    parser.add_argument(
        "--output",
        type=Path,
        default=REPO_ROOT / "benches" / "RESULTS-roofline.md",
        help="markdown report to write (default: benches/RESULTS-roofline.md)",
    )
    parser.add_argument(
        "--figure",
        type=Path,
        default=REPO_ROOT / "benches" / "figures" / "roofline.png",
        help="bar chart to write (default: benches/figures/roofline.png)",
    )
    args = parser.parse_args(argv)
    for name in ("n", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be a positive integer")
    return args


def cache_sizes() -> str:
    """L2 and L3 sizes as the kernel reports them for CPU 0 (empty when unknown)."""
    out = []
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        if kind in ("Unified", "Data"):
            out.append(f"L{level}{'d' if kind == 'Data' else ''} {size}")
    return ", ".join(out)


def build_model():
    """The bert-base-uncased tokenizer with a random-normal 30,522 x 1024 float32 table."""
    from staticemb import StaticModel

    table = reference_table()
    return StaticModel(bert_tokenizer(), table), table


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    """Best wall-clock seconds of ``repeats`` calls, after one untimed call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def in_threads(jobs: list[Callable[[], object]]) -> Callable[[], None]:
    """One callable running ``jobs`` concurrently: one Python thread each, the caller's runs the last."""
    if len(jobs) == 1:
        return jobs[0]

    def run() -> None:
        threads = [threading.Thread(target=job) for job in jobs[:-1]]
        for t in threads:
            t.start()
        jobs[-1]()
        for t in threads:
            t.join()

    return run


def seq_read_job(array, threads: int) -> Callable[[], None]:
    import numpy as np

    flat = array.reshape(-1)
    parts = np.array_split(flat, threads)
    return in_threads([(lambda p=p: np.max(p)) for p in parts])


def gather_job(table, ids, dim: int, threads: int) -> Callable[[], None]:
    """``np.take`` of the first ``dim`` columns of rows ``ids`` in L2-sized batches, over ``threads``."""
    import numpy as np

    step = FULL_DIM // dim
    src = table.reshape(-1, dim)  # row step*i of src = first dim columns of table row i
    rows = np.ascontiguousarray(ids, dtype=np.int64) * step
    batch = max(1, GATHER_BUFFER_BYTES // (dim * 4))
    parts = np.array_split(rows, threads)

    def job(part):
        out = np.empty((batch, dim), dtype=np.float32)
        chunks = [part[i : i + batch] for i in range(0, len(part) - batch + 1, batch)]

        def run() -> None:
            for c in chunks:
                np.take(src, c, axis=0, out=out, mode="clip")

        return run, len(chunks) * batch

    made = [job(p) for p in parts]
    return in_threads([m[0] for m in made]), sum(m[1] for m in made)


def cycle_to(ids, count: int):
    """``ids`` repeated (and cut) to ``count`` entries."""
    import numpy as np

    reps = -(-count // len(ids))
    return np.tile(ids, reps)[:count]


def measure(args: argparse.Namespace) -> tuple[list[Row], dict[str, object]]:
    import numpy as np
    import staticemb

    info: dict[str, object] = {"load_start": os.getloadavg()}
    print(f"loading {args.n:,} sentences and building the 30,522 x 1024 table ...", flush=True)
    texts = load_sentences(args.n)
    model, table = build_model()
    ids, offsets = model.tokenize(texts)
    tokens = len(ids)
    info.update(
        tokens=tokens,
        sentences=len(texts),
        distinct=int(np.unique(ids).size),
        kernel=staticemb.kernel_name(),
        backend=model.tokenizer_backend,
        staticemb=staticemb.__version__,
        numpy=np.__version__,
    )
    print(f"{tokens:,} tokens ({tokens / len(texts):.1f} per sentence, {info['distinct']:,} distinct ids)")
    uniform = (
        np.random.default_rng(ID_SEED).integers(0, VOCAB_SIZE, size=tokens, dtype=np.int64).astype(np.uint32)
    )
    streams = {"corpus": ids, "uniform": uniform}

    rows: list[Row] = []

    def record(row: Row) -> None:
        rows.append(row)
        print(
            f"{row.kind:5} {row.what:34} ids={row.ids:8} dim={row.dim:4} t={row.threads}: "
            f"{row.rows_per_s / 1e6:8.2f} M rows/s {row.gb_per_s:7.2f} GB/s",
            flush=True,
        )

    # Machine limits: sequential read.
    big = np.empty((BIG_FACTOR * VOCAB_SIZE, FULL_DIM), dtype=np.float32)
    big.reshape(BIG_FACTOR, VOCAB_SIZE, FULL_DIM)[:] = table
    for name, array in (("sequential read, 125 MB table", table), ("sequential read, 1 GiB array", big)):
        for t in THREADS:
            secs = best_of(args.repeats, seq_read_job(array, t))
            record(Row("limit", name, "-", FULL_DIM, t, array.shape[0], array.nbytes, secs))

    # Machine limits: random-row gather (memcpy), same table, corpus and uniform ids.
    for dim in DIMS:
        count = GATHER_BYTES // (dim * 4)
        for ids_name, stream in streams.items():
            stream_ids = cycle_to(stream, count)
            for t in THREADS:
                job, n_rows = gather_job(table, stream_ids, dim, t)
                secs = best_of(args.repeats, job)
                record(
                    Row(
                        "limit",
                        "np.take gather, 125 MB table",
                        ids_name,
                        dim,
                        t,
                        n_rows,
                        n_rows * dim * 4,
                        secs,
                    )
                )
    # The same gather beyond the last-level cache (uniform ids over a 1 GiB table), for reference.
    for dim in DIMS:
        count = GATHER_BYTES // (dim * 4)
        big_ids = np.random.default_rng(ID_SEED + 1).integers(0, big.shape[0], size=count, dtype=np.int64)
        for t in THREADS:
            job, n_rows = gather_job(big, big_ids, dim, t)
            secs = best_of(args.repeats, job)
            record(
                Row("limit", "np.take gather, 1 GiB table", "uniform", dim, t, n_rows, n_rows * dim * 4, secs)
            )
    del big
    gc.collect()

    # The application: staticemb's pooling of the same ids (and of uniform ids with the same bag lengths).
    model.embed_ids(ids[: offsets[WARMUP_N]], offsets[:WARMUP_N], normalize=False)
    for dim in DIMS:
        for ids_name, stream in streams.items():
            for t in THREADS:

                def pool(stream=stream, dim=dim, t=t) -> None:
                    model.embed_ids(stream, offsets, dim=dim, normalize=False, num_threads=t)

                secs = best_of(args.repeats, pool)
                record(Row("app", "staticemb embed_ids", ids_name, dim, t, tokens, tokens * dim * 4, secs))

    info["load_end"] = os.getloadavg()
    return rows, info


def find(rows: list[Row], **match) -> Row:
    return next(r for r in rows if all(getattr(r, k) == v for k, v in match.items()))


def format_limits(rows: list[Row]) -> str:
    lines = [
        "| measurement (NumPy) | ids | row (floats) | threads | M rows/s | GB/s read |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r.kind != "limit":
            continue
        per_row = "-" if r.ids == "-" else f"{r.rows_per_s / 1e6:,.2f}"
        dim = "-" if r.ids == "-" else str(r.dim)
        lines.append(f"| {r.what} | {r.ids} | {dim} | {r.threads} | {per_row} | {r.gb_per_s:,.2f} |")
    return "\n".join(lines)


def format_app(rows: list[Row]) -> str:
    lines = [
        "| dim | ids | threads | M tokens/s | GB/s read | vs np.take gather (same ids, dim, threads) | "
        "vs sequential read, 125 MB table (same threads) |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r.kind != "app":
            continue
        gather = find(
            rows, kind="limit", what="np.take gather, 125 MB table", ids=r.ids, dim=r.dim, threads=r.threads
        )
        seq = find(rows, kind="limit", what="sequential read, 125 MB table", threads=r.threads)
        lines.append(
            f"| {r.dim} | {r.ids} | {r.threads} | {r.rows_per_s / 1e6:,.2f} | {r.gb_per_s:,.2f} | "
            f"{100 * r.gb_per_s / gather.gb_per_s:,.0f}% | {100 * r.gb_per_s / seq.gb_per_s:,.0f}% |"
        )
    return "\n".join(lines)


def plot(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, len(DIMS), figsize=(11, 4.6), sharey=True)
    series = [
        ("np.take gather, uniform ids", "limit", "np.take gather, 125 MB table", "uniform", "#bbbbbb"),
        ("np.take gather, corpus ids", "limit", "np.take gather, 125 MB table", "corpus", "#777777"),
        ("embed_ids, uniform ids", "app", "staticemb embed_ids", "uniform", "#9ecae1"),
        ("embed_ids, corpus ids", "app", "staticemb embed_ids", "corpus", "#2171b5"),
    ]
    width = 0.8 / len(series)
    x = np.arange(len(THREADS))
    for ax, dim in zip(axes, DIMS, strict=True):
        for i, (label, kind, what, ids, color) in enumerate(series):
            vals = [find(rows, kind=kind, what=what, ids=ids, dim=dim, threads=t).gb_per_s for t in THREADS]
            bars = ax.bar(x + (i - (len(series) - 1) / 2) * width, vals, width, label=label, color=color)
            ax.bar_label(bars, fmt="%.1f", fontsize=7)
        for j, t in enumerate(THREADS):
            seq = find(rows, kind="limit", what="sequential read, 125 MB table", threads=t).gb_per_s
            ax.hlines(
                seq,
                j - 0.45,
                j + 0.45,
                colors="#d62728",
                linestyles="--",
                label="sequential read, 125 MB (np.max)" if j == 0 else None,
            )
        ax.set_xticks(x, [f"{t} thread{'s' if t > 1 else ''}" for t in THREADS])
        ax.set_title(f"rows of {dim} float32 ({dim * 4:,} bytes)")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("GB/s of table rows read")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=len(labels), frameon=False)
    fig.suptitle("Pooling (staticemb embed_ids) vs NumPy memory benchmarks, 30,522 x 1024 float32 table")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def render_report(rows: list[Row], info: dict[str, object], args: argparse.Namespace) -> str:
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    load = lambda k: ", ".join(f"{x:.2f}" for x in info[k])
    facts = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": f"`{command}`",
        "machine": (
            f"{cpu_model()}, {os.cpu_count()} logical cores ({cache_sizes()}); {platform.platform()}; "
            f"Python {platform.python_version()}"
        ),
        "load average (1, 5, 15 min)": f"{load('load_start')} at the start, {load('load_end')} at the end",
        "versions": (
            f"staticemb {info['staticemb']} (pooling kernel `{info['kernel']}`), numpy {info['numpy']}"
        ),
        "ids": (
            f"`model.tokenize` of the first {info['sentences']:,} `debian_sentences` with the "
            f"bert-base-uncased tokenizer: {info['tokens']:,} tokens "
            f"({info['tokens'] / info['sentences']:.1f} per sentence, {info['distinct']:,} distinct ids); "
            "uniform: as many uniform random ids with the same bag offsets"
        ),
        "table": f"random-normal float32 {VOCAB_SIZE:,} x {FULL_DIM} (125 MB)",
        "timing": (
            f"best of {args.repeats} runs after one untimed run; GB/s counts table bytes read "
            "(tokens x dim x 4); embed_ids runs with normalize=False; its output (sentences x dim x 4 bytes) "
            "is not counted"
        ),
    }
    lines = ["# Roofline: pooling throughput vs memory bandwidth", ""]
    lines += [f"- {k}: {v}" for k, v in facts.items()]
    lines += [
        "",
        "## Machine limits (NumPy, one Python thread per thread)",
        "",
        format_limits(rows),
        "",
        "np.take copies each row into a 2 MB (L2-resident) buffer: it writes as many bytes as it reads. "
        "The 256-float rows are the first quarter of each 4 KB table row (the table viewed as "
        "122,088 x 256, rows 4 x id). "
        "2-thread NumPy figures: two Python threads on halves of the work (both calls release the GIL).",
        "",
        "## The application: `StaticModel.embed_ids` (pooling only)",
        "",
        format_app(rows),
        "",
        f"![roofline]({Path(os.path.relpath(args.figure, args.output.parent)).as_posix()})",
        "",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    rows, info = measure(args)
    report = render_report(rows, info, args)
    plot(rows, args.figure)
    publish(report, args.output)
    print(f"written to {args.output} and {args.figure} in {time.perf_counter() - started:.0f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
