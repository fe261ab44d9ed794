"""Instructions per tokenization pass, counted by callgrind: repeatable on a shared machine, where seconds are not.

    python benches/tokenizer_instructions.py [--texts 1500] [--english 20000]

Two corpora of real text: the one-line Debian package summaries in 13 languages (``--texts`` of each: de, fr,
ru, ja, zh_CN, ko, uk, pl, cs, es, it, da, pt_BR) and ``--english`` English summaries, tokenized with the real
bert-base-uncased tokenizer on one thread. Each count is (instructions of a run with 2 passes - instructions of a
run with none) / 2, so start-up, loading and the lazily built Unicode pages are excluded. Needs valgrind.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

LANGS = ["de", "fr", "ru", "ja", "zh_CN", "ko", "uk", "pl", "cs", "es", "it", "da", "pt_BR"]


def worker(path: str, passes: int) -> None:
    import numpy as np
    from _common import bert_tokenizer
    from staticemb import StaticModel

    texts = json.loads(Path(path).read_text(encoding="utf-8"))
    model = StaticModel(bert_tokenizer(), np.zeros((30_522, 8), np.float32))
    model.tokenize(texts, num_threads=1)  # warm-up: every Unicode page these texts need is built here
    for _ in range(passes):
        model.tokenize(texts, num_threads=1)


def count(path: str, passes: int) -> int:
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
         "--worker", path, str(passes)], capture_output=True, text=True, check=True)
    line = next(x for x in done.stderr.splitlines() if "Collected" in x)
    return int(line.split()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=1_500)
    parser.add_argument("--english", type=int, default=20_000)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]))
        return 0
    from staticemb.corpora import debian_descriptions

    corpora = {
        "multilingual": [d.short for lang in LANGS for d in debian_descriptions(lang)[: args.texts]],
        "english": [d.short for d in debian_descriptions("en")[: args.english]],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, texts in corpora.items():
            path = str(Path(tmp) / f"{name}.json")
            Path(path).write_text(json.dumps(texts), encoding="utf-8")
            per_pass = (count(path, 2) - count(path, 0)) / 2
            print(f"{name}: {len(texts):,} texts, {per_pass / 1e6:.1f}M instructions a pass, "
                  f"{per_pass / len(texts):,.0f} a text")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
