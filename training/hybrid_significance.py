"""How sure the fused index's lead over BM25 with stemming is, per held-out source and on BBC's other articles.

    python -m training.hybrid_significance [--resamples 10000] [--output training/RESULTS-hybrid-significance.md]

``SearchIndex(model, documents, bm25="english")`` (the fold's index, min-max fused with BM25 with stemming:
RESULTS-hybrid-minmax.md) against BM25 with stemming alone, per query NDCG@10 at 1024-d, with the paired
bootstrap interval and sign-flip p-value of RESULTS-significance.md, for both folds of each source (the
lead-trained fold and the plain one). Then, as RESULTS-replicate.md did for the index alone, the plain BBC fold
on the three collections of BBC's other articles (train and dev splits, which no fold trained on), since BBC was
the one source where the index alone was surely below BM25 with stemming. No rule: a report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import datasets as D
from . import loso
from . import replicate as R
from . import significance as S
from .report import hardware

A = S.A
DIM = S.DIM
LANGUAGE = "english"
OTHER_COLLECTIONS = 3


def fused_and_bm25(model: Any, task: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Per query NDCG@10 of the fused index and of BM25 with stemming on ``task``."""
    from staticemb import SearchIndex
    from staticemb.tasks import BM25Scorer

    bm25 = S.per_query_ndcg(BM25Scorer(stem=True).scores(task["queries"], task["corpus"]), task["relevant"])
    fused = S.per_query_ndcg(SearchIndex(model, task["corpus"], dim=DIM, a=A, bm25=LANGUAGE).scores(task["queries"]),
                             task["relevant"])
    return fused, bm25


def row(label: str, fused: np.ndarray, bm25: np.ndarray, resamples: int) -> dict[str, Any]:
    return {"label": label, "queries": len(fused), "fused": float(fused.mean()), "bm25": float(bm25.mean()),
            **S.paired(fused, bm25, resamples)}


def render(rows: list[dict[str, Any]], others: list[dict[str, Any]], *, command: str, seconds: float,
           resamples: int) -> str:
    head = "| {} | queries | fused index | BM25 (stemmed) | difference | 95% interval | p | wins / losses |"
    lines = ["# The fused index against BM25 with stemming, query by query (English)", "",
             f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
             f"- command: `{command}` ({seconds / 60:.0f} min)", f"- machine: {hardware()}",
             f"- fused index: `SearchIndex(fold, documents, dim={DIM}, a={A:g}, bm25={LANGUAGE!r})`; NDCG@10 (%) per query",
             "- " + S.difference_note(resamples).removeprefix("- "), "",
             head.format("held-out source, fold"), "|---|---:|---:|---:|---:|---|---:|---:|"]

    def cells(r: dict[str, Any]) -> str:
        p = "<0.001" if r["p"] < 0.001 else f"{r['p']:.3f}"
        return (f"| {r['label']} | {r['queries']:,} | {100 * r['fused']:.1f} | {100 * r['bm25']:.1f} | "
                f"{100 * r['mean']:+.1f} | [{100 * r['low']:+.1f}, {100 * r['high']:+.1f}] | {p} | "
                f"{int(r['wins'])} / {int(r['losses'])} |")

    lines += [cells(r) for r in rows]
    lines += ["", "BBC's other articles (the plain fold; collections of the test split's size, RESULTS-replicate.md):", "",
              head.format("collection"), "|---|---:|---:|---:|---:|---|---:|---:|"]
    lines += [cells(r) for r in others]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--output", type=Path,
                        default=Path(__file__).resolve().parent / "RESULTS-hybrid-significance.md")
    args = parser.parse_args(argv)
    from staticemb import StaticModel
    from staticemb.tasks import load_task

    started = time.perf_counter()
    prepared = loso.prepare()
    src, models, _, teacher = prepared
    rows: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    try:
        for source in loso.SOURCES:
            task = load_task(D.task_path(loso.SOURCES[source][1], "test"))
            for name, path in S.fold_paths(source, models, src, teacher).items():
                fused, bm25 = fused_and_bm25(StaticModel.from_pretrained(path, normalize=False), task)
                rows.append(row(f"{source}, {'lead-trained' if name == 'lead' else 'plain'}", fused, bm25,
                                args.resamples))
                print(rows[-1]["label"], f"{100 * rows[-1]['mean']:+.1f}", flush=True)
        model, tasks = R.fold_and_collections(prepared, "bbc", OTHER_COLLECTIONS)
        pooled: list[tuple[np.ndarray, np.ndarray]] = []
        for label, task in tasks:
            fused, bm25 = fused_and_bm25(model, task)
            others.append(row(label, fused, bm25, args.resamples))
            if label != "test split":
                pooled.append((fused, bm25))
        others.append(row(f"**all {len(pooled)} others**", np.concatenate([f for f, _ in pooled]),
                          np.concatenate([b for _, b in pooled]), args.resamples))
    except KeyboardInterrupt:
        print("\ninterrupted; trained folds are kept and reused", file=sys.stderr)
        return 130
    command = "python -m training.hybrid_significance" + (
        f" --resamples {args.resamples}" if args.resamples != 10_000 else "")
    report = render(rows, others, command=command, seconds=time.perf_counter() - started, resamples=args.resamples)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
