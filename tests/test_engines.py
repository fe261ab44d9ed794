"""staticemb inside distributed engines, each run for real in local mode on a real corpus: Ray Data (the fused
task function and the actor class, :mod:`staticemb.integrations.ray`), Spark (``mapInArrow`` with binary and
``array<float>`` output, :mod:`staticemb.integrations.spark`), and the README's Dask and Daft recipes (on
:func:`staticemb.integrations._worker.get_model`).

Every run encodes the whole corpus (over 100,000 real texts: Debian's English sentences and ``real_texts``,
its edge cases included) carrying an ``id`` column, and every vector that comes back, matched by ``id``, must be
bit-identical to a single-process ``model.encode`` of the same texts. The model is bert-base-uncased's tokenizer
with a random 30,522 x 256 float32 table, saved to a folder that the workers load by path (memory-mapped).

Each engine starts once per module on 2 CPUs (Ray: a local cluster of ``num_cpus=2``; Spark: ``local[2]``) and
is shut down at the end. An engine run that hangs (the trap of an actor pool that takes every CPU) fails after
``DEADLINE`` seconds instead of blocking the suite.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from staticemb import StaticModel
from staticemb.integrations._worker import get_model, worker_threads

pytestmark = pytest.mark.reference

DIM = 256
SMALL = 64
"""The width the README's Dask-array and Daft recipes encode at, below the model's (their ``dim=``)."""
DEADLINE = 240
"""Seconds one engine run may take before the test fails (a few times what it takes on 2 busy cores)."""


@contextlib.contextmanager
def deadline(seconds: int = DEADLINE) -> Iterator[None]:
    """Fail with ``TimeoutError`` after ``seconds`` (SIGALRM: the engines wait in Python loops or socket reads)."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the engine run took over {seconds} s: it hangs")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# ---------------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def texts(real_texts: list[str]) -> list[str]:
    """Over 100,000 distinct real texts: every Debian English sentence, then ``real_texts`` (descriptions,
    whole multi-paragraph descriptions and the edge cases)."""
    from staticemb.corpora import debian_sentences

    out = list(dict.fromkeys(debian_sentences() + real_texts))
    assert len(out) >= 100_000
    return out


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, bert_tokenizer: Any) -> Path:
    """bert-base-uncased's tokenizer and a random 30,522 x 256 float32 table, saved as a folder."""
    table = np.random.default_rng(7).standard_normal((bert_tokenizer.get_vocab_size(), DIM), dtype=np.float32)
    path = tmp_path_factory.mktemp("engines") / "model"
    StaticModel(bert_tokenizer, table * np.float32(0.1)).save(path)
    return path


@pytest.fixture(scope="module")
def reference(model_dir: Path, texts: list[str]) -> np.ndarray:
    """The single-process vectors, row ``i`` for ``texts[i]``."""
    vectors = StaticModel.from_pretrained(model_dir).encode(texts)
    assert vectors.shape == (len(texts), DIM) and vectors.dtype == np.float32
    return vectors


@pytest.fixture(scope="module")
def reference_small(model_dir: Path, texts: list[str]) -> np.ndarray:
    """The single-process vectors at ``SMALL`` columns."""
    return StaticModel.from_pretrained(model_dir).encode(texts, dim=SMALL)


@pytest.fixture(scope="module")
def parquet(tmp_path_factory: pytest.TempPathFactory, texts: list[str]) -> Path:
    """``id`` (int64, 0 …) and ``text`` in one Parquet file of 16,384-row row groups."""
    path = tmp_path_factory.mktemp("engines") / "texts.parquet"
    pq.write_table(
        pa.table({"id": np.arange(len(texts), dtype=np.int64), "text": texts}), path, row_group_size=16_384
    )
    return path


