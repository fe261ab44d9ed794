"""A document scored by its best passage as well as by its whole, on sources held out entirely (English).

    python -m training.passage_scoring [--sources debian pydoc ...] [--output training/RESULTS-passage-scoring.md]

A static model's document vector is the mean of all its tokens, so in a long document the few words a short
query shares with it are diluted by everything else, where BM25 normalizes length and saturates repeats. The
standard answer of dense retrieval for long documents is to score passages: a document's score is its best
passage's (MaxP, Dai and Callan, 2019). Here a document's passages are its sentences (whitespace words)
packed in order until each has at least :data:`MIN_WORDS` words, and cut into pieces of at most
:data:`MAX_WORDS` words (lists, code and man pages often have no sentence ends); constants fixed before any
score. The split was written here for the run and moved into the library unchanged as
:func:`staticemb.split_passages`, the score as :func:`staticemb.passage_search`.

Scores of a query ``q`` against a document ``d`` with passages ``p``, all cosines at the same width:

- ``doc``: ``cos(q, d)``, the model as it is;
- ``doc+maxp``: ``cos(q, d) + max_p cos(q, p)``, the whole and its best part with equal weight (the rule's arm);
- ``maxp``: ``max_p cos(q, p)``; ``doc+firstp``: ``cos(q, d) + cos(q, p_1)``: reported, not chosen from.

Models: the adopted route's folds, each leave-one-source-out fold's second stage trained with one random crop
and the lead sentence of each document of the held-out source's train split (``training.teacher_passages --arm
lead``, ``model-target-crop-lead``), searched with the test split's corpus weights (``a = 1e-3``); and, for
reference, the plain folds (``training.loso``, the shipped recipe's measure) with corpus weights.

The rule, fixed on 2026-12-04 before any document was scored this way: ``doc+maxp`` becomes a search option of
the library when, over the lead-trained folds with corpus weights, it raises the mean NDCG@10 by more than one
point at both widths and lowers no fold by more than one point at 1024-d (:func:`training.loso.rule`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from staticemb.search import PASSAGE_MAX_WORDS, PASSAGE_MIN_WORDS

from . import datasets as D
from . import loso
from .report import hardware

A = 1e-3
MIN_WORDS, MAX_WORDS = PASSAGE_MIN_WORDS, PASSAGE_MAX_WORDS  # 6 and 48, the library's defaults
SCORES = ("doc", "doc+maxp", "maxp", "doc+firstp")
RULE = "doc+maxp"
MODELS = {"lead": "fold + crops + lead", "fold": "fold"}


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def passage_scores(queries: np.ndarray, docs: np.ndarray, parts: np.ndarray, owner: np.ndarray,
                   block: int = 256) -> dict[str, np.ndarray]:
    """Every score of :data:`SCORES` of each query (row of ``queries``) against each document (row of ``docs``),
    ``parts`` being the passages' vectors in document order and ``owner`` each passage's document (every
    document owning at least one): ``(queries, documents)`` matrices, from unnormalized vectors."""
    owner = np.asarray(owner)
    if len(owner) != len(parts) or np.any(np.diff(owner) < 0):
        raise ValueError("owner must give, in document order, the document of every passage")
    starts = np.searchsorted(owner, np.arange(len(docs)))
    if np.any(np.diff(np.append(starts, len(owner))) <= 0):
        raise ValueError("every document needs at least one passage")
    q, d, p = _unit(queries), _unit(docs), _unit(parts)
    whole = q @ d.T
    best = np.empty_like(whole)
    first = q @ p[starts].T
    for i in range(0, len(q), block):
        best[i:i + block] = np.maximum.reduceat(q[i:i + block] @ p.T, starts, axis=1)
    return {"doc": whole, "doc+maxp": whole + best, "maxp": best, "doc+firstp": whole + first}


def score_model(model: Any, source: str) -> dict[str, float]:
    """NDCG@10 of each score of :data:`SCORES` on ``source``'s test split, at each width of
    :data:`training.loso.DIMS`, with the split's corpus weights: ``"<score> <dim>"`` -> NDCG@10."""
    from staticemb import split_passages
    from staticemb.evaluation import multi_retrieval_metrics
    from staticemb.tasks import load_task

    task = load_task(D.task_path(loso.SOURCES[source][1], "test"))
    weighted = model.with_corpus_weights(task["corpus"], a=A)
    parts, owner = split_passages(task["corpus"])
    full = weighted.full_dim

    def encode(texts: list[str]) -> np.ndarray:
        return weighted.encode(texts, normalize=False, dim=full)

    q, d, p = encode(task["queries"]), encode(task["corpus"]), encode(parts)
    row: dict[str, float] = {}
    for dim in loso.DIMS:
        for name, scores in passage_scores(q[:, :dim], d[:, :dim], p[:, :dim], owner).items():
            row[f"{name} {dim}"] = multi_retrieval_metrics(scores, task["relevant"])["NDCG@10"]
    return row


class Study(NamedTuple):
    """A search-time study of the folds: scores compared on the lead-trained and plain folds, the first score of
    ``scores`` the base the rule compares ``rule`` with."""

    title: str  #: the report's title
    describe: Callable[[], list[str]]  #: the report's lines saying what the scores are
    scores: tuple[str, ...]  #: the scores compared, the base first
    rule: str | None  #: the score the rule decides on (None: a study with no decision)
    score_model: Callable[[Any, str], dict[str, float]]  #: (model, source) -> "<score> <dim>" -> NDCG@10
    module: str  #: the command's module
    output: str  #: the report's file, beside this module
    gain: float = 0.01  #: the mean gain the rule asks for at both widths (:func:`training.loso.rule`)
    extra: Callable[[list[dict[str, Any]]], list[str]] | None = None  #: more report lines from the rows

    def decide(self, rows: list[dict[str, Any]]) -> tuple[bool, str]:
        """:func:`decide_study` of this study."""
        return decide_study(self, rows)

    def render(self, rows: list[dict[str, Any]], *, command: str, seconds: float) -> str:
        """:func:`render_study` of this study."""
        return render_study(self, rows, command=command, seconds=seconds)

    def main(self, description: str | None, argv: Sequence[str] | None = None) -> int:
        """:func:`study_main` of this study."""
        return study_main(self, description, argv)


