"""Inverse-cloze pairs (a passage cut out of a text -> the rest of the text) under leave-one-source-out.

    python -m training.cropping [--sources debian bbc pydoc ...] [--output training/RESULTS-cropping.md]

Every English pair set but WordNet maps something short (a title, a summary line) to a long text. The long texts
are a second source of pairs that needs no labels: :func:`staticemb.train.crops.crop` cuts a passage of 6-24
words out of a text of at least 40 words and pairs the passage with what is left of the text (the inverse cloze
task of unsupervised dense retrieval). One pair per long text, the cut seeded by the text (the same pairs on
every machine). Files are cached in
``<data>/training/pairs-crop/crop-<name>.jsonl``, made from the train-split pair file ``<name>``, so they hold no
evaluation text, and a fold gets the crops of its own pair sets only.

The experiment: for each held-out source, the leave-one-source-out fold of ``training.loso`` (made first when
missing) is compared with the same fold whose second stage (MatryoshkaLoss(MNRL), from the same regressed table)
also trains on the crop pairs of its pair sets, under ``<data>/models/loso/<source>/model-crop``.

Rule, fixed before the run: the crop pairs join the recipe only if they raise the held-out mean at 1024-d and at
256-d by more than one point (the swing of one run) and lower no held-out source by more than one point.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from staticemb.train.crops import MAX_WORDS, MIN_WORDS, crop_pairs

from . import datasets as D
from . import loso
from .loso import Row
from .report import hardware

#: The pair sets whose long side is cut (WordNet's definitions are a line each).
CROPPED = tuple(n for n in loso.ENGLISH_PAIRS if n != "en-wordnet")


def crop_path(name: str, root: Path | str | None = None) -> Path:
    """``<root>/pairs-crop/crop-<name>.jsonl``: the inverse-cloze pairs of pair set ``name``."""
    return D.pairs_path(name, root).parent.parent / "pairs-crop" / f"crop-{name}.jsonl"


def build(names: Sequence[str], root: Path | str | None = None, refresh: bool = False) -> dict[str, Path]:
    """Cut (or reuse) the crop file of every pair set in ``names``; returns ``crop-<name>`` -> its path."""

    def make(name: str, rows: list[dict[str, str]]) -> Iterator[dict[str, str]]:
        pairs = crop_pairs(row["positive"] for row in rows)
        print(f"{name}: {len(pairs):,} crop pairs", flush=True)
        return ({"anchor": a, "positive": p} for a, p in pairs)

    return {f"crop-{n}": p for n, p in loso.derive(names, lambda n: crop_path(n, root), make, root, refresh).items()}


def _datasets(pair_sets: list[str]) -> dict[str, str | Path]:
    """The fold's pair sets and the crop files of those that have long texts."""
    out: dict[str, str | Path] = {n: D.pairs_path(n) for n in pair_sets}
    out.update(build([n for n in pair_sets if n in CROPPED]))
    return out


KEYS = ("pairs 1024", "crop 1024", "pairs 256", "crop 256", "stem", "minilm")


def decide(rows: list[dict[str, Any]]) -> tuple[bool, str]:
    """The rule of the module's description (:func:`training.loso.rule`): (adopted, why)."""
    return loso.rule(rows, lambda d: f"pairs {d}", lambda d: f"crop {d}")


def render(rows: list[dict[str, Any]], command: str, seconds: float, training: float | None = None,
           sizes: dict[str, int] | None = None) -> str:
    lines = [
        "# Inverse-cloze pairs under leave one source out (English)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min"
        + (f"; the crop stages took {training / 60:.0f} min in all)" if training else ")"),
        f"- machine: {hardware()}",
        "- both models share the fold's first stage (teacher regression without the held-out source); the second",
        "  stage (MatryoshkaLoss(MNRL), `training/configs/en-retrieval.json`) trains on the fold's pair sets, alone",
        f"  or with one inverse-cloze pair per long text of them (a passage of {MIN_WORDS}-{MAX_WORDS} words cut out"
        " -> the rest);",
        "  NDCG@10 (%) on the held-out test split",
        "",
        "| held-out source | pairs 1024-d | + crops 1024-d | change | pairs 256-d | + crops 256-d | change | "
        "BM25 (stemmed) | all-MiniLM-L6-v2 | + crops − BM25 (stemmed) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [_row(r) for r in rows + ([_mean(rows)] if len(rows) > 1 else [])]
    if sizes:
        lines += ["", "Crop pairs per pair set: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()) + "."]
    if rows:
        adopted, why = decide(rows)
        lines += ["", "Decision (the held-out mean up by more than one point at both widths, no source down by more "
                  "than one): " + ("**adopted**" if adopted else "**not adopted**") + f": {why}."]
    return "\n".join(lines) + "\n"


def _row(r: dict[str, Any]) -> str:
    return (f"| {r['source']} | {100 * r['pairs 1024']:.1f} | {100 * r['crop 1024']:.1f} | "
            f"{100 * (r['crop 1024'] - r['pairs 1024']):+.1f} | {100 * r['pairs 256']:.1f} | "
            f"{100 * r['crop 256']:.1f} | {100 * (r['crop 256'] - r['pairs 256']):+.1f} | {100 * r['stem']:.1f} | "
            f"{100 * r['minilm']:.1f} | {100 * (r['crop 1024'] - r['stem']):+.1f} |")


def _mean(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"source": "**mean**", **{k: sum(r[k] for r in rows) / len(rows) for k in KEYS}}


def _make_row(source: str, base: dict[str, float], crops: dict[str, float], baseline: Callable[[str], float]) -> Row:
    return {"source": source, "pairs 1024": base["1024"], "crop 1024": crops["1024"], "pairs 256": base["256"],
            "crop 256": crops["256"], "stem": baseline("BM25 (stemmed)"), "minilm": baseline("all-MiniLM-L6-v2")}


def _report(rows: list[Row], command: str, seconds: float, training: float | None) -> str:
    sizes = {}
    for name in CROPPED:
        if crop_path(name).exists():
            with open(crop_path(name), encoding="utf-8") as f:
                sizes[name] = sum(1 for _ in f)
    return render(rows, command, seconds, training, sizes)


def main(argv: Sequence[str] | None = None) -> int:
    return loso.compare_main(argv, description=__doc__, command="python -m training.cropping", variant="crop",
                             output=Path(__file__).resolve().parent / "RESULTS-cropping.md", datasets=_datasets,
                             row=_make_row, render=_report)


if __name__ == "__main__":
    sys.exit(main())