def assert_same_by_id(ids: Any, vectors: Any, reference: np.ndarray) -> None:
    """Every id of ``0 .. len(reference) - 1`` once, and the vector of each bit-identical to its reference row."""
    ids = np.asarray(ids)
    vectors = np.asarray(vectors)
    assert vectors.dtype == np.float32 and vectors.shape == (len(ids), reference.shape[1])
    order = np.argsort(ids, kind="stable")
    np.testing.assert_array_equal(ids[order], np.arange(len(reference)))
    got = vectors[order]
    differ = np.flatnonzero(~np.all(got == reference, axis=1))
    assert differ.size == 0, (
        f"{differ.size} of {len(reference)} vectors differ, first ids {differ[:5].tolist()}"
    )
    assert np.array_equal(got, reference)


# ---------------------------------------------------------------------------------------------------- the loader


def test_get_model_loads_once_per_process(model_dir: Path) -> None:
    first = get_model(model_dir)
    assert get_model(str(model_dir)) is first  # a path and its str are the same key
    assert get_model(model_dir, dim=64) is not first
    assert get_model(model_dir, dim=64) is get_model(model_dir, dim=64)
    assert get_model(model_dir, dim=64).dim == 64
    maps = Path("/proc/self/maps")
    if maps.exists():  # Linux: the table file is mapped into the process, not read into a private copy
        assert any(p.name == "model.safetensors" and str(p) in maps.read_text() for p in model_dir.rglob("*"))
    with pytest.raises(TypeError, match="not a loaded StaticModel"):
        get_model(first)  # type: ignore[arg-type]


def test_get_model_reloads_a_table_replaced_inside_the_folder(tmp_path: Path, model_dir: Path) -> None:
    # Replacing 0_StaticEmbedding/model.safetensors changed neither the folder's inode nor its time.
    import shutil

    folder = Path(shutil.copytree(model_dir, tmp_path / "model"))
    first = get_model(folder)
    [table] = folder.rglob("model.safetensors")
    assert table.parent != folder
    other = tmp_path / "other"
    StaticModel(first.tokenizer, np.asarray(first.embeddings) * -1.0).save(other)
    [replacement] = other.rglob("model.safetensors")
    os.replace(replacement, table)
    again = get_model(folder)
    assert again is not first
    np.testing.assert_array_equal(again.encode(["a new table"]), -first.encode(["a new table"]))


def test_get_model_keys_a_folder_by_its_absolute_path(tmp_path: Path, model_dir: Path, monkeypatch) -> None:
    from staticemb.integrations import _worker

    first = get_model(model_dir)
    monkeypatch.chdir(model_dir.parent)
    for spelling in (model_dir.name, f"{model_dir}/", f"{model_dir.parent}/./{model_dir.name}"):
        assert get_model(spelling) is first, spelling
    # A symlink moved to a new version loads it in place: the cache does not keep one entry per version.
    other = tmp_path / "v2"
    StaticModel(first.tokenizer, np.asarray(first.embeddings) * -1.0).save(other)
    link = tmp_path / "current"
    link.symlink_to(model_dir)
    assert get_model(link) is not first  # an entry of its own, the same model
    np.testing.assert_array_equal(get_model(link).encode(["a text"]), first.encode(["a text"]))
    entries = len(_worker._MODELS)
    link.unlink()
    link.symlink_to(other)
    np.testing.assert_array_equal(get_model(link).encode(["a text"]), -first.encode(["a text"]))
    assert len(_worker._MODELS) == entries


def test_get_model_loads_a_folder_saved_again(tmp_path: Path, model_dir: Path) -> None:
    # A long-lived worker kept serving the model a save() had replaced (its memory map stayed valid).
    folder = tmp_path / "model"
    old = StaticModel.from_pretrained(model_dir)
    old.save(folder)
    first = get_model(folder)
    assert get_model(folder) is first
    new = StaticModel(old.tokenizer, np.asarray(old.embeddings) * -1.0)
    new.save(folder)
    again = get_model(folder)
    assert again is not first and get_model(folder) is again
    np.testing.assert_array_equal(again.encode(["a new model"]), new.encode(["a new model"]))


