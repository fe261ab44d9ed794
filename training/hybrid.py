"""BM25 and a static model fused by reciprocal rank, on sources held out entirely (English).

    python -m training.hybrid [--sources debian pydoc wikipedia bbc rustdoc manpage] \
        [--static vector|index] [--output training/RESULTS-hybrid.md]

The static model alone stays below BM25 with stemming on every source it never saw
(RESULTS-loso.md, RESULTS-corpus-weights.md), yet the two fail on different queries: BM25 on a query that
names a thing in other words than its document, the table on the rare exact term a document shares with its
query. Reciprocal rank fusion (Cormack, Clarke and Büttcher, 2009) adds ``1 / (k + rank)`` over the two rankings
of the corpus, with the paper's ``k = 60`` and equal weights: nothing is fitted, so nothing can be tuned to a
held-out source.

For each ``--sources`` source: its leave-one-source-out fold (:func:`training.loso.train_fold`, trained first
when missing) with corpus weights counted on the searched documents
(:meth:`staticemb.StaticModel.with_corpus_weights`, ``a = 1e-3``, as RESULTS-corpus-weights.md adopted it), BM25
with stemming (``bm25s``, the baseline of every table), and their fusion, at 1024-d and 256-d; NDCG@10 on the
held-out test split, beside all-MiniLM-L6-v2.

The rule, fixed before any fusion was scored: the fusion is the README's advice for searching a collection the
model never saw when, at both widths, it is above BM25 with stemming on every held-out source.

``--static index`` (2026-12-05, written before its first score; RESULTS-hybrid-index.md): the vector fold lost
that rule (RESULTS-hybrid.md) while it was 3 to 11 points behind BM25 on five sources. The fold's
:class:`staticemb.SearchIndex` (whole + best passage + terms, corpus weights ``a = 1e-3``, its defaults) is level
with BM25 with stemming on average and fails on other queries than BM25 does (RESULTS-significance.md: it wins
and loses queries on every source), which is where fusion pays. The static side is then the plain fold's index
(the shipped recipe, no text of the held-out source in training) at each width; the fusion, ``k``, the weights and
the rule are the ones above, unchanged.

``--fusion minmax`` (2026-12-06, written before its first score; RESULTS-hybrid-minmax.md): reciprocal rank fusion
keeps only ranks, and on BBC the fused ranking sat by the index's (91.4) instead of between the index (91.2) and
BM25 (93.1): a first place that BM25 gives by a wide margin counts no more than one it gives by a hair. The
convex combination of scores normalized per query keeps those margins; on the BEIR sets it is above RRF
(Bruch, Gai and Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval", 2023). Each side's scores of a
query are min-max normalized over the whole collection (``(s - min) / (max - min)``; a query whose scores are all
equal scores 0) and the two are averaged, equal weights (``alpha = 0.5``), nothing fitted. Static side, widths,
folds and rule as for ``--static index``: the fusion is the README's advice when, at both widths, it is above BM25
with stemming on every held-out source.
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
from staticemb.index import minmax_fusion

from . import datasets as D
from . import loso
from .report import hardware

RRF_K = 60
SIF_A = 1e-3


def competition_ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of every column in each row of ``scores`` (highest first); tied scores share the best rank
    of their group ("1224" ranking), so the order of the corpus never breaks a tie."""
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (queries x documents), got shape {scores.shape}")
    descending = -np.sort(scores, axis=1)[:, ::-1]  # ascending negated scores
    ranks = np.empty(scores.shape, dtype=np.int64)
    for i, row in enumerate(scores):
        ranks[i] = np.searchsorted(descending[i], -row, side="left") + 1
    return ranks


