"""Quality of quantized tables: cosine to float32 and retrieval on a held-out set.

    python benches/quantization.py [--output benches/RESULTS-quantization.md]

The model is the demo's static model (model2vec distillation of all-MiniLM-L6-v2, 256-d; built once and
cached, see ``staticemb.train.demo_model``), stored as float32, float16 and int8 (one scale per row). The task is
Debian package retrieval: each package's one-line summary is the query and its long description the one
relevant document, on a held-out set of every 12th package with a long description (about 5,000 packages;
nothing is trained on it here). Reported: NDCG@10, MRR@10 and Recall@1 at 256 and 64 dimensions, the change
against float32, the cosine between quantized and float32 vectors, the table size and the encode speed. (The distilled
table comes out of model2vec as float16, so its float16 row is lossless by construction; the float16 loss on
a full-precision table is asserted in tests/test_quantize.py.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO_ROOT = Path(__file__).resolve().parents[1]

import numpy as np
from staticemb import StaticModel
from staticemb.evaluation import retrieval_metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "benches" / "RESULTS-quantization.md")
    args = parser.parse_args(argv)

    from staticemb.corpora import debian_descriptions
    from staticemb.train import demo_model

    base = StaticModel.from_pretrained(demo_model(), normalize=True)
    held_out = [d for d in debian_descriptions("en") if d.long][::12]
    queries = [d.short for d in held_out]
    docs = [d.long for d in held_out]
    models = {"float32": base, "float16": base.quantize("float16"), "int8": base.quantize("int8")}

    lines = [
        "# Quantized tables: quality and speed",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{shlex.join([Path(sys.executable).name, *sys.argv])}`",
        f"- model: {base!r} (model2vec distillation of all-MiniLM-L6-v2)",
        f"- task: Debian summary -> long description retrieval, {len(held_out):,} held-out packages "
        "(every 12th with a long description), one relevant document per query",
        "",
        "| table | bytes | dim | NDCG@10 | MRR@10 | Recall@1 | ΔNDCG@10 vs float32 | min / mean cosine to float32 | docs/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    reference: dict[int, tuple[np.ndarray, dict[str, float]]] = {}
    for name, model in models.items():
        for dim in (base.dim, 64):
            model.encode(docs[:500], dim=dim)
            t = time.perf_counter()
            d = model.encode(docs, dim=dim)
            speed = len(docs) / (time.perf_counter() - t)
            q = model.encode(queries, dim=dim)
            metrics = retrieval_metrics(q @ d.T, np.arange(len(q)))
            if name == "float32":
                reference[dim] = (d, metrics)
            ref_d, ref_m = reference[dim]
            keep = np.linalg.norm(d, axis=1) > 0
            cos = (d[keep] * ref_d[keep]).sum(1)
            lines.append(
                f"| {name} | {model.nbytes:,} | {dim} "
                f"| {metrics['NDCG@10']:.4f} | {metrics['MRR@10']:.4f} | {metrics['Recall@1']:.4f} "
                f"| {metrics['NDCG@10'] - ref_m['NDCG@10']:+.4f} | {cos.min():.5f} / {cos.mean():.5f} "
                f"| {speed:,.0f} |"
            )
            print(lines[-1], flush=True)
    report = "\n".join(lines) + "\n"
    args.output.write_text(report, encoding="utf-8")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