def test_worker_threads_match_the_allotment() -> None:
    assert worker_threads(None) == 1
    assert worker_threads(0.5) == 1
    assert worker_threads(1) == 1
    assert worker_threads(2.0) == 2
    assert worker_threads(np.float64(3)) == 3
    assert worker_threads(10**6) >= 16  # capped at staticemb.max_threads()
    with pytest.raises(TypeError):
        worker_threads("2")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("module", "framework", "extra"),
    [("staticemb.integrations.ray", "ray", "ray"), ("staticemb.integrations.spark", "pyspark.sql", "spark")],
)
def test_missing_engine_names_the_extra(module: str, framework: str, extra: str, monkeypatch) -> None:
    import importlib

    monkeypatch.setitem(sys.modules, framework, None)  # `import framework` now raises ImportError
    monkeypatch.delitem(sys.modules, module, raising=False)  # restored afterwards by monkeypatch
    with pytest.raises(ImportError, match=f'pip install "staticemb\\[{extra}\\]"'):
        importlib.import_module(module)


# ---------------------------------------------------------------------------------------------------- Ray


def ray_collect(ds: Any) -> tuple[np.ndarray, np.ndarray]:
    ids, vectors = [], []
    for batch in ds.iter_batches(batch_format="numpy", batch_size=None):
        ids.append(batch["id"])
        vectors.append(batch["embedding"])
    return np.concatenate(ids), np.concatenate(vectors)