def reciprocal_rank_fusion(*score_matrices: np.ndarray, k: int = RRF_K) -> np.ndarray:
    """``sum(1 / (k + rank))`` over the rankings that each ``(queries, documents)`` score matrix gives."""
    if not score_matrices:
        raise ValueError("need at least one score matrix")
    shapes = {np.shape(s) for s in score_matrices}
    if len(shapes) != 1:
        raise ValueError(f"score matrices of different shapes: {sorted(shapes)}")
    if k < 0:
        raise ValueError(f"k must be at least 0, got {k}")
    return sum(1.0 / (k + competition_ranks(s)) for s in score_matrices)  # type: ignore[return-value]


FUSIONS = {"rrf": (reciprocal_rank_fusion, "fusion (RRF)"), "minmax": (minmax_fusion, "fusion (min-max)")}
"""How the two sides are fused: ``staticemb.index.minmax_fusion`` is what ``SearchIndex(..., bm25=...)`` runs."""

STATIC = {"vector": "fold + corpus weights", "index": "fold's SearchIndex"}


def static_scores(model: Any, task: dict[str, Any], static: str) -> dict[int, np.ndarray]:
    """The static side's ``(queries, documents)`` scores at each width: the fold's vectors with corpus weights
    (``"vector"``) or its :class:`staticemb.SearchIndex` with its defaults (``"index"``)."""
    from staticemb import SearchIndex
    from staticemb.evaluation import cosine_scores

    if static == "index":
        return {dim: SearchIndex(model, task["corpus"], dim=dim, a=SIF_A).scores(task["queries"])
                for dim in loso.DIMS}
    if static != "vector":
        raise ValueError(f"static must be one of {sorted(STATIC)}, got {static!r}")
    weighted = model.with_corpus_weights(task["corpus"], a=SIF_A)
    queries, corpus = weighted.encode(task["queries"]), weighted.encode(task["corpus"])
    return {dim: cosine_scores(queries[:, :dim], corpus[:, :dim]) for dim in loso.DIMS}


def score_source(model: Any, source: str, static: str = "vector", fusion: str = "rrf") -> dict[str, Any]:
    """NDCG@10 on ``source``'s test split: the static side of ``static_scores`` (``"static <dim>"``), BM25
    with stemming (``"bm25"``) and their fusion by ``FUSIONS[fusion]`` (``"fused <dim>"``)."""
    from staticemb.evaluation import multi_retrieval_metrics
    from staticemb.tasks import BM25Scorer, load_task

    fuse = FUSIONS[fusion][0]

    task = load_task(D.task_path(loso.SOURCES[source][1], "test"))
    lexical = BM25Scorer(stem=True).scores(task["queries"], task["corpus"])
    row: dict[str, Any] = {"source": source,
                           "bm25": multi_retrieval_metrics(lexical, task["relevant"])["NDCG@10"]}
    for dim, dense in static_scores(model, task, static).items():
        row[f"static {dim}"] = multi_retrieval_metrics(dense, task["relevant"])["NDCG@10"]
        row[f"fused {dim}"] = multi_retrieval_metrics(fuse(lexical, dense),
                                                      task["relevant"])["NDCG@10"]
    return row


def decide(rows: Sequence[dict[str, Any]]) -> tuple[bool, str]:
    """The rule of the module's description: (adopted, why)."""
    if not rows:
        return False, "no held-out source was scored"
    margins = {d: min(rows, key=lambda r: r[f"fused {d}"] - r["bm25"]) for d in loso.DIMS}
    adopted = all(r[f"fused {d}"] > r["bm25"] for d, r in margins.items())
    why = "; ".join(f"smallest margin over BM25 (stemmed) at {d}-d {100 * (r[f'fused {d}'] - r['bm25']):+.1f} "
                    f"({r['source']})" for d, r in margins.items())
    return adopted, why


