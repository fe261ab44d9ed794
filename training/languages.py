"""The multilingual model per language: the 13 languages it trained on, and the Debian translations it never saw.

    python -m training.languages [--output training/RESULTS-languages.md]

Bitext mining accuracy (each translated package summary must find its English original among all of them) on
the test split of every language's Debian translations: the 13 training languages
(:data:`staticemb.corpora.TRANSLATION_LANGS`; their test packages never train) and the held-out languages
(:data:`staticemb.corpora.HELD_OUT_LANGS`: no text of theirs trains, every package is a test item). The model is
``<data>/models/staticemb-multilingual`` (``make train-multilingual``), scored at 1024-d and 256-d beside
all-MiniLM-L6-v2, the English teacher its table was distilled from (scores cached in
``<data>/results/languages/``).

A second table scores another text type, in more languages: user-interface messages of the
programs installed on this machine (:func:`staticemb.corpora.ui_messages`, their gettext catalogs), each
translated message to be matched with its English original among :data:`UI_CAP` messages of its language
(``<data>/training/tasks-ui/ui-<lang>.json``), drawn from the catalogs of the test half of the programs
(:func:`ui_split`, by program name). The recipe trains on the catalogs of the other half, in its 13 training
languages only (``python -m training.ui`` measures what that adds), so for the other 11 languages the table is
held out entirely, language and program.
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
from .report import hardware
from .teachers import minilm_path

DIMS = (1024, 256)
MODEL = "staticemb-multilingual"
#: Languages of the user-interface table: the 13 trained, the 5 held-out Debian ones, and six more that no
#: training set has (Turkish, Romanian, Catalan, Indonesian, Vietnamese, Greek).
UI_LANGS = (*TRANSLATION_LANGS, *HELD_OUT_LANGS, "tr", "ro", "ca", "id", "vi", "el")
UI_CAP = 1000


def ui_split(domain: str) -> str:
    """``"train"`` or ``"test"``: the half a program's catalogs belong to, by a SHA-1 of its name (about even),
    the same in every language, so that no program's messages are on both sides."""
    return "train" if D._sha("ui-split", domain)[0] < 128 else "test"


def ui_task(lang: str, cap: int = UI_CAP) -> Path:
    """``<data>/training/tasks-ui/ui-<lang>.json``, built once: a bitext task of ``cap`` user-interface messages
    (translation -> English) of test-half programs (:func:`ui_split`), the first in SHA-1 order of their
    English text, no translation twice."""
    path = data_dir() / "training" / "tasks-ui" / f"ui-{lang}.json"
    if path.is_file():
        return path
    test = [m for m in ui_messages(lang) if ui_split(m.domain) == "test"]
    order = sorted(test, key=lambda m: D._sha(f"ui-{lang}", m.english))
    source: list[str] = []
    target: list[str] = []
    seen: set[str] = set()
    for m in order:
        if m.translation not in seen:
            seen.add(m.translation)
            source.append(m.translation)
            target.append(m.english)
            if len(source) == cap:
                break
    D._write_json(path, {"type": "bitext", "name": f"ui-{lang}", "lang": lang, "source": source, "target": target})
    return path


def task_file(lang: str, kind: str = "bitext") -> Path:
    """The test task of ``lang``: its Debian bitext split (``kind="bitext"``) or its user-interface messages
    (``kind="ui"``)."""
    return D.task_path(f"bitext-{lang}", "test") if kind == "bitext" else ui_task(lang)


def score(spec: str, name: str, dims: Sequence[int] | None, langs: Sequence[str],
          cache: Path | None = None, kind: str = "bitext") -> dict[str, dict[str, float]]:
    """Accuracy per language and width (``{lang: {dim: accuracy}}``) on the Debian test splits
    (``kind="bitext"``) or the user-interface messages (``kind="ui"``), read from or written to ``cache`` when
    given."""
    if cache is not None and cache.exists():
        cached = json.loads(cache.read_text())
        if set(langs) <= set(cached):
            return cached
    from staticemb.tasks import evaluate, load_task, open_model

    tasks = [load_task(task_file(lang, kind)) for lang in langs]
    encoder = open_model(spec, name=name, dims=dims)
    result = evaluate(encoder, tasks)
    out = {lang: {d: s["accuracy"] for d, s in result["tasks"][f"{kind}-{lang}"]["scores"].items()}
           for lang in langs}
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(out))
    return out


def pairs(lang: str, kind: str = "bitext") -> int:
    return len(json.loads(task_file(lang, kind).read_text(encoding="utf-8"))["source"])


