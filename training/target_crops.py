"""Unlabeled documents of the held-out source: inverse-cloze pairs cut from them, under leave-one-source-out.

    python -m training.target_crops [--sources debian pydoc ...] [--output training/RESULTS-target-crops.md]

What the in-domain model has and a fold lacks is the held-out source's own pairs (``RESULTS-cropping.md``: Debian
87.7 in domain against 69.8 held out). A user who searches a new kind of document has no such pairs, but has
documents of that kind. This measures what they are worth without any label: the fold's second stage
(MatryoshkaLoss(MNRL), from the fold's own regressed table, as in ``training.cropping``) trains on the fold's pair
sets plus one inverse-cloze pair (a passage of 6-24 words cut out -> the rest, :func:`staticemb.train.crops.crop`) per
long document of the **held-out source's train split** — its long sides only: never a query, a title, a summary
line or a judgement, and never a document of the test split it is scored on (the splits are by package, title,
file, library and page family). The first stage (teacher regression) still never sees the source.

Rule, fixed before the run: unlabeled in-domain crops become a documented way to fit a model to a corpus only if
they raise the held-out mean at 1024-d and at 256-d by more than one point and lower no held-out source by more
than one point at 1024-d (:func:`training.loso.rule`). Adopted on 2026-12-04 (every fold up, mean +3.6 at both widths):
the route is ``staticemb crops`` (:func:`staticemb.train.write_crop_pairs`, the same cut) and ``staticemb train
CONFIG --set train_datasets.NAME=PAIRS.jsonl``.

Both models are also scored with the searched corpus's token weights (:meth:`staticemb.StaticModel.with_corpus_weights`
at a = 1e-3, adopted in ``training.corpus_weights``), the two adopted measures together: that table decides
nothing, it reports where the held-out sources stand against BM25 with stemming and all-MiniLM-L6-v2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from . import cropping, loso
from . import datasets as D
from .loso import Row
from .report import hardware

VARIANT = "target-crop"

def _datasets(source: str, filtered: bool = False) -> Callable[[list[str]], dict[str, str | Path]]:
    """For the fold without ``source``: its pair sets (``filtered``: as :mod:`training.teacher_filter` keeps
    them) and the crop files of ``source``'s pair sets (the long texts of its train split; its pairs themselves
    are not used)."""

    def datasets(pair_sets: list[str]) -> dict[str, str | Path]:
        target = [n for n in loso.SOURCES[source][0] if n in cropping.CROPPED]
        if set(target) & set(pair_sets):
            raise RuntimeError(f"the fold without {source} trains on its pairs: {sorted(set(target) & set(pair_sets))}")
        if filtered:
            from . import teacher_filter

            out: dict[str, str | Path] = dict(teacher_filter.build(pair_sets))
        else:
            out = {n: D.pairs_path(n) for n in pair_sets}
        out.update(cropping.build(target))
        return out

    return datasets


def _make_row(source: str, base: dict[str, float], new: dict[str, float], baseline: Callable[[str], float],
              weighted: tuple[dict[str, float], dict[str, float]] | None = None) -> Row:
    row = cropping._make_row(source, base, new, baseline)
    if weighted is not None:
        for key, scores in zip(("pairs cw", "crop cw"), weighted, strict=True):
            row.update({f"{key} {d}": scores[d] for d in ("1024", "256")})
    return row


CW_KEYS = ("pairs cw 1024", "crop cw 1024", "pairs cw 256", "crop cw 256", "stem", "minilm")


def corpus_weighted(path: Path, name: str, source: str) -> dict[str, float]:
    """NDCG@10 of the model at ``path`` on ``source``'s test split with the split's documents' token weights
    (never its queries), at the a fixed in ``training.corpus_weights``."""
    from staticemb import StaticModel
    from staticemb.tasks import load_task

    from . import corpus_weights as C
    from . import weighting as W

    task = loso.SOURCES[source][1]
    corpus = load_task(D.task_path(task, "test"))["corpus"]
    model = StaticModel.from_pretrained(path, normalize=False).with_corpus_weights(corpus, a=C.RULE_A)
    return W.score_model(model, f"{name} corpus {C.RULE_A:g}", task)


def _weighted_table(rows: list[Row]) -> list[str]:
    rows = [r for r in rows if all(k in r for k in CW_KEYS)]
    if not rows:
        return []
    mean = {"source": "**mean**", **{k: sum(r[k] for r in rows) / len(rows) for k in CW_KEYS}}
    lines = ["", "## With the searched corpus's token weights as well",
             "",
             "Both adopted measures together: the same models searched with `with_corpus_weights(documents, a=1e-3)` "
             "(the held-out test split's documents, never its queries).",
             "",
             "| held-out source | fold 1024-d | + its documents 1024-d | fold 256-d | + its documents 256-d | "
             "BM25 (stemmed) | all-MiniLM-L6-v2 | + documents − BM25 (stemmed) | + documents, % of MiniLM |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows + ([mean] if len(rows) > 1 else []):
        lines.append(f"| {r['source']} | {100 * r['pairs cw 1024']:.1f} | {100 * r['crop cw 1024']:.1f} | "
                     f"{100 * r['pairs cw 256']:.1f} | {100 * r['crop cw 256']:.1f} | {100 * r['stem']:.1f} | "
                     f"{100 * r['minilm']:.1f} | {100 * (r['crop cw 1024'] - r['stem']):+.1f} | "
                     f"{100 * r['crop cw 1024'] / r['minilm']:.1f} |")
    above = [r["source"] for r in rows if r["crop cw 1024"] > r["stem"]]
    lines += ["", f"Above BM25 with stemming at 1024-d: {len(above)} of {len(rows)} held-out sources"
              + (f" ({', '.join(above)})" if above else "")
              + f"; mean {100 * mean['crop cw 1024']:.1f}, {100 * mean['crop cw 1024'] / mean['minilm']:.1f}% of "
              f"all-MiniLM-L6-v2's mean; 256-d keeps {100 * mean['crop cw 256'] / mean['crop cw 1024']:.1f}% of "
              "1024-d."]
    return lines


TEACHERS = {"minilm": "all-MiniLM-L6-v2", "mpnet": "all-mpnet-base-v2 (training.regress_teacher's folds)"}


def render(rows: list[Row], command: str, seconds: float, training: float | None = None,
           regress_teacher: str = "minilm", pairs: str = "all") -> str:
    sizes = {}
    for source in (r["source"] for r in rows):
        for name in loso.SOURCES[source][0]:
            if cropping.crop_path(name).exists():
                with open(cropping.crop_path(name), encoding="utf-8") as f:
                    sizes[name] = sum(1 for _ in f)
    lines = [
        "# Unlabeled documents of the held-out source, as inverse-cloze pairs (English)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min"
        + (f"; the second stages took {training / 60:.0f} min in all)" if training else ")"),
        f"- machine: {hardware()}",
        "- both models share the fold's first stage (teacher regression without the held-out source, teacher "
        f"{TEACHERS[regress_teacher]}); the second",
        "  stage (MatryoshkaLoss(MNRL), `training/configs/en-retrieval.json`) trains on the fold's pair sets"
        + (" (as training.teacher_filter keeps them, in both models)" if pairs == "filtered" else "") + ", alone",
        f"  or with one inverse-cloze pair ({cropping.MIN_WORDS}-{cropping.MAX_WORDS} words cut out -> the rest) per "
        "long document of the held-out source's train split (no queries, no judgements, no test documents);",
        "  NDCG@10 (%) on the held-out test split",
        "",
        "| held-out source | fold 1024-d | + its documents 1024-d | change | fold 256-d | + its documents 256-d | "
        "change | BM25 (stemmed) | all-MiniLM-L6-v2 | + documents − BM25 (stemmed) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [cropping._row(r) for r in rows + ([cropping._mean(rows)] if len(rows) > 1 else [])]
    if sizes:
        lines += ["", "Crop pairs of the held-out source's train split: "
                  + ", ".join(f"{k} {v:,}" for k, v in sizes.items()) + "."]
    if rows:
        adopted, why = cropping.decide(rows)
        lines += ["", "Decision (the held-out mean up by more than one point at both widths, no source down by more "
                  "than one at 1024-d): " + ("**adopted**" if adopted else "**not adopted**") + f": {why}."]
    lines += _weighted_table(rows)
    return "\n".join(lines) + "\n"


def _teacher_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--regress-teacher", choices=("minilm", "mpnet"), default="minilm",
                        help="the first stage's teacher: the folds of training.loso (all-MiniLM-L6-v2) or of "
                        "training.regress_teacher (all-mpnet-base-v2); default minilm")
    parser.add_argument("--pairs", choices=("all", "filtered"), default="all",
                        help="the fold's pair sets whole, or as training.teacher_filter keeps them (then the "
                        "crops are compared with that filtered fold); default all")


def main(argv: Sequence[str] | None = None) -> int:
    args = loso._arguments(argv, __doc__, Path(__file__).resolve().parent / "RESULTS-target-crops.md",
                           "rebuild and retrain what exists", _teacher_argument)
    started = time.perf_counter()
    src, models, cache, teacher = loso.prepare()
    # The fold's first stage ("regressed<base_stage>"), the model the crops are compared with and their variant.
    base_stage, regress_teacher, base_model, variant = "", None, "model", VARIANT
    if args.regress_teacher == "mpnet":
        from . import regress_teacher as RT
        from .teachers import mpnet_path

        base_stage = RT.VARIANT
        base_model, variant = base_model + RT.VARIANT, variant + RT.VARIANT
        regress_teacher = str(RT.capped_teacher(mpnet_path(), RT.MAX_SEQ_LENGTH, models))
    if args.pairs == "filtered":
        if args.regress_teacher != "minilm":
            print("--pairs filtered is measured on the MiniLM folds only", file=sys.stderr)
            return 2
        from . import teacher_filter

        base_model, variant = f"{base_model}-{teacher_filter.VARIANT}", f"{variant}-{teacher_filter.VARIANT}"
    rows = []
    try:
        for source in args.sources:
            task = loso.SOURCES[source][1]
            base_path = loso.fold_dir(models, source) / base_model
            if args.pairs == "filtered" and not (base_path / "modules.json").exists():
                print(f"{base_path} is missing: run python -m training.teacher_filter --sources {source} first",
                      file=sys.stderr)
                return 2
            model = loso.second_stage(source, variant, _datasets(source, args.pairs == "filtered"), models=models,
                                      src=src, teacher=teacher, refresh=args.refresh, base=base_stage,
                                      regress_teacher=regress_teacher)
            base = loso.score(str(base_path), f"loso-{base_model}-{source}", task, loso.DIMS, None)
            new = loso.score(str(model), f"loso-{variant}-{source}", task, loso.DIMS, None)

            def baseline(name: str, task: str = task) -> float:
                return loso.baseline(name, task, cache, teacher)

            weighted = (corpus_weighted(base_path, f"loso-{base_model}-{source}", source),
                        corpus_weighted(model, f"loso-{variant}-{source}", source))
            rows.append(_make_row(source, base, new, baseline, weighted))
            print(f"{source}: {100 * base['1024']:.1f} -> {100 * new['1024']:.1f} NDCG@10 at 1024-d, "
                  f"{100 * base['256']:.1f} -> {100 * new['256']:.1f} at 256-d", flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted; finished folds are kept and reused", file=sys.stderr)
        return 130
    command = "python -m training.target_crops"
    command += f" --sources {' '.join(args.sources)}" if args.sources != list(loso.SOURCES) else ""
    command += f" --regress-teacher {args.regress_teacher}" if args.regress_teacher != "minilm" else ""
    command += f" --pairs {args.pairs}" if args.pairs != "all" else ""
    folds = [loso.fold_dir(models, source) / f"fold-{variant}.json" for source in args.sources]
    training = sum(json.loads(f.read_text())["seconds"] for f in folds if f.exists())
    args.output.write_text(render(rows, command, time.perf_counter() - started, training,
                                  args.regress_teacher, args.pairs), encoding="utf-8")
    print(args.output.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
