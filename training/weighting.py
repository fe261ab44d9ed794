"""SIF token weighting, folded into the table after training, scored on sources held out entirely.

    python -m training.weighting [--models ...] [--a 1e-3 1e-4] [--output training/RESULTS-weighting.md]

A static model averages its tokens' rows, so a frequent, uninformative token ("the", "of", "##s") pulls every
text towards the same direction. Smooth inverse frequency (SIF, Arora et al. 2017) weighs token ``t`` by
``a / (a + p_t)``, ``p_t`` its share of a corpus's tokens; a token never seen gets ``p = 0``, weight 1. The
weight is folded into the table (row ``t`` scaled by ``w_t``): the mean of the scaled rows is the SIF-weighted
sum divided by the token count, the same direction as the weighted mean, so cosine scores are those of
model2vec's per-token ``weights`` (tests/test_weighting.py checks it).

What is counted: the train-split English texts the recipe may train on, deduplicated: the anchors and positives
of the six English pair sets (``<data>/training/pairs/en-*.jsonl``) and the unlabeled texts of the regression
stage (``<data>/training/unlabeled/en.jsonl``). Each text goes to the held-out-able source it is a text of
(:func:`training.loso.source_texts`); texts of none of them (WordNet's lemmas and glosses) form the ``rest``
bucket; a text of two sources is dropped. Tokens are counted with the model's own tokenizer, no special tokens;
one count array per bucket is cached in ``<data>/results/weighting/`` (rebuilt when missing). For held-out
source ``s`` the frequencies are the sum of every bucket but ``s``'s, so nothing of ``s`` (not even its train
split) enters the weights that are scored on ``s``'s test split.

Models: the MiniLM distillation ``en-distilled-1024`` (stage 0 of the recipe, trained on no pair set) on every
source; the leave-one-source-out folds without pydoc (``loso/pydoc/model``, and ``model-hn`` with BM25 hard
negatives) and without Debian (``loso/debian/model``) on their held-out source. A trained fold is weighted as the
trainer's ``sif`` option would weight it (:func:`recipe_counts`: the texts of its contrastive stage's pair sets). Each is scored unweighted and with each ``a`` by :func:`training.loso.score`'s evaluation
(NDCG@10 on the held-out test split, 1024-d and 256-d), beside BM25 with stemming (cached in
``<data>/results/loso/`` as ``training.loso`` caches it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from staticemb.train.weighting import sif_weights, token_counts

from . import datasets as D
from . import loso
from .report import hardware

#: Model -> (its folder under ``<data>/models``, the held-out sources it is scored on: sources it never saw).
MODELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "en-distilled-1024": ("en-distilled-1024", tuple(loso.SOURCES)),
    "loso/pydoc/model": ("loso/pydoc/model", ("pydoc",)),
    "loso/pydoc/model-hn": ("loso/pydoc/model-hn", ("pydoc",)),
    "loso/debian/model": ("loso/debian/model", ("debian",)),
}
#: Standard SIF values (Arora et al. use 1e-3 to 1e-4); reported as a grid, never tuned on a test split.
A_GRID = (1e-3, 1e-4)
#: The bucket of texts that belong to no held-out-able source: always counted.
REST = "rest"
BUCKETS = (*loso.SOURCES, REST)


# ---------------------------------------------------------------- counting


def count_tokens(model: Any, texts: Iterable[str], *, progress: Any = None) -> np.ndarray:
    """How often each token id occurs in ``texts`` under ``model``'s tokenizer (no special tokens), as int64
    counts of ``model.vocab_size`` (:func:`staticemb.train.weighting.token_counts`)."""
    return token_counts(model.__getstate__()["tokenizer"], texts, vocab_size=model.vocab_size, progress=progress)


def held_out_counts(counts: Mapping[str, np.ndarray], source: str) -> np.ndarray:
    """The token counts a model scored on ``source`` may use: the sum of every bucket but ``source``'s."""
    if source not in counts:
        raise KeyError(f"no bucket {source!r}; buckets: {sorted(counts)}")
    others = [c for name, c in counts.items() if name != source]
    return np.sum(others, axis=0) if others else np.zeros_like(counts[source])


def recipe_counts(model: Any, fold: Path) -> np.ndarray:
    """The counts ``staticemb train`` with ``"sif"`` uses for a leave-one-source-out fold: every distinct text
    (anchor, positive) of the pair sets its contrastive stage trained on (``fold.json``), which never include
    the held-out source's."""
    return count_tokens(model, loso.pair_texts(json.loads((fold / "fold.json").read_text())["pair_sets"]))


