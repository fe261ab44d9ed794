"""Train a GPT-2-style byte-level BPE tokenizer on Debian's package descriptions (all 14 languages).

    python -m training.bytelevel_bpe --out DIR [--vocab-size 50000]

The pipeline is GPT-2's and RoBERTa's: no normalizer, the ``ByteLevel`` pre-tokenizer with its built-in
pattern (``add_prefix_space`` off), BPE over the 256 byte characters. No byte-level BPE vocabulary of a
published model can be had offline here, so this one stands in for them in staticemb's tests and benchmarks of
its native byte-level BPE. :func:`bytelevel_bpe_path` trains once (about 20 s) into the data directory.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from staticemb._paths import data_dir

from .wordpiece_vocab import multilingual_texts


def train(vocab_size: int = 50_000, max_texts: int = 100_000):
    """The trained ``tokenizers.Tokenizer``."""
    from tokenizers import ByteLevelBPETokenizer

    tok = ByteLevelBPETokenizer()
    tok.train_from_iterator(multilingual_texts(max_texts=max_texts, split="train"), vocab_size=vocab_size,
                            min_frequency=2, show_progress=False)
    return tok


def bytelevel_bpe_path() -> Path:
    """``tokenizer.json`` of the byte-level BPE, trained once into the data directory."""
    out = data_dir() / "bytelevel-bpe"
    path = out / "tokenizer.json"
    if not path.is_file():
        out.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        train().save(str(tmp))
        tmp.replace(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--vocab-size", type=int, default=50_000)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    train(args.vocab_size).save(str(args.out / "tokenizer.json"))
    print(f"wrote {args.out / 'tokenizer.json'}")


if __name__ == "__main__":
    main()
