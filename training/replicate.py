"""Does a held-out source's difference to BM25 with stemming hold on the source's other documents? (English)

    python -m training.replicate [--sources bbc ...] [--collections 4] [--resamples 10000]
        [--output training/RESULTS-replicate.md]

``training.significance`` compares :class:`staticemb.SearchIndex` with BM25 with stemming on each held-out
source's test split, and finds one sure loss (BBC, 428 headlines). The plain fold of a source never saw any of
the source's texts: not its test split, and not its train and dev splits either, whose pairs only the other folds
train on. Those splits are a second sample of the same source, as large as the test split several times over,
that no choice of this project has been scored on. This module splits them (train + dev, by a seeded shuffle) into
``--collections`` disjoint collections of about the test split's size, so each is a task as hard as the test
split, and scores each query of each collection as ``training.significance`` does: the plain fold's index
(1,024-d, the searched collection's corpus weights, ``a = 0.001``) against BM25 with stemming, per query NDCG@10,
the mean difference with a 95% paired bootstrap interval and a paired sign-flip p-value, per collection and over
all of them. The lead-trained fold is left out: it trained on the held-out source's own train-split documents.

The question, written before the run: does the sign of the test split's difference (BBC: -1.9 for the plain fold)
hold on the other documents? A measurement, no rule: nothing is chosen from it, and the acceptance's own measure
stays the test split's.
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
from .report import hardware
from .significance import DIM, A, difference_cells, difference_note, paired, per_query_ndcg

SEED = 0

#: the task builder of each source's retrieval pairs, by split
TASKS = {
    "bbc": D.bbc_retrieval,
    "debian": D.debian_retrieval,
    "wikipedia": D.wikipedia_retrieval,
}


def collections(src: D.Sources, source: str, size: int, count: int, seed: int = SEED) -> list[D.Task]:
    """``count`` disjoint retrieval tasks of about ``size`` pairs each from ``source``'s train and dev splits
    (queries with their relevant documents kept together), drawn by a seeded shuffle."""
    pairs: list[tuple[str, str]] = []
    for split in ("train", "dev"):
        task = TASKS[source](src, split)
        pairs += [(q, task["corpus"][d]) for q, rel in zip(task["queries"], task["relevant"], strict=True)
                  for d in rel]
    queries = sorted({q for q, _ in pairs})
    order = np.random.default_rng(seed).permutation(len(queries))
    count = min(count, len(queries) // size) or 1
    groups = [set(queries[i] for i in order[k * size:(k + 1) * size]) for k in range(count)]
    return [D.retrieval_task(f"{source}-other-{k}", [(q, d) for q, d in pairs if q in g])
            for k, g in enumerate(groups)]


def score_task(model: Any, task: D.Task) -> tuple[np.ndarray, np.ndarray]:
    """Per query NDCG@10 of the model's index and of BM25 with stemming on ``task``."""
    from staticemb import SearchIndex
    from staticemb.tasks import BM25Scorer

    bm25 = per_query_ndcg(BM25Scorer(stem=True).scores(task["queries"], task["corpus"]), task["relevant"])
    ours = per_query_ndcg(SearchIndex(model, task["corpus"], dim=DIM, a=A).scores(task["queries"]),
                          task["relevant"])
    return ours, bm25


def arguments(argv: Sequence[str] | None, doc: str | None, output: str, *, collections: int,
              least: int) -> argparse.Namespace:
    """The command line of this module and of ``training.diagnose``: ``--sources``, ``--collections`` (at least
    ``least``), ``--resamples`` and ``--output`` (by default ``training/<output>``)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", nargs="+", choices=list(TASKS), default=["bbc"])
    parser.add_argument("--collections", type=int, default=collections)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / output)
    args = parser.parse_args(argv)
    if args.collections < least:
        parser.error(f"--collections must be at least {least}")
    return args


def fold_and_collections(prepared: tuple[D.Sources, Path, Path, str], source: str,
                         count: int) -> tuple[Any, list[tuple[str, D.Task]]]:
    """The plain fold of ``source`` (trained when missing; ``prepared`` is :func:`training.loso.prepare`'s) and
    the tasks it is scored on: ``("test split", test)``, then ``count`` collections of the source's other
    documents (:func:`collections`) labelled ``"other 1"`` …"""
    from staticemb import StaticModel

    src, models, _, teacher = prepared
    model = StaticModel.from_pretrained(
        loso.train_fold(source, models=models, src=src, teacher=teacher, refresh=False), normalize=False)
    test = TASKS[source](src, "test")
    others = collections(src, source, len(test["queries"]), count) if count else []
    return model, [("test split", test), *((f"other {k + 1}", t) for k, t in enumerate(others))]


def report_head(title: str, *, command: str, seconds: float, pooled: str = "") -> list[str]:
    """The lines a report of the plain fold's index against BM25 opens with: title, date, command, machine and
    what is compared (``pooled``: how the queries are pooled, added to that line)."""
    return [
        f"# {title}",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min)",
        f"- machine: {hardware()}",
        f"- the plain fold (never trained on any text of the held-out source) with SearchIndex (whole + best "
        f"passage + terms, {DIM}-d, the searched collection's corpus weights, a={A:g}) against BM25 with stemming, "
        f"per query NDCG@10{pooled}",
    ]


def render(rows: list[dict[str, Any]], *, command: str, seconds: float, resamples: int) -> str:
    lines = [
        *report_head("The difference to BM25 with stemming on a held-out source's other documents (English)",
                     command=command, seconds=seconds),
        "- collections: the source's train and dev splits, split by a seeded shuffle into disjoint collections of "
        "the test split's size; the test split's row is `training.significance`'s measure, for comparison",
        difference_note(resamples),
        "",
        "| held-out source | collection | queries | index | BM25 (stemmed) | difference | 95% interval | p | wins / losses |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['source']} | {r['collection']} | {r['queries']:,} | {100 * r['index']:.1f} | {100 * r['bm25']:.1f} "
                     f"| {difference_cells(r['stats'])} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv, __doc__, "RESULTS-replicate.md", collections=4, least=1)
    started = time.perf_counter()
    prepared = loso.prepare()
    rows: list[dict[str, Any]] = []
    try:
        for source in args.sources:
            model, tasks = fold_and_collections(prepared, source, args.collections)
            pooled: list[tuple[np.ndarray, np.ndarray]] = []
            for label, task in tasks:
                ours, bm25 = score_task(model, task)
                if label != "test split":
                    pooled.append((ours, bm25))
                rows.append({"source": source, "collection": label, "queries": len(task["queries"]),
                             "index": float(ours.mean()), "bm25": float(bm25.mean()),
                             "stats": paired(ours, bm25, args.resamples)})
                print(f"{source} {label}: {100 * ours.mean():.1f} vs {100 * bm25.mean():.1f}", flush=True)
            ours = np.concatenate([o for o, _ in pooled])
            bm25 = np.concatenate([b for _, b in pooled])
            rows.append({"source": source, "collection": f"**all {len(pooled)} others**", "queries": len(ours),
                         "index": float(ours.mean()), "bm25": float(bm25.mean()),
                         "stats": paired(ours, bm25, args.resamples)})
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    command = "python -m training.replicate"
    command += f" --sources {' '.join(args.sources)}" if args.sources != ["bbc"] else ""
    command += f" --collections {args.collections}" if args.collections != 4 else ""
    command += f" --resamples {args.resamples}" if args.resamples != 10_000 else ""
    report = render(rows, command=command, seconds=time.perf_counter() - started, resamples=args.resamples)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
