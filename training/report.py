"""Turn ``staticemb eval`` results into training/RESULTS.md's tables and plots.

    python -m training.report [--results DIR] [--out training]

reads every ``*.json`` written by ``staticemb eval --output`` in ``DIR`` (default ``<data dir>/results``) and
the ``training_log.json`` of the trained models, and writes ``training/RESULTS.md`` (commands, hardware, training
runs, the acceptance checks, every table, then the hand-written ``training/RESULTS-notes.md``) and
``training/figures/*.png`` (quality against Matryoshka width; quality against speed).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from staticemb.corpora import data_dir
from staticemb.tasks import main_score, markdown_table, percent

RETRIEVAL = ("retrieval-debian", "retrieval-wikipedia", "retrieval-bbc", "retrieval-pydoc", "retrieval-rustdoc",
             "retrieval-manpage")
CLASSIFICATION = ("classification-bbc", "classification-wikipedia")
WORDSIM = ("wordsim-simlex999", "wordsim-wordsim353")
ENGLISH_MODEL = "staticemb-en"
MULTI_MODEL = "staticemb-multilingual"
M2V = "model2vec-minilm"
MINILM = "all-MiniLM-L6-v2"


def load_results(folder: Path) -> list[dict[str, Any]]:
    results = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        results.extend(data if isinstance(data, list) else [data])
    order = {ENGLISH_MODEL: 0, MULTI_MODEL: 1, M2V: 2, "BM25": 3, MINILM: 4, "all-mpnet-base-v2": 5}
    return sorted(results, key=lambda r: (order.get(r["model"], 9), r["model"]))


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals and len(vals) == len(values) else None


def _widest(r: dict[str, Any]) -> int:
    return max(r["dims"])


def score(r, task, dim=None):
    return main_score(r, task, dim if dim is not None else _widest(r))


def retrieval_detail(results) -> str:
    lines = ["| model | dim | task | NDCG@10 | MRR@10 | Recall@1 | Recall@10 |", "|---|---:|---|---:|---:|---:|---:|"]
    for r in results:
        for t in RETRIEVAL:
            entry = r["tasks"].get(t)
            if not entry:
                continue
            d = str(_widest(r))
            m = entry["scores"][d]
            lines.append(f"| {r['model']} | {'—' if d == '0' else d} | {t} | {percent(m['NDCG@10'])} | "
                         f"{percent(m['MRR@10'])} | {percent(m['Recall@1'])} | {percent(m['Recall@10'])} |")
    return "\n".join(lines)


def speed_table(results) -> str:
    lines = ["| model | texts/s | texts timed |", "|---|---:|---:|"]
    for r in results:
        if "speed" in r:
            lines.append(f"| {r['model']} | {r['speed']['texts_per_s']:,.0f} | {r['speed']['texts']:,} |")
    return "\n".join(lines)


def acceptance(results) -> str:
    by = {r["model"]: r for r in results}
    out = []
    en, m2v, bm25, minilm = by.get(ENGLISH_MODEL), by.get(M2V), by.get("BM25"), by.get(MINILM)
    if en:
        mean = lambda r, d=None: _mean([score(r, t, d) for t in RETRIEVAL])  # noqa: E731
        e1024, e256 = mean(en), mean(en, 256)
        out.append(f"- English model, mean NDCG@10 over {', '.join(RETRIEVAL)}: {percent(e1024)} at 1024-d, "
                   f"{percent(e256)} at 256-d ({100 * e256 / e1024:.1f}% of its 1024-d score; target ≥ 98%).")
        if minilm:
            mm = mean(minilm)
            out.append(f"- all-MiniLM-L6-v2: {percent(mm)}; the English model reaches {100 * e1024 / mm:.1f}% of it "
                       "(target ≥ 85%).")
        if bm25:
            b = mean(bm25)
            out.append(f"- BM25: {percent(b)}; the English model is {'above' if e1024 > b else 'NOT above'} it "
                       f"({100 * (e1024 - b):+.1f} points).")
        if m2v:
            m = mean(m2v)
            out.append(f"- plain model2vec distillation of MiniLM (256-d): {percent(m)}; the English model is "
                       f"{'above' if e1024 > m else 'NOT above'} it ({100 * (e1024 - m):+.1f} points).")
    multi = by.get(MULTI_MODEL)
    if multi:
        langs = sorted(t for t in multi["tasks"] if t.startswith("bitext-"))
        rows = ["| language | " + " | ".join(m for m in (MULTI_MODEL, M2V, ENGLISH_MODEL) if m in by) + " | above both |",
                "|---|" + "---:|" * (sum(m in by for m in (MULTI_MODEL, M2V, ENGLISH_MODEL)) + 1)]
        wins = 0
        for t in langs:
            vals = [score(by[m], t) for m in (MULTI_MODEL, M2V, ENGLISH_MODEL) if m in by]
            ok = all(vals[0] > v for v in vals[1:] if v is not None)
            wins += ok
            rows.append(f"| {t.removeprefix('bitext-')} | " + " | ".join(map(percent, vals)) + f" | {'yes' if ok else 'NO'} |")
        out.append(f"- Multilingual model, bitext mining accuracy (full width): above both baselines in {wins} of "
                   f"{len(langs)} languages.\n\n" + "\n".join(rows))
    return "\n".join(out)


def plots(results, folder: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    names = []
    # Quality against Matryoshka width.
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, (tasks, label) in zip(axes, ((RETRIEVAL, "mean retrieval NDCG@10"),
                                         (tuple(t for r in results for t in r["tasks"] if t.startswith("bitext-")),
                                          "mean bitext mining accuracy")), strict=True):
        tasks = tuple(dict.fromkeys(tasks))
        for r in results:
            if not tasks or not all(t in r["tasks"] for t in tasks):
                continue
            ys = [_mean([score(r, t, d) for t in tasks]) for d in r["dims"]]
            if r["kind"] == "static":
                ax.plot(r["dims"], ys, marker="o", label=r["model"])
            elif ys[-1] is not None:
                ax.axhline(ys[-1], linestyle="--", color="gray" if r["kind"] == "bm25" else None, label=r["model"])
        ax.set_xscale("log", base=2)
        ax.set_xlabel("embedding width (Matryoshka truncation)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(folder / "quality-vs-dim.png", dpi=120)
    plt.close(fig)
    names.append("quality-vs-dim.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in results:
        if "speed" not in r or not all(t in r["tasks"] for t in RETRIEVAL):
            continue
        y = _mean([score(r, t) for t in RETRIEVAL])
        ax.scatter(r["speed"]["texts_per_s"], y)
        ax.annotate(r["model"], (r["speed"]["texts_per_s"], y), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("texts per second (2 CPU cores, Debian descriptions)")
    ax.set_ylabel("mean retrieval NDCG@10")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(folder / "quality-vs-speed.png", dpi=120)
    plt.close(fig)
    names.append("quality-vs-speed.png")
    return names


HEADER = """# Training and evaluation results