@pytest.fixture(scope="class")
def ray_cluster() -> Iterator[Any]:
    """A local Ray cluster of 2 CPUs, without a dashboard, for the tests of one class (TestRay)."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")

    if ray.is_initialized():
        ray.shutdown()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        configure_logging=False,
        log_to_driver=False,
        object_store_memory=1 << 30,
    )
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    try:
        yield ray
    finally:
        ray.shutdown()


class TestRay:
    """Ray Data on a local cluster of 2 CPUs, started once for the class and shut down after it."""

    def test_fused_read_encode_write(self, ray_cluster, parquet, model_dir, reference, tmp_path) -> None:
        """:func:`embed_dataset`'s default: embed_batch fused with the read and the write."""
        from staticemb.integrations.ray import embed_dataset

        out = tmp_path / "vectors"
        with deadline():
            embed_dataset(ray_cluster.data.read_parquet(str(parquet)), model_dir).write_parquet(str(out))
        table = pq.read_table(out)  # the tensor column reads back as Ray's extension type (ray is imported)
        vectors = np.concatenate([chunk.to_numpy() for chunk in table.column("embedding").chunks])
        assert len(list(out.iterdir())) > 1  # the one-block read was split, so both CPUs encoded
        assert_same_by_id(table.column("id").to_numpy(), vectors, reference)

    def test_actor_pool(self, ray_cluster, parquet, model_dir, reference) -> None:
        """:func:`embed_dataset` with ``actors=True`` on a 2-CPU cluster: one actor, one CPU left for the read (a
        pool that took both CPUs would hang)."""
        from staticemb.integrations.ray import embed_dataset

        with deadline():
            ids, vectors = ray_collect(
                embed_dataset(ray_cluster.data.read_parquet(str(parquet)), model_dir, actors=True)
            )
        assert_same_by_id(ids, vectors, reference)

    def test_map_batches_by_hand(self, ray_cluster, texts, model_dir, reference) -> None:
        """The documented ``map_batches`` calls, with pyarrow and pandas batches and Matryoshka ``dim``."""
        from staticemb.integrations.ray import StaticEmbedder, embed_batch

        n = 20_000
        ds = ray_cluster.data.from_arrow(pa.table({"id": np.arange(n), "text": texts[:n]}))
        with deadline():
            by_actor = ds.map_batches(
                StaticEmbedder,
                fn_constructor_kwargs={"model": str(model_dir), "dim": 64},
                compute=ray_cluster.data.ActorPoolStrategy(size=1),
                num_cpus=1,
                batch_format="pyarrow",
                batch_size=4_096,
            )
            ids, vectors = ray_collect(by_actor)
        assert_same_by_id(ids, vectors, StaticModel.from_pretrained(model_dir).encode(texts[:n], dim=64))
        with deadline():
            by_task = ds.map_batches(
                embed_batch, fn_kwargs={"model": str(model_dir)}, batch_format="pandas", batch_size=4_096
            )
            ids, vectors = ray_collect(by_task)
        assert_same_by_id(ids, vectors, reference[:n])

    def test_refusals_and_a_null_text(self, ray_cluster, model_dir) -> None:
        """concurrency without actors was dropped without a word (and concurrency=0 with actors meant the
        default); a null text failed as 'texts[3] must be str', the batch's index, with nothing to find the
        row by."""
        from staticemb.integrations.ray import embed_dataset

        texts = ["a", "b", "c", None, "e", "f"]
        ds = ray_cluster.data.from_arrow(pa.table({"id": np.arange(6), "text": texts}))
        with pytest.raises(ValueError, match="concurrency sizes the actor pool of actors=True"):
            embed_dataset(ds, model_dir, concurrency=2)
        with pytest.raises(ValueError, match="concurrency must be a positive number"):
            embed_dataset(ds, model_dir, actors=True, concurrency=0)
        # rows_per_block was checked by Ray only where it splits (more than one worker): on one CPU any value passed.
        for bad in (0, -5, "x", 2.5, True):
            with pytest.raises(ValueError, match="rows_per_block must be a positive number of rows or None"):
                embed_dataset(ds, model_dir, rows_per_block=bad)
        null = r"'text' holds a null in row \d+ of a batch of \d+ rows \(id=3\)"
        with deadline(), pytest.raises(Exception, match=null):
            embed_dataset(ds, model_dir).materialize()

    def test_bad_encode_options_are_refused_before_any_task(self, ray_cluster, model_dir) -> None:
        """A dim wider than the model, an unknown prompt or a bad load keyword failed in every task, as a
        remote error at the first materialize; where the folder is on the driver, embed_dataset refuses them
        itself, with encode's errors. A folder only the workers have is left to them."""
        from staticemb.integrations.ray import embed_dataset

        ds = ray_cluster.data.from_arrow(pa.table({"id": np.arange(2), "text": ["a", "b"]}))
        with pytest.raises(ValueError, match=f"dim.*{DIM}"):
            embed_dataset(ds, model_dir, dim=DIM + 1)
        with pytest.raises(ValueError, match="prompt"):
            embed_dataset(ds, model_dir, prompt_name="no-such-prompt")
        with pytest.raises(TypeError, match="no_such_option"):
            embed_dataset(ds, model_dir, load_kwargs={"no_such_option": 1})
        lazy = embed_dataset(ds, model_dir.parent / "only-on-the-workers", dim=DIM + 1)
        assert "embed_batch" in str(lazy)  # built, not run

    def test_threads_follow_the_allotted_cpus(self, ray_cluster, model_dir) -> None:
        from staticemb.integrations.ray import StaticEmbedder

        def threads() -> int:
            return StaticEmbedder(str(model_dir)).num_threads

        with deadline():
            one = ray_cluster.get(ray_cluster.remote(num_cpus=1)(threads).remote())
            two = ray_cluster.get(ray_cluster.remote(num_cpus=2)(threads).remote())
        assert (one, two) == (1, 2)


# ---------------------------------------------------------------------------------------------------- Spark


@pytest.fixture(scope="class")
def spark() -> Iterator[Any]:
    """A ``local[2]`` SparkSession whose Python workers run this interpreter (``PYSPARK_PYTHON``), for the tests
    of one class (TestSpark)."""
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    saved = os.environ.get("PYSPARK_PYTHON")
    # Without PYSPARK_PYTHON, the Python workers run the system python3, which has no staticemb.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("staticemb-tests")
        .config("spark.driver.memory", "1g")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()
        if saved is None:
            os.environ.pop("PYSPARK_PYTHON", None)
        else:
            os.environ["PYSPARK_PYTHON"] = saved


