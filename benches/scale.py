"""Encoding at scale: one process against the engines, and ``staticemb encode`` on a multi-gigabyte file.

    python benches/scale.py [--sizes 1000000 3000000] [--engines plain ray-fused ray-actors spark dask daft]
        [--file-gb 2] [--output benches/RESULTS-scale.md]

Each run is a separate process tree (``--worker``), measured from outside while it runs: wall time, the
CPU-seconds of every process in the tree (sampled every 0.2 s; processes that exit count their last sample, and
the waited-for children's ``getrusage`` when it is larger), and the peak of the tree's summed RSS and PSS.
RSS counts a memory-mapped table once per process; PSS splits shared pages between the processes that map them,
so a PSS close to one table per machine shows the table is shared through the page cache.

The data: the model is the real bert-base-uncased tokenizer with a 30,522 x 1024 random float32 table
(benches/_common.py), encoded at ``dim=256``; the texts are the ~150,000 real Debian sentences
(``staticemb.corpora.debian_sentences``) cycled to 1M and 3M rows, each with an ``id``, in 8 Parquet files per
size. Every engine reads the Parquet files, encodes the ``text`` column and writes ``id`` + ``embedding`` as
Parquet; ``plain`` is ``staticemb encode`` (one process, every core). The fixed cost (start-up, model load) and
the per-row cost are fitted from the two sizes: per-row = (t(3M) - t(1M)) / 2M, fixed = t(1M) - 1M x per-row.

``--file-gb``: ``staticemb encode`` on a text file of at least that many GB (real Debian long descriptions, one
per line, cycled), ``--precision float16 --dim 256``, with its peak RSS: streaming keeps memory flat.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "benches"))

from _common import bert_tokenizer, cpu_model, publish, reference_table, run_main  # noqa: E402

ENGINES = ("plain", "ray-fused", "ray-actors", "spark", "dask", "daft")
DIM = 256
FILES_PER_SIZE = 8


def work_dir() -> Path:
    from staticemb._paths import data_dir

    path = data_dir() / "bench-scale"
    path.mkdir(parents=True, exist_ok=True)
    return path


def prepare_model() -> Path:
    from staticemb import StaticModel

    folder = work_dir() / "model-1024"
    if not (folder / "modules.json").exists():
        StaticModel(bert_tokenizer(), reference_table()).save(folder)
    return folder


def prepare_inputs(n: int) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from staticemb.corpora import debian_sentences

    folder = work_dir() / f"texts-{n}"
    if (folder / "_done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    sentences = debian_sentences()
    per = -(-n // FILES_PER_SIZE)
    for f in range(FILES_PER_SIZE):
        ids = list(range(f * per, min(n, (f + 1) * per)))
        pq.write_table(pa.table({"id": ids, "text": [sentences[i % len(sentences)] for i in ids]}),
                       folder / f"part-{f}.parquet")
    (folder / "_done").touch()
    return folder


def prepare_text_file(gb: float) -> Path:
    from staticemb.corpora import debian_descriptions

    path = work_dir() / f"descriptions-{gb:g}gb.txt"
    if path.exists() and path.stat().st_size >= gb * 1e9:
        return path
    lines = [" ".join(d.long.split()) for d in debian_descriptions("en") if d.long.strip()]
    block = ("\n".join(lines) + "\n").encode("utf-8")
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        while f.tell() < gb * 1e9:
            f.write(block)
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------------------------- measuring


def measure(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Run ``cmd`` and sample its process tree until it exits."""
    import psutil

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    root = psutil.Process(proc.pid)
    cpu: dict[tuple[int, float], float] = {}  # (pid, start time) -> last seen CPU-seconds
    peak = {"rss": 0.0, "pss": 0.0}
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(proc.stdout or []), daemon=True)
    reader.start()
    while proc.poll() is None:
        rss = pss = 0.0
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            tree = []
        for p in tree:
            try:
                with p.oneshot():
                    times = p.cpu_times()
                    cpu[(p.pid, p.create_time())] = times.user + times.system
                    mem = p.memory_full_info()
                rss += mem.rss
                pss += getattr(mem, "pss", mem.rss)
            except psutil.Error:
                continue
        peak["rss"], peak["pss"] = max(peak["rss"], rss), max(peak["pss"], pss)
        time.sleep(0.2)
    wall = time.perf_counter() - t0
    reader.join(timeout=5)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    reaped = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"{shlex.join(cmd)} failed ({proc.returncode}):\n{''.join(output)[-4000:]}")
    return {"wall": wall, "cpu": max(sum(cpu.values()), reaped), "rss": peak["rss"] / 2**30,
            "pss": peak["pss"] / 2**30}


