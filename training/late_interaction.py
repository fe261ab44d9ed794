"""Query terms matched one by one against the document's tokens through the table, on sources held out entirely
(English).

    python -m training.late_interaction [--sources debian pydoc ...] [--output training/RESULTS-late-interaction.md]

Where the folds lose to BM25 (RESULTS-passage-scoring.md), the query names several things and the relevant
document has all of them in different sentences ("Haskell fuzzy matching; documentation"), while a competitor
has one of them at length: a mean of tokens, even with the document's best passage, does not count how many of
the query's terms a document covers, and BM25 is exactly that sum over query terms. The table can score it
without giving up its soft matching: each distinct query token ``t`` is matched to the document token ``s``
closest to it (cosine of their rows: 1 for the same token, less for a related one), and those matches are
averaged with the weight the model's own pooling gives ``t``, the norm of its folded row (table row times its
weights, corpus weights included):

    terms(q, d) = sum_t n_t max_s cos(e_t, e_s) / sum_t n_t

(late interaction over static token vectors; no index of vectors per token is needed, only each document's
distinct token ids). Written here for the run and moved into the library as :class:`staticemb.SearchIndex`, whose
parts this module now reads. Scores compared, all at the same width, with the test split's corpus weights:

- ``doc+maxp``: ``cos(q, d) + max_p cos(q, p)``, adopted in RESULTS-passage-scoring.md;
- ``doc+maxp+terms``: that plus ``terms(q, d)`` with equal weight (the rule's arm);
- ``terms`` alone and ``doc+terms``: reported, not chosen from.

Models: the lead-trained folds (``model-target-crop-lead``) and the plain folds, as in
``training.passage_scoring``. The rule, fixed on 2026-12-04 before any document was scored this way:
``doc+maxp+terms`` becomes a search option of the library when, over the lead-trained folds with corpus weights,
it raises the mean NDCG@10 over ``doc+maxp`` by more than one point at both widths and lowers no fold by more
than one point at 1024-d (:func:`training.loso.rule`).
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
from . import passage_scoring as P
from .report import hardware

A = 1e-3
SCORES = ("doc+maxp", "doc+maxp+terms", "terms", "doc+terms")
RULE = "doc+maxp+terms"
MODELS = P.MODELS


def components(index: Any, queries: list[str]) -> dict[str, np.ndarray]:
    """The parts of :class:`staticemb.SearchIndex`'s score (``"document"``, ``"passages"``, ``"terms"``) of every
    query against every document of ``index``, each a ``(queries, documents)`` array."""
    blocks = list(index._score_parts(queries, len(index)))
    return {name: np.concatenate([parts[name] for _, parts in blocks], axis=1) for name in blocks[0][1]}


def score_model(model: Any, source: str) -> dict[str, float]:
    """NDCG@10 of each score of :data:`SCORES` on ``source``'s test split at each width, with the split's corpus
    weights: ``"<score> <dim>"`` -> NDCG@10."""
    from staticemb import SearchIndex
    from staticemb.evaluation import multi_retrieval_metrics
    from staticemb.tasks import load_task

    task = load_task(D.task_path(loso.SOURCES[source][1], "test"))
    row: dict[str, float] = {}
    for dim in loso.DIMS:
        c = components(SearchIndex(model, task["corpus"], dim=dim, a=A), task["queries"])
        scores = {"doc+maxp": c["document"] + c["passages"], "doc+maxp+terms": c["document"] + c["passages"] + c["terms"],
                  "terms": c["terms"], "doc+terms": c["document"] + c["terms"]}
        for name, s in scores.items():
            row[f"{name} {dim}"] = multi_retrieval_metrics(s, task["relevant"])["NDCG@10"]
    return row


def decide(rows: list[dict[str, Any]]) -> tuple[bool, str]:
    """The rule of the module's description, over the lead-trained folds: (adopted, why)."""
    return loso.rule(rows, lambda d: f"lead doc+maxp {d}", lambda d: f"lead {RULE} {d}")


