"""A lexical identity term in the table, and a second teacher's distillation, on sources held out entirely.

    python -m training.lexical [--sources debian wikipedia bbc pydoc rustdoc] [--scales 0.5 1 2] \
        [--output training/RESULTS-lexical.md] [--refresh]

A distilled table gives each token the teacher's view of it, and the teacher places related tokens close
together: a held-out source's rare terms (package names, identifiers, jargon) blur into their neighbours, while
BM25 keeps each term's identity and weighs it by its rarity. This experiment adds that identity to the table
itself, so the model stays one table and one mean:

    row_t  +=  s · m · w_t · r_t

``r_t`` a fixed random direction (normal, variance ``1/d``: about unit length), ``m`` the median row norm of the
table, ``w_t = log((N+1)/(c_t+1)) / log(N+1)`` an IDF-like weight in [0, 1] from the token's count ``c_t``
among the ``N`` tokens of the counted texts (a token never counted: 1), and ``s`` the scale. Random directions in
1,024 dimensions are nearly orthogonal, so the dot product of two pooled texts gains a ``w_t²``-weighted token
overlap: a TF-IDF cosine folded into the teacher's similarity. The counts are :mod:`training.weighting`'s (the
train-split texts of every source but the held-out one, WordNet's included).

1. **Untrained** (the recipe's stage 0): the MiniLM distillation ``en-distilled-1024`` and all-mpnet-base-v2
   distilled into the same bert-base-uncased vocabulary (``en-mpnet-distilled-1024``, made here when missing:
   ``staticemb distill --teacher <mpnet> --tokenizer <MiniLM> --dim 1024``), each at ``s = 0`` and every
   ``--scales`` value, on all five held-out sources.
2. **Trained** (``--sources``): for the fold without source ``S``, the scale is chosen on the fold's own dev
   tasks (:func:`training.loso.dev_tasks`: other sources only) with the untrained MiniLM distillation; the
   distillation with that term trains both stages of the recipe (:func:`training.loso.train_fold`) into
   ``<data>/models/loso/<S>/model-lex``. Scored on ``S``'s test split beside the plain fold and the plain fold
   with the same term added after training.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import loso
from . import weighting as W
from .report import hardware

SCALES = (0.5, 1.0, 2.0)
SEED = 20261202
VARIANT = "-lex"
MPNET_DISTILLED = "en-mpnet-distilled-1024"
TABLES = ("en-distilled-1024", MPNET_DISTILLED)


def idf_weights(counts: np.ndarray) -> np.ndarray:
    """``log((N+1)/(c+1)) / log(N+1)`` per token (``N`` the total count): 1 for a token never counted, falling
    towards 0 for a token that is every token counted."""
    counts = np.asarray(counts)
    if counts.ndim != 1 or counts.size == 0 or (counts < 0).any():
        raise ValueError("counts must be a non-empty 1-d array of non-negative token counts")
    total = float(counts.sum())
    if total == 0:
        return np.ones(counts.shape, dtype=np.float32)
    return (np.log((total + 1) / (counts + 1.0)) / np.log(total + 1)).astype(np.float32)


def lexical_rows(rows: int, width: int, seed: int = SEED) -> np.ndarray:
    """``rows`` fixed random directions of ``width`` dimensions, each entry normal with variance ``1/width``."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((rows, width), dtype=np.float32) / np.float32(np.sqrt(width))).astype(np.float32)


def with_lexical(model: Any, counts: np.ndarray, scale: float, seed: int = SEED) -> Any:
    """A copy of ``model`` whose row ``t`` gains ``scale · m · w_t · r_t`` (see the module's description)."""
    if not np.isfinite(scale) or scale < 0:
        raise ValueError(f"scale must be a finite number >= 0, got {scale!r}")
    table = model.dequantized().astype(np.float32)
    weights = idf_weights(counts)
    if weights.shape != (table.shape[0],):
        raise ValueError(f"{weights.shape[0]} counts for {table.shape[0]} rows")
    m = np.float32(np.median(np.linalg.norm(table, axis=1)))
    term = lexical_rows(*table.shape, seed=seed)
    term *= (np.float32(scale) * m * weights)[:, None]
    return W.with_table(model, table + term)


def mpnet_distilled(models: Path) -> Path:
    """all-mpnet-base-v2 distilled into bert-base-uncased (MiniLM's tokenizer) at 1,024 columns (made once)."""
    from .teachers import minilm_path, mpnet_path

    return loso.distilled(models, str(mpnet_path()), MPNET_DISTILLED, tokenizer=str(minilm_path()))


def choose_scale(model: Any, counts: np.ndarray, source: str, scales: Sequence[float]) -> tuple[float, dict]:
    """The scale (``0`` included) with the best mean 1024-d dev NDCG@10 over the fold's dev tasks (never
    ``source``'s), and every scale's mean."""
    tasks = loso.dev_tasks(source)
    means = {}
    for s in (0.0, *scales):
        candidate = with_lexical(model, counts, s) if s else model
        means[s] = float(np.mean([W.score_model(candidate, f"lex {s}", t, "dev")["1024"] for t in tasks]))
    return max(means, key=lambda s: (means[s], -s)), means