def render(rows: Sequence[dict[str, Any]], *, command: str, seconds: float, static: str = "vector",
           fusion: str = "rrf") -> str:
    head = ["held-out source", "dim", STATIC[static], "BM25 (stemmed)", FUSIONS[fusion][1],
            "fusion − BM25 (stemmed)", "all-MiniLM-L6-v2"]
    lines = [
        "# BM25 and the static model fused by "
        + ("reciprocal rank" if fusion == "rrf" else "min-max normalized scores") + ", on held-out sources (English)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min)",
        f"- machine: {hardware()}",
        (f"- fusion: `1 / ({RRF_K} + rank)` summed over the two rankings, equal weights, ties sharing a rank;"
         if fusion == "rrf" else "- fusion: the mean of the two sides' scores, each min-max normalized per query "
         "over the collection (alpha = 0.5);"),
        f"  static side: the leave-one-source-out fold{' (plain) searched by SearchIndex (whole + best passage + terms)' if static == 'index' else ''} with corpus weights (`a = {SIF_A:g}`,",
        "  counted on the searched documents); NDCG@10 (%) on the held-out source's test split",
        "",
        "| " + " | ".join(head) + " |",
        "|---|---:|" + "---:|" * (len(head) - 2),
    ]
    mean = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0] if k != "source"} if len(rows) > 1 else None
    for r in [*rows, *([{"source": f"**mean of {len(rows)}**", **mean}] if mean else [])]:
        for dim in reversed(loso.DIMS):
            cells = [r["source"], str(dim), f"{100 * r[f'static {dim}']:.1f}", f"{100 * r['bm25']:.1f}",
                     f"{100 * r[f'fused {dim}']:.1f}", f"{100 * (r[f'fused {dim}'] - r['bm25']):+.1f}",
                     f"{100 * r['minilm']:.1f}"]
            lines.append("| " + " | ".join(cells) + " |")
    adopted, why = decide(rows)
    lines += ["", "Decision (the fusion above BM25 with stemming on every held-out source at both widths): "
              + ("**adopted**" if adopted else "**not adopted**") + f": {why}."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", nargs="+", choices=list(loso.SOURCES), default=list(loso.SOURCES),
                        help="folds to score (trained first when missing)")
    parser.add_argument("--static", choices=list(STATIC), default="vector",
                        help="the static side: the fold's vectors, or its SearchIndex")
    parser.add_argument("--fusion", choices=list(FUSIONS), default="rrf",
                        help="reciprocal rank fusion, or the mean of min-max normalized scores")
    parser.add_argument("--output", type=Path, default=None,
                        help="default: training/RESULTS-hybrid.md (vector), RESULTS-hybrid-index.md (index), "
                             "RESULTS-hybrid-minmax.md (--fusion minmax)")
    args = parser.parse_args(argv)
    here = Path(__file__).resolve().parent
    output = args.output or here / ("RESULTS-hybrid-minmax.md" if args.fusion == "minmax" else
                                    "RESULTS-hybrid.md" if args.static == "vector" else "RESULTS-hybrid-index.md")
    from staticemb import StaticModel

    started = time.perf_counter()
    src, models, baselines, teacher = loso.prepare()
    rows = []
    try:
        for source in args.sources:
            path = loso.train_fold(source, models=models, src=src, teacher=teacher, refresh=False)
            row = score_source(StaticModel.from_pretrained(path, normalize=False), source, args.static, args.fusion)
            row["minilm"] = loso.baseline("all-MiniLM-L6-v2", loso.SOURCES[source][1], baselines, teacher)
            print(f"{source}: static {100 * row['static 1024']:.1f}, BM25 (stemmed) {100 * row['bm25']:.1f}, "
                  f"fused {100 * row['fused 1024']:.1f}", flush=True)
            rows.append(row)
    except KeyboardInterrupt:
        print("\ninterrupted; trained folds are kept and reused", file=sys.stderr)
        return 130
    command = "python -m training.hybrid" + (
        f" --sources {' '.join(args.sources)}" if args.sources != list(loso.SOURCES) else "") + (
        f" --static {args.static}" if args.static != "vector" else "") + (
        f" --fusion {args.fusion}" if args.fusion != "rrf" else "")
    report = render(rows, command=command, seconds=time.perf_counter() - started, static=args.static,
                    fusion=args.fusion)
    output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
