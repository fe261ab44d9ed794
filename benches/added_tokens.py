"""Texts that hold an added token: the native pipelines around the token against the ``tokenizers`` crate.

    python benches/added_tokens.py [--n 20000] [--threads 2] [--repeats 3] [--output benches/RESULTS-added-tokens.md]

Each of the N first Debian sentences gets the tokenizer's special token in its middle (``[SEP]`` for
bert-base-uncased, ``</s>`` for XLM-R, ``<|endoftext|>``, added as a special token, for the byte-level BPE), or
a word added with ``add_tokens`` (``normalized: true``: the crate matches and normalizes, the native
BertPreTokenizer and WordPiece run on the normalized pieces).
Engines: ``StaticModel.tokenize`` as it runs by default (the crate cuts the text at the token, the native
pipeline tokenizes the pieces) and with ``tokenizer_backend="tokenizers"`` (the crate's whole pipeline, as
every such text ran before), on T threads; best of ``--repeats`` after a warm-up. The ids are checked equal.
Memory: the peak resident memory added by tokenizing one 4 MB text of prose with a token every 2,500
characters, in a fresh process per engine (the crate's tokenizer parsed first).
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
from _common import cpu_model, load_sentences, publish, run_main
from native_tokenizers import best

MEMORY = """
import json, os, resource, sys, numpy as np
from staticemb import StaticModel
spec, rows, token, backend = json.loads(sys.stdin.read())
model = StaticModel(spec, np.zeros((rows, 1), np.float32), tokenizer_backend=backend)
model.tokenize(["warm " + token + " up"])
text = ("the quick brown fox jumps over the lazy dog, again and again. " * 40 + token + " ") * 1600
# The peak above the memory in use now (ru_maxrss alone would hide it under the parse's earlier peak).
resource_now = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets the peak (VmHWM) to the memory in use now
model.tokenize([text])
peak = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0] / 1024
print(peak - resource_now)
"""


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "benches" / "RESULTS-added-tokens.md")
    return parser.parse_args(argv)


def peak_mb(spec: str, rows: int, token: str, backend: str) -> float:
    done = subprocess.run([sys.executable, "-c", MEMORY], input=json.dumps([spec, rows, token, backend]),
                          capture_output=True, text=True, timeout=600, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def run(args) -> int:
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    import numpy as np
    from _common import bert_tokenizer
    from staticemb import StaticModel
    from tokenizers import AddedToken, Tokenizer

    from training.bytelevel_bpe import bytelevel_bpe_path
    from training.xlmr import xlmr_tokenizer_path

    bpe = Tokenizer.from_file(str(bytelevel_bpe_path()))
    bpe.add_special_tokens([AddedToken("<|endoftext|>", normalized=False)])
    bert_words = bert_tokenizer()
    bert_words.add_tokens(["staticemb"])  # normalized: true, as add_tokens makes a word
    pipelines = {
        "WordPiece (bert-base-uncased)": (bert_tokenizer().to_str(), "[SEP]"),
        "WordPiece, a `normalized: true` token": (bert_words.to_str(), "staticemb"),
        "Unigram (XLM-R, 250,002 pieces)": (xlmr_tokenizer_path().read_text("utf-8"), "</s>"),
        "byte-level BPE (GPT-2 style, 50,000)": (bpe.to_str(), "<|endoftext|>"),
    }
    sentences = load_sentences(args.n)
    t = args.threads
    lines = [
        "# Texts holding an added token: native around the token against the tokenizers crate",
        "",
        f"- date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- command: `{shlex.join(getattr(sys, 'orig_argv', [sys.executable, *sys.argv]))}`",
        f"- machine: {cpu_model()}, {os.cpu_count()} logical cores; {platform.platform()}",
        f"- {args.n:,} Debian sentences, each with the token in its middle; T={t} threads; best of {args.repeats}",
        "",
        "| tokenizer | token | native around it | crate (before) | speed-up | 4 MB text: peak memory native | crate |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, (spec, token) in pipelines.items():
        texts = [f"{s[:len(s) // 2]} {token} {s[len(s) // 2:]}" for s in sentences]
        ref = Tokenizer.from_str(spec)
        zeros = np.zeros((max(ref.get_vocab(with_added_tokens=True).values()) + 1, 1), np.float32)
        native = StaticModel(spec, zeros)
        crate = StaticModel(spec, zeros, tokenizer_backend="tokenizers")
        got, want = native.tokenize(texts), crate.tokenize(texts)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1]), name
        a = best(lambda x, m=native: m.tokenize(x, num_threads=t), texts, args.repeats)
        b = best(lambda x, m=crate: m.tokenize(x, num_threads=t), texts, args.repeats)
        mem_native, mem_crate = (peak_mb(spec, len(zeros), token, b) for b in ("auto", "tokenizers"))
        shown = token.replace("|", "\\|")  # a table cell's | must be escaped, in code too
        row = (f"| {name} ({native.tokenizer_backend}) | `{shown}` | {a:,.0f}/s | {b:,.0f}/s | {a / b:.1f}x | "
               f"+{mem_native:,.0f} MB | +{mem_crate:,.0f} MB |")
        print(row, flush=True)
        lines.append(row)
    publish("\n".join(lines) + "\n", args.output)
    return 0


def main(argv=None) -> int:
    return run_main(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
