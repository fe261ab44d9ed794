"""The multilingual model per language: the 13 languages it trained on, and the Debian translations it never saw.

    python -m training.languages [--output training/RESULTS-languages.md]

Bitext mining accuracy (each translated package summary must find its English original among all of them) on
the test split of every language's Debian translations: the 13 training languages
(:data:`staticemb.corpora.TRANSLATION_LANGS`; their test packages never train) and the held-out languages
(:data:`staticemb.corpora.HELD_OUT_LANGS`: no text of theirs trains, every package is a test item). The model is
``<data>/models/staticemb-multilingual`` (``make train-multilingual``), scored at 1024-d and 256-d beside
all-MiniLM-L6-v2, the English teacher its table was distilled from (scores cached in
``<data>/results/languages/``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from staticemb.corpora import HELD_OUT_LANGS, TRANSLATION_LANGS, data_dir

from . import datasets as D
from .report import hardware
from .teachers import minilm_path

DIMS = (1024, 256)
MODEL = "staticemb-multilingual"


def score(spec: str, name: str, dims: Sequence[int] | None, langs: Sequence[str],
          cache: Path | None = None) -> dict[str, dict[str, float]]:
    """Bitext accuracy per language and width (``{lang: {dim: accuracy}}``), read from or written to
    ``cache`` when given."""
    if cache is not None and cache.exists():
        cached = json.loads(cache.read_text())
        if set(langs) <= set(cached):
            return cached
    from staticemb.tasks import evaluate, load_task, open_model

    encoder = open_model(spec, name=name, dims=dims)
    tasks = [load_task(D.task_path(f"bitext-{lang}", "test")) for lang in langs]
    result = evaluate(encoder, tasks)
    out = {lang: {d: s["accuracy"] for d, s in result["tasks"][f"bitext-{lang}"]["scores"].items()}
           for lang in langs}
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(out))
    return out


def pairs(lang: str) -> int:
    return len(json.loads(D.task_path(f"bitext-{lang}", "test").read_text(encoding="utf-8"))["source"])


def render(ours: dict[str, dict[str, float]], minilm: dict[str, dict[str, float]], sizes: dict[str, int], *,
           command: str, seconds: float, model_path: Path) -> str:
    def pct(x: float) -> str:
        return f"{100 * x:.1f}"

    lines = [
        "# The multilingual model per language (bitext mining, Debian translations → English)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min)",
        f"- machine: {hardware()}",
        f"- model: `{model_path}` (`make train-multilingual`); all-MiniLM-L6-v2 at its 384-d",
        "- accuracy (%): a translated package summary must rank its English original first among all of the "
        "test split's English summaries",
        "",
        "| language | trained on | test pairs | staticemb-multilingual 1024-d | 256-d | all-MiniLM-L6-v2 |",
        "|---|---|---:|---:|---:|---:|",
    ]
    groups = {"trained": list(TRANSLATION_LANGS), "held out": list(HELD_OUT_LANGS)}
    for label, langs in groups.items():
        for lang in langs:
            lines.append(f"| {lang} | {'yes' if label == 'trained' else 'no'} | {sizes[lang]:,} | "
                         f"{pct(ours[lang]['1024'])} | {pct(ours[lang]['256'])} | "
                         f"{pct(next(iter(minilm[lang].values())))} |")
    for label, langs in groups.items():
        mean = {k: sum(ours[lang][k] for lang in langs) / len(langs) for k in ("1024", "256")}
        mini = sum(next(iter(minilm[lang].values())) for lang in langs) / len(langs)
        lines.append(f"| **mean, {label}** | | | {pct(mean['1024'])} | {pct(mean['256'])} | {pct(mini)} |")
    held = list(HELD_OUT_LANGS)
    mean_held = sum(ours[lang]["1024"] for lang in held) / len(held)
    worst = min(ours, key=lambda lang: ours[lang]["1024"])
    lines += [
        "",
        f"Held-out languages: mean {pct(mean_held)}% at 1024-d (the issue asks for ≥ 70% on held-out sources and "
        f"languages); the lowest language overall is {worst} at {pct(ours[worst]['1024'])}% "
        f"({'below' if ours[worst]['1024'] < 0.5 else 'not below'} 50%). These are Debian summaries, the text "
        "type the model trained on; other text types (UI strings, Wikipedia) are not in this table.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "RESULTS-languages.md")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    root = data_dir()
    model = root / "models" / MODEL
    if not (model / "modules.json").exists():
        print(f"no model at {model}: run `make train-multilingual` first", file=sys.stderr)
        return 2
    D.build()
    langs = [*TRANSLATION_LANGS, *HELD_OUT_LANGS]
    try:
        ours = score(str(model), MODEL, DIMS, langs)
        minilm = score(str(minilm_path()), "all-MiniLM-L6-v2", None, langs,
                       root / "results" / "languages" / "minilm.json")
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    report = render(ours, minilm, {lang: pairs(lang) for lang in langs}, command="python -m training.languages", seconds=time.perf_counter() - started,
                    model_path=Path("<data>") / "models" / MODEL)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
