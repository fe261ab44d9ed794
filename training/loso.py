"""Leave one source out: for each English source, train the English recipe without it, then score the model on
that source's held-out test split beside BM25, BM25 with stemming and all-MiniLM-L6-v2.

    python -m training.loso [--sources debian wikipedia bbc pydoc rustdoc manpage] [--output training/RESULTS-loso.md]

``make loso`` runs it. A source's test split measures memory, not generalization, when the model trained on the
same source's other items; here the held-out source gave the model nothing: not its pairs, not its texts for
teacher regression, not its dev split for choices. Each fold runs the two stages of ``make train-en``:

1. teacher regression (``training/configs/en-regress.json``) from the shared MiniLM distillation
   (``<data>/models/en-distilled-1024``, made first if missing), on the 30,000 unlabeled texts that stage
   samples, less every text of the held-out source;
2. ``MatryoshkaLoss(MNRL)`` (``training/configs/en-retrieval.json``) on every English pair set but the held-out
   source's, with the dev splits of the other sources as evaluators.

WordNet is never held out: it has no retrieval task. Folds are written to ``<data>/models/loso/<source>/``
and reused when present (``--refresh`` retrains); baseline scores are cached in ``<data>/results/loso/``.
Teacher embeddings are cached text by text, so the folds share them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from staticemb.corpora import data_dir

from . import datasets as D
from .report import hardware
from .teachers import minilm_path

CONFIGS = Path(__file__).resolve().parent / "configs"
#: Source -> (its English pair sets, its retrieval task).
SOURCES: dict[str, tuple[tuple[str, ...], str]] = {
    "debian": (("en-debian",), "retrieval-debian"),
    "wikipedia": (("en-wikipedia",), "retrieval-wikipedia"),
    "bbc": (("en-bbc",), "retrieval-bbc"),
    "pydoc": (("en-pydoc",), "retrieval-pydoc"),
    "rustdoc": (("en-rustdoc",), "retrieval-rustdoc"),
    "manpage": (("en-manpage",), "retrieval-manpage"),
}
ENGLISH_PAIRS = ("en-debian", "en-wordnet", "en-wikipedia", "en-bbc", "en-pydoc", "en-rustdoc", "en-manpage")
DIMS = (256, 1024)
BASELINES = {"BM25": "bm25", "BM25 (stemmed)": "bm25-stem", "all-MiniLM-L6-v2": None}


def source_texts(src: D.Sources, source: str) -> set[str]:
    """Every text of ``source``, in every split: what a fold holding it out may not train on."""
    texts: set[str] = set()
    if source == "debian":
        texts.update(t for d in src.debian("en") for t in (d.short, d.long))
    elif source == "wikipedia":
        texts.update(t for s in src.wikipedia("en") for t in (s.title, s.description, s.extract))
    elif source == "bbc":
        texts.update(t for a in src.bbc() for t in (a.title, a.body))
    else:
        texts.update(t for d in src.code(source) for t in (d.summary, d.body))
    return {t.strip() for t in texts} - {""}


def regression_texts(config: dict[str, Any]) -> list[str]:
    """The unlabeled texts the regression stage of ``make train-en`` trains on: its file, sampled as the
    trainer samples it (``max_rows`` after a seeded shuffle)."""
    from staticemb.train.trainer import _read_dataset, _text_columns

    path = config["train_datasets"]["unlabeled"]
    ds = _text_columns(_read_dataset(path, "distill"), path, ["text"], config.get("max_rows"), config.get("seed", 12))
    return list(ds["text"])


def fold_inputs(
    source: str | None, src: D.Sources, unlabeled: Sequence[str]
) -> tuple[list[str], list[str], list[str]]:
    """What a fold without ``source`` trains on: the ``unlabeled`` texts that are not the source's, the English
    pair sets but the source's, and the dev retrieval tasks of the other sources (for its evaluators)."""
    held = source_texts(src, source) if source else set()
    texts = [t for t in unlabeled if t.strip() not in held]
    skip = set(SOURCES[source][0]) if source else set()
    pair_sets = [n for n in ENGLISH_PAIRS if n not in skip]
    return texts, pair_sets, dev_tasks(source)