def weighted(model: Any, weights: np.ndarray) -> Any:
    """A copy of ``model`` whose row ``t`` is scaled by ``weights[t]`` (every other option kept)."""
    table = model.dequantized()
    if weights.shape != (table.shape[0],):
        raise ValueError(f"{weights.shape[0]} weights for {table.shape[0]} rows")
    return with_table(model, table * weights[:, None])


def with_table(model: Any, table: np.ndarray) -> Any:
    """A copy of ``model`` (a plain table: no token mapping, no model2vec weights) with ``table`` as its float32
    table, every other option kept."""
    from staticemb import StaticModel

    state = model.__getstate__()
    if state["token_mapping"] is not None or state["weights"] is not None:
        raise ValueError("change the rows of a plain table only (no token mapping, no model2vec weights)")
    if table.shape[0] != len(state["embeddings"]):
        raise ValueError(f"{table.shape[0]} rows for a table of {len(state['embeddings'])}")
    state.update(embeddings=np.ascontiguousarray(table, dtype=np.float32), scales=None)
    return StaticModel(state.pop("tokenizer"), state.pop("embeddings"), **state)


def bucket_texts(src: D.Sources) -> tuple[dict[str, list[str]], int]:
    """The deduplicated train-split texts of :data:`BUCKETS` (see the module's description) and how many texts
    of two sources were dropped."""
    pool: set[str] = set()
    for name in loso.ENGLISH_PAIRS:
        with open(D.pairs_path(name), encoding="utf-8") as f:
            for row in map(json.loads, f):
                pool.update((row["anchor"].strip(), row["positive"].strip()))
    pool.update(t.strip() for t in D.load_unlabeled())
    pool.discard("")
    return assign_buckets(pool, {s: loso.source_texts(src, s) for s in loso.SOURCES})


def assign_buckets(pool: Iterable[str], owners: Mapping[str, set[str]]) -> tuple[dict[str, list[str]], int]:
    """Each text of ``pool`` in the bucket of the one source whose texts (``owners``) hold it, or in
    :data:`REST` when none does; a text of two sources is dropped. Returns the buckets (sorted texts) and how
    many texts were dropped."""
    out: dict[str, list[str]] = {b: [] for b in (*owners, REST)}
    dropped = 0
    for text in sorted(pool):
        mine = [s for s, held in owners.items() if text in held]
        if len(mine) > 1:
            dropped += 1
        else:
            out[mine[0] if mine else REST].append(text)
    return out, dropped


def _tokenizer_key(model: Any) -> str:
    text = model.__getstate__()["tokenizer"]
    return hashlib.sha256(text if isinstance(text, bytes) else text.encode("utf-8")).hexdigest()[:12]