def decide_study(study: Study, rows: list[dict[str, Any]]) -> tuple[bool, str]:
    """The rule of the module's description, over the lead-trained folds: (adopted, why)."""
    if study.rule is None:
        return False, "no rule"
    return loso.rule(rows, lambda d: f"lead {study.scores[0]} {d}", lambda d: f"lead {study.rule} {d}",
                     gain=study.gain)


def render_study(study: Study, rows: list[dict[str, Any]], *, command: str, seconds: float) -> str:
    base_name = study.scores[0]
    lines = [
        study.title,
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min)",
        f"- machine: {hardware()}",
        *study.describe(),
        f"- models searched with the held-out test split's corpus weights (a={A:g}): "
        + "; ".join(f"{k} = {v}" for k, v in MODELS.items()),
        f"- NDCG@10 (%) on the held-out source's test split; in brackets the change from {base_name}",
        "",
        "| held-out source | model | dim | " + " | ".join(study.scores) + " | BM25 (stemmed) | all-MiniLM-L6-v2 |",
        "|---|---|---:|" + "---:|" * (len(study.scores) + 2),
    ]
    keys = [k for k in rows[0] if k != "source"] if rows else []
    mean = {"source": f"**mean of {len(rows)}**", **{k: sum(r[k] for r in rows) / len(rows) for k in keys}}
    for r in rows + ([mean] if len(rows) > 1 else []):
        for model in MODELS:
            for dim in reversed(loso.DIMS):
                base = r[f"{model} {base_name} {dim}"]
                cells = [r["source"], model, str(dim), f"{100 * base:.1f}"]
                cells += [f"{100 * r[f'{model} {s} {dim}']:.1f} ({100 * (r[f'{model} {s} {dim}'] - base):+.1f})"
                          for s in study.scores[1:]]
                cells += [f"{100 * r['stem']:.1f}", f"{100 * r['minilm']:.1f}"]
                lines.append("| " + " | ".join(cells) + " |")
    if rows and study.rule is not None:
        adopted, why = decide_study(study, rows)
        rule = study.rule
        above = [r["source"] for r in rows if r[f"lead {rule} 1024"] > r["stem"]]
        gain = "one point" if study.gain == 0.01 else f"{100 * study.gain:g} point"
        lines += ["", f"Decision ({rule} against {base_name} over the lead-trained folds: mean up by more than {gain} "
                  "at both widths, no fold down by more than one point at 1024-d): "
                  + ("**adopted**" if adopted else "**not adopted**") + f": {why}.",
                  f"- lead + {rule}: mean {100 * mean[f'lead {rule} 1024']:.1f} at 1024-d = "
                  f"{100 * mean[f'lead {rule} 1024'] / mean['minilm']:.1f}% of all-MiniLM-L6-v2; 256-d keeps "
                  f"{100 * mean[f'lead {rule} 256'] / mean[f'lead {rule} 1024']:.1f}%; above BM25 with stemming on "
                  f"{len(above)} of {len(rows)}" + (f" ({', '.join(above)})" if above else "") + "."]
    if rows and study.extra is not None:
        lines += study.extra(rows)
    return "\n".join(lines) + "\n"


def study_main(study: Study, description: str | None, argv: Sequence[str] | None = None) -> int:
    """The command line of a study: score the lead-trained and the plain fold of each source (trained first
    when missing), write the report."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", nargs="*", choices=list(loso.SOURCES), default=list(loso.SOURCES),
                        help="folds to score (trained first when missing)")
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / study.output)
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
                scores = study.score_model(StaticModel.from_pretrained(paths[key], normalize=False), source)
                row.update({f"{key} {k}": v for k, v in scores.items()})
            task = loso.SOURCES[source][1]
            row["stem"] = loso.baseline("BM25 (stemmed)", task, baselines)
            row["minilm"] = loso.baseline("all-MiniLM-L6-v2", task, baselines, teacher)
            rows.append(row)
            print(f"{source}: " + ", ".join(f"{s} {100 * row[f'lead {s} 1024']:.1f}" for s in study.scores),
                  flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    command = f"python -m {study.module}"
    command += f" --sources {' '.join(args.sources)}" if args.sources != list(loso.SOURCES) else ""
    report = render_study(study, rows, command=command, seconds=time.perf_counter() - started)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


def _describe() -> list[str]:
    return [f"- passages: a document's sentences packed to at least {MIN_WORDS} words, cut at {MAX_WORDS} words;",
            "  scores: doc = cos(q, d); doc+maxp = cos(q, d) + max over passages cos(q, p) (the rule's arm); maxp; ",
            "  doc+firstp = cos(q, d) + cos(q, first passage)"]


STUDY = Study("# A document scored by its best passage as well as by its whole, on held-out sources (English)",
              _describe, SCORES, RULE, score_model, "training.passage_scoring", "RESULTS-passage-scoring.md")

decide, render = STUDY.decide, STUDY.render


def main(argv: Sequence[str] | None = None) -> int:
    return STUDY.main(__doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