# ---------------------------------------------------------------------------------------------- workers


def worker(engine: str, model: str, inputs: str, output: str) -> None:
    """One engine run: read ``inputs`` (Parquet), encode ``text`` at DIM, write ``id`` + ``embedding``. The Dask
    and Daft runs are the README's recipes."""
    import numpy as np

    files = sorted(str(p) for p in Path(inputs).glob("*.parquet"))
    if engine == "plain":
        from staticemb.bulk import encode_files

        encode_files(model, files, output, keep=["id"], dim=DIM, progress=False)
    elif engine in ("ray-fused", "ray-actors"):
        import ray
        from staticemb.integrations.ray import embed_dataset

        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        out = embed_dataset(ray.data.read_parquet(files), model, dim=DIM, actors=engine == "ray-actors")
        out.select_columns(["id", "embedding"]).write_parquet(output)
        ray.shutdown()
    elif engine == "spark":
        from pyspark.sql import SparkSession
        from staticemb.integrations.spark import embed_dataframe

        spark = (SparkSession.builder.master(f"local[{os.cpu_count()}]").config("spark.driver.memory", "4g")
                 .config("spark.ui.enabled", "false").getOrCreate())
        embed_dataframe(spark.read.parquet(*files), model, dim=DIM, keep=["id"]).write.parquet(output)
        spark.stop()
    elif engine == "dask":
        import dask
        import dask.dataframe as dd
        import pandas as pd
        import pyarrow as pa
        import pyarrow.parquet as pq
        from staticemb.integrations import get_model

        def embed_partition(part: pd.DataFrame, partition_info: dict | None = None) -> pd.DataFrame:
            # Each partition writes its own Parquet file (Dask's to_parquet cannot infer a vector column).
            vectors = get_model(model).encode(part["text"].tolist(), dim=DIM, num_threads=1)
            embedding = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), DIM)
            number = (partition_info or {}).get("number", 0)
            pq.write_table(pa.table({"id": part["id"].to_numpy(), "embedding": embedding}),
                           f"{output}/part-{number:05d}.parquet")
            return pd.DataFrame({"rows": [len(part)]})

        Path(output).mkdir(parents=True)
        ddf = dd.read_parquet(files).repartition(npartitions=4 * (os.cpu_count() or 1))
        with dask.config.set(scheduler="threads"):
            ddf.map_partitions(embed_partition, meta={"rows": "int64"}).compute()
    elif engine == "daft":
        import daft
        from daft import DataType
        from staticemb.integrations import get_model

        @daft.func.batch(return_dtype=DataType.embedding(DataType.float32(), DIM))
        def embed(texts: daft.Series) -> np.ndarray:
            return get_model(model).encode(texts.to_pylist(), dim=DIM, num_threads=1)

        df = daft.read_parquet(files)
        df.with_column("embedding", embed(df["text"])).select("id", "embedding").write_parquet(output)
    else:
        raise SystemExit(f"unknown engine {engine}")