class TestSpark:
    """Spark ``local[2]``, started once for the class and stopped after it."""

    @pytest.mark.parametrize("output", ["binary", "array"])
    def test_map_in_arrow(self, spark, parquet, model_dir, reference, output) -> None:
        from staticemb.integrations.spark import decode_binary, embed_dataframe

        df = spark.read.parquet(str(parquet))
        assert df.rdd.getNumPartitions() == 2  # the row groups split the file: both cores encode
        out = embed_dataframe(df, model_dir, keep=["id"], output=output)
        assert out.columns == ["id", "embedding"]
        with deadline():
            table = out.toArrow()
        column = table.column("embedding")
        if output == "binary":
            assert out.schema["embedding"].dataType.simpleString() == "binary"
            vectors = decode_binary(column, dim=DIM)
        else:
            assert out.schema["embedding"].dataType.simpleString() == "array<float>"
            flat = column.combine_chunks()
            vectors = flat.values.to_numpy().reshape(len(flat), DIM)
        assert_same_by_id(table.column("id").to_numpy(), vectors, reference)

    def test_nulls_keep_and_large_types(self, spark, model_dir) -> None:
        """A null text gives a null vector; ``keep=None`` carries every column; Spark's large Arrow types work."""
        from staticemb.integrations.spark import decode_binary, embed_dataframe, mapinarrow_udf

        model = StaticModel.from_pretrained(model_dir)
        rows = [(1, "hello world", 1.5), (2, None, 2.5), (3, "", 3.5), (4, "naïve café", None)]
        df = spark.createDataFrame(rows, "id long, text string, x double")
        fn, schema = mapinarrow_udf(df, model_dir, output="binary")
        assert schema.simpleString() == "struct<id:bigint,text:string,x:double,embedding:binary>"
        for large in ("false", "true"):
            spark.conf.set("spark.sql.execution.arrow.useLargeVarTypes", large)
            try:
                with deadline():
                    got = sorted(df.mapInArrow(fn, schema).collect())
                    arrays = sorted(
                        embed_dataframe(df, model_dir, output="array", num_partitions=2).collect()
                    )
            finally:
                spark.conf.unset("spark.sql.execution.arrow.useLargeVarTypes")
            assert [(r.id, r.text, r.x) for r in got] == rows
            assert got[1].embedding is None and arrays[1].embedding is None
            present = [r for r in got if r.embedding is not None]
            expected = model.encode([r.text for r in present])
            np.testing.assert_array_equal(decode_binary([r.embedding for r in present], dim=DIM), expected)
            np.testing.assert_array_equal(
                np.array([r.embedding for r in arrays if r.embedding is not None]), expected
            )

    def test_schema_checks_before_any_task(self, spark, model_dir) -> None:
        # A long text column failed only at collect time, inside a task; a column kept twice gave a Java error.
        from staticemb.integrations.spark import mapinarrow_udf

        df = spark.createDataFrame([(1, 7)], "id long, text long")
        with pytest.raises(TypeError, match="text column 'text' is bigint, not string"):
            mapinarrow_udf(df, model_dir)
        df = spark.createDataFrame([(1, "a text")], "id long, text string")
        _, schema = mapinarrow_udf(df, model_dir, keep=["id", "id"])
        assert schema.simpleString() == "struct<id:bigint,embedding:binary>"

    def test_bad_encode_options_are_refused_before_any_task(self, spark, model_dir) -> None:
        """As with Ray: refused on the driver where the folder is there, not in every task at collect time."""
        from staticemb.integrations.spark import embed_dataframe, mapinarrow_udf

        df = spark.createDataFrame([(1, "a text")], "id long, text string")
        with pytest.raises(ValueError, match=f"dim.*{DIM}"):
            embed_dataframe(df, model_dir, dim=DIM + 1)
        with pytest.raises(ValueError, match="prompt"):
            mapinarrow_udf(df, model_dir, prompt_name="no-such-prompt")
        with pytest.raises(ValueError, match="num_threads"):
            embed_dataframe(df, model_dir, num_threads=0)
        fn, _ = mapinarrow_udf(df, model_dir.parent / "only-on-the-workers", dim=DIM + 1)
        assert fn.keywords["dim"] == DIM + 1
        with pytest.raises(TypeError, match="unhashable"):  # get_model's key, refused in every worker before
            embed_dataframe(df, model_dir, load_kwargs={"revision": ["main"]})
        # The driver's check keeps no model (mmap=False would hold the whole table in the driver for good).
        from staticemb.integrations import _worker

        entries = len(_worker._MODELS)
        mapinarrow_udf(df, model_dir, dim=8, load_kwargs={"mmap": False})
        assert len(_worker._MODELS) == entries

    def test_columns_resolve_as_spark_sql_does(self, spark, model_dir) -> None:
        """Spark SQL finds 'text' in a column 'Text' (spark.sql.caseSensitive is false by default): the text
        column and keep were refused as missing, and an input column 'Embedding' was kept beside the new
        'embedding', which Spark then could not tell apart."""
        from staticemb.integrations.spark import decode_binary, embed_dataframe, mapinarrow_udf

        df = spark.createDataFrame(
            [(1, "hello world", "x"), (2, None, "y")], "ID long, Text string, Embedding string"
        )
        _, schema = mapinarrow_udf(df, model_dir, keep=["id"])
        assert schema.simpleString() == "struct<ID:bigint,embedding:binary>"
        out = embed_dataframe(df, model_dir)
        assert out.columns == ["ID", "Text", "embedding"]
        with deadline():
            rows = sorted(out.select("id", "embedding").collect())
        assert rows[1].embedding is None
        expected = StaticModel.from_pretrained(model_dir).encode(["hello world"])
        np.testing.assert_array_equal(decode_binary([rows[0].embedding], dim=DIM), expected)
        twice = spark.createDataFrame([(1, "a", "b")], "id long, text string, TEXT string")
        with pytest.raises(ValueError, match="column 'Text' is ambiguous"):
            mapinarrow_udf(twice, model_dir, column="Text")
        spark.conf.set("spark.sql.caseSensitive", "true")
        try:
            with pytest.raises(ValueError, match="no column 'text'"):
                mapinarrow_udf(df, model_dir)
            out = embed_dataframe(df, model_dir, column="Text")
            assert out.columns == ["ID", "Text", "Embedding", "embedding"]
        finally:
            spark.conf.unset("spark.sql.caseSensitive")

    def test_refuses_a_loaded_model(self, model_dir) -> None:
        pytest.importorskip("pyspark")
        from staticemb.integrations.spark import embed_arrow

        with pytest.raises(TypeError, match="not a loaded StaticModel"):
            embed_arrow(StaticModel.from_pretrained(model_dir))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="output"):
            embed_arrow(model_dir, output="float16")


