"""Load time and memory of a 250k-piece Unigram model: staticemb against Sentence Transformers and model2vec.

    python benches/load.py [--repeats 3] [--output benches/RESULTS-load.md]

The model is the XLM-R SentencePiece Unigram tokenizer (250,002 pieces) with multilingual-e5-small's input
embeddings (250,002 x 384 float32, 384 MB), as a model2vec folder (``training.xlmr``). Each engine loads it in a
fresh Python process (imports done first, so only the load is measured): wall time of the load call, and the
growth of the process's peak resident memory (VmHWM) across the load, then across a first encode of 1,000
multilingual texts. The best time of ``--repeats`` processes is kept, with the memory of that run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO_ROOT))
from _common import cpu_model, publish, run_main

CHILD = r"""
import json, sys, time
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
engine, path, texts_path = sys.argv[1:4]
texts = json.load(open(texts_path))
if engine == "staticemb":
    from staticemb import StaticModel
    load = lambda: StaticModel.from_pretrained(path)
elif engine == "model2vec":
    from model2vec import StaticModel
    load = lambda: StaticModel.from_pretrained(path)
else:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import StaticEmbedding
    load = lambda: SentenceTransformer(modules=[StaticEmbedding.from_model2vec(path)], device="cpu")
base = hwm()
start = time.perf_counter()
model = load()
seconds = time.perf_counter() - start
loaded = hwm()
model.encode(texts)
print(json.dumps({"seconds": seconds, "load_mb": loaded - base, "encode_mb": hwm() - base,
                  "backend": getattr(model, "tokenizer_backend", "")}))
"""

ENGINES = {
    "staticemb": "staticemb `StaticModel.from_pretrained(folder)`",
    "model2vec": "model2vec `StaticModel.from_pretrained(folder)`",
    "sentence-transformers": "Sentence Transformers `StaticEmbedding.from_model2vec(folder)`",
}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "benches" / "RESULTS-load.md")
    return parser.parse_args(argv)


def run(args) -> int:
    import tempfile

    from compare_peers import multilingual_summaries

    from training.xlmr import xlmr_model_path

    path = xlmr_model_path()
    texts = multilingual_summaries(1_000)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(REPO_ROOT))
    rows = []
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(texts, f)
        f.flush()
        for engine, label in ENGINES.items():
            runs = []
            for _ in range(args.repeats):
                out = subprocess.run([sys.executable, "-c", CHILD, engine, str(path), f.name], env=env,
                                     capture_output=True, text=True, check=True)
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(engine, runs[-1])
            best = min(runs, key=lambda r: r["seconds"])
            rows.append((label, best))
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    lines = [
        "# Loading a 250k-piece Unigram model",
        "",
        f"- date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- command: `{command}`",
        f"- machine: {cpu_model()}, {os.cpu_count()} logical cores; {platform.platform()}",
        "- model: XLM-R SentencePiece Unigram (250,002 pieces) + multilingual-e5-small input embeddings "
        "(250,002 x 384 float32) as a model2vec folder (`training.xlmr`)",
        f"- each engine in a fresh process, imports first; best of {args.repeats} processes",
        "",
        "| engine | load seconds | peak RSS added by the load | ... and by a first encode of 1,000 texts |",
        "|---|---:|---:|---:|",
    ]
    for label, r in rows:
        lines.append(f"| {label} | {r['seconds']:.2f} | {r['load_mb']:.0f} MB | {r['encode_mb']:.0f} MB |")
    publish("\n".join(lines) + "\n", args.output)
    return 0


def main(argv=None) -> int:
    return run_main(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
