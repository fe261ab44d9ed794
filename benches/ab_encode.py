"""One side of an A/B comparison of two staticemb builds: encode and tokenize speed on a chosen number of threads.

    PYTHONPATH=<package dir of build A> python benches/ab_encode.py en|ml [threads]
    PYTHONPATH=<package dir of build B> python benches/ab_encode.py en|ml [threads]

Run the two sides alternately, several times (this VM's speed drifts by tens of percent within minutes), and
compare the best of each side. The model is the random 30,522 x 1024 table with the bert-base-uncased tokenizer
(native WordPiece); ``en`` = the first 50,000 Debian sentences, ``ml`` = 50,000 translated Debian summaries in
13 languages; ``xlmr`` = those summaries with XLM-R's SentencePiece Unigram tokenizer (native) instead. Prints
encode and tokenize texts/s, best of 7 each, on ``threads`` threads (default 1).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    import staticemb
    from _common import bert_tokenizer, load_sentences, reference_table
    from compare_peers import multilingual_summaries
    from staticemb import StaticModel

    which = sys.argv[1] if len(sys.argv) > 1 else "en"
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    texts = load_sentences(50_000) if which == "en" else multilingual_summaries(50_000)
    if which == "xlmr":  # XLM-R's SentencePiece Unigram (native), with a zero table: its normalizer's speed
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for training.xlmr
        from tokenizers import Tokenizer

        from training.xlmr import xlmr_tokenizer_path

        path = xlmr_tokenizer_path()
        size = Tokenizer.from_file(str(path)).get_vocab_size()
        model = StaticModel(path.read_bytes(), np.zeros((size, 8), np.float32))
    else:
        model = StaticModel(bert_tokenizer(), reference_table())
    model.encode(texts[:2000])
    encode = tokenize = float("inf")
    for _ in range(7):
        start = time.perf_counter()
        model.encode(texts, num_threads=threads)
        encode = min(encode, time.perf_counter() - start)
        start = time.perf_counter()
        model.tokenize(texts, num_threads=threads)
        tokenize = min(tokenize, time.perf_counter() - start)
    where = os.path.dirname(staticemb.__file__)
    print(f"{where} {which} T={threads}: encode {len(texts) / encode:,.0f}/s tokenize {len(texts) / tokenize:,.0f}/s")


if __name__ == "__main__":
    main()
