"""SearchIndex on a source none of the six was drawn from: package READMEs, searched by the package's one-line
summary, with a model whose training never saw its language's documentation (a check, no rule).

    python -m training.search_readmes [--output training/RESULTS-search-readmes.md]

Two tasks, built at run time from what is installed:

- ``python``: every installed distribution of the running interpreter with a summary (``Summary:`` in its
  metadata) of at least 3 words and a README (the metadata's description) of at least 30, the summary as the
  query of the README; searched with the plain leave-one-source-out fold that never trained on Python
  docstrings (``loso/pydoc``);
- ``rust``: every crate of the local cargo registry with a ``description`` and a ``README.md`` (the newest
  version of each crate), the same way; searched with the fold that never trained on Rust doc comments
  (``loso/rustdoc``).

A summary or README given twice is kept once. The READMEs are not among the training or test texts of any source
(docstrings and doc comments are). NDCG@10 of the vector alone, with the collection's token weights, with the
best passage, the three parts of :class:`staticemb.SearchIndex` (and with ``term_frequency=True`` or
``stemmer="english"``, not the default), BM25 with stemming and all-MiniLM-L6-v2; the index against BM25 with a 95% paired bootstrap interval
(``training.significance``). Nothing is decided here: the figures say whether what was adopted on the six
sources carries over to one it was never measured on.
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

MIN_SUMMARY_WORDS, MIN_README_WORDS = 3, 30
FOLDS = {"python": "pydoc", "rust": "rustdoc"}
COLUMNS = {"plain": "vector", "weights": "vector, corpus weights", "passages": "+ best passage",
           "index": "+ terms (SearchIndex)", "tf": "SearchIndex, term_frequency", "stem": "SearchIndex, stemmer",
           "fused": "SearchIndex, bm25 (fused)", "bm25": "BM25 (stemmed)",
           "minilm": "all-MiniLM-L6-v2"}


def _pairs(items: Sequence[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """(queries, documents): each (summary, readme) long enough, a summary or README given twice kept once."""
    seen_q: set[str] = set()
    seen_d: set[str] = set()
    queries, docs = [], []
    for summary, readme in items:
        q, d = " ".join(summary.split()), readme.strip()
        if len(q.split()) < MIN_SUMMARY_WORDS or len(d.split()) < MIN_README_WORDS or q in seen_q or d in seen_d:
            continue
        seen_q.add(q)
        seen_d.add(d)
        queries.append(q)
        docs.append(d)
    return queries, docs


def python_readmes() -> tuple[list[str], list[str]]:
    """(summaries, READMEs) of the running interpreter's installed distributions, by name."""
    import importlib.metadata as md

    items: dict[str, tuple[str, str]] = {}
    for dist in md.distributions():
        meta = dist.metadata
        name = (meta.get("Name") or "").lower().replace("_", "-")
        readme = meta.get_payload() or meta.get("Description") or ""  # type: ignore[attr-defined]
        if name and name not in items:
            items[name] = (meta.get("Summary") or "", str(readme))
    return _pairs([items[k] for k in sorted(items)])


def rust_readmes() -> tuple[list[str], list[str]]:
    """(descriptions, README.md) of the crates in the local cargo registry, the newest version of each (none
    before Python 3.11, which brings ``tomllib``)."""
    import os

    try:
        import tomllib
    except ImportError:
        return [], []

    home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))
    newest: dict[str, tuple[tuple[int, ...], Path]] = {}
    for manifest in sorted(home.glob("registry/src/*/*/Cargo.toml")):
        try:
            package = tomllib.loads(manifest.read_text(encoding="utf-8")).get("package", {})
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        name, version = package.get("name"), str(package.get("version", "0"))
        key = tuple(int(p) if p.isdigit() else 0 for p in version.split("-")[0].split("."))
        if isinstance(name, str) and (name not in newest or key > newest[name][0]):
            newest[name] = (key, manifest)
    items = []
    for name in sorted(newest):
        manifest = newest[name][1]
        package = tomllib.loads(manifest.read_text(encoding="utf-8"))["package"]
        readme = package.get("readme") if isinstance(package.get("readme"), str) else "README.md"
        path = manifest.parent / readme
        if isinstance(package.get("description"), str) and path.is_file():
            items.append((package["description"], path.read_text(encoding="utf-8", errors="replace")))
    return _pairs(items)


