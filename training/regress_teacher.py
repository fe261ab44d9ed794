"""all-mpnet-base-v2 as the regression teacher of the English recipe, on sources held out entirely.

    python -m training.regress_teacher [--sources debian pydoc bbc] [--max-seq-length 256] \
        [--output training/RESULTS-regress-teacher.md] [--refresh]

The English recipe's first stage fits the MiniLM distillation to a teacher's in-batch similarities on 30,000
unlabeled texts (``training/configs/en-regress.json``); the teacher is all-MiniLM-L6-v2. all-mpnet-base-v2 is the
stronger sentence encoder (the issue's unseen documentation set: 0.75 NDCG@10 against MiniLM's 0.70), so here it
replaces MiniLM **in that stage only**: the start stays MiniLM's distillation (mpnet's own distillation starts far
lower, RESULTS-lexical.md) and the second stage (MatryoshkaLoss(MNRL), ``en-retrieval.json``) is unchanged.

For each ``--sources`` fold (:func:`training.loso.train_fold`) both stages are trained without the held-out source
into ``<data>/models/loso/<source>/regressed-mpnet`` and ``model-mpnet``, beside the plain fold (made first when
missing), and all four tables are scored on the held-out source's test split.

mpnet reads at most ``--max-seq-length`` tokens (default 256, MiniLM's own limit; mpnet's folder says 384): it is
run from ``<data>/models/all-mpnet-base-v2-<n>``, a folder of links to its files whose
``sentence_bert_config.json`` sets that limit (:func:`capped_teacher`), so its teacher cache is its own. Its
embeddings of the fold's texts are cached text by text (the folds share them) and an interrupted run resumes.
mpnet is installed by ``make baselines`` (:data:`training.teachers.MPNET_INSTALL_COMMAND`).

The rule, fixed before the first run (the one of RESULTS-cropping.md): **adopted** when the mean held-out NDCG@10
of the final model rises by more than one point at both 1024-d and 256-d and no held-out source falls by more than
one point at 1024-d.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import loso
from .report import hardware

VARIANT = "-mpnet"
MAX_SEQ_LENGTH = 256
SOURCES = ("debian", "pydoc", "bbc")
STAGES = ("regressed", "model")
KEYS = tuple(f"{who} {stage} {dim}" for who in ("minilm", "mpnet") for stage in STAGES for dim in ("1024", "256"))


def capped_teacher(teacher: Path, max_seq_length: int, models: Path) -> Path:
    """``<models>/<teacher's name>-<max_seq_length>``: ``teacher`` (a Sentence Transformers folder) reading at
    most ``max_seq_length`` tokens. Its files are links to the teacher's, but for ``sentence_bert_config.json``,
    written with that limit; made once, in a temporary folder renamed into place."""
    config_path = teacher / "sentence_bert_config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{teacher} is not a Sentence Transformers folder with a sentence_bert_config.json: {e}") from None
    limit = config.get("max_seq_length")
    if not isinstance(max_seq_length, int) or isinstance(max_seq_length, bool) or not (
            1 <= max_seq_length <= (limit if isinstance(limit, int) else 512)):
        raise ValueError(f"max_seq_length must be an integer from 1 to the teacher's own {limit}, "
                         f"got {max_seq_length!r}")
    target = models / f"{teacher.name}-{max_seq_length}"
    if (target / "modules.json").exists():
        return target
    models.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=models, prefix=f".{target.name}-"))
    try:
        for path in sorted(teacher.rglob("*")):
            rel = path.relative_to(teacher)
            if path.is_dir():
                (tmp / rel).mkdir(parents=True, exist_ok=True)
            elif rel.as_posix() != "sentence_bert_config.json":
                os.symlink(path.resolve(), tmp / rel)
        (tmp / "sentence_bert_config.json").write_text(
            json.dumps({**config, "max_seq_length": max_seq_length}, indent=2), encoding="utf-8")
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def mpnet_reference(task: str, cache: Path, compute: bool) -> float | None:
    """all-mpnet-base-v2's own NDCG@10 on ``task``'s test split (its own 384-token limit), cached in ``cache``
    as ``<task>-mpnet.json``; ``None`` when not cached and not ``compute`` (about 20,000 texts over the six
    splits: minutes on a GPU, hours on 2 cores)."""
    from .teachers import mpnet_path

    path = cache / f"{task}-mpnet.json"
    if not (compute or path.exists()):
        return None
    return next(iter(loso.score(str(mpnet_path()), "all-mpnet-base-v2", task, None, path).values()))


def _mean(rows: list[dict[str, Any]]) -> dict[str, Any]:
    keys = (*KEYS, "stem", "teacher") + (("mpnet",) if _has_mpnet(rows) else ())
    return {"source": "**mean**", **{k: sum(r[k] for r in rows) / len(rows) for k in keys}}


def _has_mpnet(rows: list[dict[str, Any]]) -> bool:
    return bool(rows) and all(r.get("mpnet") is not None for r in rows)


def decide(rows: list[dict[str, Any]]) -> tuple[bool, str]:
    """The rule of the module's description (:func:`training.loso.rule`, on the final models): (adopted, why)."""
    return loso.rule(rows, lambda d: f"minilm model {d}", lambda d: f"mpnet model {d}")


