"""Training pairs the teacher disowns, dropped, under leave-one-source-out (English).

    python -m training.teacher_filter [--sources debian pydoc ...] [--output training/RESULTS-teacher-filter.md]

The English pair sets are made by structure (a package's summary line and its description, a docstring's first
line and its body, a word and its gloss), not by hand, so some pairs are false: a summary paired with "There is
no reason to install this package on its own", "See base class." paired with an unrelated body. Consistency
filtering asks a stronger encoder: all-mpnet-base-v2 (at most 256 tokens a text, the teacher folder of
``training.regress_teacher``) embeds every anchor and every distinct positive of a pair set, and a pair is kept
when its own positive is among the teacher's top 1% of the set's distinct positives for its anchor (at least the
top 10, :func:`keep`). The filtered sets are written once to ``<data>/training/pairs-filtered/<name>.jsonl``.

The teacher's scores of a pair set (anchor-positive cosine and the positive's rank) are cached in
``<data>/teacher-scores/<teacher fingerprint>/<name>.npz`` with the SHA-1 of the pair file they belong to; a
changed pair file is scored again. Scoring embeds about 330,000 distinct texts (the teacher's embeddings are
cached text by text, :func:`staticemb.train.trainer.teacher_embeddings`, so an interrupted run resumes): minutes
on a GPU, a day on 2 cores.

The experiment: for each held-out source, the fold of ``training.loso`` against the same fold whose second stage
(MatryoshkaLoss(MNRL), from the same regressed table) trains on the filtered pair sets, under
``<data>/models/loso/<source>/model-teacher-filtered``.

Rule, fixed before the run (that of ``training.cropping``): the filter joins the recipe only if it raises the
held-out mean at 1024-d and at 256-d by more than one point and lowers no held-out source by more than one point.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import datasets as D
from . import loso
from .loso import Row
from .report import hardware

VARIANT = "teacher-filtered"
#: A pair is kept when its positive is within this fraction of its set's distinct positives ...
TOP_FRACTION = 0.01
#: ... or within this many, whichever is more.
TOP_AT_LEAST = 10
MAX_SEQ_LENGTH = 256


def teacher() -> str:
    """The scoring teacher: all-mpnet-base-v2 capped at :data:`MAX_SEQ_LENGTH` tokens (made once)."""
    from staticemb.corpora import data_dir

    from .regress_teacher import capped_teacher
    from .teachers import mpnet_path

    return str(capped_teacher(mpnet_path(), MAX_SEQ_LENGTH, data_dir() / "models"))


def _file_sha1(path: Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _read_pairs(path: Path) -> list[tuple[str, str]]:
    with open(path, encoding="utf-8") as f:
        return [(row["anchor"], row["positive"]) for row in map(json.loads, f)]


def rank_positives(anchors: np.ndarray, positives: np.ndarray, true: np.ndarray,
                   block: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """For row ``i`` (unit vectors): the cosine of ``anchors[i]`` and ``positives[true[i]]``, and how many rows
    of ``positives`` score strictly higher for ``anchors[i]`` (0: the teacher's first choice)."""
    cos = np.empty(len(anchors), dtype=np.float32)
    rank = np.empty(len(anchors), dtype=np.int64)
    for s in range(0, len(anchors), block):
        sim = anchors[s:s + block] @ positives.T
        # The pair's own score from the same product, so it never outranks itself by a rounding.
        own = sim[np.arange(len(sim)), true[s:s + block]]
        cos[s:s + block] = own
        rank[s:s + block] = (sim > own[:, None]).sum(axis=1)
    return cos, rank


def pair_scores(name: str, model: str | None = None) -> dict[str, np.ndarray]:
    """The teacher's ``cos`` and ``rank`` for every row of pair set ``name`` (cached; see the module's text)."""
    from staticemb.corpora import data_dir
    from staticemb.train.trainer import teacher_embeddings, teacher_fingerprint

    model = model or teacher()
    path = D.pairs_path(name)
    sha1 = _file_sha1(path)
    cache = data_dir() / "teacher-scores" / teacher_fingerprint(model) / f"{name}.npz"
    if cache.exists():
        with np.load(cache) as z:
            if str(z["sha1"]) == sha1:
                return {"cos": z["cos"], "rank": z["rank"]}
    pairs = _read_pairs(path)
    positives = list(dict.fromkeys(p for _, p in pairs))
    index = {p: i for i, p in enumerate(positives)}
    emb = teacher_embeddings(model, [a for a, _ in pairs] + positives)
    cos, rank = rank_positives(emb[:len(pairs)], emb[len(pairs):], np.array([index[p] for _, p in pairs]))
    save_npz(cache, cos=cos, rank=rank, sha1=np.array(sha1))
    return {"cos": cos, "rank": rank}


def save_npz(path: Path, **arrays: Any) -> None:
    """Write a cache of teacher scores whole or not at all (beside ``path``, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with open(partial, "wb") as f:
        np.savez(f, **arrays)
    partial.replace(path)


def keep(rank: np.ndarray, distinct_positives: int) -> np.ndarray:
    """The pairs kept: the positive within the top :data:`TOP_FRACTION` of the set's distinct positives, or
    within the top :data:`TOP_AT_LEAST`."""
    return rank < max(TOP_AT_LEAST, math.ceil(TOP_FRACTION * distinct_positives))


def filtered_path(name: str) -> Path:
    return D.pairs_path(name).parent.parent / "pairs-filtered" / f"{name}.jsonl"


def build(names: Sequence[str], refresh: bool = False) -> dict[str, Path]:
    """The filtered file of every pair set in ``names`` (written unless present); name -> path."""

    def make(name: str, rows: list[dict[str, str]]):
        scores = pair_scores(name)
        if len(scores["rank"]) != len(rows):
            raise RuntimeError(f"{name}: {len(scores['rank'])} scores for {len(rows)} pairs")
        kept = keep(scores["rank"], len({r["positive"] for r in rows}))
        print(f"{name}: {int(kept.sum()):,} of {len(rows):,} pairs kept", flush=True)
        return (r for r, k in zip(rows, kept, strict=True) if k)

    return loso.derive(names, filtered_path, make, refresh=refresh)


def _datasets(pair_sets: list[str]) -> dict[str, str | Path]:
    return dict(build(pair_sets))


KEYS = ("pairs 1024", "filtered 1024", "pairs 256", "filtered 256", "stem", "minilm")


def decide(rows: list[dict[str, Any]]) -> tuple[bool, str]:
    """The rule of the module's description (:func:`training.loso.rule`): (adopted, why)."""
    return loso.rule(rows, lambda d: f"pairs {d}", lambda d: f"filtered {d}")


def _row(r: dict[str, Any]) -> str:
    return (f"| {r['source']} | {100 * r['pairs 1024']:.1f} | {100 * r['filtered 1024']:.1f} | "
            f"{100 * (r['filtered 1024'] - r['pairs 1024']):+.1f} | {100 * r['pairs 256']:.1f} | "
            f"{100 * r['filtered 256']:.1f} | {100 * (r['filtered 256'] - r['pairs 256']):+.1f} | "
            f"{100 * r['stem']:.1f} | {100 * r['minilm']:.1f} |")


def _make_row(source: str, base: dict[str, float], new: dict[str, float], baseline: Callable[[str], float]) -> Row:
    return {"source": source, "pairs 1024": base["1024"], "filtered 1024": new["1024"], "pairs 256": base["256"],
            "filtered 256": new["256"], "stem": baseline("BM25 (stemmed)"), "minilm": baseline("all-MiniLM-L6-v2")}


def render(rows: list[Row], command: str, seconds: float, training: float | None = None) -> str:
    kept = {}
    for name in loso.ENGLISH_PAIRS:
        if filtered_path(name).exists() and D.pairs_path(name).exists():
            with open(filtered_path(name), encoding="utf-8") as f, open(D.pairs_path(name), encoding="utf-8") as g:
                kept[name] = (sum(1 for _ in f), sum(1 for _ in g))
    lines = [
        "# Pairs the teacher disowns, dropped, under leave one source out (English)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min"
        + (f"; the filtered stages took {training / 60:.0f} min in all)" if training else ")"),
        f"- machine: {hardware()}",
        "- both models share the fold's first stage (teacher regression without the held-out source); the second",
        "  stage (MatryoshkaLoss(MNRL), `training/configs/en-retrieval.json`) trains on the fold's pair sets, whole",
        f"  or keeping a pair only when all-mpnet-base-v2 ({MAX_SEQ_LENGTH} tokens) ranks its positive within the "
        f"top {100 * TOP_FRACTION:g}% (at least {TOP_AT_LEAST}) of the set's",
        "  distinct positives for its anchor; NDCG@10 (%) on the held-out test split",
        "",
        "| held-out source | pairs 1024-d | filtered 1024-d | change | pairs 256-d | filtered 256-d | change | "
        "BM25 (stemmed) | all-MiniLM-L6-v2 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    mean = {"source": "**mean**", **{k: sum(r[k] for r in rows) / len(rows) for k in KEYS}} if rows else None
    lines += [_row(r) for r in rows + ([mean] if mean and len(rows) > 1 else [])]
    if kept:
        lines += ["", "Pairs kept: " + ", ".join(f"{k} {a:,} of {b:,} ({100 * (1 - a / b):.1f}% dropped)"
                                                 for k, (a, b) in kept.items()) + "."]
    if rows:
        adopted, why = decide(rows)
        lines += ["", "Decision (the held-out mean up by more than one point at both widths, no source down by more "
                  "than one): " + ("**adopted**" if adopted else "**not adopted**") + f": {why}."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    return loso.compare_main(argv, description=__doc__, command="python -m training.teacher_filter", variant=VARIANT,
                             output=Path(__file__).resolve().parent / "RESULTS-teacher-filter.md",
                             datasets=_datasets, row=_make_row, render=render)


if __name__ == "__main__":
    sys.exit(main())
