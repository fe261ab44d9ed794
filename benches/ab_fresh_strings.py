"""One side of an A/B comparison of two staticemb builds on texts encoded once: each timed call gets fresh str
objects, as a real corpus does (``ab_encode.py`` times the same strings seven times, which hides what a build
does with a string the first time it reads it).

    PYTHONPATH=<package dir of build A> python benches/ab_fresh_strings.py en|ml
    PYTHONPATH=<package dir of build B> python benches/ab_fresh_strings.py en|ml

The random 30,522 x 1024 table with the bert-base-uncased tokenizer (native WordPiece), one thread; ``en`` = the
first 50,000 Debian sentences, ``ml`` = 50,000 translated Debian summaries in 13 languages. Prints encode and
tokenize texts/s, best of 7 each. Run the sides alternately, several times.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    from _common import bert_tokenizer, load_sentences
    from compare_peers import multilingual_summaries
    from staticemb import StaticModel

    which = sys.argv[1] if len(sys.argv) > 1 else "en"
    texts = load_sentences(50_000) if which == "en" else multilingual_summaries(50_000)
    tok = bert_tokenizer()
    model = StaticModel(tok, np.zeros((tok.get_vocab_size(), 1024), np.float32))
    encode, tokenize = [], []
    for _ in range(7):
        fresh = [t.encode().decode() for t in texts]  # new str objects, their UTF-8 never read
        start = time.perf_counter()
        model.encode(fresh, num_threads=1)
        encode.append(time.perf_counter() - start)
        fresh = [t.encode().decode() for t in texts]
        start = time.perf_counter()
        model.tokenize(fresh, num_threads=1)
        tokenize.append(time.perf_counter() - start)
    print(f"{which}: fresh strings encode {len(texts) / min(encode):,.0f}/s tokenize {len(texts) / min(tokenize):,.0f}/s")


if __name__ == "__main__":
    main()
