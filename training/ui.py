"""Experiment: what the user-interface pairs add, on languages and programs never seen.

    python -m training.ui [--seed N] [--output training/RESULTS-ui.md]   # one run: both arms, scored
    python -m training.ui --pool config-seed seed13 seed14 [--output training/RESULTS-ui-pooled.md]
    python -m training.ui --pairs-only                                   # `make train-multilingual`, step 2

The multilingual recipe (``training/configs/multilingual.json``, then its rarely trained rows carried as
``make train-multilingual`` does) trains on Debian descriptions, Wikipedia, WordNet and, since 2026-12-03, the
user-interface messages (:func:`staticemb.corpora.ui_messages`) of the *train* half of the programs
(:func:`training.languages.ui_split`), translation -> English, in the 13 training languages only; any message
whose English text or translation is in a test task of any language (or any other held-out evaluation text) is
dropped (``--pairs-only`` writes them). The experiment trains the recipe without those pair sets
(``<data>/models/staticemb-multilingual-noui``) and scores it beside the recipe's model on

- the user-interface messages of the *test* half of the programs, in all 24 languages of
  :data:`training.languages.UI_LANGS`: for the 11 languages that never train this is held out entirely
  (language and program);
- the Debian bitext test splits, whose held-out languages show whether the new pairs cost anything there.

Each run writes its scores to ``<data>/results/ui/<run>.json``; ``--pool RUN ...`` decides over several seeds.
The pairs were adopted under this rule (fixed on 2026-12-03 before the runs it decides on, with the carried rows
of :func:`training.xlmr_vocab.carry_untrained` in both arms): over the pooled runs, the pairs' mean gain in the
held-out languages' mean on user-interface messages must be above 0 at 1024-d and at 256-d, and their mean change
in the held-out languages' mean on Debian descriptions must be no worse than -1.0 point at either width (a mean
of five languages of 125 to 2,000 pairs, which one Hungarian pair moves by 0.16; the two earlier seeds' recipe
models differ from each other by 0.7). The first rule (every held-out mean up at both widths, in one run) decided
against the pairs twice on changes of -0.1 to -1.1 on Debian, within the swing between seeds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from staticemb.corpora import HELD_OUT_LANGS, TRANSLATION_LANGS, data_dir, ui_messages

from . import datasets as D
from . import languages as L
from .e5 import seeded
from .loso import _config
from .report import hardware
from .xlmr_vocab import map_folder

NO_UI = "staticemb-multilingual-noui"


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
    """The recipe's config (``ui``) or the same without its user-interface pair sets, trained into
    ``<models>/staticemb-multilingual[-noui][-seed<seed>]-trained`` and carried (the recipe's last step, as
    ``make train-multilingual`` does) into the same name without ``-trained``; ``seed`` is another seed than
    the config's. Returns the final folder and the seconds spent (0 when it was there already)."""
    from staticemb.train import train

    out = models / seeded(L.MODEL if ui else NO_UI, seed)
    if (out / "modules.json").exists() or (ui and seed is None):
        return out, 0.0  # the recipe's own model is `make train-multilingual`'s
    config = _config("multilingual.json")
    datasets = {k: v for k, v in config["train_datasets"].items() if ui or not k.startswith("ui-")}
    started = time.perf_counter()
    trained = out.with_name(out.name + "-trained")
    if not (trained / "modules.json").exists():
        train({**config, "output_dir": str(trained), "train_datasets": datasets,
               **({"seed": seed} if seed is not None else {})})
    map_folder(Path(config["init"]), trained, out, datasets.values())
    return out, time.perf_counter() - started


def render(base: dict[str, dict[str, dict[str, float]]], variant: dict[str, dict[str, dict[str, float]]],
           counts: dict[str, int], *, command: str, seconds: float, train_seconds: float,
           seed: int | None = None) -> tuple[str, list[float]]:
    """The report of one run and the held-out gains of the pairs. ``base`` (without the user-interface pairs) /
    ``variant`` (with them: the recipe): ``{"ui": scores, "debian": scores}``
    with scores ``{lang: {dim: accuracy}}``."""
    groups = {"ui": L._groups(L.UI_LANGS), "debian": L._groups([*TRANSLATION_LANGS, *HELD_OUT_LANGS])}
    lines = [
        "# Experiment: user-interface messages as a second multilingual text type",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min, of which training {train_seconds / 60:.0f} min)",
        f"- machine: {hardware()}",
        "- with the pairs: the recipe, `<data>/models/staticemb-multilingual` (`make train-multilingual`); without: "
        f"the same config less its {sum(counts.values()):,} user-interface pairs of the train half of the programs "
        f"in the 13 training languages (`<data>/models/{NO_UI}`)"
        + (f"; both arms trained again with seed {seed} (`-seed{seed}` folders)" if seed is not None else ""),
        "- accuracy (%): bitext mining, a translated text must rank its English original first in its task",
        "",
        "| text type | languages | without 1024-d | with 1024-d | without 256-d | with 256-d |",
        "|---|---|---:|---:|---:|---:|",
    ]
    gains: list[float] = []
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
    lines += [
        "",
        "Per language, 1024-d (without → with the user-interface pairs):",
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
        "Held-out gains of this run: " + ", ".join(f"{100 * g:+.1f}" for g in gains)
        + " (UI 1024, UI 256, Debian 1024, Debian 256). The decision pools the seeds (`python -m training.ui --pool`).",
    ]
    return "\n".join(lines) + "\n", gains


