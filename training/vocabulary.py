"""A larger vocabulary under leave-one-source-out: bert-base-uncased plus the fold's most frequent whole words.

    python -m training.vocabulary [--sources pydoc debian] [--words 20000] [--min-count 5] \
        [--output training/RESULTS-vocabulary.md] [--refresh]

BM25 keeps a word whole; the static model sees ``getattr`` or ``libfoo`` as a few common pieces, each shared with
many unrelated words, and its mean loses the word's identity. This experiment gives the model the whole words:
for each held-out source, the words of the fold's own training texts (its regression texts and the texts of its
pair sets, never a text of the held-out source) that bert-base-uncased splits into pieces are counted after the
tokenizer's own normalization and pre-tokenization; the ``--words`` most frequent ones seen at least
``--min-count`` times become new WordPiece entries (ids from 30,522 up; greedy longest match then takes a whole
word before its pieces). A new word's row starts as the mean of its pieces' rows in the MiniLM distillation, so
the extended table starts where the plain one stands; then the fold trains both stages of the recipe
(``training.loso.train_fold``) from it into ``<data>/models/loso/<source>/model-vocab`` and is scored on the
held-out source beside the plain fold.

Speed is reported too: tokens per text and encode throughput of the two fold models on the held-out source's
test documents (one run, 2 threads; the extended vocabulary makes texts shorter and the table taller).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import datasets as D
from . import loso
from .report import hardware

WORDS = 20_000
MIN_COUNT = 5
VARIANT = "-vocab"


def fold_texts(fold: Path) -> list[str]:
    """The distinct texts a fold trains on: its regression texts (``unlabeled.jsonl``) and the anchors and
    positives of its pair sets (``fold.json``); none is a text of the held-out source."""
    with open(fold / "unlabeled.jsonl", encoding="utf-8") as f:
        texts = dict.fromkeys(json.loads(line)["text"] for line in f)
    texts.update(dict.fromkeys(loso.pair_texts(json.loads((fold / "fold.json").read_text())["pair_sets"])))
    return list(texts)


def frequent_words(tokenizer_json: str | bytes, texts: Iterable[str], *, words: int = WORDS,
                   min_count: int = MIN_COUNT) -> list[tuple[str, int]]:
    """The ``words`` most frequent words of ``texts`` (as the tokenizer's normalizer and pre-tokenizer cut them)
    that are not vocabulary entries and occur at least ``min_count`` times, most frequent first (ties by word)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(_text(tokenizer_json))
    vocab = tok.get_vocab(with_added_tokens=True)
    limit = getattr(tok.model, "max_input_chars_per_word", 100)
    counts: Counter[str] = Counter()
    for text in texts:
        norm = tok.normalizer.normalize_str(text) if tok.normalizer else text
        counts.update(w for w, _ in tok.pre_tokenizer.pre_tokenize_str(norm))
    kept = [(w, c) for w, c in counts.items()
            if c >= min_count and w not in vocab and len(w) <= limit and any(ch.isalnum() for ch in w)]
    kept.sort(key=lambda wc: (-wc[1], wc[0]))
    return kept[:words]


def extend_tokenizer(tokenizer_json: str | bytes, new_words: Sequence[str]) -> str:
    """``tokenizer_json`` with ``new_words`` appended to its WordPiece vocabulary (ids ``len(vocab)`` up)."""
    data = json.loads(_text(tokenizer_json))
    if data["model"]["type"] != "WordPiece":
        raise ValueError(f"a WordPiece tokenizer is needed, not {data['model']['type']}")
    vocab: dict[str, int] = data["model"]["vocab"]
    start = len(vocab)
    ids = [*vocab.values(), *(t["id"] for t in data.get("added_tokens", []))]
    if sorted(vocab.values()) != list(range(start)) or max(ids) >= start:
        raise ValueError("the vocabulary's ids must be 0..n-1 with every added token among them")
    for i, word in enumerate(dict.fromkeys(new_words)):
        if word in vocab:
            raise ValueError(f"{word!r} is already in the vocabulary")
        vocab[word] = start + i
    return json.dumps(data, ensure_ascii=False)


def extended_init(base: Any, new_words: Sequence[str], out: Path) -> Any:
    """A model of ``base``'s tokenizer extended by ``new_words`` whose new rows are the mean of their pieces'
    rows in ``base`` (the plain pooled vector of the word), saved to ``out``."""
    from staticemb import StaticModel

    tokenizer_json = base.__getstate__()["tokenizer"]
    rows = base.encode(list(new_words), normalize=False, dim=base.full_dim)
    table = np.vstack([base.dequantized(), rows]).astype(np.float32)
    model = StaticModel(extend_tokenizer(tokenizer_json, new_words), table, normalize=base.normalize)
    model.save(out)
    return model


def _text(tokenizer_json: str | bytes) -> str:
    return tokenizer_json.decode("utf-8") if isinstance(tokenizer_json, bytes) else tokenizer_json


def speed(models: Sequence[Any], docs: list[str], n: int = 20_000, repeats: int = 5) -> list[tuple[float, float]]:
    """For each model: mean tokens per text of ``docs`` and its best encode throughput (texts/s, 2 threads, full
    width) over ``repeats`` rounds on ``docs`` repeated to ``n`` texts, the models taking turns in each round."""
    texts = (docs * (n // max(len(docs), 1) + 1))[:n]
    tokens = [len(m.tokenize(docs)[0]) / len(docs) for m in models]
    best = [float("inf")] * len(models)
    for m in models:
        m.encode(texts[:500], num_threads=2)
    for _ in range(repeats):
        for i, m in enumerate(models):
            start = time.perf_counter()
            m.encode(texts, num_threads=2)
            best[i] = min(best[i], time.perf_counter() - start)
    return [(t, len(texts) / b) for t, b in zip(tokens, best, strict=True)]


def render(rows: list[dict[str, Any]], *, command: str, seconds: float, words: int, min_count: int) -> str:
    def pct(x: float) -> str:
        return f"{100 * x:.1f}"

    lines = [
        "# A larger vocabulary on held-out sources (English)",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{command}` ({seconds / 60:.0f} min)",
        f"- machine: {hardware()}",
        f"- vocabulary: bert-base-uncased + the {words:,} most frequent words (seen at least {min_count} times) of "
        "the fold's own training texts that are not vocabulary entries; new rows start as the mean of their "
        "pieces' rows; then the fold's two training stages",
        "- NDCG@10 (%) on the held-out source's test split; speed: the held-out test documents, 2 threads, 1024-d",
        "",
        "| held-out source | words added | plain 1024-d | +words 1024-d | plain 256-d | +words 256-d | "
        "BM25 (stemmed) | tokens/text plain → +words | texts/s plain → +words |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['source']} | {r['words']:,} | {pct(r['plain']['1024'])} | {pct(r['vocab']['1024'])} "
            f"({100 * (r['vocab']['1024'] - r['plain']['1024']):+.1f}) | {pct(r['plain']['256'])} | "
            f"{pct(r['vocab']['256'])} ({100 * (r['vocab']['256'] - r['plain']['256']):+.1f}) | {pct(r['stem'])} | "
            f"{r['tokens'][0]:.1f} → {r['tokens'][1]:.1f} | {r['speed'][0]:,.0f} → {r['speed'][1]:,.0f} |"
        )
    if rows:
        better = sum(r["vocab"]["1024"] > r["plain"]["1024"] for r in rows)
        mean = sum(r["vocab"]["1024"] - r["plain"]["1024"] for r in rows) / len(rows)
        lines += [
            "",
            f"The added words score better on {better} of {len(rows)} held-out sources (mean {100 * mean:+.1f} "
            "NDCG@10 points at 1024-d), so the recipe keeps bert-base-uncased's vocabulary"
            + (" for now." if better < len(rows) else " until more folds confirm the gain.")
            + " Texts get shorter (fewer tokens each) and the table taller; the throughput column (best of 5 "
            "alternating rounds over the test documents repeated to 20,000 texts) is one run on a shared VM.",
        ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", nargs="+", choices=list(loso.SOURCES), default=["pydoc", "debian"])
    parser.add_argument("--words", type=int, default=WORDS)
    parser.add_argument("--min-count", type=int, default=MIN_COUNT)
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "RESULTS-vocabulary.md")
    parser.add_argument("--refresh", action="store_true", help="rebuild the vocabulary and retrain")
    args = parser.parse_args(argv)
    from staticemb import StaticModel
    from staticemb.tasks import load_task

    started = time.perf_counter()
    src, models, cache, teacher = loso.prepare()
    rows = []
    try:
        for source in args.sources:
            task = loso.SOURCES[source][1]
            plain = loso.train_fold(source, models=models, src=src, teacher=teacher, refresh=False)
            fold = loso.fold_dir(models, source)
            init = fold / f"init{VARIANT}"
            if args.refresh or not (init / "modules.json").exists():
                base = StaticModel.from_pretrained(loso.distilled(models, teacher), normalize=False)
                texts = fold_texts(fold)
                print(f"{source}: counting the words of {len(texts):,} training texts ...", flush=True)
                new = frequent_words(base.__getstate__()["tokenizer"], texts, words=args.words,
                                     min_count=args.min_count)
                extended_init(base, [w for w, _ in new], init)
                (fold / "vocab-words.json").write_text(json.dumps(new, ensure_ascii=False, indent=0))
            added = len(json.loads((fold / "vocab-words.json").read_text()))
            vocab = loso.train_fold(source, models=models, src=src, teacher=teacher, refresh=args.refresh,
                                    init=init, variant=VARIANT)
            docs = list(load_task(D.task_path(task, "test"))["corpus"])
            row: dict[str, Any] = {
                "source": source, "words": added,
                "plain": loso.score(str(plain), f"loso-{source}", task, loso.DIMS, None),
                "vocab": loso.score(str(vocab), f"loso-{source}-vocab", task, loso.DIMS, None),
                "stem": loso.baseline("BM25 (stemmed)", task, cache),
            }
            measured = speed([StaticModel.from_pretrained(m) for m in (plain, vocab)], docs)
            row["tokens"] = tuple(m[0] for m in measured)
            row["speed"] = tuple(m[1] for m in measured)
            rows.append(row)
            print(render(rows, command="", seconds=0, words=args.words, min_count=args.min_count).splitlines()[-1],
                  flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted; finished folds are kept and reused", file=sys.stderr)
        return 130
    command = "python -m training.vocabulary"
    if args.sources != ["pydoc", "debian"]:
        command += " --sources " + " ".join(args.sources)
    if args.words != WORDS:
        command += f" --words {args.words}"
    if args.min_count != MIN_COUNT:
        command += f" --min-count {args.min_count}"
    report = render(rows, command=command, seconds=time.perf_counter() - started, words=args.words,
                    min_count=args.min_count)
    trained = [loso.fold_dir(models, s) / f"fold{VARIANT}.json" for s in args.sources]
    minutes = sum(json.loads(f.read_text())["seconds"] for f in trained if f.exists()) / 60
    report = report.replace(" min)\n", f" min; training the folds with the added words took {minutes:.0f} min)\n", 1)
    args.output.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