def test_decode_binary_inputs() -> None:
    pytest.importorskip("pyspark")
    import pandas as pd
    from staticemb.integrations.spark import decode_binary

    vectors = np.random.default_rng(0).standard_normal((5, 8), dtype=np.float32)
    raw = [v.astype("<f4").tobytes() for v in vectors]
    for values in (
        raw,
        [bytearray(b) for b in raw],
        [memoryview(v) for v in vectors],  # len() of a float32 view counts its 8 values, not its 32 bytes
        pd.Series(raw),
        pa.array(raw, pa.binary()),
        pa.array(raw, pa.large_binary()),
        pa.chunked_array([pa.array(raw[:2]), pa.array(raw[2:])]),
    ):
        out = decode_binary(values, dim=8)
        np.testing.assert_array_equal(out, vectors)
        assert out.flags.writeable
    np.testing.assert_array_equal(decode_binary(pa.array(raw).slice(3)), vectors[3:])
    assert decode_binary([], dim=8).shape == (0, 8)
    with pytest.raises(ValueError, match="dim=4"):
        decode_binary(raw, dim=4)
    with pytest.raises(ValueError, match="null"):
        decode_binary(pa.array([raw[0], None]))
    with pytest.raises(ValueError, match="differ in length"):
        decode_binary([raw[0], raw[1][:16]])