def score_task(name: str, model: Any, queries: list[str], docs: list[str], teacher: str | None,
               resamples: int) -> dict[str, Any]:
    import numpy as np
    from staticemb import SearchIndex
    from staticemb.evaluation import cosine_scores
    from staticemb.tasks import BM25Scorer, open_model

    from .significance import paired, per_query_ndcg

    relevant = [[i] for i in range(len(docs))]
    per_query = {
        "plain": SearchIndex(model, docs, corpus_weights=False, passages=False, terms=False).scores(queries),
        "weights": SearchIndex(model, docs, passages=False, terms=False).scores(queries),
        "passages": SearchIndex(model, docs, terms=False).scores(queries),
        "index": SearchIndex(model, docs).scores(queries),
        "tf": SearchIndex(model, docs, term_frequency=True).scores(queries),
        "stem": SearchIndex(model, docs, stemmer="english").scores(queries),
        "fused": SearchIndex(model, docs, bm25="english").scores(queries),
        "bm25": BM25Scorer(stem=True).scores(queries, docs),
    }
    if teacher is not None:
        encoder = open_model(teacher, name="all-MiniLM-L6-v2")
        per_query["minilm"] = cosine_scores(encoder.encode(queries), encoder.encode(docs))
    ndcg = {k: per_query_ndcg(np.asarray(v), relevant) for k, v in per_query.items()}
    row: dict[str, Any] = {"task": name, "pairs": len(docs), **{k: float(v.mean()) for k, v in ndcg.items()}}
    row["vs bm25"] = paired(ndcg["index"], ndcg["bm25"], resamples)
    row["fused vs bm25"] = paired(ndcg["fused"], ndcg["bm25"], resamples)
    return row


def render(rows: list[dict[str, Any]], *, command: str, seconds: float) -> str:
    lines = [
        "# SearchIndex on package READMEs, a source none of the six was drawn from (a check, no rule)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min)",
        f"- machine: {hardware()}",
        "- task: a package's one-line summary -> its README; python: the installed distributions, searched with the "
        "fold without Python docstrings; rust: the local cargo registry's crates, with the fold without Rust doc "
        "comments; 1024-d; NDCG@10 (%)",
        "",
        "| task | pairs | " + " | ".join(COLUMNS.values())
        + " | SearchIndex − BM25, 95% interval | fused − BM25, 95% interval |",
        "|---|---:|" + "---:|" * len(COLUMNS) + "---|---|",
    ]
    for r in rows:
        cells = [f"{100 * r[k]:.1f}" if k in r else "—" for k in COLUMNS]
        cells += [f"{100 * d['mean']:+.1f} [{100 * d['low']:+.1f}, {100 * d['high']:+.1f}]"
                  for d in (r["vs bm25"], r["fused vs bm25"])]
        lines.append(f"| {r['task']} | {r['pairs']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "RESULTS-search-readmes.md")
    args = parser.parse_args(argv)
    from staticemb import StaticModel

    from . import loso

    started = time.perf_counter()
    src, models, _, teacher = loso.prepare()
    rows = []
    for name, build in (("python", python_readmes), ("rust", rust_readmes)):
        queries, docs = build()
        if len(docs) < 20:
            print(f"{name}: only {len(docs)} READMEs here, skipped", file=sys.stderr)
            continue
        path = loso.train_fold(FOLDS[name], models=models, src=src, teacher=teacher, refresh=False)
        rows.append(score_task(name, StaticModel.from_pretrained(path, normalize=False), queries, docs, teacher,
                               args.resamples))
        print(f"{name}: " + ", ".join(f"{k} {100 * rows[-1][k]:.1f}" for k in COLUMNS if k in rows[-1]), flush=True)
    report = render(rows, command="python -m training.search_readmes", seconds=time.perf_counter() - started)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
