"""all-MiniLM-L6-v2 given the best passage too: the reference of the English acceptance searched with the same
passage part the static folds get.

    python -m training.minilm_passages [--sources debian pydoc ...] [--output training/RESULTS-minilm-passages.md]

The static folds are compared with all-MiniLM-L6-v2 (one vector a document, its 256-token window) and BM25 with
stemming. Since :class:`staticemb.SearchIndex` adds each document's best passage to its score
(``training.passage_scoring``), the fair question is what the same part gives the transformer: here MiniLM
embeds each held-out test split's queries, documents and passages (:func:`staticemb.split_passages`), and a
document scores ``cos(q, d) + max_p cos(q, p)``. The terms part has no transformer counterpart (it matches the
static table's rows) and is not given to it. No rule: a reference, reported beside the static figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import datasets as D
from . import loso
from . import passage_scoring as P
from .report import hardware


def score_source(encode: Callable[[list[str]], np.ndarray], source: str) -> dict[str, float]:
    """NDCG@10 of ``encode`` (texts -> vectors) on ``source``'s test split: the document's vector alone
    (``"doc"``) and with its best passage (``"doc+maxp"``)."""
    from staticemb import split_passages
    from staticemb.evaluation import multi_retrieval_metrics
    from staticemb.tasks import load_task

    task = load_task(D.task_path(loso.SOURCES[source][1], "test"))
    parts, owner = split_passages(task["corpus"])
    scores = P.passage_scores(encode(task["queries"]), encode(task["corpus"]), encode(parts), owner)
    return {k: multi_retrieval_metrics(scores[k], task["relevant"])["NDCG@10"] for k in ("doc", "doc+maxp")}


def render(rows: list[dict[str, Any]], *, command: str, seconds: float) -> str:
    lines = [
        "# all-MiniLM-L6-v2 with the best passage too, on the held-out test splits (English)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min)",
        f"- machine: {hardware()}",
        "- all-MiniLM-L6-v2 (its own 256-token window) embeds queries, documents and passages (sentences packed",
        "  to 6-48 words); doc = cos(q, d), doc+maxp = cos(q, d) + max over passages cos(q, p); NDCG@10 (%)",
        "",
        "| held-out source | MiniLM | MiniLM + best passage | change | BM25 (stemmed) |",
        "|---|---:|---:|---:|---:|",
    ]
    mean = {k: sum(r[k] for r in rows) / len(rows) for k in ("doc", "doc+maxp", "stem")} if rows else {}
    for r in rows + ([{"source": f"**mean of {len(rows)}**", **mean}] if len(rows) > 1 else []):
        lines.append(f"| {r['source']} | {100 * r['doc']:.1f} | {100 * r['doc+maxp']:.1f} | "
                     f"{100 * (r['doc+maxp'] - r['doc']):+.1f} | {100 * r['stem']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", nargs="*", choices=list(loso.SOURCES), default=list(loso.SOURCES))
    parser.add_argument("--output", type=Path,
                        default=Path(__file__).resolve().parent / "RESULTS-minilm-passages.md")
    args = parser.parse_args(argv)
    from staticemb.tasks import open_model

    started = time.perf_counter()
    _, _, baselines, teacher = loso.prepare()
    encoder = open_model(teacher, name="all-MiniLM-L6-v2")
    rows: list[dict[str, Any]] = []
    try:
        for source in args.sources:
            row: dict[str, Any] = {"source": source, **score_source(encoder.encode, source)}
            row["stem"] = loso.baseline("BM25 (stemmed)", loso.SOURCES[source][1], baselines)
            rows.append(row)
            print(f"{source}: MiniLM {100 * row['doc']:.1f} -> {100 * row['doc+maxp']:.1f}", flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    command = "python -m training.minilm_passages"
    command += f" --sources {' '.join(args.sources)}" if args.sources != list(loso.SOURCES) else ""
    report = render(rows, command=command, seconds=time.perf_counter() - started)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