Two static models trained here with `staticemb train` (Sentence Transformers' trainer), scored with
`staticemb eval` on held-out test splits that training never sees (`training/datasets.py`: Debian by
`Description-md5`, Wikipedia by title, BBC by file, docstrings and doc comments by library, manual pages by
family), side by side with the baselines on the same splits. Those splits come from the sources the models
trained on; "Generalization" below scores sources held out of training entirely. Written by
`python -m training.report` from the result files; the commands below reproduce every number.

## Commands

```bash
make train-en            # distill all-MiniLM-L6-v2 -> 1024-d table, teacher regression, MatryoshkaLoss(MNRL)
make train-multilingual  # XLM-R pieces embedded by e5-small; Debian, Wikipedia, UI pairs; MNRL; rare rows carried
make eval-models         # staticemb eval for both models and every baseline -> $STATICEMB_DATA/results/*.json
make loso                # the English recipe without each source in turn, scored on it (RESULTS-loso.md)
make report              # this file and figures/*.png
```

The configs are `training/configs/en-regress.json`, `training/configs/en-retrieval.json` and
`training/configs/multilingual.json`; `make -n train-en` prints the exact command lines.
"""


def hardware() -> str:
    import platform

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    try:
        import torch
    except ImportError:  # the light environment has no torch; a report still says what machine it ran on
        return f"{cpu}, {os.cpu_count()} logical CPUs; Python {platform.python_version()}, no torch"
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return f"{cpu}, {os.cpu_count()} logical CPUs, GPU: {gpu}; Python {platform.python_version()}, torch {torch.__version__}"


def training_runs(models: Path) -> str:
    lines = ["| stage | config | steps | training time | first loss | last loss |", "|---|---|---:|---:|---:|---:|"]
    # The multilingual log stays with the trained table; the published folder is that table with rare rows carried.
    for name in ("en-regressed", "staticemb-en", "staticemb-multilingual-trained"):
        log_path = models / name / "training_log.json"
        if not log_path.exists():
            continue
        data = json.loads(log_path.read_text())
        hist = data["log_history"]
        losses = [e["loss"] for e in hist if "loss" in e]
        end = next((e for e in reversed(hist) if "train_runtime" in e), {})
        steps = max((e.get("step", 0) for e in hist), default=0)
        cfg = data["config"]
        lines.append(f"| {name} | loss={cfg['loss']}, batch {cfg['batch_size']}, lr {cfg['learning_rate']}, "
                     f"{cfg['num_epochs']} epoch(s), {len(cfg['train_datasets'])} dataset(s) | {steps} | "
                     f"{end.get('train_runtime', float('nan')):.0f} s | {losses[0]:.3f} | {losses[-1]:.3f} |")
    return "\n".join(lines)


def generalization(loso_report: Path) -> str:
    """The leave-one-source-out table as ``python -m training.loso`` last wrote it (its own file is the one
    owner of those numbers), with the studies that build on it."""
    if not loso_report.exists():
        return f"(no {loso_report.name}: run `make loso`)"
    body = loso_report.read_text(encoding="utf-8").split("\n", 1)[1].strip()
    return (f"From [{loso_report.name}]({loso_report.name}): each fold is the English recipe trained without one "
            "source and scored on that source's test split.\n\n" + body + "\n\nSearch-time corpus weights "
            "([RESULTS-corpus-weights.md](RESULTS-corpus-weights.md)), BM25 fused with the fold by reciprocal rank "
            "([RESULTS-hybrid.md](RESULTS-hybrid.md)), term-frequency saturation "
            "([RESULTS-tf-saturation.md](RESULTS-tf-saturation.md)), training on the held-out source's unlabeled "
            "documents ([RESULTS-target-crops.md](RESULTS-target-crops.md)), all-mpnet-base-v2 as the regression "
            "teacher ([RESULTS-regress-teacher.md](RESULTS-regress-teacher.md)), pairs filtered by that teacher "
            "([RESULTS-teacher-filter.md](RESULTS-teacher-filter.md)) and passages it picks out of the held-out "
            "source's documents ([RESULTS-teacher-passages.md](RESULTS-teacher-passages.md)) are measured on the "
            "same folds, and so are a document scored by its best passage as well as its whole "
            "([RESULTS-passage-scoring.md](RESULTS-passage-scoring.md)) and the query's terms matched through the "
            "table ([RESULTS-late-interaction.md](RESULTS-late-interaction.md)), with each term's frequency "
            "([RESULTS-term-frequency.md](RESULTS-term-frequency.md)), whole words in place of word pieces "
            "([RESULTS-word-terms.md](RESULTS-word-terms.md)), IDF weights ([RESULTS-term-idf.md](RESULTS-term-idf.md)), "
            "stemmed matches ([RESULTS-stem-terms.md](RESULTS-stem-terms.md), whole words only: "
            "[RESULTS-stem-terms-whole.md](RESULTS-stem-terms-whole.md)), the parts' weights chosen by each "
            "fold on its training sources ([RESULTS-fold-weights.md](RESULTS-fold-weights.md)), "
            "how sure the differences to BM25 are "
            "([RESULTS-significance.md](RESULTS-significance.md)), whether BBC's difference holds on its other "
            "articles ([RESULTS-replicate.md](RESULTS-replicate.md)) and on which of its queries it is lost "
            "([RESULTS-diagnose.md](RESULTS-diagnose.md)), BM25 fused with the index by reciprocal rank "
            "([RESULTS-hybrid-index.md](RESULTS-hybrid-index.md)) and by min-max normalized scores "
            "([RESULTS-hybrid-minmax.md](RESULTS-hybrid-minmax.md), adopted: above BM25 with stemming on every "
            "held-out source; [RESULTS-hybrid-significance.md](RESULTS-hybrid-significance.md)), the unknown token "
            "left out of the terms "
            "([RESULTS-unknown-terms.md](RESULTS-unknown-terms.md)), and package READMEs, a source none of the six was "
            "drawn from ([RESULTS-search-readmes.md](RESULTS-search-readmes.md)); the "
            "multilingual model's "
            "held-out languages and text types are in [RESULTS-languages.md](RESULTS-languages.md).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", default=str(data_dir() / "results"))
    parser.add_argument("--models", default=str(data_dir() / "models"))
    parser.add_argument("--out", default=str(Path(__file__).parent))
    parser.add_argument("--notes", default=str(Path(__file__).parent / "RESULTS-notes.md"),
                        help="hand-written notes appended to the report")
    args = parser.parse_args()
    results = load_results(Path(args.results))
    out = Path(args.out)
    figs = plots(results, out / "figures")
    bitext = sorted({t for r in results for t in r["tasks"] if t.startswith("bitext-")})
    notes = Path(args.notes).read_text() if Path(args.notes).exists() else ""
    text = [
        HEADER,
        f"Hardware: {hardware()}.\n",
        "## Training runs\n", training_runs(Path(args.models)),
        "\n## In-domain checks (test splits of the training sources)\n", acceptance(results),
        "\n## Generalization (sources held out of training entirely)\n", generalization(out / "RESULTS-loso.md"),
        "\n## Retrieval (NDCG@10, %, held-out test splits)\n", markdown_table(results, tasks=RETRIEVAL, mean=True),
        "\n### Retrieval, all metrics (full width)\n", retrieval_detail(results),
        "\n## Topic classification (kNN accuracy, k = 5, %)\n", markdown_table(results, tasks=CLASSIFICATION, mean=True),
        "\n## Word similarity (Spearman ρ × 100)\n", markdown_table(results, tasks=WORDSIM, mean=True),
        "\n## Bitext mining accuracy (%, held-out Debian translations → English, full width)\n",
        markdown_table(results, tasks=bitext, mean=True, widest_only=True),
        "\n## Speed (encoding the same 2,000 Debian texts on 2 CPU cores; static models run by staticemb, "
        "transformers by Sentence Transformers)\n",
        speed_table(results),
        "\n## Plots\n", *[f"![{f}](figures/{f})" for f in figs],
        "\n" + notes,
    ]
    (out / "RESULTS.md").write_text("\n".join(text) + "\n")
    print(f"wrote {out / 'RESULTS.md'} and {len(figs)} plots")


if __name__ == "__main__":
    main()