# ---------------------------------------------------------------------------------------------------- Dask


def embed_partition(part: Any, model: str) -> Any:
    """The README's Dask recipe: one pandas partition in, ``id`` and ``embedding`` (1-D float32 arrays) out."""
    import pandas as pd

    vectors = get_model(model).encode(part["text"].tolist(), num_threads=1)
    return pd.DataFrame({"id": part["id"].to_numpy(), "embedding": list(vectors)}, index=part.index)


@pytest.mark.parametrize("scheduler", ["threads", "processes"])
def test_dask_map_partitions(parquet, model_dir, reference, scheduler) -> None:
    dask = pytest.importorskip("dask")
    import dask.dataframe as dd

    ddf = dd.read_parquet(str(parquet)).repartition(npartitions=8)
    out = ddf.map_partitions(
        embed_partition, model=str(model_dir), meta={"id": "int64", "embedding": "object"}
    )
    with deadline(), dask.config.set(scheduler=scheduler, num_workers=2):
        frame = out.compute()
    assert_same_by_id(frame["id"].to_numpy(), np.stack(frame["embedding"].to_numpy()), reference)


def test_dask_array_map_blocks(parquet, model_dir, reference_small) -> None:
    # The recipe declared (dim,) chunks but encoded at the model's width: compute() gave 1024 columns.
    dask = pytest.importorskip("dask")
    import dask.dataframe as dd

    ddf = dd.read_parquet(str(parquet)).repartition(npartitions=8)
    texts = ddf["text"].astype(object).to_dask_array(lengths=True)
    vectors = texts.map_blocks(
        lambda block, model: get_model(model).encode(block.tolist(), dim=SMALL, num_threads=1),
        model=str(model_dir),
        dtype=np.float32,
        new_axis=1,
        chunks=(texts.chunks[0], (SMALL,)),
    )
    with deadline(), dask.config.set(scheduler="threads", num_workers=2):
        ids, array = dask.compute(ddf["id"].to_dask_array(lengths=True), vectors)
    assert_same_by_id(ids, array, reference_small)


# ---------------------------------------------------------------------------------------------------- Daft


def daft_embedders(model: str, dim: int) -> tuple[Any, Any]:
    """The README's Daft recipes: a batch function and a class, both loading with get_model."""
    import daft
    from daft import DataType

    @daft.func.batch(return_dtype=DataType.embedding(DataType.float32(), dim))
    def embed(texts: daft.Series) -> np.ndarray:
        return get_model(model).encode(texts.to_pylist(), dim=dim, num_threads=1)

    @daft.cls(max_concurrency=2)
    class Embedder:
        def __init__(self, model: str) -> None:
            self.model = get_model(model)

        @daft.method.batch(return_dtype=DataType.embedding(DataType.float32(), dim))
        def __call__(self, texts: daft.Series) -> np.ndarray:
            return self.model.encode(texts.to_pylist(), dim=dim, num_threads=1)

    return embed, Embedder(model)


