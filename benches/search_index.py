"""Search speed of staticemb.SearchIndex on real text, beside the vector alone and BM25.

    python benches/search_index.py [--documents 10000] [--queries 1000] [--dim 1024] [--top-k 10] \\
        [--candidates 100 ...] [--output benches/RESULTS-search-index.md]

Documents: the long descriptions of the first ``--documents`` English Debian packages (apt's translation index,
``staticemb.corpora.debian_descriptions``); queries: the short descriptions of the first ``--queries`` of them.
The model is the real bert-base-uncased tokenizer with the random-normal 30,522 x 1024 table every speed
benchmark uses: the cost does not depend on the values in the table. Timed, each once after a warm-up on 50
queries:

- ``SearchIndex(model, documents)``: counting the collection's token weights, encoding the documents and their
  passages, listing each document's distinct tokens (the index build);
- ``index.search``: the three parts (vector, best passage, terms), exactly and through the vector's shortlist of
  ``--candidates`` documents (``search(..., candidates=100)``), the same with ``stemmer="english"``, the three
  parts fused with BM25 (``bm25="english"``, exact search only), and
  ``SearchIndex(..., terms=False)`` and
  ``(..., passages=False, terms=False)`` for what each part costs;
- ``semantic_search`` on the corpus-weighted vectors (the vector alone, as a user keeping vectors elsewhere);
- BM25 with stemming (``bm25s`` with PyStemmer, as the evaluation's baseline): index build and retrieval.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "benches"))

from _common import bert_tokenizer, cpu_model, publish, reference_table, run_main  # noqa: E402


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--candidates", type=int, nargs="*", default=[100],
                        help="also search through the vector's shortlist of this many candidates")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "benches" / "RESULTS-search-index.md")
    return parser.parse_args(argv)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def run(args: argparse.Namespace) -> int:
    from staticemb import SearchIndex, StaticModel, semantic_search
    from staticemb.corpora import debian_descriptions

    packages = [p for p in debian_descriptions("en") if p.long.strip()][: args.documents]
    if len(packages) < args.documents:
        raise SystemExit(f"error: only {len(packages)} English package descriptions, fewer than --documents")
    documents = [p.long for p in packages]
    queries = [p.short for p in packages[: args.queries]]
    model = StaticModel(bert_tokenizer(), reference_table())
    rows: list[tuple[str, float, str]] = []

    def search_row(name: str, **options: object) -> None:
        build, index = timed(lambda: SearchIndex(model, documents, dim=args.dim, **options))
        index.search(queries[:50], top_k=args.top_k)  # warm-up
        seconds, _ = timed(lambda: index.search(queries, top_k=args.top_k))
        rows.append((f"{name}: index build", build, f"{len(documents) / build:,.0f} documents/s"))
        rows.append((f"{name}: search", seconds, f"{len(queries) / seconds:,.0f} queries/s"))
        if options.get("terms", True) and "bm25" not in options:  # through the vector's shortlist
            for n in args.candidates:
                index.search(queries[:50], top_k=args.top_k, candidates=n)
                seconds, _ = timed(lambda n=n: index.search(queries, top_k=args.top_k, candidates=n))
                rows.append((f"{name}: search, candidates={n}", seconds, f"{len(queries) / seconds:,.0f} queries/s"))

    search_row("SearchIndex (vector + best passage + terms)")
    search_row('SearchIndex, stemmer="english"', stemmer="english")
    search_row('SearchIndex, bm25="english" (the three parts fused with BM25 with stemming)', bm25="english")
    search_row("SearchIndex, terms=False (vector + best passage)", terms=False)
    search_row("SearchIndex, passages=False, terms=False (vector)", passages=False, terms=False)

    weighted = model.with_corpus_weights(documents)
    corpus = weighted.encode(documents, dim=args.dim, normalize=True)
    q = weighted.encode(queries, dim=args.dim, normalize=True)
    semantic_search(q[:50], corpus, top_k=args.top_k)
    seconds, _ = timed(lambda: semantic_search(q, corpus, top_k=args.top_k))
    rows.append(("semantic_search on the weighted vectors (queries encoded beforehand)", seconds,
                 f"{len(queries) / seconds:,.0f} queries/s"))
    try:
        import bm25s
        import Stemmer
    except ImportError:
        rows.append(("BM25 with stemming (bm25s): not installed", float("nan"), ""))
    else:
        stemmer = Stemmer.Stemmer("english")

        def bm25_index():
            retriever = bm25s.BM25()
            retriever.index(bm25s.tokenize(documents, stopwords="en", stemmer=stemmer, show_progress=False),
                            show_progress=False)
            return retriever

        build, retriever = timed(bm25_index)
        seconds, _ = timed(lambda: retriever.retrieve(
            bm25s.tokenize(queries, stopwords="en", stemmer=stemmer, show_progress=False), k=args.top_k,
            show_progress=False))
        rows.append(("BM25 with stemming (bm25s): index build", build, f"{len(documents) / build:,.0f} documents/s"))
        rows.append(("BM25 with stemming (bm25s): search", seconds, f"{len(queries) / seconds:,.0f} queries/s"))

    command = "python benches/search_index.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if sys.argv[0].endswith("search_index.py") else []))
    lines = [
        "# Search speed of staticemb.SearchIndex on real text",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command.strip()}`",
        f"- machine: {cpu_model()}, {os.cpu_count()} logical CPUs; Python {platform.python_version()}",
        f"- {len(documents):,} Debian long descriptions, {len(queries):,} short descriptions as queries; "
        f"bert-base-uncased tokenizer, 30,522 x 1024 table, searched at {args.dim}-d, top {args.top_k}",
        "",
        "| step | seconds | rate |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {seconds:.2f} | {rate} |" for name, seconds, rate in rows]
    publish("\n".join(lines) + "\n", args.output)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
