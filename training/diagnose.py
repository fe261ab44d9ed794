"""Which queries does the index lose to BM25 with stemming on? A held-out source's queries grouped (English)

    python -m training.diagnose [--sources bbc ...] [--collections 4] [--resamples 10000]
        [--output training/RESULTS-diagnose.md]

``training.replicate`` finds that on BBC, the plain fold's :class:`staticemb.SearchIndex` is surely below BM25 with
stemming, on the test split and on three more collections of BBC's other articles. This module asks where: the
same per query NDCG@10 (the same collections, the same index, 1,024-d, the collection's corpus weights), pooled over
the test split and the other collections, grouped by two properties of a query fixed before the run:

- **split word**: the query holds a word that the model's tokenizer cuts into two or more pieces (a rarer word or
  a name, which the table sees only as the average of its pieces, while BM25 matches it whole);
- **unique word**: the query holds a word that exactly one document of the searched collection holds (the case
  where BM25's IDF singles out one document).

A third, added after the first two came out even (so it is an explanation looked for, not a question fixed in
advance): **long document**, the query's relevant document has more words than the collection's median document
(a mean of more rows dilutes each one).

Words are the tokenizer's own (its normalizer and pre-tokenizer: lowercased, split at spaces and punctuation), so
the groups follow the model's vocabulary, not a list of names. A measurement, no rule: it explains a loss, it
chooses nothing, and the collections stay unused for any choice (they are the held-out source's texts).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import loso
from .replicate import arguments, fold_and_collections, report_head, score_task
from .significance import difference_cells, difference_note, paired


def words(tokenizer: Any, text: str) -> list[str]:
    """``text``'s words as ``tokenizer`` sees them: normalized, then cut by its pre-tokenizer."""
    normalized = tokenizer.normalizer.normalize_str(text) if tokenizer.normalizer is not None else text
    if tokenizer.pre_tokenizer is None:
        return normalized.split()
    return [w for w, _ in tokenizer.pre_tokenizer.pre_tokenize_str(normalized)]


def query_groups(tokenizer: Any, queries: Sequence[str], corpus: Sequence[str],
                 relevant: Sequence[Sequence[int]]) -> dict[str, np.ndarray]:
    """For each query, whether it holds a split word, whether it holds a unique word and whether its relevant
    document (the longest, when several) is a long one (see the module's notes), as boolean arrays
    ``{"split": ..., "unique": ..., "long": ...}``."""
    document_frequency: Counter[str] = Counter()
    lengths = []
    for doc in corpus:
        ws = words(tokenizer, doc)
        lengths.append(len(ws))
        document_frequency.update(set(ws))
    median = float(np.median(lengths)) if lengths else 0.0
    split, unique = [], []
    for q in queries:
        ws = [w for w in words(tokenizer, q) if any(c.isalpha() for c in w)]
        split.append(any(len(tokenizer.model.tokenize(w)) > 1 for w in ws))
        unique.append(any(document_frequency[w] == 1 for w in ws))
    long = [max(lengths[d] for d in rel) > median for rel in relevant]
    return {"split": np.array(split, dtype=bool), "unique": np.array(unique, dtype=bool),
            "long": np.array(long, dtype=bool)}


GROUPS: list[tuple[str, Any]] = [
    ("all queries", lambda g: np.ones_like(g["split"])),
    ("with a split word", lambda g: g["split"]),
    ("without a split word", lambda g: ~g["split"]),
    ("with a unique word", lambda g: g["unique"]),
    ("without a unique word", lambda g: ~g["unique"]),
    ("split and unique", lambda g: g["split"] & g["unique"]),
    ("neither", lambda g: ~g["split"] & ~g["unique"]),
    ("long document (added after)", lambda g: g["long"]),
    ("short document (added after)", lambda g: ~g["long"]),
]


def group_rows(source: str, ours: np.ndarray, bm25: np.ndarray, groups: dict[str, np.ndarray],
               resamples: int) -> list[dict[str, Any]]:
    """One row per group of :data:`GROUPS` that holds at least one query."""
    rows = []
    for label, select in GROUPS:
        mask = np.asarray(select(groups), dtype=bool)
        if mask.any():
            rows.append({"source": source, "group": label, "queries": int(mask.sum()),
                         "index": float(ours[mask].mean()), "bm25": float(bm25[mask].mean()),
                         "stats": paired(ours[mask], bm25[mask], resamples)})
    return rows


def render(rows: list[dict[str, Any]], *, command: str, seconds: float, resamples: int, collections: int) -> str:
    lines = [
        *report_head("Which queries the index loses to BM25 with stemming on, on a held-out source (English)",
                     command=command, seconds=seconds,
                     pooled=f", pooled over the test split and {collections} collections of the source's other "
                     "articles (`training.replicate`'s)"),
        "- split word: the query holds a word the model's tokenizer cuts into pieces; unique word: a word that "
        "exactly one document of the searched collection holds (words as the tokenizer's normalizer and "
        "pre-tokenizer give them); long document (grouping added after the first two): the relevant document has "
        "more words than the collection's median document",
        difference_note(resamples),
        "",
        "| held-out source | queries | group | index | BM25 (stemmed) | difference | 95% interval | p | wins / losses |",
        "|---|---:|---|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['source']} | {r['queries']:,} | {r['group']} | {100 * r['index']:.1f} | {100 * r['bm25']:.1f} "
                     f"| {difference_cells(r['stats'])} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv, __doc__, "RESULTS-diagnose.md", collections=3, least=0)
    started = time.perf_counter()
    prepared = loso.prepare()
    rows: list[dict[str, Any]] = []
    try:
        for source in args.sources:
            model, labelled = fold_and_collections(prepared, source, args.collections)
            tasks = [task for _, task in labelled]
            scored = []
            for task in tasks:
                ours, bm25 = score_task(model, task)
                groups = query_groups(model.tokenizer, task["queries"], task["corpus"], task["relevant"])
                scored.append((ours, bm25, groups))
                print(f"{source} {task['name']}: {100 * ours.mean():.1f} vs {100 * bm25.mean():.1f}", flush=True)
            ours = np.concatenate([o for o, _, _ in scored])
            bm25 = np.concatenate([b for _, b, _ in scored])
            groups = {k: np.concatenate([g[k] for _, _, g in scored]) for k in ("split", "unique", "long")}
            rows += group_rows(source, ours, bm25, groups, args.resamples)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    given = list(sys.argv[1:] if argv is None else argv)
    command = " ".join(["python -m training.diagnose", *given])
    text = render(rows, command=command, seconds=time.perf_counter() - started, resamples=args.resamples,
                  collections=args.collections)
    args.output.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
