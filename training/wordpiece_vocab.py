"""Train a multilingual, uncased BERT-style WordPiece tokenizer on Debian's package descriptions.

    python -m training.wordpiece_vocab --out DIR [--vocab-size 30000] [--max-texts 200000] [--split train|all]

writes ``DIR/tokenizer.json`` (about 25 s on 2 cores). The texts are the English descriptions and every
translation in :data:`staticemb.corpora.TRANSLATION_LANGS` (short and long descriptions), interleaved language
by language so that a subsample keeps every language (the small ones entirely at the default size), each
language's texts in a fixed pseudo-random order. The pipeline is bert-base-uncased's:
``BertNormalizer(lowercase=True)`` (accents stripped, Chinese characters split), ``BertPreTokenizer``,
``WordPiece`` with ``##`` continuations and ``[UNK]``, special tokens ``[PAD] [UNK] [CLS] [SEP] [MASK]``
(ids 0-4), so staticemb runs it with its native WordPiece. No post-processor: staticemb encodes without
special tokens.

The same texts, vocabulary size and ``tokenizers`` version give the same ``tokenizer.json``.
"""

from __future__ import annotations

import argparse
import itertools
import random
import time
from pathlib import Path

from staticemb.corpora import TRANSLATION_LANGS, debian_descriptions

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def multilingual_texts(max_texts: int | None = None, seed: int = 0, split: str | None = None) -> list[str]:
    """Short and long Debian descriptions in English and every translation language, interleaved round-robin
    across languages (each language's texts shuffled with ``seed``), at most ``max_texts``. ``split="train"``
    keeps only the training split of :mod:`training.datasets` (what a tokenizer for a model evaluated on the
    held-out splits must be trained on)."""
    from .datasets import debian_split

    per_lang = []
    for lang in ("en",) + TRANSLATION_LANGS:
        texts = [t for d in debian_descriptions(lang) if split is None or debian_split(d.md5) == split
                 for t in (d.short, d.long) if t]
        random.Random(f"{seed}-{lang}").shuffle(texts)
        per_lang.append(texts)
    mixed = (t for group in itertools.zip_longest(*per_lang) for t in group if t is not None)
    return list(itertools.islice(mixed, max_texts))


def _continuation_pieces(texts: list[str], normalizer, pre_tokenizer) -> list[str]:
    """``##c`` for every character ``c`` of the normalized texts that can continue a word (not white space,
    punctuation or a CJK ideograph, which the pipeline always splits off), sorted by code point."""
    raw = set().union(*map(set, texts))  # the normalizer works character by character
    chars = set().union(*(normalizer.normalize_str(c) for c in raw))
    pieces = []
    for c in sorted(chars):
        words = [w for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str("a" + c))]
        if words == ["a" + c]:
            pieces.append("##" + c)
    return pieces


def _bert_pipeline(tokenizer):
    from tokenizers import normalizers, pre_tokenizers

    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tokenizer


def train_multilingual_wordpiece(vocab_size: int = 30_000, max_texts: int | None = 200_000, seed: int = 0,
                                 split: str | None = None):
    """A ``tokenizers.Tokenizer`` (uncased BERT WordPiece) trained on :func:`multilingual_texts`.

    ``tokenizers``' trainer numbers the ``##c`` pieces in hash-map order, so ties between equally frequent
    merges break differently from run to run. Passing every ``##c`` to the trainer as a special token fixes
    their ids (and so the result); the returned tokenizer is then rebuilt from the trained vocabulary with
    only the five real special tokens."""
    from tokenizers import Tokenizer, models, trainers

    texts = multilingual_texts(max_texts, seed, split)
    scratch = _bert_pipeline(Tokenizer(models.WordPiece(unk_token="[UNK]")))
    pinned = _continuation_pieces(texts, scratch.normalizer, scratch.pre_tokenizer)
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS + pinned, show_progress=False
    )
    scratch.train_from_iterator(texts, trainer=trainer, length=len(texts))
    vocab = scratch.get_vocab(with_added_tokens=False)
    tokenizer = _bert_pipeline(Tokenizer(models.WordPiece(vocab, unk_token="[UNK]")))
    tokenizer.add_special_tokens(SPECIAL_TOKENS)
    return tokenizer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for tokenizer.json")
    parser.add_argument("--vocab-size", type=int, default=30_000)
    parser.add_argument("--max-texts", type=int, default=200_000, help="subsample size (0: every text)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", choices=("train", "all"), default="train",
                        help="train: only the training split of training.datasets (default); all: every text")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    split = None if args.split == "all" else args.split
    tokenizer = train_multilingual_wordpiece(args.vocab_size, args.max_texts or None, args.seed, split)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "tokenizer.json"
    tokenizer.save(str(path))
    print(f"{path}: {tokenizer.get_vocab_size()} tokens in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