def mean(scores: dict[str, dict[str, float]], langs: Sequence[str], dim: str) -> float:
    """The mean accuracy of ``langs`` at width ``dim`` (a key of each language's scores)."""
    return sum(scores[lang][dim] for lang in langs) / len(langs)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _rows(ours: dict[str, dict[str, float]], minilm: dict[str, dict[str, float]], sizes: dict[str, int],
          groups: dict[str, list[str]]) -> list[str]:
    """One table row per language and one mean row per group (``{"trained": [...], "held out": [...]}``)."""
    lines = [
        "| language | trained on | test pairs | staticemb-multilingual 1024-d | 256-d | all-MiniLM-L6-v2 |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for label, langs in groups.items():
        for lang in langs:
            lines.append(f"| {lang} | {'yes' if label == 'trained' else 'no'} | {sizes[lang]:,} | "
                         f"{_pct(ours[lang]['1024'])} | {_pct(ours[lang]['256'])} | "
                         f"{_pct(next(iter(minilm[lang].values())))} |")
    for label, langs in groups.items():
        mini = sum(next(iter(minilm[lang].values())) for lang in langs) / len(langs)
        lines.append(f"| **mean, {label}** | | | {_pct(mean(ours, langs, '1024'))} | {_pct(mean(ours, langs, '256'))} "
                     f"| {_pct(mini)} |")
    return lines


def _groups(langs: Sequence[str]) -> dict[str, list[str]]:
    return {"trained": [x for x in langs if x in TRANSLATION_LANGS],
            "held out": [x for x in langs if x not in TRANSLATION_LANGS]}


def render(ours: dict[str, dict[str, float]], minilm: dict[str, dict[str, float]], sizes: dict[str, int], *,
           command: str, seconds: float, model_path: Path,
           ui: tuple[dict[str, dict[str, float]], dict[str, dict[str, float]], dict[str, int]] | None = None) -> str:
    """The report: the Debian table, then (with ``ui = (ours, minilm, sizes)``) the user-interface table."""
    lines = [
        "# The multilingual model per language (bitext mining → English)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min)",
        f"- machine: {hardware()}",
        f"- model: `{model_path}` (`make train-multilingual`); all-MiniLM-L6-v2 at its 384-d",
        "- accuracy (%): a translated text must rank its English original first among all of its task's English "
        "texts",
        "",
        "## Debian package descriptions (the text type the model trained on)",
        "",
        "Test split of each language's translations; a held-out language never trained, so all its packages "
        "are test items.",
        "",
        *_rows(ours, minilm, sizes, _groups([*TRANSLATION_LANGS, *HELD_OUT_LANGS])),
    ]
    held = list(HELD_OUT_LANGS)
    mean_held = mean(ours, held, "1024")
    worst = min(ours, key=lambda lang: ours[lang]["1024"])
    lines += [
        "",
        f"Held-out languages: mean {_pct(mean_held)}% at 1024-d (the issue asks for ≥ 70% on held-out sources and "
        f"languages); the lowest language is {worst} at {_pct(ours[worst]['1024'])}% "
        f"({'below' if ours[worst]['1024'] < 0.5 else 'not below'} 50%).",
    ]
    if ui is not None:
        u_ours, u_minilm, u_sizes = ui
        groups = _groups(list(u_ours))
        every = [x for g in groups.values() for x in g]
        mean_all = mean(u_ours, every, "1024")
        mean_out = mean(u_ours, groups["held out"], "1024")
        low = min(every, key=lambda x: u_ours[x]["1024"])
        lines += [
            "",
            "## User-interface messages of programs the model never trained on",
            "",
            "The gettext catalogs of the programs installed on this machine (`staticemb.corpora.ui_messages`), "
            "test half of the programs (`training.languages.ui_split`; the model trains on the other half's messages "
            "in its 13 training languages, never on these programs or on the 11 other languages): "
            f"up to {UI_CAP:,} translated messages per language, each matched against the English originals of "
            "its language's task. Short and technical (`%s` placeholders, option names), so the pairs share "
            "some tokens whatever the language.",
            "",
            *_rows(u_ours, u_minilm, u_sizes, groups),
            "",
            f"User-interface messages at 1024-d: mean {_pct(mean_all)}% over all {len(every)} languages, "
            f"{_pct(mean_out)}% over the {len(groups['held out'])} the model never trained on; the lowest is {low} at "
            f"{_pct(u_ours[low]['1024'])}% ({'below' if u_ours[low]['1024'] < 0.5 else 'not below'} 50%).",
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
    cache = root / "results" / "languages"
    try:
        ours = score(str(model), MODEL, DIMS, langs)
        minilm = score(str(minilm_path()), "all-MiniLM-L6-v2", None, langs, cache / "minilm.json")
        ui_ours = score(str(model), MODEL, DIMS, UI_LANGS, kind="ui")
        ui_minilm = score(str(minilm_path()), "all-MiniLM-L6-v2", None, UI_LANGS, cache / "minilm-ui.json",
                          kind="ui")
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    report = render(ours, minilm, {lang: pairs(lang) for lang in langs}, command="python -m training.languages",
                    seconds=time.perf_counter() - started, model_path=Path("<data>") / "models" / MODEL,
                    ui=(ui_ours, ui_minilm, {lang: pairs(lang, "ui") for lang in UI_LANGS}))
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
