"""Term-frequency saturation in the pooling, on sources held out entirely (English).

    python -m training.tf_saturation [--sources debian pydoc ...] [--output training/RESULTS-tf-saturation.md]

A static model's vector is the (weighted) mean of its tokens' rows, so a token that occurs ten times in a
document counts ten times: the term frequency is linear. BM25 saturates it, ``tf (k1 + 1) / (tf + k1)``, so a
repeated word ("package", "the function", a class name in its own docstring) stops adding weight after a few
occurrences. On long documents of a source the model never trained on, that is one of the two things BM25 has
and the model lacks (the other, a term's rarity in the searched collection, is
:meth:`staticemb.StaticModel.with_corpus_weights`).

Each leave-one-source-out fold (:func:`training.loso.train_fold`) with corpus weights (``a = 1e-3``, the adopted
way to search a corpus) pools each text's distinct tokens with weight ``f(tf)`` instead of ``tf``:

- ``linear``: ``f(tf) = tf``, the model as it is (checked against :meth:`~staticemb.StaticModel.encode`);
- ``bm25``: ``f(tf) = tf (k1 + 1) / (tf + k1)`` with ``k1 = 1.2``, the standard value, fixed in advance;
- ``sqrt`` and ``binary`` (``f = 1``): reported, not chosen from.

The rule, fixed before any fold was scored this way: saturation becomes a pooling option of the library when
``bm25`` raises the folds' mean NDCG@10 by more than one point at both widths and no fold falls by more than one
point at 1024-d (:func:`training.loso.rule`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from staticemb.tasks import StaticEncoder

from . import datasets as D
from . import loso
from .report import hardware

A = 1e-3
K1 = 1.2
SATURATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda tf: tf,
    "bm25": lambda tf: tf * (K1 + 1.0) / (tf + K1),
    "sqrt": np.sqrt,
    "binary": np.ones_like,
}
RULE = "bm25"


def pooled(model: Any, texts: Sequence[str], saturation: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Full-width vectors of ``texts``: each distinct token's folded row (weights and corpus weights applied)
    times ``saturation(tf)``, summed; unnormalized (the evaluation takes cosines at each width)."""
    ids, offsets = model.tokenize(list(texts))
    n = len(offsets)
    bounds = np.append(offsets, len(ids))
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(bounds))
    table = model._folded_table()
    if model.drop_unknown:
        unk = model.tokenizer.token_to_id(model.tokenizer.model.unk_token)
        keep = ids != unk
        ids, rows = ids[keep], rows[keep]
    # Each text's distinct tokens and their counts: unique (row, id) keys, sorted by row.
    keys, tf = np.unique(rows * table.shape[0] + ids.astype(np.int64), return_counts=True)
    token, weight = keys % table.shape[0], saturation(tf.astype(np.float64)).astype(np.float32)
    starts = np.searchsorted(keys // table.shape[0], np.arange(n + 1))
    out = np.zeros((n, table.shape[1]), np.float32)
    for r in range(n):
        a, b = starts[r], starts[r + 1]
        if b > a:
            out[r] = weight[a:b] @ table[token[a:b]]
    return out


class SaturatedEncoder(StaticEncoder):
    """A :class:`staticemb.tasks.StaticEncoder` whose pooling saturates term frequency."""

    def __init__(self, model: Any, name: str, saturation: Callable[[np.ndarray], np.ndarray]) -> None:
        super().__init__(model, name, loso.DIMS)
        self.saturation = saturation

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return pooled(self.model, texts, self.saturation)


def check_linear(model: Any, texts: Sequence[str]) -> float:
    """Smallest cosine between :func:`pooled` with linear term frequency and the model's own encode: 1 when the
    reconstruction is the model (the other saturations differ from it only in ``f``)."""
    mine = pooled(model, texts, SATURATIONS["linear"])
    theirs = model.encode(list(texts), normalize=False, dim=model.full_dim)
    num = (mine * theirs).sum(1)
    den = np.linalg.norm(mine, axis=1) * np.linalg.norm(theirs, axis=1)
    ok = den > 0
    return float((num[ok] / den[ok]).min())


def score_row(model: Any, source: str) -> dict[str, Any]:
    from staticemb.tasks import evaluate, load_task

    task = loso.SOURCES[source][1]
    loaded = load_task(D.task_path(task, "test"))
    weighted = model.with_corpus_weights(loaded["corpus"], a=A)
    row: dict[str, Any] = {"source": source, "check": check_linear(weighted, loaded["corpus"][:500])}
    for name, f in SATURATIONS.items():
        result = evaluate(SaturatedEncoder(weighted, f"loso/{source} {name}", f), [loaded])
        row.update({f"{name} {d}": m["NDCG@10"] for d, m in result["tasks"][task]["scores"].items()})
    return row


def render(rows: list[dict[str, Any]], *, command: str, seconds: float) -> str:
    adopted, why = loso.rule(rows, lambda d: f"linear {d}", lambda d: f"{RULE} {d}")
    head = ["held-out source", "dim", *SATURATIONS, "BM25 (stemmed)", "all-MiniLM-L6-v2"]
    lines = [
        "# Term-frequency saturation in the pooling, on held-out sources (English)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min)",
        f"- machine: {hardware()}",
        f"- models: each leave-one-source-out fold with corpus weights (a={A:g}, counted on the held-out test",
        "  split's documents); a text is the sum of its distinct tokens' rows times f(tf): linear (the model as",
        f"  it is), bm25 tf(k1+1)/(tf+k1) with k1={K1:g}, sqrt, binary",
        "- NDCG@10 (%) on the held-out source's test split; in brackets the change from linear",
        "- check: smallest cosine between the linear reconstruction and `StaticModel.encode` on 500 documents: "
        + ", ".join(f"{r['source']} {r['check']:.6f}" for r in rows),
        "",
        "| " + " | ".join(head) + " |",
        "|---|---:|" + "---:|" * (len(head) - 2),
    ]
    keys = [k for k in rows[0] if k not in ("source", "check")]
    mean = {"source": f"**mean of {len(rows)}**", **{k: sum(r[k] for r in rows) / len(rows) for k in keys}}
    for r in rows + ([mean] if len(rows) > 1 else []):
        for dim in ("1024", "256"):
            base = r[f"linear {dim}"]
            cells = [r["source"], dim, f"{100 * base:.1f}"]
            cells += [f"{100 * r[f'{s} {dim}']:.1f} ({100 * (r[f'{s} {dim}'] - base):+.1f})"
                      for s in SATURATIONS if s != "linear"]
            cells += [f"{100 * r['stem']:.1f}", f"{100 * r['minilm']:.1f}"]
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Decision ({RULE} against linear: mean up by more than one point at both widths, no fold down by "
              "more than one at 1024-d): " + ("**adopted**" if adopted else "**not adopted**") + f": {why}."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", nargs="*", choices=list(loso.SOURCES), default=list(loso.SOURCES),
                        help="folds to score (trained first when missing)")
    parser.add_argument("--output", type=Path,
                        default=Path(__file__).resolve().parent / "RESULTS-tf-saturation.md")
    args = parser.parse_args(argv)
    from staticemb import StaticModel

    started = time.perf_counter()
    src, models, baselines, teacher = loso.prepare()
    rows: list[dict[str, Any]] = []
    try:
        for source in args.sources:
            path = loso.train_fold(source, models=models, src=src, teacher=teacher, refresh=False)
            row = score_row(StaticModel.from_pretrained(path, normalize=False), source)
            task = loso.SOURCES[source][1]
            row["stem"] = loso.baseline("BM25 (stemmed)", task, baselines)
            row["minilm"] = loso.baseline("all-MiniLM-L6-v2", task, baselines, teacher)
            rows.append(row)
            print(f"{source}: " + ", ".join(f"{s} {100 * row[f'{s} 1024']:.1f}" for s in SATURATIONS), flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted; trained folds are kept and reused", file=sys.stderr)
        return 130
    command = "python -m training.tf_saturation --sources " + " ".join(args.sources)
    report = render(rows, command=command, seconds=time.perf_counter() - started)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
