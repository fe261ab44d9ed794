"""Experiment: does a second text type in the training languages carry over to languages and programs never seen?

    python -m training.ui [--output training/RESULTS-ui.md]

The multilingual recipe (``training/configs/multilingual.json``, then its unseen rows mapped as
``make train-multilingual`` does) trains on Debian descriptions, Wikipedia and WordNet. (RESULTS-ui.md and
RESULTS-ui-seed13.md were run on the recipe with XLM-R's vocabulary.) This
variant adds user-interface messages (:func:`staticemb.corpora.ui_messages`) of the *train* half of
the programs (:func:`training.languages.ui_split`), translation -> English, in the 13 training languages only;
any message whose English text or translation is in a test task of any language (or any other held-out
evaluation text) is dropped. The variant
(``<data>/models/staticemb-multilingual-ui``) and the recipe's model are then scored on

- the user-interface messages of the *test* half of the programs, in all 24 languages of
  :data:`training.languages.UI_LANGS`: for the 11 languages that never train this is held out entirely
  (language and program);
- the Debian bitext test splits, whose held-out languages show whether the new pairs cost anything there.

Adoption rule: the variant replaces the recipe only if it raises the mean of the held-out languages on both
text types at 1024-d and 256-d.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from staticemb.corpora import HELD_OUT_LANGS, TRANSLATION_LANGS, data_dir, ui_messages

from . import datasets as D
from . import languages as L
from .e5 import seeded
from .loso import _config
from .report import hardware
from .xlmr_vocab import map_folder

VARIANT = "staticemb-multilingual-ui"


def pairs_path(lang: str) -> Path:
    return data_dir() / "training" / "pairs-ui" / f"ui-{lang}.jsonl"


def test_texts() -> set[str]:
    """Every text of every user-interface test task (both sides, all languages)."""
    texts: set[str] = set()
    for lang in L.UI_LANGS:
        task = json.loads(L.ui_task(lang).read_text(encoding="utf-8"))
        texts.update(task["source"])
        texts.update(task["target"])
    return texts


def ui_pairs(lang: str, exclude: frozenset[str]) -> list[tuple[str, str]]:
    """(translation, English) of the train-half programs' messages in ``lang``, none with a side in ``exclude``
    (stripped, no repeats)."""
    return D._train_pairs(((m.translation, m.english) for m in ui_messages(lang) if L.ui_split(m.domain) == "train"),
                          exclude)


def write_pairs() -> dict[str, int]:
    """Write ``<data>/training/pairs-ui/ui-<lang>.jsonl`` for every training language (kept when present);
    returns the pair count of each."""
    exclude: frozenset[str] | None = None
    counts = {}
    for lang in TRANSLATION_LANGS:
        path = pairs_path(lang)
        if not path.is_file():
            if exclude is None:  # every evaluation text: the UI test tasks' and the other sources' held-out ones
                exclude = frozenset(test_texts()) | D.Sources().held_out
            rows = ({"anchor": a, "positive": p} for a, p in ui_pairs(lang, exclude))
            D._write_jsonl(path, rows)
        with open(path, encoding="utf-8") as f:
            counts[lang] = sum(1 for _ in f)
    return counts


def train_model(models: Path, *, ui: bool, seed: int | None = None) -> tuple[Path, float]:
    """The recipe's config, plus the user-interface pair sets when ``ui``, into
    ``<models>/staticemb-multilingual-ui`` (or, with another ``seed`` than the config's, into
    ``<models>/staticemb-multilingual[-ui]-seed<seed>``, for the recipe too). Returns the folder and the seconds
    spent training (0 when it was there already)."""
    from staticemb.train import train

    out = models / seeded(VARIANT if ui else L.MODEL, seed)
    if (out / "modules.json").exists() or (not ui and seed is None):
        return out, 0.0  # the recipe's own model is `make train-multilingual`'s
    config = _config("multilingual.json")
    datasets = dict(config["train_datasets"])
    if ui:
        datasets.update({f"ui-{lang}": str(pairs_path(lang)) for lang in TRANSLATION_LANGS})
    started = time.perf_counter()
    train({**config, "output_dir": str(out), "train_datasets": datasets,
           **({"seed": seed} if seed is not None else {})})
    map_folder(Path(config["init"]), out, out)  # the recipe's last step (`make train-multilingual`)
    return out, time.perf_counter() - started


def render(base: dict[str, dict[str, dict[str, float]]], variant: dict[str, dict[str, dict[str, float]]],
           counts: dict[str, int], *, command: str, seconds: float, train_seconds: float,
           seed: int | None = None) -> tuple[str, bool]:
    """The report and whether the variant is adopted. ``base``/``variant``: ``{"ui": scores, "debian": scores}``
    with scores ``{lang: {dim: accuracy}}``."""
    groups = {"ui": L._groups(L.UI_LANGS), "debian": L._groups([*TRANSLATION_LANGS, *HELD_OUT_LANGS])}
    lines = [
        "# Experiment: user-interface messages as a second multilingual text type",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min, of which training {train_seconds / 60:.0f} min)",
        f"- machine: {hardware()}",
        "- recipe: `<data>/models/staticemb-multilingual` (`make train-multilingual`); variant: the same config "
        f"plus {sum(counts.values()):,} user-interface pairs of the train half of the programs in the 13 training "
        f"languages (`<data>/models/{VARIANT}`)"
        + (f"; both arms trained again with seed {seed} (`-seed{seed}` folders)" if seed is not None else ""),
        "- accuracy (%): bitext mining, a translated text must rank its English original first in its task",
        "",
        "| text type | languages | recipe 1024-d | variant 1024-d | recipe 256-d | variant 256-d |",
        "|---|---|---:|---:|---:|---:|",
    ]
    gains = []
    for kind, label in (("ui", "user-interface messages, test-half programs"), ("debian", "Debian descriptions")):
        for group, langs in groups[kind].items():
            cells = []
            for dim in ("1024", "256"):
                b, v = L.mean(base[kind], langs, dim), L.mean(variant[kind], langs, dim)
                cells.append((b, v))
                if group == "held out":
                    gains.append(v - b)
            lines.append(f"| {label} | {group} ({len(langs)}) | {100 * cells[0][0]:.1f} | {100 * cells[0][1]:.1f} | "
                         f"{100 * cells[1][0]:.1f} | {100 * cells[1][1]:.1f} |")
    adopted = all(g > 0 for g in gains)
    lines += [
        "",
        "Per language, 1024-d (recipe → variant):",
        "",
        "| language | trained on | user-interface | Debian |",
        "|---|---|---:|---:|",
    ]
    for lang in L.UI_LANGS:
        debian = (f"{100 * base['debian'][lang]['1024']:.1f} → {100 * variant['debian'][lang]['1024']:.1f}"
                  if lang in base["debian"] else "–")
        lines.append(f"| {lang} | {'yes' if lang in TRANSLATION_LANGS else 'no'} | "
                     f"{100 * base['ui'][lang]['1024']:.1f} → {100 * variant['ui'][lang]['1024']:.1f} | {debian} |")
    lines += [
        "",
        f"Training pairs per language: {', '.join(f'{k} {v:,}' for k, v in counts.items())}.",
        "",
        "Decision (the variant must raise the held-out mean of both text types at both widths): "
        + ("**adopted**." if adopted else "**not adopted**: "
           + ", ".join(f"{100 * g:+.1f}" for g in gains) + " (UI 1024, UI 256, Debian 1024, Debian 256)."),
    ]
    return "\n".join(lines) + "\n", adopted


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "RESULTS-ui.md")
    parser.add_argument("--seed", type=int, default=None,
                        help="train both arms again with this seed (the recipe's model and the variant)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    models = data_dir() / "models"
    recipe = models / L.MODEL
    if not (recipe / "modules.json").exists():
        print(f"no model at {recipe}: run `make train-multilingual` first", file=sys.stderr)
        return 2
    try:
        D.build()
        counts = write_pairs()
        recipe, recipe_seconds = train_model(models, ui=False, seed=args.seed)
        variant, variant_seconds = train_model(models, ui=True, seed=args.seed)
        debian_langs = [*TRANSLATION_LANGS, *HELD_OUT_LANGS]
        scores = [
            {"ui": L.score(str(path), path.name, L.DIMS, L.UI_LANGS, kind="ui"),
             "debian": L.score(str(path), path.name, L.DIMS, debian_langs)}
            for path in (recipe, variant)
        ]
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    command = "python -m training.ui" + (f" --seed {args.seed} --output <file>" if args.seed is not None else "")
    report, _ = render(scores[0], scores[1], counts, command=command, seconds=time.perf_counter() - started,
                       train_seconds=recipe_seconds + variant_seconds, seed=args.seed)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
