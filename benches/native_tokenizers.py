"""Each native tokenizer against the ``tokenizers`` crate on the same threads: texts tokenized per second.

    python benches/native_tokenizers.py [--n 50000] [--threads 2] [--repeats 3] [--output benches/RESULTS-tokenizers.md]

Pipelines: WordPiece (bert-base-uncased), SentencePiece Unigram (XLM-R, 250,002 pieces, ``training.xlmr``) and
byte-level BPE (GPT-2 style, 50,000 tokens trained on Debian's descriptions, ``training.bytelevel_bpe``). Texts:
the first N Debian sentences (English) and N translated Debian summaries, 13 languages in turn
(multilingual). Engines: ``StaticModel.tokenize`` with the native pipeline, the same with
``tokenizer_backend="tokenizers"`` (the crate inside staticemb: no Python object per text), and the
``tokenizers`` package's ``encode_batch_fast(add_special_tokens=False)``. All on T threads (``RAYON_NUM_THREADS``
and ``num_threads``); best of ``--repeats`` after a warm-up, so the crates' word caches are warm too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO_ROOT))
from _common import cpu_model, load_sentences, publish, run_main


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "benches" / "RESULTS-tokenizers.md")
    return parser.parse_args(argv)


def best(fn, texts, repeats):
    fn(texts[:2000])
    fn(texts)
    out = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(texts)
        out = min(out, time.perf_counter() - start)
    return len(texts) / out


def run(args) -> int:
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    os.environ["TOKENIZERS_PARALLELISM"] = "true"
    import numpy as np
    from _common import bert_tokenizer
    from compare_peers import multilingual_summaries
    from staticemb import StaticModel
    from tokenizers import Tokenizer

    from training.bytelevel_bpe import bytelevel_bpe_path
    from training.xlmr import xlmr_tokenizer_path

    corpora = {"English sentences": load_sentences(args.n), "13-language summaries": multilingual_summaries(args.n)}
    pipelines = {
        "WordPiece (bert-base-uncased)": bert_tokenizer().to_str(),
        "Unigram (XLM-R, 250,002 pieces)": xlmr_tokenizer_path().read_text("utf-8"),
        "byte-level BPE (GPT-2 style, 50,000)": bytelevel_bpe_path().read_text("utf-8"),
    }
    t = args.threads
    lines = [
        "# Native tokenizers against the tokenizers crate",
        "",
        f"- date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- command: `{shlex.join(getattr(sys, 'orig_argv', [sys.executable, *sys.argv]))}`",
        f"- machine: {cpu_model()}, {os.cpu_count()} logical cores; {platform.platform()}",
        f"- {args.n:,} texts per corpus, T={t} threads for every engine, best of {args.repeats} after a warm-up",
        "",
        "| tokenizer | texts | staticemb native | staticemb + crate | tokenizers `encode_batch_fast` | native / best crate |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, spec in pipelines.items():
        ref = Tokenizer.from_str(spec)
        ref.no_padding()
        ref.no_truncation()
        zeros = np.zeros((ref.get_vocab_size(), 1), np.float32)
        native = StaticModel(spec, zeros)
        crate = StaticModel(spec, zeros, tokenizer_backend="tokenizers")
        for corpus, texts in corpora.items():
            a = best(lambda x, m=native: m.tokenize(x, num_threads=t), texts, args.repeats)
            b = best(lambda x, m=crate: m.tokenize(x, num_threads=t), texts, args.repeats)
            c = best(lambda x, r=ref: r.encode_batch_fast(x, add_special_tokens=False), texts, args.repeats)
            row = (f"| {name} ({native.tokenizer_backend}) | {corpus} | {a:,.0f}/s | {b:,.0f}/s | {c:,.0f}/s | "
                   f"{a / max(b, c):.1f}x |")
            print(row, flush=True)
            lines.append(row)
    publish("\n".join(lines) + "\n", args.output)
    return 0


def main(argv=None) -> int:
    return run_main(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