def dev_tasks(source: str | None) -> list[str]:
    """The dev retrieval tasks a fold without ``source`` may make its choices on (its evaluators): those of the
    other sources among Debian, Wikipedia and Python docstrings."""
    return [SOURCES[s][1] for s in ("debian", "wikipedia", "pydoc") if s != source]


def _config(name: str, **overrides: Any) -> dict[str, Any]:
    from staticemb.train import TrainConfig

    raw = json.loads((CONFIGS / name).read_text(encoding="utf-8"))
    raw.pop("_comment", None)
    raw.update(overrides)
    return TrainConfig.from_dict(raw).__dict__


def _run(args: list[str]) -> None:
    print("+", shlex.join(args), flush=True)
    subprocess.run(args, check=True)


def distilled(models: Path, teacher: str, name: str = "en-distilled-1024", tokenizer: str | None = None) -> Path:
    """``<models>/<name>``: ``teacher`` distilled at 1,024 columns (into ``tokenizer``'s vocabulary when given,
    else the teacher's own), made once."""
    out = models / name
    if not (out / "modules.json").exists():
        _run([sys.executable, "-m", "staticemb", "distill", "--teacher", teacher, "--dim", "1024",
              *(["--tokenizer", tokenizer] if tokenizer else []), "--output", str(out)])
    return out


def train_fold(source: str | None, *, models: Path, src: D.Sources, teacher: str, refresh: bool,
               init: Path | None = None, variant: str = "", regress_teacher: str | None = None) -> Path:
    """The two stages without ``source`` (``None``: every source) under ``<models>/loso/<source>``: from the
    MiniLM distillation, or from ``init`` (a table made from the fold's own training texts only) into
    ``model<variant>``, ``regressed<variant>`` and ``fold<variant>.json``. The regression stage fits
    ``regress_teacher``'s similarities when given, else ``teacher``'s."""
    from staticemb.train import train

    fold = fold_dir(models, source)
    final = fold / f"model{variant}"
    if (final / "modules.json").exists() and not refresh:
        return final
    regress = _config("en-regress.json")
    texts, pair_sets, dev_tasks = fold_inputs(source, src, regression_texts(regress))
    fold.mkdir(parents=True, exist_ok=True)
    unlabeled = fold / "unlabeled.jsonl"
    D._write_jsonl(unlabeled, ({"text": t} for t in texts))
    dev = [str(D.task_path(t, "dev")) for t in dev_tasks]
    pairs = {n: str(D.pairs_path(n)) for n in pair_sets}
    started = time.perf_counter()
    train({**regress, "output_dir": str(fold / f"regressed{variant}"),
           "init": str(init or distilled(models, teacher)), "teacher": regress_teacher or teacher,
           "train_datasets": {"unlabeled": str(unlabeled)}, "max_rows": None, "eval_tasks": dev[:1]})
    train({**_config("en-retrieval.json"), "output_dir": str(final), "init": str(fold / f"regressed{variant}"),
           "train_datasets": pairs, "eval_tasks": dev})
    (fold / f"fold{variant}.json").write_text(json.dumps({
        "held_out": source, "regression_texts": len(texts), "pair_sets": sorted(pairs),
        "init": str(init) if init else "en-distilled-1024", "regression_teacher": regress_teacher or teacher,
        "seconds": round(time.perf_counter() - started, 1)},
        indent=1))
    # A finished fold is reused from its final folders alone; its checkpoints (GBs per fold) only served resuming.
    for stage in (fold / f"regressed{variant}", final):
        shutil.rmtree(stage / "checkpoints", ignore_errors=True)
    return final


