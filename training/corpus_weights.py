"""Token weights counted on the corpus being searched, on sources held out entirely (English).

    python -m training.corpus_weights [--sources debian pydoc] [--a 1e-3 1e-4] \
        [--output training/RESULTS-corpus-weights.md]

BM25 weighs a term by its rarity in the collection it searches. A static model fixes each token's weight (its
row's norm) when it is trained, from the training texts: on a source it never saw, the source's own frequent
words (a package manager's "package", a library's "returns") weigh as much as they did in training. Here the
SIF weight ``a / (a + p_t)`` of token ``t`` is counted on the searched corpus itself (the held-out test split's
documents, never its queries or judgements: exactly what BM25's IDF sees) and applied to queries and documents
alike (:meth:`staticemb.StaticModel.with_corpus_weights`), so the model stays one table and one mean. It is set
beside the unweighted table and beside SIF counted on the training texts (``training.weighting``: the trainer's
``"sif"``).

Models: the untrained MiniLM distillation ``en-distilled-1024`` on all six sources (its counts of training
texts leave the held-out source out), and the leave-one-source-out fold of each ``--sources`` source
(:func:`training.loso.train_fold`, trained first when missing; its training counts are the texts of its
contrastive stage's pair sets, as ``"sif"`` counts them). NDCG@10 on the held-out test split at 1024-d and 256-d.

The rule, fixed before the trained folds were first scored: corpus weights become the documented way to search a
corpus (``StaticModel.with_corpus_weights``) when, at ``a = 1e-3`` (the value fixed in advance; the grid's other
values are reported, not chosen from), the trained folds' mean rises by more than one point at both widths and no
fold falls by more than one point at 1024-d.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from staticemb.train.weighting import sif_weights

from . import datasets as D
from . import loso
from . import weighting as W
from .report import hardware

A_GRID = (1e-3, 1e-4)
RULE_A = 1e-3
UNTRAINED = "en-distilled-1024"
COLUMNS = ("none", "train", "corpus")
LABELS = {"none": "unweighted", "train": "SIF, training texts", "corpus": "SIF, searched corpus"}


def score_row(model: Any, name: str, source: str, train_counts: Any, a_grid: Sequence[float]) -> dict[str, Any]:
    """NDCG@10 of ``model`` on ``source``'s test split: unweighted, with SIF weights from ``train_counts``
    (folded into the table) and with :meth:`~staticemb.StaticModel.with_corpus_weights` on the split's documents
    (never its queries), at each ``a``; keys ``"<column> <a> <dim>"`` (``"none <dim>"`` unweighted)."""
    from staticemb.tasks import load_task

    task = loso.SOURCES[source][1]
    corpus = load_task(D.task_path(task, "test"))["corpus"]
    row: dict[str, Any] = {"model": name, "source": source}
    row.update({f"none {d}": v for d, v in W.score_model(model, name, task).items()})
    for a in a_grid:
        variants = {"train": W.weighted(model, sif_weights(train_counts, a)),
                    "corpus": model.with_corpus_weights(corpus, a=a)}
        for column, variant in variants.items():
            scores = W.score_model(variant, f"{name} {column} {a:g}", task)
            row.update({f"{column} {a:g} {d}": v for d, v in scores.items()})
    return row


def decide(rows: list[dict[str, Any]], a: float = RULE_A) -> tuple[bool, str]:
    """The rule of the module's description (:func:`training.loso.rule`) over the trained folds' ``rows``:
    (adopted, why)."""
    adopted, why = loso.rule(rows, lambda d: f"none {d}", lambda d: f"corpus {a:g} {d}")
    return adopted, (f"at a={a:g}, {why}" if rows else why)


def _table(rows: list[dict[str, Any]], a_grid: Sequence[float]) -> list[str]:
    head = ["held-out source", "dim", LABELS["none"]]
    head += [f"{LABELS[c]} a={a:g}" for a in a_grid for c in ("train", "corpus")]
    head += ["BM25 (stemmed)", "all-MiniLM-L6-v2"]
    lines = ["| " + " | ".join(head) + " |", "|---|---:|" + "---:|" * (len(head) - 2)]
    means = [{"source": f"**mean of {len(rows)}**", **{k: sum(r[k] for r in rows) / len(rows)
                                                       for k in rows[0] if k not in ("model", "source")}}
             ] if len(rows) > 1 else []
    for r in rows + means:
        for dim in ("1024", "256"):
            base = r[f"none {dim}"]
            cells = [r["source"], dim, f"{100 * base:.1f}"]
            cells += [f"{100 * r[f'{c} {a:g} {dim}']:.1f} ({100 * (r[f'{c} {a:g} {dim}'] - base):+.1f})"
                      for a in a_grid for c in ("train", "corpus")]
            cells += [f"{100 * r['stem']:.1f}", f"{100 * r['minilm']:.1f}"]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def render(untrained: list[dict[str, Any]], folds: list[dict[str, Any]], a_grid: Sequence[float], *,
           command: str, seconds: float) -> str:
    lines = [
        "# Token weights counted on the searched corpus, on held-out sources (English)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min)",
        f"- machine: {hardware()}",
        "- weighting: row `t` scaled by `a / (a + p_t)`, `p_t` the token's share of the counted tokens, for",
        "  queries and documents alike; counted on the fold's training texts (never the held-out source's) or on",
        "  the searched corpus (the held-out test split's documents, without queries or judgements, as BM25's IDF)",
        "- NDCG@10 (%) on the held-out source's test split; in brackets the change from the unweighted table",
        "",
    ]
    if untrained:
        lines += [f"**The untrained MiniLM distillation** (`{UNTRAINED}`):", "", *_table(untrained, a_grid), ""]
    if folds:
        adopted, why = decide(folds)
        lines += ["**The leave-one-source-out folds** (the English recipe trained without the source):", "",
                  *_table(folds, a_grid), "",
                  f"Decision (trained folds, a={RULE_A:g}: mean up by more than one point at both widths, no fold "
                  "down by more than one at 1024-d): " + ("**adopted**" if adopted else "**not adopted**")
                  + f": {why}."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", nargs="*", choices=list(loso.SOURCES), default=["debian", "pydoc"],
                        help="folds to score (trained first when missing)")
    parser.add_argument("--a", nargs="+", type=float, default=list(A_GRID), help="SIF smoothing values")
    parser.add_argument("--output", type=Path,
                        default=Path(__file__).resolve().parent / "RESULTS-corpus-weights.md")
    args = parser.parse_args(argv)
    if RULE_A not in args.a:
        parser.error(f"--a must include {RULE_A:g}, the value the rule is decided at")
    from staticemb import StaticModel

    started = time.perf_counter()
    src, models, baselines, teacher = loso.prepare()
    untrained_rows: list[dict[str, Any]] = []
    fold_rows: list[dict[str, Any]] = []
    try:
        base = StaticModel.from_pretrained(loso.distilled(models, teacher), normalize=False)
        buckets = W.bucket_counts(base, models.parent / "results" / "weighting")[0]
        for source in loso.SOURCES:
            untrained_rows.append(score_row(base, UNTRAINED, source, W.held_out_counts(buckets, source), args.a))
        for source in args.sources:
            path = loso.train_fold(source, models=models, src=src, teacher=teacher, refresh=False)
            model = StaticModel.from_pretrained(path, normalize=False)
            fold_rows.append(score_row(model, f"loso/{source}", source,
                                       W.recipe_counts(model, loso.fold_dir(models, source)), args.a))
        for row in untrained_rows + fold_rows:
            task = loso.SOURCES[row["source"]][1]
            row["stem"] = loso.baseline("BM25 (stemmed)", task, baselines)
            row["minilm"] = loso.baseline("all-MiniLM-L6-v2", task, baselines, teacher)
    except KeyboardInterrupt:
        print("\ninterrupted; trained folds are kept and reused", file=sys.stderr)
        return 130
    command = "python -m training.corpus_weights --sources " + " ".join(args.sources)
    if args.a != list(A_GRID):
        command += " --a " + " ".join(f"{a:g}" for a in args.a)
    report = render(untrained_rows, fold_rows, args.a, command=command, seconds=time.perf_counter() - started)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