def bucket_counts(model: Any, cache: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Token counts of every bucket under ``model``'s tokenizer, from ``cache`` or counted (and cached)."""
    from tqdm.auto import tqdm

    key = _tokenizer_key(model)
    paths = {b: cache / f"{b}-{key}.npy" for b in BUCKETS}
    meta_path = cache / f"buckets-{key}.json"
    if not all(p.exists() for p in paths.values()) or not meta_path.exists():
        texts, dropped = bucket_texts(D.Sources())
        cache.mkdir(parents=True, exist_ok=True)
        meta: dict[str, Any] = {"tokenizer_sha256": key, "dropped_shared_texts": dropped, "buckets": {}}
        with tqdm(total=sum(map(len, texts.values())), desc="counting tokens", unit="text") as bar:
            for b in BUCKETS:
                counts = count_tokens(model, texts[b], progress=bar)
                np.save(paths[b], counts)
                meta["buckets"][b] = {"texts": len(texts[b]), "tokens": int(counts.sum())}
        meta_path.write_text(json.dumps(meta, indent=1))
    return {b: np.load(p) for b, p in paths.items()}, json.loads(meta_path.read_text())


# ---------------------------------------------------------------- scoring


def score_model(model: Any, name: str, task: str, split: str = "test") -> dict[str, float]:
    """NDCG@10 of an in-memory static model on ``task``'s ``split`` at :data:`training.loso.DIMS`: the
    evaluation of :func:`training.loso.score`."""
    from staticemb.tasks import StaticEncoder, evaluate, load_task

    result = evaluate(StaticEncoder(model, name, loso.DIMS), [load_task(D.task_path(task, split))])
    return {d: m["NDCG@10"] for d, m in result["tasks"][task]["scores"].items()}


def norm_frequency_correlation(model: Any, counts: np.ndarray) -> float:
    """Spearman correlation between a token's row norm and its count, over the tokens counted at least once:
    negative when the table already shrinks frequent tokens."""
    seen = np.nonzero(counts)[0]
    norms = np.linalg.norm(model.dequantized()[seen], axis=1)

    def ranks(x: np.ndarray) -> np.ndarray:
        r = np.empty(len(x))
        r[np.argsort(x, kind="stable")] = np.arange(len(x))
        return r

    return float(np.corrcoef(ranks(norms), ranks(counts[seen].astype(np.float64)))[0, 1])


def a_label(a: float) -> str:
    mantissa, exponent = f"{a:.0e}".split("e")
    return f"{'' if mantissa == '1' else mantissa + '×'}1e{int(exponent)}"


# ---------------------------------------------------------------- report


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known and len(known) == len(values) else None


def render(rows: list[dict[str, Any]], labels: Sequence[str], *, command: str, seconds: float,
           meta: dict[str, Any] | None = None, notes: Sequence[str] = ()) -> str:
    """The report: one row per (model, held-out source, width), then a mean row per model and width;
    ``labels`` name the SIF columns (:func:`a_label`)."""
    lines = [
        "# SIF token weighting on held-out sources (English)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.1f} min)",
        f"- machine: {hardware()}",
        "- weighting: row `t` of the table scaled by `a / (a + p_t)`, `p_t` the token's share of the counted",
        "  tokens (a token never counted: weight 1); nothing trained, the table is only rescaled",
        "- counted for held-out source `s`: the deduplicated train-split texts (anchors and positives of the six",
        "  English pair sets, and the regression stage's unlabeled texts) of every source but `s`, WordNet's",
        "  included; never a text of `s`, tokenized with the model's own tokenizer. A trained fold (`loso/...`)",
        "  is weighted as `staticemb train` with `\"sif\"` weights it: with the counts of the distinct texts of",
        "  the pair sets its contrastive stage trained on (never the held-out source's)",
    ]
    if meta:
        sizes = ", ".join(f"{b} {m['texts']:,} texts / {m['tokens']:,} tokens" for b, m in meta["buckets"].items())
        lines.append(f"- buckets: {sizes}; {meta['dropped_shared_texts']} text(s) of two sources dropped")
    lines += [
        "- NDCG@10 (%) on the held-out source's test split; in brackets the change from the unweighted table",
        *(f"- {n}" for n in notes),
        "",
        "| model | held-out source | dim | unweighted | " + " | ".join(f"SIF a={x}" for x in labels)
        + " | BM25 (stemmed) |",
        "|---|---|---:|---:|" + "---:|" * len(labels) + "---:|",
    ]

    def cells(r: dict[str, Any]) -> str:
        base = r["unweighted"]
        sif = [f"{_pct(r[x])} ({100 * (r[x] - base):+.1f})" for x in labels]
        return " | ".join([_pct(base), *sif, _pct(r["stem"])])

    models = list(dict.fromkeys(r["model"] for r in rows))
    for model in models:
        mine = [r for r in rows if r["model"] == model]
        for r in mine:
            lines.append(f"| {model} | {r['source']} | {r['dim']} | {cells(r)} |")
        if len({r["source"] for r in mine}) > 1:
            for dim in sorted({r["dim"] for r in mine}, reverse=True):
                sub = [r for r in mine if r["dim"] == dim]
                mean = {k: _mean([r[k] for r in sub]) for k in ("unweighted", "stem", *labels)}
                lines.append(f"| {model} | **mean of {len(sub)}** | {dim} | {cells(mean)} |")
    lines += ["", conclusion(rows, labels)]
    return "\n".join(lines) + "\n"


def conclusion(rows: list[dict[str, Any]], labels: Sequence[str]) -> str:
    """One paragraph from the figures: per model and weight, the mean change at each width and how often it
    helps; the gap left to BM25 (stemmed); what the figures cannot say."""
    if not rows:
        return "No model was scored."
    parts, gaps = [], []
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        n = len({r["source"] for r in mine})
        dims = sorted({r["dim"] for r in mine}, reverse=True)
        per = []
        for x in labels:
            changes = []
            for dim in dims:
                sub = [r for r in mine if r["dim"] == dim]
                delta = sum(r[x] - r["unweighted"] for r in sub) / len(sub)
                wins = sum(r[x] > r["unweighted"] for r in sub)
                changes.append(f"{100 * delta:+.1f} at {dim}-d" + (f" (better on {wins} of {n})" if n > 1 else ""))
            per.append(f"a={x} " + ", ".join(changes))
        parts.append(f"**{model}** ({n} held-out source{'s' if n > 1 else ''}): " + "; ".join(per))
        widest = [r for r in mine if r["dim"] == dims[0]]
        best = max(labels, key=lambda x: sum(r[x] for r in widest))
        gap = sum(r["stem"] - max(r[best], r["unweighted"]) for r in widest) / len(widest)
        gaps.append(f"{model} {100 * gap:+.1f}")
    folds = [r for r in rows if r["model"].startswith("loso/") and not r["model"].endswith("-hn")
             and r["dim"] == max(x["dim"] for x in rows)]
    decision = ""
    if folds:
        x = labels[0]
        helped = sum(r[x] > r["unweighted"] for r in folds)
        decision = (
            f" **Decision.** The recipe would fold SIF weights in (the trainer's `\"sif\"`) only if a={x} helped "
            f"every trained fold on its held-out source; it helps {helped} of {len(folds)} "
            f"(mean {100 * sum(r[x] - r['unweighted'] for r in folds) / len(folds):+.1f} points at "
            f"{folds[0]['dim']}-d), so " + ("it is adopted." if helped == len(folds) else
                                           "`training/configs/en-retrieval.json` leaves `sif` unset.")
        )
    return (
        "**Conclusion.** Change in mean NDCG@10 (points) from folding SIF weights into the table, on sources the "
        "model and the frequencies never saw — " + ". ".join(parts) + ". BM25 (stemmed) minus the widest table "
        "with the better weight, mean points: " + ", ".join(gaps) + ". Caveats: the "
        "trained folds are each scored on their one held-out source, where a point is within what one test split "
        "swings; the weights are a fixed grid, not tuned, but naming the better column after the fact is an "
        "optimistic pick; the frequencies come from the other sources' train splits, so a source whose "
        "vocabulary differs from theirs (code documentation) gets weights from another distribution." + decision
    )


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--a", nargs="+", type=float, default=list(A_GRID), help="SIF smoothing values")
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "RESULTS-weighting.md")
    args = parser.parse_args(argv)
    from staticemb import StaticModel
    from staticemb.corpora import data_dir
    from tqdm.auto import tqdm

    started = time.perf_counter()
    D.build()
    root = data_dir()
    cache, baselines = root / "results" / "weighting", root / "results" / "loso"
    labels = [a_label(a) for a in args.a]
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    meta: dict[str, Any] | None = None
    jobs = [(m, s) for m in args.models for s in MODELS[m][1]]
    try:
        with tqdm(jobs, desc="scoring", unit="fold") as bar:
            loaded: dict[str, Any] = {}
            for name, source in bar:
                bar.set_postfix_str(f"{name} / {source}")
                path = root / "models" / MODELS[name][0]
                if not (path / "modules.json").exists() and not (path / "config.json").exists():
                    notes.append(f"{name}: not on disk ({path}); skipped")
                    continue
                if name not in loaded:
                    loaded = {name: StaticModel.from_pretrained(path, normalize=False)}  # one table in memory
                model = loaded[name]
                counts, meta = bucket_counts(model, cache)
                # A trained fold: the counts its own training stage would fold in (``"sif"`` in its config).
                held = (recipe_counts(model, path.parent) if name.startswith("loso/")
                        else held_out_counts(counts, source))
                task = loso.SOURCES[source][1]
                scores = {"unweighted": score_model(model, name, task)}
                for a, x in zip(args.a, labels, strict=True):
                    scores[x] = score_model(weighted(model, sif_weights(held, a)), f"{name} SIF {x}", task)
                stem = loso.baseline("BM25 (stemmed)", task, baselines)
                rho = norm_frequency_correlation(model, held)
                notes.append(f"{name}, {source} held out: rank correlation of row norm with token count {rho:+.2f}")
                for dim in sorted(scores["unweighted"], key=int, reverse=True):
                    row = {"model": name, "source": source, "dim": int(dim), "stem": stem,
                           **{k: v[dim] for k, v in scores.items()}}
                    rows.append(row)
                    tqdm.write(f"{name} | {source} | {dim} | " + " | ".join(
                        f"{k} {_pct(row[k])}" for k in ("unweighted", *labels, "stem")))
    except KeyboardInterrupt:
        print("\ninterrupted; token counts already made are cached and reused", file=sys.stderr)
        return 130
    missing = [s for s in loso.SOURCES
               if not loso.baseline_cache(baselines, loso.SOURCES[s][1], "all-MiniLM-L6-v2").exists()]
    if missing:
        notes.append("all-MiniLM-L6-v2 is not cached for " + ", ".join(missing)
                     + " (`python -m training.loso` caches it); not recomputed here")
    command = "python -m training.weighting"
    if args.models != list(MODELS):
        command += " --models " + " ".join(args.models)
    if args.a != list(A_GRID):
        command += " --a " + " ".join(f"{a:g}" for a in args.a)
    report = render(rows, labels, command=command, seconds=time.perf_counter() - started, meta=meta,
                    notes=notes)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
