"""Differential run: staticemb's native tokenizers against Hugging Face ``tokenizers``, id for id, on a million
real texts or more per pipeline.

    python benches/differential.py [--min-texts 1000000] [--pipelines wordpiece,unigram,bpe] \
        [--output benches/RESULTS-differential.md]

Pipelines: the native WordPiece on bert-base-uncased (the tokenizer of static-retrieval-mrl-en-v1), the
native Unigram on XLM-R (250,002 pieces, SentencePiece's nmt_nfkc charsmap, Metaspace), with and without byte
fallback (``training.xlmr``), and the native byte-level BPE on a GPT-2-style vocabulary trained on Debian's
descriptions (``training.bytelevel_bpe``). Texts: every Debian package description in English and the 13 translations the
project reads (short and long, whole), each long description's lines, then the same texts upper-cased, title-cased
and joined in pairs, until ``--min-texts``. Each pipeline's ids (``StaticModel.tokenize``) are compared with
``Tokenizer.encode_batch_fast(add_special_tokens=False)``; the first mismatches are printed and the run fails.
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
from _common import bert_tokenizer, cpu_model, publish, run_main

CHUNK = 20_000
PIPELINES = ("wordpiece", "unigram", "bpe")


def corpus(min_texts: int) -> list[str]:
    from staticemb.corpora import TRANSLATION_LANGS, debian_descriptions

    base: list[str] = []
    lines: list[str] = []
    for lang in ("en",) + TRANSLATION_LANGS:
        for d in debian_descriptions(lang):
            base += [t for t in (d.short, d.long) if t]
            lines += [ln for ln in d.long.split("\n") if ln.strip()]
    texts = base + lines
    variants = (str.upper, str.title, lambda t: t)
    k = 0
    while len(texts) < min_texts:
        variant = variants[k % len(variants)]
        if k % len(variants) == 2:
            texts += [a + " " + b for a, b in zip(base[k::7], base[k + 1 :: 7], strict=False)]
        else:
            texts += [variant(t) for t in base]
        k += 1
    return texts


def compare(name: str, model, tokenizer, texts: list[str]) -> dict:
    import numpy as np
    from tqdm.auto import tqdm

    mismatches = 0
    examples: list[str] = []
    chars = tokens = 0
    start = time.perf_counter()
    for i in tqdm(range(0, len(texts), CHUNK), desc=name, unit="chunk"):
        chunk = texts[i : i + CHUNK]
        ids, offsets = model.tokenize(chunk)
        ends = np.append(offsets[1:], len(ids))
        refs = tokenizer.encode_batch_fast(chunk, add_special_tokens=False)
        for j, ref in enumerate(refs):
            ours = ids[offsets[j] : ends[j]]
            if len(ours) != len(ref.ids) or not np.array_equal(ours, ref.ids):
                mismatches += 1
                if len(examples) < 5:
                    examples.append(repr(chunk[j][:120]))
        chars += sum(map(len, chunk))
        tokens += len(ids)
    return {"pipeline": name, "backend": model.tokenizer_backend, "texts": len(texts), "chars": chars,
            "tokens": tokens, "mismatches": mismatches, "examples": examples,
            "seconds": time.perf_counter() - start}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min-texts", type=int, default=1_000_000)
    parser.add_argument("--pipelines", default=",".join(PIPELINES),
                        help=f"comma-separated subset of {', '.join(PIPELINES)} (default: all)")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "benches" / "RESULTS-differential.md")
    return parser.parse_args(argv)


def run(args) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    import numpy as np
    from staticemb import StaticModel
    from tokenizers import Tokenizer

    from training.bytelevel_bpe import bytelevel_bpe_path
    from training.xlmr import xlmr_tokenizer_path

    chosen = [p.strip() for p in args.pipelines.split(",") if p.strip()]
    unknown = sorted(set(chosen) - set(PIPELINES))
    if unknown or not chosen:
        raise SystemExit(f"--pipelines takes a comma-separated subset of {', '.join(PIPELINES)}; got {args.pipelines!r}")
    texts = corpus(args.min_texts)
    print(f"{len(texts):,} texts")
    rows = []
    if "wordpiece" in chosen:
        bert = bert_tokenizer()
        rows.append(compare("WordPiece, bert-base-uncased", StaticModel(bert, np.zeros((bert.get_vocab_size(), 1),
                            np.float32)), bert, texts))
    for fallback in (False, True) if "unigram" in chosen else ():
        path = xlmr_tokenizer_path(byte_fallback=fallback)
        tok = Tokenizer.from_file(str(path))
        model = StaticModel(path.read_bytes(), np.zeros((tok.get_vocab_size(), 1), np.float32))
        name = "Unigram, XLM-R" + (" + byte fallback" if fallback else "")
        rows.append(compare(name, model, tok, texts))
    if "bpe" in chosen:
        path = bytelevel_bpe_path()
        tok = Tokenizer.from_file(str(path))
        model = StaticModel(path.read_bytes(), np.zeros((tok.get_vocab_size(), 1), np.float32))
        rows.append(compare("byte-level BPE, GPT-2 style (50,000)", model, tok, texts))
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    lines = [
        "# Native tokenizers against Hugging Face tokenizers: a differential run",
        "",
        f"- date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- command: `{command}`",
        f"- machine: {cpu_model()}, {os.cpu_count()} logical cores; {platform.platform()}",
        "- texts: every Debian description (14 languages, short and long), each long description's lines, "
        "then upper-cased, title-cased and pairwise-joined copies",
        "",
        "| pipeline | staticemb backend | texts | characters | tokens | mismatches | seconds |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['pipeline']} | {r['backend']} | {r['texts']:,} | {r['chars']:,} | {r['tokens']:,} | "
                     f"{r['mismatches']} | {r['seconds']:.0f} |")
    bad = [r for r in rows if r["mismatches"]]
    for r in bad:
        lines += ["", f"First mismatches of {r['pipeline']}: " + ", ".join(r["examples"])]
    publish("\n".join(lines) + "\n", args.output)
    return 1 if bad else 0


def main(argv=None) -> int:
    return run_main(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
