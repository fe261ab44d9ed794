"""Passages the teacher picks out of the held-out source's unlabeled documents, as training pairs, under
leave-one-source-out (English).

    python -m training.teacher_passages [--sources debian pydoc ...] [--output training/RESULTS-teacher-passages.md]

The adopted inverse-cloze pairs (``training.target_crops``) cut a *random* passage of 6-24 words out of each long
document of the held-out source's train split and pair it with the rest. A query is rarely a random passage: it
says what its document is about. Here the teacher picks the passage instead, still without any label: every
sentence of 6-24 words of such a document (:func:`staticemb.train.crops.passage_candidates`) and the document
itself are embedded by all-mpnet-base-v2 (256 tokens, the folder of ``training.teacher_filter``), and the
sentence closest to the document (cosine) is cut out and paired with the rest
(:func:`staticemb.train.crops.passage_pairs`): the centroid sentence of extractive summarization, what the
library's ``staticemb crops --teacher`` writes. One pair per distinct document of at least 40 words that has such
a sentence; the documents are the long sides of the source's train-split pairs, as for the crops (never a query,
title, summary line or judgement, never a test document).

The teacher's picks are cached in ``<data>/teacher-scores/<teacher fingerprint>/passages-<name>.npz`` with the
SHA-1 of the pair file they come from (:func:`picks`); the pairs in
``<data>/training/pairs-passage/passage-<name>.jsonl``. Embedding the 69,772 such documents of the six sources and
their 362,680 sentences takes minutes on a GPU and most of a day on 2 cores (cached text by text, so an
interrupted run resumes).

The experiment: for each held-out source, the crop-trained fold of ``training.target_crops`` (``model-target-crop``:
the fold's pair sets and one random crop per document) against the same second stage with one teacher-picked pair
per document added, under ``<data>/models/loso/<source>/model-target-crop-passage``.

Rule, fixed before the run (:func:`training.loso.rule`): the picked passages join the documented route for fitting
a model to one's documents only if they raise the held-out mean over the crop-trained folds by more than one point
at 1024-d and at 256-d and lower no held-out source by more than one point at 1024-d.

The control (``--arm crops2``): the same second stage with a *second random* crop per document instead of the
picked sentence (:func:`second_crop`, ``model-target-crop-2``, ``RESULTS-teacher-passages-control.md``). Two pairs
per document either way; what the picked arm gains over the control is the teacher's choice, not the number of
pairs. The lead arm (``--arm lead``, ``model-target-crop-lead``, ``RESULTS-teacher-passages-lead.md``): the first
candidate sentence of the same documents instead of the teacher's pick, which all-mpnet-base-v2 picks anyway in
most Debian and Wikipedia descriptions: what the teacher adds over the lead sentence.

The lead-kept arm (``--arm lead-kept``, ``model-target-crop-lead-kept``, ``RESULTS-teacher-passages-lead-kept.md``,
set on 2026-12-04 before its run): the lead arm's sentence paired with the *whole* document, the sentence left in
it, as the inverse cloze task of unsupervised dense retrieval keeps the sentence in a share of its contexts so that
word overlap is learnt as evidence. The held-out gap to BM25 is lexical; this asks whether pairs whose positive
holds every word of the anchor close part of it. Decided by the same rule over the crop-trained folds, and
recommended over the lead arm only if its mean is above the lead arm's at both widths.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from . import datasets as D

if TYPE_CHECKING:
    from staticemb.train.crops import Document

VARIANT = "target-crop-passage"
CONTROL = "target-crop-2"
LEAD = "target-crop-lead"
LEAD_KEPT = "target-crop-lead-kept"
MAX_SEQ_LENGTH = 256


def cache_path(name: str, model: str) -> Path:
    from staticemb.corpora import data_dir
    from staticemb.train.trainer import teacher_fingerprint

    return data_dir() / "teacher-scores" / teacher_fingerprint(model) / f"passages-{name}.npz"


def save_picks(path: Path, best: np.ndarray, cos: np.ndarray, sha1: str) -> None:
    """Write a picks file whole or not at all."""
    from .teacher_filter import save_npz

    save_npz(path, best=np.asarray(best, dtype=np.int64), cos=np.asarray(cos, dtype=np.float32), sha1=np.array(sha1))


def picks(name: str, docs: Sequence[Document], model: str | None = None) -> np.ndarray:
    """The teacher's pick for each of pair set ``name``'s documents ``docs`` (:func:`staticemb.train.crops.
    passage_documents` of its long sides; cached, see the module's text)."""
    from staticemb.train.crops import pick_passages, teacher_inputs
    from staticemb.train.trainer import teacher_embeddings

    from .teacher_filter import _file_sha1, teacher

    model = model or teacher()
    sha1 = _file_sha1(D.pairs_path(name))
    cache = cache_path(name, model)
    if cache.exists():
        with np.load(cache) as z:
            if str(z["sha1"]) == sha1 and len(z["best"]) == len(docs):
                return z["best"]
    texts, sents, owner = teacher_inputs(docs)
    emb = teacher_embeddings(model, texts + sents)
    best, cos = pick_passages(emb[:len(texts)], emb[len(texts):], owner)
    save_picks(cache, best, cos, sha1)
    return best


def _pairs_path(folder: str, prefix: str) -> Callable[[str], Path]:
    return lambda name: D.pairs_path(name).parent.parent / folder / f"{prefix}-{name}.jsonl"


passage_path = _pairs_path("pairs-passage", "passage")
second_crop_path = _pairs_path("pairs-crop2", "crop2")
lead_path = _pairs_path("pairs-lead", "lead")
lead_kept_path = _pairs_path("pairs-lead-kept", "leadkept")


def _build(names: Sequence[str], path: Callable[[str], Path], prefix: str, what: str,
           pairs: Callable[[str, list[dict[str, str]]], list[tuple[str, str]]],
           refresh: bool) -> dict[str, Path]:
    """``pairs(name, its train-split rows)`` of every pair set in ``names``, written to ``path(name)`` unless
    present; ``<prefix>-<name>`` -> path."""
    from . import loso

    def make(name: str, rows: list[dict[str, str]]):
        made = pairs(name, rows)
        print(f"{name}: {len(made):,} {what}", flush=True)
        return ({"anchor": a, "positive": p} for a, p in made)

    return {f"{prefix}-{n}": p for n, p in loso.derive(names, path, make, refresh=refresh).items()}


def build(names: Sequence[str], refresh: bool = False) -> dict[str, Path]:
    """The picked-passage file of every pair set in ``names`` (written unless present); ``passage-<name>`` ->
    path."""
    from staticemb.train.crops import passage_documents, passage_pairs

    def pairs(name: str, rows: list[dict[str, str]]) -> list[tuple[str, str]]:
        docs = passage_documents(row["positive"] for row in rows)
        return passage_pairs(docs, picks(name, docs))

    return _build(names, passage_path, "passage", "picked-passage pairs", pairs, refresh)


def second_crop(text: str) -> tuple[str, str] | None:
    """A second inverse-cloze pair of ``text`` (:func:`staticemb.train.crops.crop`'s cut, drawn from another seed
    derived from the text), ``None`` for a text too short to crop."""
    from staticemb.train.crops import MIN_TEXT_WORDS, _cut, _digest

    words = text.split()
    if len(words) < MIN_TEXT_WORDS:
        return None
    return _cut(words, hashlib.sha1(b"second crop\0" + _digest(text)).digest())


def build_second_crops(names: Sequence[str], refresh: bool = False) -> dict[str, Path]:
    """The second-crop file of every pair set in ``names`` (one per distinct long text, as the first crops);
    ``crop2-<name>`` -> path."""

    def pairs(name: str, rows: list[dict[str, str]]) -> list[tuple[str, str]]:
        return [p for p in map(second_crop, dict.fromkeys(row["positive"] for row in rows)) if p is not None]

    return _build(names, second_crop_path, "crop2", "second crops", pairs, refresh)


def build_lead(names: Sequence[str], refresh: bool = False) -> dict[str, Path]:
    """The lead-sentence file of every pair set in ``names``: the pairs of the picked passages with the first
    candidate of each document in place of the teacher's pick (the same documents, no teacher); ``lead-<name>``
    -> path."""
    from staticemb.train.crops import lead_passage_pairs

    def pairs(name: str, rows: list[dict[str, str]]) -> list[tuple[str, str]]:
        return lead_passage_pairs(row["positive"] for row in rows)

    return _build(names, lead_path, "lead", "lead-sentence pairs", pairs, refresh)


def build_lead_kept(names: Sequence[str], refresh: bool = False) -> dict[str, Path]:
    """The lead sentence *kept* in its document: the first candidate sentence of each document of the lead arm,
    paired with the whole document (its words joined by single spaces), so the positive holds every word of the
    anchor; ``leadkept-<name>`` -> path."""
    from staticemb.train.crops import passage_documents

    def pairs(name: str, rows: list[dict[str, str]]) -> list[tuple[str, str]]:
        docs = passage_documents(row["positive"] for row in rows)
        return [(" ".join(words[s:e]), " ".join(words)) for words, [(s, e), *_] in docs]

    return _build(names, lead_kept_path, "leadkept", "lead-sentence pairs, sentence kept", pairs, refresh)


class Arm(NamedTuple):
    """One extra pair per document, as an experiment arm."""

    variant: str  #: the fold's model is ``model-<variant>``
    build: Callable[[Sequence[str]], dict[str, Path]]  #: the builder of its pair files
    path: Callable[[str], Path]  #: a pair set's file
    label: str  #: its columns in the report
    title: str  #: the report's title
    pair: str  #: what the extra pair is, in the report
    report: str  #: the report's default file, beside this module


# The builders are looked up when called (a test replaces them).
ARMS: dict[str, Arm] = {
    "picked": Arm(VARIANT, lambda names: build(names), passage_path, "picked",
                  "# Teacher-picked passages of the held-out source's documents (English)",
                  "the sentence all-mpnet-base-v2 ({} tokens) finds closest to the document, cut out -> the rest",
                  "RESULTS-teacher-passages.md"),
    "crops2": Arm(CONTROL, lambda names: build_second_crops(names), second_crop_path, "2nd crop",
                  "# A second random crop of the held-out source's documents: the control of the teacher-picked "
                  "passages", "a second random crop (another seed), the control", "RESULTS-teacher-passages-control.md"),
    "lead": Arm(LEAD, lambda names: build_lead(names), lead_path, "lead",
                "# The first sentence of the held-out source's documents: the teacher-picked passages without the "
                "teacher", "the document's first sentence of 6-24 words, cut out -> the rest (the picked passages' "
                "documents, no teacher)", "RESULTS-teacher-passages-lead.md"),
    "lead-kept": Arm(LEAD_KEPT, lambda names: build_lead_kept(names), lead_kept_path, "lead kept",
                     "# The first sentence of the held-out source's documents, kept in the document",
                     "the document's first sentence of 6-24 words -> the whole document, the sentence kept in it "
                     "(the lead arm's documents and sentences)", "RESULTS-teacher-passages-lead-kept.md"),
}


def _datasets(source: str, arm: str = "picked") -> Callable[[list[str]], dict[str, str | Path]]:
    """The crop-trained fold's datasets (``training.target_crops``) and the held-out source's extra pairs of
    ``arm`` (a key of :data:`ARMS`)."""
    from . import cropping, loso, target_crops

    crops = target_crops._datasets(source)

    def datasets(pair_sets: list[str]) -> dict[str, str | Path]:
        out = crops(pair_sets)
        out.update(ARMS[arm].build([n for n in loso.SOURCES[source][0] if n in cropping.CROPPED]))
        return out

    return datasets


KEYS = ("crops 1024", "picked 1024", "crops 256", "picked 256", "crops cw 1024", "picked cw 1024",
        "crops cw 256", "picked cw 256", "stem", "minilm")


def decide(rows: list[dict[str, Any]]) -> tuple[bool, str]:
    """The rule of the module's description (:func:`training.loso.rule`): (adopted, why)."""
    from . import loso

    return loso.rule(rows, lambda d: f"crops {d}", lambda d: f"picked {d}")


def _sizes(rows: list[dict[str, Any]], arm: str) -> dict[str, int]:
    from . import loso

    path = ARMS[arm].path
    sizes = {}
    for source in (r["source"] for r in rows):
        for name in loso.SOURCES[source][0]:
            if path(name).exists():
                with open(path(name), encoding="utf-8") as f:
                    sizes[name] = sum(1 for _ in f)
    return sizes


def render(rows: list[dict[str, Any]], command: str, seconds: float, training: float | None = None,
           arm: str = "picked") -> str:
    from .report import hardware

    sizes = _sizes(rows, arm)
    mean = {"source": "**mean**", **{k: sum(r[k] for r in rows) / len(rows) for k in KEYS}} if rows else None
    table = rows + ([mean] if mean and len(rows) > 1 else [])
    extra = ARMS[arm].label

    def pct(x: float) -> str:
        return f"{100 * x:.1f}"

    lines = [
        ARMS[arm].title,
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min"
        + (f"; the second stages took {training / 60:.0f} min in all)" if training else ")"),
        f"- machine: {hardware()}",
        "- both models share the fold's first stage (teacher regression without the held-out source); the second stage",
        "  (MatryoshkaLoss(MNRL), `training/configs/en-retrieval.json`) trains on the fold's pair sets and one random crop",
        "  per long document of the held-out source's train split (`training.target_crops`), and here also on one pair",
        f"  per such document: {ARMS[arm].pair.format(MAX_SEQ_LENGTH)};",
        "  NDCG@10 (%) on the held-out test split, searched plainly and with the test split's token weights",
        "  (`with_corpus_weights(documents, a=1e-3)`)",
        "",
        f"| held-out source | crops 1024-d | + {extra} 1024-d | change | crops 256-d | + {extra} 256-d | change | "
        f"crops, weights 1024-d | + {extra}, weights 1024-d | + {extra}, weights 256-d | BM25 (stemmed) | "
        "all-MiniLM-L6-v2 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in table:
        lines.append(
            f"| {r['source']} | {pct(r['crops 1024'])} | {pct(r['picked 1024'])} | "
            f"{100 * (r['picked 1024'] - r['crops 1024']):+.1f} | {pct(r['crops 256'])} | {pct(r['picked 256'])} | "
            f"{100 * (r['picked 256'] - r['crops 256']):+.1f} | {pct(r['crops cw 1024'])} | "
            f"{pct(r['picked cw 1024'])} | {pct(r['picked cw 256'])} | {pct(r['stem'])} | {pct(r['minilm'])} |")
    if sizes:
        lines += ["", f"Extra pairs ({extra}) of the held-out source's train split: "
                  + ", ".join(f"{k} {v:,}" for k, v in sizes.items()) + "."]
    if rows and mean is not None:
        adopted, why = decide(rows)
        lines += ["", "Decision (over the crop-trained folds: the held-out mean up by more than one point at both "
                  "widths, no source down by more than one at 1024-d): "
                  + ("**adopted**" if adopted else "**not adopted**") + f": {why}."]
        for key, label in (("picked", "plain search"), ("picked cw", "with corpus weights")):
            above = [r["source"] for r in rows if r[f"{key} 1024"] > r["stem"]]
            lines.append(f"- + {extra}, {label}: mean {pct(mean[f'{key} 1024'])} at 1024-d = "
                         f"{100 * mean[f'{key} 1024'] / mean['minilm']:.1f}% of all-MiniLM-L6-v2; 256-d keeps "
                         f"{100 * mean[f'{key} 256'] / mean[f'{key} 1024']:.1f}%; above BM25 with stemming on "
                         f"{len(above)} of {len(rows)}" + (f" ({', '.join(above)})" if above else "") + ".")
    return "\n".join(lines) + "\n"


def _arm_argument(parser: Any) -> None:
    parser.add_argument("--arm", choices=list(ARMS), default="picked",
                        help="the extra pair per document: the teacher's pick (default), a second random crop "
                        "(crops2: its report defaults to RESULTS-teacher-passages-control.md) or the first "
                        "candidate sentence (lead: RESULTS-teacher-passages-lead.md), or that sentence kept in "
                        "the whole document (lead-kept: RESULTS-teacher-passages-lead-kept.md)")


def main(argv: Sequence[str] | None = None) -> int:
    from . import loso, target_crops

    here = Path(__file__).resolve().parent
    args = loso._arguments(argv, __doc__, here / ARMS["picked"].report, "rebuild and retrain what exists",
                           _arm_argument)
    if args.output == here / ARMS["picked"].report:  # each arm's report has a file of its own
        args.output = here / ARMS[args.arm].report
    variant = ARMS[args.arm].variant
    started = time.perf_counter()
    src, models, cache, teacher = loso.prepare()
    rows = []
    try:
        for source in args.sources:
            task = loso.SOURCES[source][1]
            base = loso.second_stage(source, target_crops.VARIANT, target_crops._datasets(source), models=models,
                                     src=src, teacher=teacher, refresh=False)
            model = loso.second_stage(source, variant, _datasets(source, args.arm), models=models, src=src,
                                      teacher=teacher, refresh=args.refresh)
            arms = (("crops", base, target_crops.VARIANT), ("picked", model, variant))
            row: dict[str, Any] = {"source": source}
            for key, path, name in arms:
                plain = loso.score(str(path), f"loso-{name}-{source}", task, loso.DIMS, None)
                weighted = target_crops.corpus_weighted(path, f"loso-{name}-{source}", source)
                for d in ("1024", "256"):
                    row[f"{key} {d}"] = plain[d]
                    row[f"{key} cw {d}"] = weighted[d]
            row["stem"] = loso.baseline("BM25 (stemmed)", task, cache, teacher)
            row["minilm"] = loso.baseline("all-MiniLM-L6-v2", task, cache, teacher)
            rows.append(row)
            print(f"{source}: {100 * row['crops 1024']:.1f} -> {100 * row['picked 1024']:.1f} NDCG@10 at 1024-d, "
                  f"{100 * row['crops 256']:.1f} -> {100 * row['picked 256']:.1f} at 256-d", flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted; finished folds are kept and reused", file=sys.stderr)
        return 130
    command = "python -m training.teacher_passages"
    command += f" --sources {' '.join(args.sources)}" if args.sources != list(loso.SOURCES) else ""
    command += f" --arm {args.arm}" if args.arm != "picked" else ""
    folds = [loso.fold_dir(models, source) / f"fold-{variant}.json" for source in args.sources]
    training = sum(json.loads(f.read_text())["seconds"] for f in folds if f.exists())
    args.output.write_text(render(rows, command, time.perf_counter() - started, training, args.arm),
                           encoding="utf-8")
    print(args.output.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