def render(rows: list[dict[str, Any]], *, command: str, seconds: float) -> str:
    adopted, why = decide(rows)
    lines = [
        "# Query terms matched one by one through the table, on held-out sources (English)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min)",
        f"- machine: {hardware()}",
        "- terms(q, d) = sum over q's distinct tokens t of n_t max over d's tokens s cos(e_t, e_s), over sum n_t",
        "  (n_t: the norm of t's folded row); doc+maxp = cos(q, d) + max over passages cos(q, p)",
        f"- models searched with the held-out test split's corpus weights (a={A:g}): "
        + "; ".join(f"{k} = {v}" for k, v in MODELS.items()),
        "- NDCG@10 (%) on the held-out source's test split; in brackets the change from doc+maxp",
        "",
        "| held-out source | model | dim | " + " | ".join(SCORES) + " | BM25 (stemmed) | all-MiniLM-L6-v2 |",
        "|---|---|---:|" + "---:|" * (len(SCORES) + 2),
    ]
    keys = [k for k in rows[0] if k != "source"] if rows else []
    mean = {"source": f"**mean of {len(rows)}**", **{k: sum(r[k] for r in rows) / len(rows) for k in keys}}
    for r in rows + ([mean] if len(rows) > 1 else []):
        for model in MODELS:
            for dim in reversed(loso.DIMS):
                base = r[f"{model} doc+maxp {dim}"]
                cells = [r["source"], model, str(dim), f"{100 * base:.1f}"]
                cells += [f"{100 * r[f'{model} {s} {dim}']:.1f} ({100 * (r[f'{model} {s} {dim}'] - base):+.1f})"
                          for s in SCORES[1:]]
                cells += [f"{100 * r['stem']:.1f}", f"{100 * r['minilm']:.1f}"]
                lines.append("| " + " | ".join(cells) + " |")
    if rows:
        above = [r["source"] for r in rows if r[f"lead {RULE} 1024"] > r["stem"]]
        lines += ["", f"Decision ({RULE} against doc+maxp over the lead-trained folds: mean up by more than one "
                  "point at both widths, no fold down by more than one at 1024-d): "
                  + ("**adopted**" if adopted else "**not adopted**") + f": {why}.",
                  f"- lead + {RULE}: mean {100 * mean[f'lead {RULE} 1024']:.1f} at 1024-d = "
                  f"{100 * mean[f'lead {RULE} 1024'] / mean['minilm']:.1f}% of all-MiniLM-L6-v2; 256-d keeps "
                  f"{100 * mean[f'lead {RULE} 256'] / mean[f'lead {RULE} 1024']:.1f}%; above BM25 with stemming on "
                  f"{len(above)} of {len(rows)}" + (f" ({', '.join(above)})" if above else "") + "."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", nargs="*", choices=list(loso.SOURCES), default=list(loso.SOURCES),
                        help="folds to score (trained first when missing)")
    parser.add_argument("--output", type=Path,
                        default=Path(__file__).resolve().parent / "RESULTS-late-interaction.md")
    args = parser.parse_args(argv)
    from staticemb import StaticModel

    from . import teacher_passages as T

    started = time.perf_counter()
    src, models, baselines, teacher = loso.prepare()
    rows: list[dict[str, Any]] = []
    try:
        for source in args.sources:
            paths = {"fold": loso.train_fold(source, models=models, src=src, teacher=teacher, refresh=False),
                     "lead": loso.second_stage(source, T.LEAD, T._datasets(source, "lead"), models=models, src=src,
                                               teacher=teacher, refresh=False)}
            row: dict[str, Any] = {"source": source}
            for key in MODELS:
                scores = score_model(StaticModel.from_pretrained(paths[key], normalize=False), source)
                row.update({f"{key} {k}": v for k, v in scores.items()})
            task = loso.SOURCES[source][1]
            row["stem"] = loso.baseline("BM25 (stemmed)", task, baselines)
            row["minilm"] = loso.baseline("all-MiniLM-L6-v2", task, baselines, teacher)
            rows.append(row)
            print(f"{source}: " + ", ".join(f"{s} {100 * row[f'lead {s} 1024']:.1f}" for s in SCORES), flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    command = "python -m training.late_interaction"
    command += f" --sources {' '.join(args.sources)}" if args.sources != list(loso.SOURCES) else ""
    report = render(rows, command=command, seconds=time.perf_counter() - started)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