def _row(r: dict[str, Any], mpnet: bool = False) -> str:
    def pct(key: str) -> str:
        return f"{100 * r[key]:.1f}"

    def change(stage: str, dim: str) -> str:
        return f"{100 * (r[f'mpnet {stage} {dim}'] - r[f'minilm {stage} {dim}']):+.1f}"

    return (f"| {r['source']} | {pct('minilm regressed 1024')} | {pct('mpnet regressed 1024')} | "
            f"{change('regressed', '1024')} | {pct('minilm model 1024')} | {pct('mpnet model 1024')} | "
            f"{change('model', '1024')} | {pct('minilm model 256')} | {pct('mpnet model 256')} | "
            f"{change('model', '256')} | {pct('stem')} | {pct('teacher')} |" + (f" {pct('mpnet')} |" if mpnet else ""))


def render(rows: list[dict[str, Any]], command: str, seconds: float, max_seq_length: int,
           training: float | None = None) -> str:
    lines = [
        "# all-mpnet-base-v2 as the regression teacher, under leave one source out (English)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min"
        + (f"; the mpnet folds took {training / 60:.0f} min in all)" if training else ")"),
        f"- machine: {hardware()}",
        "- both folds start from the MiniLM distillation and train the recipe's two stages without the held-out",
        "  source; the first stage (teacher regression, `training/configs/en-regress.json`) fits all-MiniLM-L6-v2 or",
        f"  all-mpnet-base-v2 (at most {max_seq_length} tokens a text); NDCG@10 (%) on the held-out test split",
        "",
        "| held-out source | regressed, MiniLM teacher (1024-d) | regressed, mpnet teacher | change | "
        "final, MiniLM teacher (1024-d) | final, mpnet teacher | change | final, MiniLM teacher (256-d) | "
        "final, mpnet teacher (256-d) | change | BM25 (stemmed) | all-MiniLM-L6-v2 |"
        + (" all-mpnet-base-v2 |" if _has_mpnet(rows) else ""),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if _has_mpnet(rows) else ""),
    ]
    lines += [_row(r, _has_mpnet(rows)) for r in rows + ([_mean(rows)] if len(rows) > 1 else [])]
    if rows:
        adopted, why = decide(rows)
        lines += ["", "Decision (the final model's held-out mean up by more than one point at both widths, no source "
                  "down by more than one at 1024-d): " + ("**adopted**" if adopted else "**not adopted**")
                  + f": {why}."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", nargs="+", choices=list(loso.SOURCES), default=list(SOURCES))
    parser.add_argument("--max-seq-length", type=int, default=MAX_SEQ_LENGTH)
    parser.add_argument("--output", type=Path,
                        default=Path(__file__).resolve().parent / "RESULTS-regress-teacher.md")
    parser.add_argument("--refresh", action="store_true", help="retrain the mpnet folds")
    parser.add_argument("--mpnet-reference", action="store_true",
                        help="also score all-mpnet-base-v2 itself on each held-out test split (cached; minutes on a "
                        "GPU, hours on 2 cores); cached scores are shown without it")
    args = parser.parse_args(argv)
    from .teachers import mpnet_path

    started = time.perf_counter()
    src, models, cache, teacher = loso.prepare()
    try:
        mpnet = capped_teacher(mpnet_path(), args.max_seq_length, models)
    except ValueError as e:
        parser.error(str(e))
    rows = []
    try:
        for source in args.sources:
            task = loso.SOURCES[source][1]
            fold = loso.fold_dir(models, source)
            loso.train_fold(source, models=models, src=src, teacher=teacher, refresh=False)
            loso.train_fold(source, models=models, src=src, teacher=teacher, refresh=args.refresh,
                            variant=VARIANT, regress_teacher=str(mpnet))
            row: dict[str, Any] = {"source": source, "stem": loso.baseline("BM25 (stemmed)", task, cache),
                                   "teacher": loso.baseline("all-MiniLM-L6-v2", task, cache, teacher),
                                   "mpnet": mpnet_reference(task, cache, args.mpnet_reference)}
            for who, suffix in (("minilm", ""), ("mpnet", VARIANT)):
                for stage in STAGES:
                    scores = loso.score(str(fold / f"{stage}{suffix}"), f"{stage}{suffix}-{source}", task,
                                        loso.DIMS, None)
                    row.update({f"{who} {stage} {dim}": scores[dim] for dim in ("1024", "256")})
            rows.append(row)
            print(_row(row), flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted; finished folds are kept and reused", file=sys.stderr)
        return 130
    command = "python -m training.regress_teacher"
    if args.sources != list(SOURCES):
        command += " --sources " + " ".join(args.sources)
    if args.max_seq_length != MAX_SEQ_LENGTH:
        command += f" --max-seq-length {args.max_seq_length}"
    folds = [loso.fold_dir(models, s) / f"fold{VARIANT}.json" for s in args.sources]
    training = sum(json.loads(f.read_text())["seconds"] for f in folds if f.exists())
    report = render(rows, command, time.perf_counter() - started, args.max_seq_length, training or None)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
