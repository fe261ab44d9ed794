"""How staticemb's encode throughput scales with text length and with thread count.

(a) Text length. One stream of real English words (the Debian sentences of ``staticemb.corpora``, split at
whitespace) is cut into texts of about L bert-base-uncased tokens each, for L in 8 ... 16,384, so every length
point encodes the same ~2M tokens of the same text. BERT tokenization is additive over whitespace-separated
words (the normalizer works per character and the pre-tokenizer splits at whitespace), so a text's token count
is the sum of its words' counts; the counts actually used in the report are measured with ``model.tokenize``.
Each point reports tokens/s and seconds per text, and a least-squares fit of log(seconds per text) against
log(tokens per text) gives the exponent: 1 means linear cost in the text length. The sweep runs twice: on
all words, and on the same stream without its non-ASCII words (0.07% of them). The native tokenizer takes its
ASCII fast path per run of ASCII characters (an earlier version decided per text, which made long texts of
real words, which usually hold some non-ASCII character, slower per token); the ASCII-only series checks that
non-ASCII characters no longer change the cost of length.

(b) Threads. ``encode`` of 50,000 sentences at dim 1024 and 256 with ``num_threads`` = 1, 2, 3, 4 (3 and 4
oversubscribe a 2-core machine), and ``embed_ids`` of the same pre-tokenized ids (pooling only) for
comparison.

The model is the real bert-base-uncased tokenizer (padding and truncation off) with one random-normal float32
30,522 x 1024 table; no normalization. Figures go to ``benches/figures/`` (matplotlib, Agg backend), the
summary to ``benches/RESULTS-scaling.md``.

Usage::

    python benches/scaling.py [--tokens 2000000] [--n 50000] [--repeats 3] [--threads 2] \\
        [--output benches/RESULTS-scaling.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import shlex
import sys
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
TABLE_SEED = 20_240_601
LENGTHS = (8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)
THREAD_COUNTS = (1, 2, 3, 4)
STREAM_SENTENCES = 120_000  # enough words for --tokens 2,000,000 plus margin
WARMUP_TOKENS = 20_000
FIT_MIN_TOKENS = 64


@dataclass
class LengthPoint:
    stream: str  # "all words" or "ASCII words"
    target: int
    non_ascii: float  # fraction of texts with a non-ASCII character
    texts: int
    tokens: int
    seconds: float

    @property
    def mean_tokens(self) -> float:
        return self.tokens / self.texts

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds

    @property
    def seconds_per_text(self) -> float:
        return self.seconds / self.texts


@dataclass
class ThreadPoint:
    what: str  # "encode" or "embed_ids"
    dim: int
    threads: int
    sentences: int
    tokens: int
    seconds: float


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tokens", type=int, default=2_000_000, help="tokens encoded per length point (default: %(default)s)"
    )
    parser.add_argument(
        "--n", type=int, default=50_000, help="sentences for the thread sweep (default: %(default)s)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs, best kept (default: %(default)s)")
    parser.add_argument(
        "--threads", type=int, default=2, help="num_threads for the length sweep (default: %(default)s)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=REPO_ROOT / "benches" / "RESULTS-scaling.md",
        help="markdown summary to write (default: benches/RESULTS-scaling.md)",
    )
    parser.add_argument(
        "--figures",
        type=Path,
        default=REPO_ROOT / "benches" / "figures",
        help="folder for the PNG figures (default: benches/figures)",
    )
    args = parser.parse_args(argv)
    for name in ("tokens", "n", "repeats", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be a positive integer")
    if args.tokens < max(LENGTHS):
        parser.error(f"--tokens must be at least {max(LENGTHS)}")
    return args


def build_model():
    """The bert-base-uncased tokenizer with a random-normal 30,522 x 1024 float32 table."""
    from staticemb import StaticModel

    table = reference_table()
    return StaticModel(bert_tokenizer(), table)


def best_of(repeats: int, fn: Callable[[], object], warmup: Callable[[], object] | None = None) -> float:
    """Best wall-clock seconds of ``repeats`` calls of ``fn`` after one call of ``warmup`` (or ``fn``)."""
    (warmup or fn)()
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def texts_of_length(words: list[str], cum, target: int, total: int) -> list[str]:
    """Consecutive words joined into texts of about ``target`` tokens (``cum``: cumulative token counts of
    ``words``), as many as fit in ``total`` tokens."""
    import numpy as np

    count = max(1, total // target)
    # Text k ends after the first word whose cumulative count reaches (k + 1) * target.
    ends = np.searchsorted(cum, np.arange(1, count + 1, dtype=np.int64) * target, side="left") + 1
    starts = np.concatenate([[0], ends[:-1]])
    return [" ".join(words[a:b]) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]


def word_streams(model, args: argparse.Namespace) -> dict[str, tuple[list[str], object]]:
    """The word stream and its ASCII-only subset, each with its cumulative token counts."""
    import numpy as np

    print("building the word streams ...", flush=True)
    words = [w for s in load_sentences(STREAM_SENTENCES) for w in s.split()]
    ids, offsets = model.tokenize(words)
    counts = np.diff(np.append(offsets, len(ids)))
    del ids, offsets
    ascii_mask = np.fromiter((w.isascii() for w in words), dtype=bool, count=len(words))
    streams = {
        "all words": (words, np.cumsum(counts)),
        "ASCII words": (
            [w for w, a in zip(words, ascii_mask, strict=True) if a],
            np.cumsum(counts[ascii_mask]),
        ),
    }
    for name, (ws, cum) in streams.items():
        if cum[-1] < args.tokens + max(LENGTHS):
            raise SystemExit(
                f"error: the {name} stream has only {cum[-1]:,} tokens, fewer than --tokens {args.tokens:,}"
            )
        print(f"{name}: {len(ws):,} words, {int(cum[-1]):,} tokens", flush=True)
    return streams


def length_sweep(model, args: argparse.Namespace) -> list[LengthPoint]:
    streams = word_streams(model, args)
    points = []
    for name, (words, cum) in streams.items():
        warm = texts_of_length(words, cum, 32, WARMUP_TOKENS)
        for target in LENGTHS:
            texts = texts_of_length(words, cum, target, args.tokens)
            ids, _ = model.tokenize(texts)
            tokens = len(ids)
            del ids, _
            non_ascii = sum(not t.isascii() for t in texts) / len(texts)

            def encode(texts=texts) -> None:
                model.encode(texts, num_threads=args.threads)

            def warmup(warm=warm) -> None:
                model.encode(warm, num_threads=args.threads)

            secs = best_of(args.repeats, encode, warmup=warmup)
            p = LengthPoint(name, target, non_ascii, len(texts), tokens, secs)
            points.append(p)
            print(
                f"{name:11} target {target:6,}: {p.texts:9,} texts, {p.mean_tokens:9.1f} tokens/text, "
                f"{100 * non_ascii:5.1f}% non-ASCII, {p.tokens_per_s / 1e6:6.3f} M tokens/s, "
                f"{p.seconds_per_text * 1e6:10.2f} us/text",
                flush=True,
            )
    return points


def thread_sweep(model, args: argparse.Namespace) -> tuple[list[ThreadPoint], float]:
    texts = load_sentences(args.n)
    if len(texts) < args.n:
        raise SystemExit(f"error: the corpus has only {len(texts)} sentences, fewer than --n {args.n}")
    ids, offsets = model.tokenize(texts)
    tokens = len(ids)
    warm = texts[:1000]
    points = []
    for dim in DIMS:
        for t in THREAD_COUNTS:

            def encode(dim=dim, t=t) -> None:
                model.encode(texts, dim=dim, num_threads=t)

            secs = best_of(
                args.repeats, encode, warmup=lambda dim=dim, t=t: model.encode(warm, dim=dim, num_threads=t)
            )
            points.append(ThreadPoint("encode", dim, t, len(texts), tokens, secs))

            def pool(dim=dim, t=t) -> None:
                model.embed_ids(ids, offsets, dim=dim, num_threads=t)

            secs = best_of(args.repeats, pool)
            points.append(ThreadPoint("embed_ids", dim, t, len(texts), tokens, secs))
            for p in points[-2:]:
                print(
                    f"{p.what:9} dim={dim:4} threads={t}: {p.sentences / p.seconds:12,.0f} sentences/s "
                    f"{p.tokens / p.seconds / 1e6:7.2f} M tokens/s",
                    flush=True,
                )
    return points, tokens / len(texts)


def fit_slope(points: list[LengthPoint], min_tokens: float = 0) -> tuple[float, float]:
    """Exponent and prefactor of seconds_per_text = a * tokens ** b over points with >= min_tokens tokens."""
    import numpy as np

    sel = [p for p in points if p.mean_tokens >= min_tokens]
    x = np.log([p.mean_tokens for p in sel])
    y = np.log([p.seconds_per_text for p in sel])
    b, log_a = np.polyfit(x, y, 1)
    return float(b), float(np.exp(log_a))


def plot_lengths(points: list[LengthPoint], path: Path, threads: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.3))
    colors = {"all words": "#2171b5", "ASCII words": "#ff7f0e"}
    top = 0.0
    for name, color in colors.items():
        sel = [p for p in points if p.stream == name]
        x = np.array([p.mean_tokens for p in sel])
        spt = np.array([p.seconds_per_text for p in sel])
        tps = np.array([p.tokens_per_s for p in sel])
        b_all, a_all = fit_slope(sel)
        b_long, _ = fit_slope(sel, FIT_MIN_TOKENS)
        xs = np.geomspace(x.min(), x.max(), 100)
        ax1.loglog(x, spt * 1e6, "o", color=color, label=name)
        ax1.loglog(
            xs,
            a_all * xs**b_all * 1e6,
            "-",
            color=color,
            alpha=0.5,
            label=f"fit: slope {b_all:.3f} (all), {b_long:.3f} (>= {FIT_MIN_TOKENS} tokens)",
        )
        ax2.semilogx(x, tps / 1e6, "o-", color=color, label=name)
        top = max(top, tps.max() / 1e6)
    ax1.set_xlabel("tokens per text (measured)")
    ax1.set_ylabel("microseconds per text")
    ax1.set_title("time per text vs text length (log-log)")
    ax1.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=8)

    ax2.set_ylim(0, top * 1.15)
    ax2.legend(fontsize=8)
    ax2.set_xlabel("tokens per text (measured)")
    ax2.set_ylabel("million tokens / s")
    ax2.set_title("throughput vs text length")
    ax2.grid(True, which="both", alpha=0.3)
    fig.suptitle(
        f"staticemb encode, dim 1024, num_threads={threads}, ~{points[0].tokens / 1e6:.1f}M tokens per point"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_threads(points: list[ThreadPoint], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    cores = os.cpu_count() or 1
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.3))
    styles = {1024: "#2171b5", 256: "#ff7f0e"}
    for dim in DIMS:
        enc = [p for p in points if p.what == "encode" and p.dim == dim]
        ax1.plot(
            [p.threads for p in enc],
            [p.sentences / p.seconds for p in enc],
            "o-",
            color=styles[dim],
            label=f"encode, dim {dim}",
        )
        for what, ls in (("encode", "-"), ("embed_ids", "--")):
            ps = [p for p in points if p.what == what and p.dim == dim]
            base = ps[0].seconds
            ax2.plot(
                [p.threads for p in ps],
                [base / p.seconds for p in ps],
                "o" + ls,
                color=styles[dim],
                label=f"{what}, dim {dim}",
            )
    ts = list(THREAD_COUNTS)
    ax2.plot(ts, [min(t, cores) for t in ts], ":", color="gray", label=f"ideal ({cores} cores)")
    for ax in (ax1, ax2):
        ax.axvspan(cores + 0.5, max(ts) + 0.5, color="#eeeeee", zorder=0)
        ax.set_xticks(ts)
        ax.set_xlim(0.5, max(ts) + 0.5)
        ax.set_xlabel("num_threads (shaded: more threads than cores)")
        ax.grid(alpha=0.3)
    ax1.set_ylim(bottom=0)
    ax1.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    ax1.set_ylabel("sentences / s")
    ax1.set_title("encode throughput (50,000 sentences)")
    ax1.legend(fontsize=8)
    ax2.set_ylim(bottom=0)
    ax2.set_ylabel("speed-up over 1 thread")
    ax2.set_title("speed-up: encode and embed_ids (pooling only)")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def render_report(
    lengths: list[LengthPoint],
    threads: list[ThreadPoint],
    mean_tokens: float,
    info: dict[str, object],
    args: argparse.Namespace,
    figures: dict[str, Path],
) -> str:
    import matplotlib
    import numpy as np
    import staticemb

    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    load = lambda k: ", ".join(f"{x:.2f}" for x in info[k])
    rel = lambda p: Path(os.path.relpath(p, args.output.parent)).as_posix()
    facts = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": f"`{command}`",
        "machine": (
            f"{cpu_model()}, {os.cpu_count()} logical cores; {platform.platform()}; "
            f"Python {platform.python_version()}"
        ),
        "load average (1, 5, 15 min)": f"{load('load_start')} at the start, {load('load_end')} at the end",
        "versions": (
            f"staticemb {staticemb.__version__} (pooling kernel `{staticemb.kernel_name()}`, tokenizer "
            f"`{info['backend']}`), numpy {np.__version__}, matplotlib {matplotlib.__version__}"
        ),
        "model": (
            f"bert-base-uncased tokenizer (padding and truncation off) with a random-normal float32 "
            f"{VOCAB_SIZE:,} x {FULL_DIM} table; no normalization"
        ),
        "timing": (
            f"best of {args.repeats} runs after one warm-up encode; model build and text preparation "
            "not included"
        ),
    }
    lines = ["# Scaling: text length and thread count", ""]
    lines += [f"- {k}: {v}" for k, v in facts.items()]
    lines += [
        "",
        f"## Throughput vs text length (dim 1024, num_threads={args.threads})",
        "",
        "Texts cut from one stream of Debian-sentence words at about L tokens each; "
        f"~{args.tokens:,} tokens per point; token counts measured with `model.tokenize`. "
        '"ASCII words": the same stream without its non-ASCII words. "non-ASCII": share of texts holding a '
        "non-ASCII character (the native tokenizer takes its ASCII fast path per run of ASCII characters).",
        "",
        "| stream | target L | texts | tokens/text (measured) | non-ASCII | seconds | M tokens/s | us/text |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in lengths:
        lines.append(
            f"| {p.stream} | {p.target:,} | {p.texts:,} | {p.mean_tokens:,.1f} | {100 * p.non_ascii:.1f}% | "
            f"{p.seconds:.3f} | {p.tokens_per_s / 1e6:.3f} | {p.seconds_per_text * 1e6:,.2f} |"
        )
    lines += [""]
    for name in dict.fromkeys(p.stream for p in lengths):
        sel = [p for p in lengths if p.stream == name]
        b_all, _ = fit_slope(sel)
        b_long, _ = fit_slope(sel, FIT_MIN_TOKENS)
        lines.append(
            f"- {name}: fit of log(seconds per text) = b log(tokens per text) + c: b = {b_all:.3f} over all "
            f"points, b = {b_long:.3f} over texts of {FIT_MIN_TOKENS}+ tokens (b = 1: cost linear in length)."
        )
    lines += [
        "",
        f"![time per text and throughput vs length]({rel(figures['length'])})",
        "",
        "## Throughput vs thread count",
        "",
        f"The first {args.n:,} `debian_sentences` ({mean_tokens:.1f} tokens each on average); `encode` "
        "(tokenize + pool) and `embed_ids` (pooling of the pre-tokenized ids only); this machine has "
        f"{os.cpu_count()} cores.",
        "",
        "| what | dim | num_threads | seconds | sentences/s | M tokens/s | speed-up over 1 thread |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for p in threads:
        base = next(q for q in threads if q.what == p.what and q.dim == p.dim and q.threads == 1)
        lines.append(
            f"| {p.what} | {p.dim} | {p.threads} | {p.seconds:.3f} | {p.sentences / p.seconds:,.0f} | "
            f"{p.tokens / p.seconds / 1e6:.2f} | {base.seconds / p.seconds:.2f}x |"
        )
    lines += ["", f"![throughput vs threads]({rel(figures['threads'])})", ""]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    info: dict[str, object] = {"load_start": os.getloadavg()}
    model = build_model()
    info["backend"] = model.tokenizer_backend
    lengths = length_sweep(model, args)
    threads, mean_tokens = thread_sweep(model, args)
    info["load_end"] = os.getloadavg()
    figures = {"length": args.figures / "scaling-length.png", "threads": args.figures / "scaling-threads.png"}
    plot_lengths(lengths, figures["length"], args.threads)
    plot_threads(threads, figures["threads"])
    report = render_report(lengths, threads, mean_tokens, info, args, figures)
    publish(report, args.output)
    print(f"written to {args.output} and {args.figures}/ in {time.perf_counter() - started:.0f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