def _arguments(argv: Sequence[str] | None, description: str | None, output: Path, refresh: str,
               extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """``--sources``, ``--output`` (default ``output``) and ``--refresh`` (help ``refresh``), and what ``extra``
    adds to the parser."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", nargs="+", choices=list(SOURCES), default=list(SOURCES))
    parser.add_argument("--output", type=Path, default=output)
    parser.add_argument("--refresh", action="store_true", help=refresh)
    if extra is not None:
        extra(parser)
    return parser.parse_args(argv)


def derive(names: Sequence[str], path: Callable[[str], Path],
           make: Callable[[str, list[dict[str, str]]], Iterable[dict[str, str]]],
           root: Path | str | None = None, refresh: bool = False) -> dict[str, Path]:
    """For each pair set in ``names``: the file ``path(name)`` written from ``make(name, its train-split rows)``
    unless it exists (or ``refresh``); returns name -> file."""
    out = {}
    for name in names:
        out[name] = path(name)
        if refresh or not out[name].exists():
            with open(D.pairs_path(name, root), encoding="utf-8") as f:
                rows = [json.loads(line) for line in f]
            D._write_jsonl(out[name], make(name, rows))
    return out


def second_stage(source: str, variant: str, datasets: Callable[[list[str]], Mapping[str, str | Path]], *,
                 models: Path, src: D.Sources, teacher: str, refresh: bool, base: str = "",
                 regress_teacher: str | None = None) -> Path:
    """The fold without ``source`` (made first when missing) with its second stage (MatryoshkaLoss(MNRL),
    ``en-retrieval.json``) trained again from the fold's own regressed table on ``datasets(pair_sets)`` (name ->
    file, from the fold's pair sets) into ``model-<variant>``, recorded in ``fold-<variant>.json``; reused when
    present unless ``refresh``. ``base`` names the fold's first stage, ``regressed<base>`` (made by
    :func:`train_fold` with ``variant=base`` and ``regress_teacher`` when missing)."""
    from staticemb.train import train

    train_fold(source, models=models, src=src, teacher=teacher, refresh=False, variant=base,
               regress_teacher=regress_teacher)
    fold = fold_dir(models, source)
    final = fold / f"model-{variant}"
    if (final / "modules.json").exists() and not refresh:
        return final
    _, pair_sets, dev = fold_inputs(source, src, [])
    files = {n: str(p) for n, p in datasets(pair_sets).items()}
    started = time.perf_counter()
    train({**_config("en-retrieval.json"), "output_dir": str(final), "init": str(fold / f"regressed{base}"),
           "train_datasets": files, "eval_tasks": [str(D.task_path(t, "dev")) for t in dev]})
    (fold / f"fold-{variant}.json").write_text(json.dumps({
        "held_out": source, "pair_sets": sorted(files), "seconds": round(time.perf_counter() - started, 1)},
        indent=1))
    shutil.rmtree(final / "checkpoints", ignore_errors=True)
    return final


Row = dict[str, Any]


def compare_main(argv: Sequence[str] | None, *, description: str | None, command: str, variant: str, output: Path,
                 datasets: Callable[[list[str]], Mapping[str, str | Path]],
                 row: Callable[[str, dict[str, float], dict[str, float], Callable[[str], float]], Row],
                 render: Callable[[list[Row], str, float, float | None], str]) -> int:
    """The command line of an experiment that retrains the folds' second stage (:func:`second_stage`) and
    scores each fold's model and its variant on the held-out source: ``row(source, fold scores, variant scores,
    baseline)`` makes a table row (``baseline(name)``: the score of a key of :data:`BASELINES`), ``render(rows,
    command, seconds, training seconds)`` the report written to ``--output``."""
    args = _arguments(argv, description, output, "rebuild and retrain what exists")
    started = time.perf_counter()
    src, models, cache, teacher = prepare()
    rows = []
    try:
        for source in args.sources:
            task = SOURCES[source][1]
            model = second_stage(source, variant, datasets, models=models, src=src, teacher=teacher,
                                 refresh=args.refresh)
            base = score(str(fold_dir(models, source) / "model"), f"loso-{source}", task, DIMS, None)
            new = score(str(model), f"loso-{variant}-{source}", task, DIMS, None)
            rows.append(row(source, base, new, lambda name, task=task: baseline(name, task, cache, teacher)))
            print(f"{source}: {100 * base['1024']:.1f} -> {100 * new['1024']:.1f} NDCG@10 at 1024-d, "
                  f"{100 * base['256']:.1f} -> {100 * new['256']:.1f} at 256-d", flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted; finished folds are kept and reused", file=sys.stderr)
        return 130
    command += f" --sources {' '.join(args.sources)}" if args.sources != list(SOURCES) else ""
    folds = [fold_dir(models, source) / f"fold-{variant}.json" for source in args.sources]
    training = sum(json.loads(f.read_text())["seconds"] for f in folds if f.exists())
    args.output.write_text(render(rows, command, time.perf_counter() - started, training), encoding="utf-8")
    print(args.output.read_text(encoding="utf-8"))
    return 0


def rule(rows: Sequence[Row], base: Callable[[str], str], new: Callable[[str], str], *,
         gain: float = 0.01) -> tuple[bool, str]:
    """The rule the leave-one-source-out experiments decide by, over one row per held-out source: **adopted**
    when the mean of ``row[new(dim)] - row[base(dim)]`` rises by more than ``gain`` (one point unless a module
    fixed another before its run) at 1024-d and at 256-d and no source falls by more than one point at 1024-d.
    Returns (adopted, why)."""
    if not rows:
        return False, "no held-out source was scored"
    gains = {d: sum(r[new(d)] - r[base(d)] for r in rows) / len(rows) for d in ("1024", "256")}
    worst = min(rows, key=lambda r: r[new("1024")] - r[base("1024")])
    drop = worst[new("1024")] - worst[base("1024")]
    adopted = all(g > gain for g in gains.values()) and drop >= -0.01
    return adopted, (f"mean {100 * gains['1024']:+.1f} at 1024-d and {100 * gains['256']:+.1f} at 256-d; "
                     f"smallest change at 1024-d {100 * drop:+.1f} ({worst['source']})")


def fold_dir(models: Path, source: str | None) -> Path:
    """``<models>/loso/<source>``: where the fold without ``source`` keeps its models and files."""
    return models / "loso" / (source or "all")


def pair_texts(pair_sets: Sequence[str]) -> list[str]:
    """Every distinct text (anchor, positive) of the train-split pair sets ``pair_sets``, in order."""
    texts: dict[str, None] = {}
    for name in pair_sets:
        with open(D.pairs_path(name), encoding="utf-8") as f:
            for row in map(json.loads, f):
                texts.update(dict.fromkeys((row["anchor"], row["positive"])))
    return list(texts)


def baseline_cache(cache: Path, task: str, name: str) -> Path:
    """Where the score of baseline ``name`` (a key of :data:`BASELINES`) on ``task`` is cached."""
    return cache / f"{task}-{BASELINES[name] or 'minilm'}.json"


def baseline(name: str, task: str, cache: Path, teacher: str | None = None) -> float:
    """The NDCG@10 of baseline ``name`` (a key of :data:`BASELINES`; all-MiniLM-L6-v2 needs ``teacher``, its
    path) on ``task``'s test split, cached under ``cache``."""
    spec = BASELINES[name] or teacher
    if spec is None:
        raise ValueError(f"{name} needs the teacher's path")
    return next(iter(score(spec, name, task, None, baseline_cache(cache, task, name)).values()))