# ---------------------------------------------------------------- report


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def render(untrained: list[dict[str, Any]], trained: list[dict[str, Any]], scales: Sequence[float], *,
           command: str, seconds: float, minutes: float | None) -> str:
    labels = [f"s={s:g}" for s in scales]
    lines = [
        "# A lexical identity term in the table, and an mpnet distillation, on held-out sources (English)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min"
        + (f"; training the folds from the lexical inits took {minutes:.0f} min)" if minutes else ")"),
        f"- machine: {hardware()}",
        "- term: row `t` += `s · m · w_t · r_t` (`r_t` fixed random, about unit length; `m` the table's median row",
        "  norm; `w_t = log((N+1)/(c_t+1)) / log(N+1)` from token counts of every source's train split but the",
        "  held-out one's); NDCG@10 (%) on the held-out source's test split",
        "",
        "## Untrained tables (stage 0 of the recipe)",
        "",
        "| table | held-out source | dim | s=0 | " + " | ".join(labels) + " | BM25 (stemmed) |",
        "|---|---|---:|---:|" + "---:|" * len(labels) + "---:|",
    ]
    for name in dict.fromkeys(r["model"] for r in untrained):
        mine = [r for r in untrained if r["model"] == name]
        for r in mine:
            lines.append(f"| {name} | {r['source']} | {r['dim']} | " + " | ".join(
                _pct(r[k]) for k in (0.0, *scales, "stem")) + " |")
        for dim in sorted({r["dim"] for r in mine}, reverse=True):
            sub = [r for r in mine if r["dim"] == dim]
            lines.append(f"| {name} | **mean of {len(sub)}** | {dim} | " + " | ".join(
                _pct(float(np.mean([r[k] for r in sub]))) for k in (0.0, *scales, "stem")) + " |")
    if trained:
        lines += [
            "",
            "## Trained folds (both stages of the recipe)",
            "",
            "The scale is chosen on the fold's dev tasks (other sources) with the untrained MiniLM distillation;",
            "`plain + term` adds the term at that scale to the plain fold after training; `trained from term`",
            "starts both stages from the distillation with the term.",
            "",
            "| held-out source | dev means per scale (1024-d) | chosen | dim | plain fold | plain + term | "
            "trained from term | BM25 (stemmed) |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in trained:
            dev = ", ".join(f"{s:g}: {_pct(v)}" for s, v in r["dev"].items())
            for dim in ("1024", "256"):
                lines.append(f"| {r['source']} | {dev} | {r['scale']:g} | {dim} | {_pct(r['plain'][dim])} | "
                             f"{_pct(r['posthoc'][dim])} | {_pct(r['lex'][dim])} | {_pct(r['stem'])} |")
    lines += ["", conclusion(untrained, trained, scales)]
    return "\n".join(lines) + "\n"


def conclusion(untrained: list[dict[str, Any]], trained: list[dict[str, Any]], scales: Sequence[float]) -> str:
    parts = []
    for name in dict.fromkeys(r["model"] for r in untrained):
        wide = [r for r in untrained if r["model"] == name and r["dim"] == 1024]
        base = float(np.mean([r[0.0] for r in wide]))
        best = max(scales, key=lambda s: np.mean([r[s] for r in wide]))
        gain = float(np.mean([r[best] for r in wide])) - base
        wins = sum(r[best] > r[0.0] for r in wide)
        parts.append(f"{name}: mean {_pct(base)} at s=0, {gain * 100:+.1f} at s={best:g} (better on {wins} of "
                     f"{len(wide)})")
    text = "**Conclusion.** Untrained, 1024-d, on five held-out sources — " + "; ".join(parts) + "."
    if trained:
        moves = [f"{r['source']}: plain {_pct(r['plain']['1024'])}, + term after training "
                 f"{(r['posthoc']['1024'] - r['plain']['1024']) * 100:+.1f}, trained from the term "
                 f"{(r['lex']['1024'] - r['plain']['1024']) * 100:+.1f} (BM25 stemmed {_pct(r['stem'])})"
                 for r in trained]
        helped = sum(all(r["lex"][d] > r["plain"][d] for d in ("1024", "256")) for r in trained)
        mean = {d: float(np.mean([r["lex"][d] - r["plain"][d] for r in trained])) * 100 for d in ("1024", "256")}
        text += (" Trained folds (scale chosen on their own dev tasks) — " + "; ".join(moves) + ". Training from "
                 f"the term moves the mean by {mean['1024']:+.1f} at 1024-d and {mean['256']:+.1f} at 256-d. The "
                 "recipe would start from the term only if it helped every fold at both widths; it helped "
                 f"{helped} of {len(trained)}, so " + ("it qualifies." if helped == len(trained) else
                                                         "the shipped configs do not use it."))
    return text + (" Caveats: the scale grid is fixed in advance, and naming the best untrained column after the "
                   "fact is an optimistic pick" + ("; each fold is one training run scored on one test split, where "
                                                   "a point is within what a split swings." if trained else "."))


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", nargs="*", choices=list(loso.SOURCES), default=list(loso.SOURCES),
                        help="folds to train from the lexical init (none: the untrained tables only)")
    parser.add_argument("--scales", nargs="+", type=float, default=list(SCALES))
    parser.add_argument("--tables", nargs="+", choices=list(TABLES), default=list(TABLES),
                        help="untrained tables to score (the MiniLM distillation is always made: the folds start "
                             "from it)")
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "RESULTS-lexical.md")
    parser.add_argument("--refresh", action="store_true", help="retrain the lexical folds")
    args = parser.parse_args(argv)
    if any(not np.isfinite(s) or s <= 0 for s in args.scales):
        parser.error("--scales must be positive numbers")
    from staticemb import StaticModel
    from tqdm.auto import tqdm

    started = time.perf_counter()
    src, models, baselines, teacher = loso.prepare()
    cache = models.parent / "results" / "weighting"
    untrained: list[dict[str, Any]] = []
    trained: list[dict[str, Any]] = []
    try:
        tables = {"en-distilled-1024": loso.distilled(models, teacher)}
        if MPNET_DISTILLED in args.tables:
            tables[MPNET_DISTILLED] = mpnet_distilled(models)
        loaded = {name: StaticModel.from_pretrained(path, normalize=False) for name, path in tables.items()}
        buckets = {name: W.bucket_counts(model, cache)[0] for name, model in loaded.items()}
        jobs = [(name, source) for name in args.tables for source in loso.SOURCES]
        for name, source in tqdm(jobs, desc="untrained tables", unit="source"):
            model = loaded[name]
            counts = W.held_out_counts(buckets[name], source)
            task = loso.SOURCES[source][1]
            scores = {0.0: W.score_model(model, name, task)}
            for s in args.scales:
                scores[s] = W.score_model(with_lexical(model, counts, s), f"{name} +{s:g}", task)
            stem = loso.baseline("BM25 (stemmed)", task, baselines)
            for dim in ("1024", "256"):
                untrained.append({"model": name, "source": source, "dim": int(dim), "stem": stem,
                                  **{s: v[dim] for s, v in scores.items()}})
        base = loaded["en-distilled-1024"]
        for source in args.sources:
            task = loso.SOURCES[source][1]
            counts = W.held_out_counts(buckets["en-distilled-1024"], source)
            scale, dev = choose_scale(base, counts, source, args.scales)
            print(f"{source}: dev means {dev}; scale {scale:g}", flush=True)
            plain = loso.train_fold(source, models=models, src=src, teacher=teacher, refresh=False)
            plain_model = StaticModel.from_pretrained(plain, normalize=False)
            row: dict[str, Any] = {"source": source, "dev": dev, "scale": scale,
                                   "stem": loso.baseline("BM25 (stemmed)", task, baselines),
                                   "plain": W.score_model(plain_model, "plain", task)}
            if scale == 0:  # no term chosen: the lexical fold would be the plain fold
                row.update(posthoc=row["plain"], lex=row["plain"])
                trained.append(row)
                continue
            fold = loso.fold_dir(models, source)
            init, meta = fold / f"init{VARIANT}", fold / f"init{VARIANT}.json"
            refresh = args.refresh or not meta.exists() or json.loads(meta.read_text()) != {"scale": scale,
                                                                                              "seed": SEED}
            if refresh:
                with_lexical(base, counts, scale).save(init, overwrite=True)
                meta.write_text(json.dumps({"scale": scale, "seed": SEED}))
            lex = loso.train_fold(source, models=models, src=src, teacher=teacher, refresh=refresh, init=init,
                                  variant=VARIANT)
            row["posthoc"] = W.score_model(with_lexical(plain_model, counts, scale), "plain + term", task)
            row["lex"] = loso.score(str(lex), f"loso-{source}{VARIANT}", task, loso.DIMS, None)
            trained.append(row)
    except KeyboardInterrupt:
        print("\ninterrupted; finished folds and inits are kept and reused", file=sys.stderr)
        return 130
    command = "python -m training.lexical"
    if args.sources != list(loso.SOURCES):
        command += " --sources " + " ".join(args.sources)
    if args.scales != list(SCALES):
        command += " --scales " + " ".join(f"{s:g}" for s in args.scales)
    if args.tables != list(TABLES):
        command += " --tables " + " ".join(args.tables)
    folds = [loso.fold_dir(models, s) / f"fold{VARIANT}.json" for s in args.sources]
    minutes = sum(json.loads(f.read_text())["seconds"] for f in folds if f.exists()) / 60
    report = render(untrained, trained, args.scales, command=command, seconds=time.perf_counter() - started,
                    minutes=minutes or None)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
