"""SearchIndex's parts on other languages and another model: a check that they are not fitted to the English
held-out sources they were adopted on.

    python -m training.search_languages [--languages fr es] [--output training/RESULTS-search-languages.md]

The search-time parts (``training.passage_scoring``, ``training.late_interaction``) were adopted on six English
sources with the English recipe's tables. Here nothing of that is used: the model is XLM-R's vocabulary embedded
piece by piece by multilingual-e5-small (``<data>/models/xlmr-e5-small-static``, the multilingual recipe's first
table, before any training: no pair of any source), and the task is French and Spanish Wikipedia: a page's short
description (``"planète naine du système solaire"``) as the query, its summary as the document, every page of
the language's summaries (``staticemb.corpora.wikipedia_summaries``). NDCG@10 of the vector alone (with and
without the collection's token weights), the vector with the best passage, the three parts of
:class:`staticemb.SearchIndex` (and with ``stemmer=`` the language's Snowball stemmer, not the default), and BM25
with the language's Snowball stemmer.

Nothing is decided here (no rule): the figures say whether the parts carry over to languages, a tokenizer and a
table they were never measured on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .report import hardware

MODEL = "xlmr-e5-small-static"
STEMMERS = {"fr": "french", "es": "spanish", "en": "english"}
COLUMNS = {"plain": "vector", "weights": "vector, corpus weights", "passages": "+ best passage",
           "index": "+ terms (SearchIndex)", "stem": "SearchIndex, stemmer", "fused": "SearchIndex, bm25 (fused)",
           "bm25": "BM25 (stemmed)"}


def task(lang: str) -> tuple[list[str], list[str]]:
    """(queries, documents) of ``lang``'s Wikipedia summaries: each page with a description and a summary, its
    description as the query of its summary; a description or summary given twice is kept once."""
    from staticemb.corpora import wikipedia_summaries

    seen_q: set[str] = set()
    seen_d: set[str] = set()
    queries, docs = [], []
    for page in wikipedia_summaries(lang):
        q, d = page.description.strip(), page.extract.strip()
        if q and d and q not in seen_q and d not in seen_d:
            seen_q.add(q)
            seen_d.add(d)
            queries.append(q)
            docs.append(d)
    return queries, docs


def bm25_scores(queries: list[str], docs: list[str], lang: str) -> Any:
    """BM25 with the language's Snowball stemmer and stop words (the library's, as SearchIndex(bm25=...) runs it)."""
    from staticemb._bm25 import BM25Index

    return BM25Index(docs, stemmer=STEMMERS[lang], stopwords=lang).scores(queries)


def score_language(model: Any, lang: str) -> dict[str, Any]:
    import numpy as np
    from staticemb import SearchIndex
    from staticemb.evaluation import multi_retrieval_metrics

    queries, docs = task(lang)
    relevant = [[i] for i in range(len(docs))]

    def ndcg(scores: np.ndarray) -> float:
        return multi_retrieval_metrics(scores, relevant)["NDCG@10"]

    row: dict[str, Any] = {"language": lang, "pairs": len(docs)}
    row["plain"] = ndcg(SearchIndex(model, docs, corpus_weights=False, passages=False, terms=False).scores(queries))
    row["weights"] = ndcg(SearchIndex(model, docs, passages=False, terms=False).scores(queries))
    row["passages"] = ndcg(SearchIndex(model, docs, terms=False).scores(queries))
    row["index"] = ndcg(SearchIndex(model, docs).scores(queries))
    row["stem"] = ndcg(SearchIndex(model, docs, stemmer=STEMMERS[lang]).scores(queries))
    row["fused"] = ndcg(SearchIndex(model, docs, bm25=STEMMERS[lang]).scores(queries))
    row["bm25"] = ndcg(bm25_scores(queries, docs, lang))
    return row


def render(rows: list[dict[str, Any]], *, command: str, seconds: float) -> str:
    lines = [
        "# SearchIndex's parts on other languages and another model (a check, no rule)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min)",
        f"- machine: {hardware()}",
        f"- model: `{MODEL}` (XLM-R's vocabulary embedded by multilingual-e5-small, untrained), its full width",
        "- task: Wikipedia, a page's short description -> its summary, every page of the language; NDCG@10 (%)",
        "",
        "| language | pairs | " + " | ".join(COLUMNS.values()) + " |",
        "|---|---:|" + "---:|" * len(COLUMNS),
    ]
    for r in rows:
        lines.append(f"| {r['language']} | {r['pairs']:,} | " + " | ".join(f"{100 * r[k]:.1f}" for k in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--languages", nargs="*", choices=list(STEMMERS), default=["fr", "es"])
    parser.add_argument("--output", type=Path,
                        default=Path(__file__).resolve().parent / "RESULTS-search-languages.md")
    args = parser.parse_args(argv)
    from staticemb import StaticModel
    from staticemb.corpora import data_dir

    path = data_dir() / "models" / MODEL
    if not (path / "model.safetensors").exists():
        raise SystemExit(f"error: {path} is missing; `make train-multilingual` makes it (its first step)")
    started = time.perf_counter()
    model = StaticModel.from_pretrained(path, normalize=False)
    rows = []
    for lang in args.languages:
        rows.append(score_language(model, lang))
        print(f"{lang}: " + ", ".join(f"{k} {100 * rows[-1][k]:.1f}" for k in COLUMNS), flush=True)
    command = "python -m training.search_languages"
    command += f" --languages {' '.join(args.languages)}" if args.languages != ["fr", "es"] else ""
    report = render(rows, command=command, seconds=time.perf_counter() - started)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