def score(spec: str, name: str, task: str, dims: Sequence[int] | None, cache: Path | None) -> dict[str, float]:
    """NDCG@10 (and the rest) of one model on one test task, per width; cached in ``cache`` when given."""
    if cache is not None and cache.exists():
        return json.loads(cache.read_text())
    from staticemb.tasks import evaluate, load_task, open_model

    encoder = open_model(spec, name=name, dims=dims)
    result = evaluate(encoder, [load_task(D.task_path(task, "test"))])
    scores = {d: m["NDCG@10"] for d, m in result["tasks"][task]["scores"].items()}
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(scores))
    return scores


def render(rows: list[dict[str, Any]], command: str, seconds: float, training: float | None = None) -> str:
    def pct(x: float | None) -> str:
        return "—" if x is None else f"{100 * x:.1f}"

    lines = [
        "# Leave one source out (English)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min"
        + (f"; training the folds took {training / 60:.0f} min in all)" if training else ")"),
        f"- machine: {hardware()}",
        "- each fold: the English recipe (teacher regression, then MatryoshkaLoss(MNRL)) trained without the",
        "  held-out source's pairs, texts and dev split; scored on that source's test split (NDCG@10, %)",
        "",
        "| held-out source | fold model 1024-d | fold model 256-d | 256/1024 | BM25 | BM25 (stemmed) | "
        "all-MiniLM-L6-v2 | fold / MiniLM | fold − BM25 (stemmed) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        full, small, mini, stem = r["1024"], r["256"], r["all-MiniLM-L6-v2"], r["BM25 (stemmed)"]
        lines.append(
            f"| {r['source']} | {pct(full)} | {pct(small)} | {100 * small / full:.1f}% | {pct(r['BM25'])} | "
            f"{pct(stem)} | {pct(mini)} | {100 * full / mini:.1f}% | {100 * (full - stem):+.1f} |"
        )
    if rows:
        mean = {k: sum(r[k] for r in rows) / len(rows) for k in ("1024", "256", "BM25", "BM25 (stemmed)",
                                                                  "all-MiniLM-L6-v2")}
        lines.append(
            f"| **mean** | {pct(mean['1024'])} | {pct(mean['256'])} | {100 * mean['256'] / mean['1024']:.1f}% | "
            f"{pct(mean['BM25'])} | {pct(mean['BM25 (stemmed)'])} | {pct(mean['all-MiniLM-L6-v2'])} | "
            f"{100 * mean['1024'] / mean['all-MiniLM-L6-v2']:.1f}% | "
            f"{100 * (mean['1024'] - mean['BM25 (stemmed)']):+.1f} |"
        )
        wins = sum(r["1024"] > r["BM25 (stemmed)"] for r in rows)
        lines += ["", f"The fold model beats BM25 with stemming on {wins} of {len(rows)} held-out sources."]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Grouped bars: NDCG@10 per held-out source for the fold model (1024-d and 256-d) and the baselines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = [("fold model 1024-d", "1024"), ("fold model 256-d", "256"), *((n, n) for n in BASELINES)]
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(series)
    for i, (label, key) in enumerate(series):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(rows))]
        ax.bar(xs, [100 * r[key] for r in rows], width, label=label)
    ax.set_xticks(range(len(rows)), [r["source"] for r in rows])
    ax.set_ylabel("NDCG@10 (%) on the held-out source")
    ax.set_title("Leave one source out: each model trained without the source it is scored on")
    ax.set_ylim(0, 118)
    ax.legend(fontsize=8, ncols=5, loc="upper center")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def prepare() -> tuple[D.Sources, Path, Path, str]:
    """Build the training data when missing; return the sources, the models folder, the baseline-score cache
    and the teacher's path (also set as ``$MINILM``, the name the configs use)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    D.build()
    root = data_dir()
    teacher = str(minilm_path())
    os.environ.setdefault("MINILM", teacher)
    return D.Sources(), root / "models", root / "results" / "loso", teacher


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv, __doc__, Path(__file__).resolve().parent / "RESULTS-loso.md", "retrain folds that exist")
    started = time.perf_counter()
    src, models, cache, teacher = prepare()
    rows = []
    try:
        for source in args.sources:
            task = SOURCES[source][1]
            model = train_fold(source, models=models, src=src, teacher=teacher, refresh=args.refresh)
            fold = score(str(model), f"loso-{source}", task, DIMS, None)
            row: dict[str, Any] = {"source": source, "1024": fold["1024"], "256": fold["256"]}
            for name in BASELINES:
                row[name] = baseline(name, task, cache, teacher)
            rows.append(row)
            print(render(rows, "", 0).splitlines()[-3 if len(rows) else -1], flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted; finished folds are kept and reused", file=sys.stderr)
        return 130
    command = "python -m training.loso" + (
        f" --sources {' '.join(args.sources)}" if args.sources != list(SOURCES) else "")
    figure = args.output.parent / "figures" / f"{args.output.stem.removeprefix('RESULTS-')}.png"
    plot(rows, figure)
    folds = [fold_dir(models, source) / "fold.json" for source in args.sources]
    training = sum(json.loads(f.read_text())["seconds"] for f in folds if f.exists())
    report = render(rows, command, time.perf_counter() - started, training)
    report += f"\n![leave one source out](figures/{figure.name})\n"
    args.output.write_text(report, encoding="utf-8")
    print(args.output.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