def test_daft_udfs(parquet, model_dir, reference_small, monkeypatch) -> None:
    # The recipes declared a DIM-wide embedding but encoded at the model's width: a cast error on a wider model.
    daft = pytest.importorskip("daft")
    monkeypatch.setenv("DAFT_PROGRESS_BAR", "0")

    embed, embedder = daft_embedders(str(model_dir), SMALL)
    df = daft.read_parquet(str(parquet))
    for udf in (embed, embedder):
        with deadline():
            table = df.with_column("embedding", udf(df["text"])).select("id", "embedding").to_arrow()
        column = table.column("embedding").combine_chunks()
        storage = column.storage if isinstance(column, pa.ExtensionArray) else column
        vectors = storage.values.to_numpy().reshape(len(storage), SMALL)
        assert_same_by_id(table.column("id").to_numpy(), vectors, reference_small)


def test_embed_batch_names_a_missing_text_column(model_dir: Path) -> None:
    # A bare KeyError: 'body' surfaced from inside a Ray task.
    pytest.importorskip("ray")
    import pandas as pd
    from staticemb.integrations.ray import embed_batch

    texts = np.array(["a text", "another"], dtype=object)
    for batch in ({"text": texts}, pd.DataFrame({"text": texts}), pa.table({"text": texts.tolist()})):
        with pytest.raises(KeyError, match="no text column 'body' \\(its columns: text\\)"):
            embed_batch(batch, model=str(model_dir), column="body")


def test_embed_batch_names_a_null_text_by_its_row(model_dir: Path) -> None:
    # The encoder said 'texts[1] must be str, not float' for a pandas null: the batch's index and NaN's type.
    pytest.importorskip("ray")
    import pandas as pd
    from staticemb.integrations.ray import embed_batch

    texts = np.array(["a text", None, "another"], dtype=object)
    ids = np.array([10, 11, 12])
    for batch in ({"id": ids, "text": texts}, pd.DataFrame({"id": ids, "text": texts}),
                  pa.table({"id": ids, "text": texts.tolist()})):
        with pytest.raises(TypeError, match=r"'text' holds a null in row 1 of a batch of 3 rows \(id=11\)"):
            embed_batch(batch, model=str(model_dir))
    with pytest.raises(TypeError, match=r"'text' holds int 5 in row 0 of a batch of 1 rows: every text"):
        embed_batch({"text": np.array([5], dtype=object)}, model=str(model_dir))


def test_engines_take_a_prompt_name_and_keep_a_column_once(tmp_path: Path, model_dir: Path) -> None:
    """Ray and Spark encoded as encode() with no way to ask for the document prompt that every framework adapter
    applies; a column named twice in Spark's keep was written twice (the JVM failed on the schema)."""
    pytest.importorskip("ray")
    pytest.importorskip("pyspark")
    from staticemb.integrations.ray import StaticEmbedder, embed_batch
    from staticemb.integrations.spark import decode_binary, embed_arrow

    folder = StaticModel.from_pretrained(model_dir).with_options(
        prompts={"query": "query: ", "document": "passage: "}).save(tmp_path / "prompted")
    model = StaticModel.from_pretrained(folder)
    texts = ["a first text", "another one", ""]
    want = model.encode_document(texts)
    assert not np.array_equal(want, model.encode(texts))
    got = embed_batch({"text": np.array(texts, dtype=object)}, model=str(folder), prompt_name="document")
    np.testing.assert_array_equal(got["embedding"], want)
    actor = StaticEmbedder(str(folder), prompt_name="document", num_threads=1)
    np.testing.assert_array_equal(actor({"text": np.array(texts, dtype=object)})["embedding"], want)
    fn = embed_arrow(str(folder), prompt_name="document", keep=["id", "id"])
    out = list(fn(iter([pa.RecordBatch.from_pydict({"id": [1, 2, 3], "text": texts})])))
    assert out[0].schema.names == ["id", "embedding"]
    np.testing.assert_array_equal(decode_binary(out[0].column("embedding"), dim=model.dim), want)
    plain = list(embed_arrow(str(folder))(iter([pa.RecordBatch.from_pydict({"text": texts})])))
    np.testing.assert_array_equal(decode_binary(plain[0].column("embedding"), dim=model.dim), model.encode(texts))
