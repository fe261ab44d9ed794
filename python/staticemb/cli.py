"""The ``staticemb`` command: ``train``, ``distill`` and ``eval``.

    staticemb train CONFIG [--set key=value ...] [--resume]
    staticemb distill --teacher MODEL --output DIR [--tokenizer TOKENIZER] [--dim 1024] [--pca-dims N] [--corpus FILE]
    staticemb eval MODEL [MODEL ...] --tasks DIR [--only NAME ...] [--dims 64,256,1024] [--output results.json]

``python -m staticemb`` is the same command (use it with ``accelerate launch -m staticemb train CONFIG`` or
``torchrun --nproc_per_node N -m staticemb train CONFIG`` for several GPUs).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import StaticembError


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _read_texts(path: str, limit: int | None) -> list[str]:
    texts: list[str] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            if path.endswith(".jsonl"):
                row = json.loads(line)
                texts.extend(row[k] for k in ("text", "anchor", "positive") if isinstance(row.get(k), str))
            else:
                texts.append(line)
            if limit is not None and len(texts) >= limit:
                break
    return texts[:limit] if limit is not None else texts


def cmd_train(args) -> int:
    from .train import TrainConfig, train

    overrides = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set needs key=value, got {item!r}")
        overrides[key] = _parse_value(value)
    if args.resume:
        overrides["resume_from_checkpoint"] = True
    config = TrainConfig.from_file(args.config, **overrides)
    path, _ = train(config)
    print(f"saved {path}")
    return 0


def cmd_distill(args) -> int:
    from .train import distill

    corpus = None
    if args.corpus:
        per_file = args.max_corpus // len(args.corpus)
        corpus = [t for path in args.corpus for t in _read_texts(path, per_file)]
    model = distill(args.teacher, tokenizer=args.tokenizer, dim=args.dim, pca_dims=args.pca_dims, corpus=corpus,
                    device=args.device, output=args.output)
    print(f"saved {args.output}: {model.vocab_size} tokens x {model.full_dim} dims")
    return 0


def cmd_eval(args) -> int:
    from .tasks import evaluate, load_tasks, markdown_table, open_model

    tasks = load_tasks(args.tasks, args.only)
    dims = [int(d) for d in args.dims.split(",")] if args.dims else None
    speed_texts = None
    if args.speed_task:
        source = next((t for t in tasks if t["name"] == args.speed_task), None)
        if source is None:
            source = load_tasks(args.tasks, [args.speed_task])[0]
        pool = [*source.get("corpus", []), *source.get("queries", [])] or source.get("source", [])
        speed_texts = pool[: args.speed_n]
    results = []
    for spec in args.models:
        name = None
        if "=" in spec and not Path(spec).exists():
            name, spec = spec.split("=", 1)
        encoder = open_model(spec, name=name, dims=dims, device=args.device)
        results.append(evaluate(encoder, tasks, speed_texts=speed_texts,
                                progress=lambda m: print(m, file=sys.stderr, flush=True)))
    print(markdown_table(results, dims))
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(results, indent=1))
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="staticemb", description="Train, distill and evaluate static embedding models.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="run one training stage from a JSON config (Sentence Transformers trainer)")
    p.add_argument("config")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value (JSON or text)")
    p.add_argument("--resume", action="store_true", help="resume from the last checkpoint in OUTPUT_DIR/checkpoints")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("distill", help="make a static table from a transformer teacher")
    p.add_argument("--teacher", required=True, help="a Sentence Transformers folder or Hub id")
    p.add_argument("--output", required=True)
    p.add_argument("--tokenizer", help="tokenizer.json (or a folder) to distill into; default: the teacher's own")
    p.add_argument("--dim", type=int, help="table width (wider than the teacher: extra noise columns to train)")
    p.add_argument("--pca-dims", type=int, help="principal components kept (default: the teacher's width)")
    p.add_argument("--corpus", nargs="+", help="text or JSONL files whose token counts give the SIF weights "
                   "(--tokenizer only)")
    p.add_argument("--max-corpus", type=int, default=400_000, help="texts read in all (split evenly over the files)")
    p.add_argument("--device")
    p.set_defaults(func=cmd_distill)

    p = sub.add_parser("eval", help="score models on task files (retrieval, classification, bitext, word similarity)")
    p.add_argument("models", nargs="+", help="model folders / Hub ids, 'bm25', or NAME=PATH to label one")
    p.add_argument("--tasks", nargs="+", required=True, help="task files or folders of them")
    p.add_argument("--only", nargs="+", help="task names or types to run")
    p.add_argument("--dims", help="Matryoshka widths for static models, e.g. 64,256,1024 (default: all)")
    p.add_argument("--speed-task", help="time encoding this task's texts for a texts/s figure")
    p.add_argument("--speed-n", type=int, default=2000)
    p.add_argument("--output", help="write the results as JSON")
    p.add_argument("--device")
    p.set_defaults(func=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except StaticembError as e:
        print(f"staticemb {args.command}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"staticemb {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
