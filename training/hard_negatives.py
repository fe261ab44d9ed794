"""BM25-mined hard negatives for the English pair sets, and their effect under leave-one-source-out.

    python -m training.hard_negatives [--sources debian pydoc ...] [--output training/RESULTS-hardneg.md]

MNRL ranks each anchor against the other positives of its batch: random texts, mostly easy to tell apart. A hard
negative is a text a lexical retriever confuses with the positive. For each pair set, every positive of the train
split is indexed with BM25 (``bm25s``, English stop words, Snowball stemming); each anchor gets one negative drawn
at random from the first :data:`DEPTH` of its hits that score below :data:`MARGIN` of its own positive's score
(higher ones are likely false negatives: near-duplicates of the positive, or texts BM25 ranks above it) and whose
text is neither the anchor nor the positive. An anchor without such a hit (its positive not among its top
:data:`SEARCH` hits, or nothing below the margin) gets a random other positive, so every pair still trains. Files are cached in ``<data>/training/pairs-hn/<name>.jsonl`` (``anchor``, ``positive``,
``negative``), built from the train split only, so no evaluation document enters them.

The experiment: for each held-out source, the leave-one-source-out fold of ``training.loso`` (made first when
missing) is compared with the same fold whose second stage (MatryoshkaLoss(MNRL), from the same regressed table)
trains on the mined triplets of the same pair sets, under ``<data>/models/loso/<source>/model-hn``.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import datasets as D
from . import loso
from .loso import Row
from .report import hardware

#: Candidates per anchor: the negative is drawn from the first DEPTH BM25 hits that qualify.
DEPTH = 10
#: Hits retrieved per anchor; an anchor whose positive is not among them gets no BM25 negative.
SEARCH = 100
#: A hit scoring at least this fraction of the positive's own BM25 score is taken for a false negative.
MARGIN = 0.95
SEED = 12


def hn_path(name: str, root: Path | str | None = None) -> Path:
    """``<root>/pairs-hn/<name>.jsonl``: the mined triplets of pair set ``name``."""
    return D.pairs_path(name, root).parent.parent / "pairs-hn" / f"{name}.jsonl"


def mine(pairs: Sequence[tuple[str, str]], *, depth: int = DEPTH, margin: float = MARGIN,
         seed: int = SEED) -> list[dict[str, str]]:
    """``{"anchor", "positive", "negative"}`` for every pair: a BM25 hit among the other positives where one
    qualifies (see the module's description), otherwise a random other positive."""
    import bm25s
    import numpy as np
    import Stemmer

    docs = sorted({p for _, p in pairs})
    index = {d: i for i, d in enumerate(docs)}
    stemmer = Stemmer.Stemmer("english")

    def tokenize(texts: Sequence[str]) -> Any:
        return bm25s.tokenize(list(texts), stopwords="en", stemmer=stemmer, show_progress=False)

    retriever = bm25s.BM25()
    retriever.index(tokenize(docs), show_progress=False)
    anchors = [a for a, _ in pairs]
    k = min(SEARCH, len(docs))
    hits, scores = retriever.retrieve(tokenize(anchors), k=k, show_progress=False, n_threads=0)
    rng = random.Random(seed)
    out, mined = [], 0
    for (anchor, positive), row, srow in zip(pairs, np.asarray(hits), np.asarray(scores), strict=True):
        pos = index[positive]
        where = np.nonzero(row == pos)[0]
        candidates: list[str] = []
        if len(where):  # a positive below the top SEARCH hits is outscored by all of them: no safe negative
            ceiling = margin * float(srow[where[0]])
            candidates = [
                docs[d] for d, s in zip(row.tolist(), srow.tolist(), strict=True)
                if d != pos and 0 < s < ceiling and docs[d] not in (anchor, positive)
            ][:depth]
        if candidates:
            negative, mined = rng.choice(candidates), mined + 1
        else:  # an ordinary negative, so that every pair still trains
            negative = positive
            while negative in (anchor, positive) and len(docs) > 2:
                negative = docs[rng.randrange(len(docs))]
        out.append({"anchor": anchor, "positive": positive, "negative": negative})
    print(f"  {mined:,} of {len(pairs):,} anchors got a BM25 negative; the rest a random positive", flush=True)
    return out


def build(names: Sequence[str], root: Path | str | None = None, refresh: bool = False) -> dict[str, Path]:
    """Mine (or reuse) the triplet file of every pair set in ``names``."""

    def make(name: str, rows: list[dict[str, str]]) -> list[dict[str, str]]:
        print(f"mining BM25 negatives for {name} ({len(rows):,} pairs)", flush=True)
        return mine([(r["anchor"], r["positive"]) for r in rows])

    return loso.derive(names, lambda n: hn_path(n, root), make, root, refresh)


def _triplets(pair_sets: list[str]) -> dict[str, Path]:
    return build(pair_sets)


def render(rows: list[dict[str, Any]], command: str, seconds: float, training: float | None = None) -> str:
    lines = [
        "# BM25 hard negatives under leave one source out (English)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min"
        + (f"; the triplet stages took {training / 60:.0f} min in all)" if training else ")"),
        f"- machine: {hardware()}",
        "- both models share the fold's first stage (teacher regression without the held-out source); the second",
        "  stage (MatryoshkaLoss(MNRL), `training/configs/en-retrieval.json`) trains on the same pair sets, as",
        f"  pairs or as BM25-mined triplets (depth {DEPTH}, margin {MARGIN}); NDCG@10 (%) on the held-out test split",
        "",
        "| held-out source | pairs 1024-d | triplets 1024-d | change | pairs 256-d | triplets 256-d | "
        "BM25 (stemmed) | triplets − BM25 (stemmed) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows + ([_mean(rows)] if len(rows) > 1 else []):
        lines.append(
            f"| {r['source']} | {100 * r['pairs 1024']:.1f} | {100 * r['hn 1024']:.1f} | "
            f"{100 * (r['hn 1024'] - r['pairs 1024']):+.1f} | {100 * r['pairs 256']:.1f} | {100 * r['hn 256']:.1f} | "
            f"{100 * r['stem']:.1f} | {100 * (r['hn 1024'] - r['stem']):+.1f} |"
        )
    return "\n".join(lines) + "\n"


def _mean(rows: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("pairs 1024", "hn 1024", "pairs 256", "hn 256", "stem")
    return {"source": "**mean**", **{k: sum(r[k] for r in rows) / len(rows) for k in keys}}


def _make_row(source: str, base: dict[str, float], mined: dict[str, float], baseline: Callable[[str], float]) -> Row:
    return {"source": source, "pairs 1024": base["1024"], "hn 1024": mined["1024"], "pairs 256": base["256"],
            "hn 256": mined["256"], "stem": baseline("BM25 (stemmed)")}


def main(argv: Sequence[str] | None = None) -> int:
    return loso.compare_main(argv, description=__doc__, command="python -m training.hard_negatives", variant="hn",
                             output=Path(__file__).resolve().parent / "RESULTS-hardneg.md", datasets=_triplets,
                             row=_make_row, render=render)


if __name__ == "__main__":
    sys.exit(main())
