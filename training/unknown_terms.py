"""The unknown token in `SearchIndex`'s terms part: what leaving it out moved, per held-out source (English).

    python -m training.unknown_terms [--sources rustdoc ...] [--output training/RESULTS-unknown-terms.md]

Until 2026-12-06 the terms part matched the tokenizer's unknown token like any other: an English model's query
"猫" matched a document's "☃" exactly, both being ``[UNK]``. The index now leaves the unknown token out of the
terms on both sides (it stays in the vectors). This scores each held-out source's test split with the index as it
is and with the old rule (:class:`MatchesUnknown`), for the lead-trained fold and the plain fold (1024-d and
256-d, the test split's corpus weights, as ``training.significance``), and counts the queries whose NDCG@10
changed. Folds missing from the cache are trained first (``training.loso``). A measurement, no rule: the change
is a correction, made before it was measured.
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
from staticemb import SearchIndex

from . import datasets as D
from . import loso
from .report import hardware
from .significance import A, fold_paths, per_query_ndcg

DIMS = (1024, 256)


class MatchesUnknown(SearchIndex):
    """:class:`staticemb.SearchIndex` with the rule before 2026-12-06: every pooled token is a term, the unknown
    token included."""

    def _unknown_term(self) -> int | None:
        return None


def holding_unknown(model: Any, texts: list[str]) -> int:
    """How many of ``texts`` pool the model's unknown token."""
    unknown = model._native.unknown_token
    if unknown is None:
        return 0
    ids, lengths = model._default_pooled_ids(texts)
    return len(np.unique(np.repeat(np.arange(len(texts)), lengths)[ids == unknown]))


def compare(model: Any, task: dict[str, Any], dim: int) -> dict[str, Any]:
    """Per-query NDCG@10 of the index as it is and with the old rule, and the queries that changed."""
    now = per_query_ndcg(SearchIndex(model, task["corpus"], dim=dim, a=A).scores(task["queries"]), task["relevant"])
    before = per_query_ndcg(MatchesUnknown(model, task["corpus"], dim=dim, a=A).scores(task["queries"]),
                            task["relevant"])
    changed = np.flatnonzero(now != before)
    return {"now": float(now.mean()), "before": float(before.mean()), "changed": len(changed),
            "largest": float(np.abs(now - before).max()) if len(changed) else 0.0}


def render(rows: list[dict[str, Any]], *, command: str, seconds: float) -> str:
    lines = [
        "# The unknown token left out of SearchIndex's terms: what it moved (English, held-out sources)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min)",
        f"- machine: {hardware()}",
        f"- SearchIndex (whole + best passage + terms, the test split's corpus weights, a={A:g}), NDCG@10 (%) on the "
        "held-out source's test split: now (the unknown token no term) and before (matched like any token)",
        "",
        "| held-out source | queries (with [UNK]) | documents (with [UNK]) | model | width | now | before | difference "
        "| queries changed | largest change |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        for name in ("lead", "fold"):
            for dim in DIMS:
                m = r[name][dim]
                lines.append(
                    f"| {r['source']} | {r['queries']:,} ({r['unknown_queries']}) | {r['documents']:,} "
                    f"({r['unknown_documents']}) | {name} | {dim} | {100 * m['now']:.2f} | {100 * m['before']:.2f} "
                    f"| {100 * (m['now'] - m['before']):+.3f} | {m['changed']} | {100 * m['largest']:.1f} |")
    lines += ["", "lead = fold + crops + lead (the lead-trained fold); fold = the plain fold. The [UNK] counts are the "
              "plain fold's (both folds share bert-base-uncased's tokenizer)."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", nargs="*", choices=list(loso.SOURCES), default=list(loso.SOURCES))
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "RESULTS-unknown-terms.md")
    args = parser.parse_args(argv)
    from staticemb import StaticModel
    from staticemb.tasks import load_task

    started = time.perf_counter()
    src, models, _, teacher = loso.prepare()
    rows = []
    try:
        for source in args.sources:
            paths = fold_paths(source, models, src, teacher)
            task = load_task(D.task_path(loso.SOURCES[source][1], "test"))
            row: dict[str, Any] = {"source": source, "queries": len(task["queries"]),
                                   "documents": len(task["corpus"])}
            for name, path in paths.items():
                model = StaticModel.from_pretrained(path, normalize=False)
                row[name] = {dim: compare(model, task, dim) for dim in DIMS}
            row["unknown_queries"] = holding_unknown(model, task["queries"])
            row["unknown_documents"] = holding_unknown(model, task["corpus"])
            rows.append(row)
            print("\n".join(render(rows, command="", seconds=0).splitlines()[-6:-2]), flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    command = "python -m training.unknown_terms"
    command += f" --sources {' '.join(args.sources)}" if args.sources != list(loso.SOURCES) else ""
    report = render(rows, command=command, seconds=time.perf_counter() - started)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
