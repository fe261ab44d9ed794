"""How sure the differences to BM25 are: per-query NDCG@10 of the index and of BM25 with stemming on each held-out
source, with a paired bootstrap interval and a paired sign-flip test (English).

    python -m training.significance [--sources debian bbc ...] [--resamples 10000]
        [--output training/RESULTS-significance.md]

The acceptance asks the English model to beat BM25 with stemming on every held-out source, and the test splits
are small (428 BBC headlines): a point of NDCG@10 there is a handful of queries. For each source this scores
each query with :class:`staticemb.SearchIndex` (the lead-trained fold and the plain fold, 1024-d, the test
split's corpus weights, as in ``training.late_interaction``) and with BM25 with stemming (the baselines'
``bm25-stem``), and reports the mean difference with a 95% paired bootstrap interval (queries resampled with
replacement, ``--resamples`` times, percentile interval) and the two-sided p-value of a paired sign-flip
(randomization) test of a zero mean difference. A measurement, no rule: nothing is chosen from it.
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

A = 1e-3
DIM = 1024
SEED = 0


def per_query_ndcg(scores: np.ndarray, relevant: list[list[int]], k: int = 10) -> np.ndarray:
    """NDCG@k of each query (row of ``scores``), as :func:`staticemb.evaluation.multi_retrieval_metrics`
    computes it for one query."""
    from staticemb.evaluation import multi_retrieval_metrics

    return np.array([multi_retrieval_metrics(row[None, :], [rel], k)[f"NDCG@{k}"]
                     for row, rel in zip(scores, relevant, strict=True)])


def paired(a: np.ndarray, b: np.ndarray, resamples: int, seed: int = SEED) -> dict[str, float]:
    """The mean of ``a - b`` over queries, its 95% paired bootstrap interval and the two-sided p-value of a
    paired sign-flip test (the share of random sign flips whose mean is at least as far from 0)."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    flips = np.empty(resamples)
    for i in range(resamples):
        means[i] = d[rng.integers(0, len(d), len(d))].mean()
        flips[i] = (d * rng.choice((-1.0, 1.0), len(d))).mean()
    observed = d.mean()
    p = (1 + np.count_nonzero(np.abs(flips) >= abs(observed) - 1e-12)) / (resamples + 1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"mean": float(observed), "low": float(low), "high": float(high), "p": float(p),
            "wins": float(np.count_nonzero(d > 0)), "losses": float(np.count_nonzero(d < 0)), "n": float(len(d))}


def score_source(models: dict[str, Any], source: str, resamples: int) -> dict[str, Any]:
    """The per-query comparison of each model's index with BM25 with stemming on ``source``'s test split."""
    from staticemb import SearchIndex
    from staticemb.tasks import BM25Scorer, load_task

    task = load_task(D.task_path(loso.SOURCES[source][1], "test"))
    bm25 = per_query_ndcg(BM25Scorer(stem=True).scores(task["queries"], task["corpus"]), task["relevant"])
    row: dict[str, Any] = {"source": source, "queries": len(task["queries"]), "bm25": float(bm25.mean())}
    for name, model in models.items():
        ours = per_query_ndcg(SearchIndex(model, task["corpus"], dim=DIM, a=A).scores(task["queries"]),
                              task["relevant"])
        row[name] = {"ndcg": float(ours.mean()), **paired(ours, bm25, resamples)}
    return row


def difference_note(resamples: int) -> str:
    """The report line that says what the difference columns of :func:`difference_cells` hold."""
    return (f"- difference: mean over queries (points of NDCG@10), 95% paired bootstrap interval ({resamples:,} "
            "resamples), two-sided paired sign-flip p-value; wins / losses: queries where the index scores higher / "
            "lower")


def difference_cells(m: dict[str, float]) -> str:
    """The difference, 95% interval, p and wins / losses cells of a table row, from :func:`paired`'s result."""
    return (f"{100 * m['mean']:+.1f} | [{100 * m['low']:+.1f}, {100 * m['high']:+.1f}] | {m['p']:.3f} "
            f"| {m['wins']:.0f} / {m['losses']:.0f}")


def render(rows: list[dict[str, Any]], *, command: str, seconds: float, resamples: int) -> str:
    lines = [
        "# How sure the differences to BM25 with stemming are, on held-out sources (English)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min)",
        f"- machine: {hardware()}",
        f"- SearchIndex (whole + best passage + terms, {DIM}-d, the test split's corpus weights, a={A:g}) against "
        "BM25 with stemming, per query NDCG@10 on the held-out source's test split",
        difference_note(resamples),
        "",
        "| held-out source | queries | model | index | BM25 (stemmed) | difference | 95% interval | p | wins / losses |",
        "|---|---:|---|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        for name in ("lead", "fold"):
            if name not in r:
                continue
            m = r[name]
            lines.append(f"| {r['source']} | {r['queries']:,} | {name} | {100 * m['ndcg']:.1f} | {100 * r['bm25']:.1f} "
                         f"| {difference_cells(m)} |")
    lines += ["", "lead = fold + crops + lead (the lead-trained fold); fold = the plain fold. An interval that holds 0 "
              "means the test split cannot tell the two apart at the 95% level."]
    return "\n".join(lines) + "\n"


def fold_paths(source: str, models: Path, src: D.Sources, teacher: str) -> dict[str, Path]:
    """The two folds without ``source`` (trained first where missing): ``"lead"``, the fold + crops + lead
    sentences of ``training.teacher_passages --arm lead``, and ``"fold"``, the plain fold."""
    from . import teacher_passages as T

    return {"lead": loso.second_stage(source, T.LEAD, T._datasets(source, "lead"), models=models, src=src,
                                      teacher=teacher, refresh=False),
            "fold": loso.train_fold(source, models=models, src=src, teacher=teacher, refresh=False)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", nargs="*", choices=list(loso.SOURCES), default=list(loso.SOURCES))
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "RESULTS-significance.md")
    args = parser.parse_args(argv)
    from staticemb import StaticModel

    started = time.perf_counter()
    src, models, _, teacher = loso.prepare()
    rows = []
    try:
        for source in args.sources:
            paths = fold_paths(source, models, src, teacher)
            loaded = {k: StaticModel.from_pretrained(p, normalize=False) for k, p in paths.items()}
            rows.append(score_source(loaded, source, args.resamples))
            m = rows[-1]["lead"]
            print(f"{source}: lead {100 * m['ndcg']:.1f} vs {100 * rows[-1]['bm25']:.1f} "
                  f"[{100 * m['low']:+.1f}, {100 * m['high']:+.1f}] p={m['p']:.3f}", flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    command = "python -m training.significance"
    command += f" --sources {' '.join(args.sources)}" if args.sources != list(loso.SOURCES) else ""
    command += f" --resamples {args.resamples}" if args.resamples != 10_000 else ""
    report = render(rows, command=command, seconds=time.perf_counter() - started, resamples=args.resamples)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