# ---------------------------------------------------------------------------------------------- report


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=int, default=[1_000_000, 3_000_000])
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--file-gb", type=float, default=2.0, help="0 skips the staticemb encode file run")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "benches" / "RESULTS-scale.md")
    parser.add_argument("--worker", nargs=4, metavar=("ENGINE", "MODEL", "INPUTS", "OUTPUT"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    if args.worker:
        worker(*args.worker)
        return 0
    import numpy as np

    model = str(prepare_model())
    rows, results = [], {}
    for n in sorted(args.sizes):
        inputs = prepare_inputs(n)
        for engine in args.engines:
            out = work_dir() / f"out-{engine}-{n}"
            shutil.rmtree(out, ignore_errors=True)
            print(f"{engine} x {n:,} ...", file=sys.stderr, flush=True)
            env = {"PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
            m = measure([sys.executable, __file__, "--worker", engine, model, str(inputs), str(out)], env)
            results[(engine, n)] = m
            shutil.rmtree(out, ignore_errors=True)
            rows.append(f"| {engine} | {n:,} | {m['wall']:.1f} | {n / m['wall']:,.0f} | {m['cpu']:.1f} | "
                        f"{m['rss']:.2f} | {m['pss']:.2f} |")
            print(rows[-1], file=sys.stderr, flush=True)
    fits = []
    if len(args.sizes) >= 2:
        small, big = sorted(args.sizes)[0], sorted(args.sizes)[-1]
        for engine in args.engines:
            a, b = results[(engine, small)]["wall"], results[(engine, big)]["wall"]
            per_row = (b - a) / (big - small)
            fits.append(f"| {engine} | {max(0.0, a - small * per_row):.1f} | {per_row * 1e6:.2f} | "
                        f"{1 / per_row if per_row > 0 else float('inf'):,.0f} |")
    file_rows = []
    if args.file_gb > 0:
        path = prepare_text_file(args.file_gb)
        with open(path, "rb") as f:
            lines = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 24), b""))
        out = work_dir() / "out-file"
        shutil.rmtree(out, ignore_errors=True)
        print(f"staticemb encode on {path.stat().st_size / 1e9:.2f} GB ...", file=sys.stderr, flush=True)
        cmd = [str(Path(sys.executable).with_name("staticemb")), "encode", model, str(path), "-o", str(out),
               "--dim", str(DIM), "--precision", "float16", "-q"]
        m = measure(cmd)
        written = sum(p.stat().st_size for p in out.glob("*.parquet")) / 1e9
        shutil.rmtree(out, ignore_errors=True)
        file_rows.append(f"| {path.stat().st_size / 1e9:.2f} GB, {lines:,} lines | {m['wall']:.1f} | "
                         f"{lines / m['wall']:,.0f} | {path.stat().st_size / 1e6 / m['wall']:,.1f} | "
                         f"{m['cpu']:.1f} | {m['rss']:.2f} | {written:.2f} GB |")
    report = [
        "# Encoding at scale: one process against the engines",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `{shlex.join([Path(sys.executable).name, *sys.argv])}`",
        f"- machine: {cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"NumPy {np.__version__}; engines in local mode on this one machine",
        f"- model: bert-base-uncased tokenizer, 30,522 x 1024 float32 table (memory-mapped), encoded at dim {DIM}",
        "- texts: real Debian sentences cycled to each size, 8 Parquet files with `id` and `text`; output `id` +"
        " `embedding` Parquet",
        "",
        "| engine | texts | wall s | texts/s | CPU-s (process tree) | peak RSS, summed (GiB) | peak PSS (GiB) |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
    ]
    if fits:
        report += ["Fixed and per-row cost, fitted from the two sizes:", "",
                   "| engine | fixed s | per-row µs | marginal texts/s |", "|---|---:|---:|---:|", *fits, ""]
    if file_rows:
        report += ["`staticemb encode` on one large text file (`--precision float16 --dim 256`):", "",
                   "| input | wall s | texts/s | MB/s | CPU-s | peak RSS (GiB) | output |",
                   "|---|---:|---:|---:|---:|---:|---:|", *file_rows, ""]
    publish("\n".join(report), args.output)
    print(json.dumps({f"{k[0]}@{k[1]}": v for k, v in results.items()}), file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(parse_args, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