def held_out_gains(scores: dict[str, Any]) -> list[float]:
    """The pairs' gains on the held-out means (UI 1024, UI 256, Debian 1024, Debian 256) of one run's scores
    (``{"without": {"ui": ..., "debian": ...}, "with": ...}``)."""
    out = []
    for kind, langs in (("ui", L._groups(L.UI_LANGS)["held out"]), ("debian", list(HELD_OUT_LANGS))):
        for dim in ("1024", "256"):
            out.append(L.mean(scores["with"][kind], langs, dim) - L.mean(scores["without"][kind], langs, dim))
    return out


def decide(runs: dict[str, list[float]]) -> tuple[list[float], bool]:
    """The mean gains over ``runs`` (each :func:`held_out_gains`) and the rule's verdict on them."""
    mean = [sum(g[i] for g in runs.values()) / len(runs) for i in range(4)]
    return mean, mean[0] > 0 and mean[1] > 0 and mean[2] >= -0.010 and mean[3] >= -0.010


def render_pool(runs: dict[str, dict[str, Any]], *, command: str) -> tuple[str, bool]:
    """The pooled report of several runs' scores and whether the pairs are adopted."""
    gains = {name: held_out_gains(s) for name, s in runs.items()}
    mean, adopted = decide(gains)
    held = L._groups(L.UI_LANGS)["held out"]
    lines = [
        "# Experiment: user-interface messages as a second multilingual text type, pooled over seeds",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}`; the runs' own reports are RESULTS-ui*.md",
        "- accuracy (%) of the held-out languages (11 on user-interface messages of the test-half programs, 5 on "
        "Debian descriptions); without → with the user-interface pairs",
        "",
        "| run | UI 1024-d | UI 256-d | Debian 1024-d | Debian 256-d | lowest UI language, with, 1024-d |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, s in runs.items():
        cells = []
        for kind, langs in (("ui", held), ("debian", list(HELD_OUT_LANGS))):
            for dim in ("1024", "256"):
                cells.append(f"{100 * L.mean(s['without'][kind], langs, dim):.1f} → "
                             f"{100 * L.mean(s['with'][kind], langs, dim):.1f}")
        low = min(held, key=lambda x: s["with"]["ui"][x]["1024"])
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {low} {100 * s['with']['ui'][low]['1024']:.1f} |")
    lines += [
        "| **mean gain** | " + " | ".join(f"{100 * g:+.1f}" for g in mean) + " | |",
        "",
        "Rule (fixed before these runs; see `training/ui.py`): the mean user-interface gain above 0 at both widths "
        "and the mean Debian change no worse than -1.0 at either: "
        + ("**adopted**." if adopted else "**not adopted**."),
    ]
    return "\n".join(lines) + "\n", adopted


def run_name(seed: int | None) -> str:
    return "config-seed" if seed is None else f"seed{seed}"


def scores_path(name: str) -> Path:
    return data_dir() / "results" / "ui" / f"{name}.json"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "RESULTS-ui.md")
    parser.add_argument("--seed", type=int, default=None,
                        help="train both arms again with this seed (the recipe's model and the one without the pairs)")
    parser.add_argument("--pairs-only", action="store_true",
                        help="write the user-interface pair sets the recipe trains on, and stop")
    parser.add_argument("--pool", nargs="+", metavar="RUN",
                        help="decide over runs already made (config-seed, seed13, ...) and write that report")
    args = parser.parse_args(argv)
    if args.pairs_only:
        try:
            D.build()
            counts = write_pairs()
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr)
            return 130
        print(f"{sum(counts.values()):,} user-interface pairs in {len(counts)} languages under "
              f"{pairs_path(TRANSLATION_LANGS[0]).parent}")
        return 0
    if args.pool:
        missing = [name for name in args.pool if not scores_path(name).is_file()]
        if missing:
            print(f"no scores for {', '.join(missing)}: run `python -m training.ui [--seed N]` first", file=sys.stderr)
            return 2
        report, _ = render_pool({name: json.loads(scores_path(name).read_text()) for name in args.pool},
                                command="python -m training.ui --pool " + " ".join(args.pool) + " --output <file>")
        args.output.write_text(report, encoding="utf-8")
        print(report)
        return 0
    started = time.perf_counter()
    models = data_dir() / "models"
    recipe = models / L.MODEL
    if not (recipe / "modules.json").exists():
        print(f"no model at {recipe}: run `make train-multilingual` first", file=sys.stderr)
        return 2
    try:
        D.build()
        counts = write_pairs()
        base, base_seconds = train_model(models, ui=False, seed=args.seed)
        recipe, recipe_seconds = train_model(models, ui=True, seed=args.seed)
        debian_langs = [*TRANSLATION_LANGS, *HELD_OUT_LANGS]
        scores = [
            {"ui": L.score(str(path), path.name, L.DIMS, L.UI_LANGS, kind="ui"),
             "debian": L.score(str(path), path.name, L.DIMS, debian_langs)}
            for path in (base, recipe)
        ]
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    path = scores_path(run_name(args.seed))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"without": scores[0], "with": scores[1]}))
    command = "python -m training.ui" + (f" --seed {args.seed} --output <file>" if args.seed is not None else "")
    report, _ = render(scores[0], scores[1], counts, command=command, seconds=time.perf_counter() - started,
                       train_seconds=base_seconds + recipe_seconds, seed=args.seed)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
