"""Embedding columns of a Ray Dataset with a staticemb model (``pip install "staticemb[ray]"``).

    >>> import ray
    >>> from staticemb.integrations.ray import embed_dataset
    >>> ds = ray.data.read_parquet("s3://bucket/texts/")             # a "text" column, an "id" column …
    >>> embed_dataset(ds, "/shared/models/my-model").write_parquet("s3://bucket/vectors/")

The ``embedding`` column is a 2-D float32 tensor column (Ray's tensor extension): ``batch["embedding"]`` is a
``(rows, dim)`` array. Three ways in:

- :func:`embed_dataset`: the defaults below, which cannot deadlock on a small node.
- :func:`embed_batch`, a plain function: ``ds.map_batches(embed_batch, fn_kwargs={"model": path})``. Ray fuses
  it with the read and the write into one task per block (read → encode → write, no copy through the object
  store), the cheapest path: for a static model, whose load is instant (the table is memory-mapped) and whose
  encode is cheap next to moving rows between processes, the actor path took about 1.7 times its CPU and wall
  time (130,814 texts, Parquet to Parquet, 2 CPUs).
- :class:`StaticEmbedder`, a callable class for an actor pool: ``ds.map_batches(StaticEmbedder,
  fn_constructor_kwargs={"model": path}, compute=ray.data.ActorPoolStrategy(size=n), num_cpus=1)``.

Both load the model in the worker process with :func:`staticemb.integrations._worker.get_model`, once per
process, from its path or Hub id: a function or class that captured a loaded model would carry the whole
table (a 30k x 1024 float32 table is 119 MiB, over Ray's function size limit). The model folder must be
readable on every node (a shared filesystem, or the same path on each), or a Hub id in each node's Hugging
Face cache (``HF_HUB_OFFLINE=1`` on a cluster without network). Each worker encodes on as many threads as Ray
allotted it CPUs (``num_threads=None`` would put every core's worth of threads in every worker).

Known traps, which :func:`embed_dataset` avoids:

- An actor pool that takes every CPU of the cluster (2 actors of ``num_cpus=1`` on a 2-CPU node) hangs: the
  tasks that feed it (listing and reading the files) never get a CPU, and Ray only warns "Cluster resources
  are not enough to run any task … The job may hang forever". :func:`embed_dataset` leaves one CPU free.
- A Parquet file is read as one block, and one block goes to one task or actor: the others sit idle unless
  the dataset is split. :func:`embed_dataset` splits blocks into ``rows_per_block`` rows (a streaming
  repartition, no shuffle) when it runs more than one worker.
"""

from __future__ import annotations

import inspect
import numbers
import os
import sys
from typing import Any

import numpy as np

try:
    import ray
    import ray.data
except ImportError as e:
    raise ImportError('staticemb.integrations.ray needs ray[data]: pip install "staticemb[ray]"') from e

from ._worker import check_options, get_model, model_spec, worker_threads

__all__ = ["StaticEmbedder", "embed_batch", "embed_dataset"]

DEFAULT_ROWS_PER_BLOCK = 20_000
"""Rows per block after :func:`embed_dataset`'s streaming repartition: small enough to spread a one-file
read over a few workers, large enough that each task's overhead stays small next to its encode."""


_SAME_ROWS: dict[str, Any] = (
    {"udf_modifying_row_count": False}
    if "udf_modifying_row_count" in inspect.signature(ray.data.Dataset.map_batches).parameters
    else {}
)
"""Tells Ray (where it has the option) that the encode keeps every row, so a ``limit`` after it can move before it."""


_STREAMING_REPARTITION = (
    "target_num_rows_per_block" in inspect.signature(ray.data.Dataset.repartition).parameters
)
"""Whether this Ray splits blocks by rows as they stream (``repartition(target_num_rows_per_block=...)``, added in
2025); with an older one, :func:`embed_dataset` skips the split."""


def _allotted_cpus() -> float | None:
    """The CPUs Ray reserved for the calling task or actor, ``None`` outside Ray or when it reserved none."""
    try:
        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
    except Exception:  # not in a Ray worker
        return None
    return float(cpus) if cpus else None


def _embed(
    batch: Any,
    model: Any,
    column: str,
    output_column: str,
    dim: int | None,
    normalize: bool | None,
    threads: int,
    prompt_name: str | None = None,
) -> Any:
    """``batch`` with ``output_column`` added: a dict of NumPy arrays, a pandas DataFrame or a pyarrow Table."""
    names = list(batch.keys()) if isinstance(batch, dict) else list(getattr(batch, "column_names", None) or
                                                                      getattr(batch, "columns", []))
    if column not in names:
        raise KeyError(f"the batch has no text column {column!r} (its columns: {', '.join(map(str, names))}); "
                       "name it with column=")

    def encode(texts: list) -> np.ndarray:
        try:
            return model.encode(
                texts, dim=dim, normalize=normalize, num_threads=threads, prompt_name=prompt_name
            )
        except TypeError as e:
            bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
            if bad is None:
                raise
            raise TypeError(_bad_text(batch, names, column, texts, bad)) from e

    if isinstance(batch, dict):
        texts = batch[column]
        texts = texts.tolist() if isinstance(texts, np.ndarray) else list(texts)
        out = dict(batch)
        out[output_column] = encode(texts)
        return out
    import pyarrow as pa

    if isinstance(batch, pa.Table):
        from ray.data.extensions import ArrowTensorArray

        vectors = encode(batch.column(column).to_pylist())
        array = ArrowTensorArray.from_numpy(vectors)
        index = batch.schema.get_field_index(output_column)
        if index >= 0:
            return batch.set_column(index, output_column, array)
        return batch.append_column(output_column, array)
    pd = sys.modules.get("pandas")  # a pandas batch means pandas is imported; nothing to import otherwise
    if pd is not None and isinstance(batch, pd.DataFrame):
        from ray.data.extensions import TensorArray

        vectors = encode(batch[column].tolist())
        frame = batch.copy(deep=False)
        frame[output_column] = TensorArray(vectors)
        return frame
    raise TypeError(
        f"a batch must be a dict of NumPy arrays, a pandas DataFrame or a pyarrow Table, not {type(batch)}"
    )


def _bad_text(batch: Any, names: list[Any], column: str, texts: list, row: int) -> str:
    """The error for a text that is not a ``str``: its column, what it holds, and its row, shown by the row's
    other values (Ray tells a batch no place in the dataset; the encoder would say only ``texts[i]``)."""
    value = texts[row]
    pd = sys.modules.get("pandas")
    if value is None or (isinstance(value, float) and value != value) or (pd is not None and value is pd.NA):
        what, fix = "a null", "drop or fill the null texts first"
    else:
        what, fix = f"{type(value).__name__} {_short(value)}", "every text must be a str"
    cells = []
    for name in [n for n in names if n != column][:4]:
        if isinstance(batch, dict):
            cell = batch[name][row]
        elif hasattr(batch, "iloc"):  # pandas
            cell = batch[name].iloc[row]
        else:  # pyarrow
            cell = batch.column(name)[row].as_py()
        cells.append(f"{name}={_short(cell.item() if isinstance(cell, np.generic) else cell)}")
    shown = f" ({', '.join(cells)})" if cells else ""
    return (
        f"the text column {column!r} holds {what} in row {row} of a batch of {len(texts)} rows{shown}: {fix}"
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def embed_batch(
    batch: Any,
    *,
    model: str | os.PathLike[str],
    column: str = "text",
    output_column: str = "embedding",
    dim: int | None = None,
    normalize: bool | None = None,
    num_threads: int | None = 1,
    load_kwargs: dict[str, Any] | None = None,
    prompt_name: str | None = None,
) -> Any:
    """``batch`` with ``output_column`` added: the ``(rows, dim)`` float32 vectors of its ``column`` texts.

    For ``ds.map_batches(embed_batch, fn_kwargs={"model": path, ...})``, which Ray fuses with the read and
    the write. ``batch`` is a dict of NumPy arrays (Ray's default batch format), a pandas DataFrame or a
    pyarrow Table, and the result has the same kind.

    Args:
        model: the model's folder path or Hub id, loaded once per worker process by
            :func:`~staticemb.integrations._worker.get_model` (with ``load_kwargs``, passed to
            :meth:`~staticemb.StaticModel.from_pretrained`).
        column: the text column. A null (``None``) text raises ``TypeError``, naming the row by its other
            columns' values.
        output_column: the column added (replaced if it exists).
        dim: Matryoshka width (``None``: the model's).
        normalize: ``True``/``False`` force L2 normalization on or off (``None``: the model's setting).
        num_threads: encode threads, 1 by default: Ray runs one task per CPU (``num_cpus=1``). ``None`` uses
            the CPUs Ray allotted the task (1 when it allotted none).
        prompt_name: the model's prompt to prepend, as in :meth:`~staticemb.StaticModel.encode` (``None``: its
            default prompt, if any). ``"document"`` gives the vectors
            :meth:`~staticemb.StaticModel.encode_document` gives for a model with a ``"document"`` prompt.
    """
    loaded = get_model(model, **(load_kwargs or {}))
    threads = worker_threads(_allotted_cpus()) if num_threads is None else num_threads
    return _embed(batch, loaded, column, output_column, dim, normalize, threads, prompt_name)


class StaticEmbedder:
    """A callable class for an actor pool: each actor loads the model once and encodes the batches it gets.

        ds.map_batches(StaticEmbedder, fn_constructor_kwargs={"model": path},
                       compute=ray.data.ActorPoolStrategy(size=3), num_cpus=1)

    Leave the read tasks at least one CPU (on a node of N CPUs, at most N - 1 actors of one CPU), or the
    pipeline hangs; :func:`embed_dataset` with ``actors=True`` does so.
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        column: str = "text",
        output_column: str = "embedding",
        dim: int | None = None,
        normalize: bool | None = None,
        num_threads: int | None = None,
        load_kwargs: dict[str, Any] | None = None,
        prompt_name: str | None = None,
    ) -> None:
        """Args: as :func:`embed_batch`'s, but ``num_threads=None`` (the default) encodes on as many threads as
        Ray allotted the actor CPUs (``num_cpus``; 1 when it allotted none)."""
        self.model = get_model(model, **(load_kwargs or {}))
        self.column = column
        self.output_column = output_column
        self.dim = dim
        self.normalize = normalize
        self.prompt_name = prompt_name
        self.num_threads = worker_threads(_allotted_cpus()) if num_threads is None else num_threads

    def __call__(self, batch: Any) -> Any:
        """``batch`` with the vectors of its texts added, as :func:`embed_batch`."""
        return _embed(
            batch, self.model, self.column, self.output_column, self.dim, self.normalize, self.num_threads,
            self.prompt_name,
        )


def embed_dataset(
    ds: ray.data.Dataset,
    model: str | os.PathLike[str],
    *,
    column: str = "text",
    output_column: str = "embedding",
    dim: int | None = None,
    normalize: bool | None = None,
    actors: bool = False,
    concurrency: int | None = None,
    rows_per_block: int | None = DEFAULT_ROWS_PER_BLOCK,
    batch_size: int | None = None,
    load_kwargs: dict[str, Any] | None = None,
    prompt_name: str | None = None,
) -> ray.data.Dataset:
    """``ds`` with an ``output_column`` of float32 vectors (a lazy Dataset, like every Ray transform).

    Defaults, chosen so that no node size deadlocks:

    - ``actors=False``: :func:`embed_batch` as a task of ``num_cpus=1`` and one encode thread, fused by Ray
      with the write after it (and with the read before it when ``rows_per_block=None``). Ray runs as many
      tasks as there are CPUs; no CPU is held by an idle worker, so nothing can starve the read.
    - ``actors=True``: a pool of :class:`StaticEmbedder` actors of ``num_cpus=1`` (one encode thread each),
      ``concurrency`` of them: by default one fewer than the cluster's CPUs (at least 1), because actors hold
      their CPU for the whole run and a pool that takes every CPU leaves none for the tasks that list and read
      the input (the run hangs). A ``concurrency`` you pass is used as it is.
    - ``rows_per_block``: blocks larger than this are split (a streaming repartition, no shuffle) before the
      encode, since one block goes to one task or actor and a Parquet file arrives as one block. ``None``
      keeps the dataset's blocks; the split is skipped anyway when the cluster has one CPU.

    ``concurrency`` sizes the actor pool only: with ``actors=False`` it is refused (``ValueError``), since the
    tasks run one per CPU (limit them with the CPUs Ray is given, ``ray.init(num_cpus=...)``).

    ``batch_size`` is the rows per call (``None``: a whole block). ``column``, ``dim``, ``normalize``,
    ``load_kwargs`` and ``prompt_name`` are as in :func:`embed_batch`. Where the model is a folder this machine
    has, it is loaded here too and those options are checked before any task runs, with
    :meth:`~staticemb.StaticModel.encode`'s errors (:func:`~staticemb.integrations._worker.check_options`).
    """
    spec = model_spec(model)
    if concurrency is not None:
        if not actors:
            raise ValueError(
                "concurrency sizes the actor pool of actors=True; the tasks of actors=False run one per CPU "
                "(pass actors=True, or limit the CPUs with ray.init(num_cpus=...))"
            )
        if isinstance(concurrency, bool) or not isinstance(concurrency, numbers.Integral) or concurrency < 1:
            raise ValueError(f"concurrency must be a positive number of actors or None, got {concurrency!r}")
    if rows_per_block is not None and (isinstance(rows_per_block, bool) or not isinstance(rows_per_block, numbers.Integral)
                                       or rows_per_block < 1):  # checked whether or not this Ray splits by it
        raise ValueError(f"rows_per_block must be a positive number of rows or None, got {rows_per_block!r}")
    check_options(spec, load_kwargs, dim=dim, normalize=normalize, prompt_name=prompt_name, num_threads=1)
    if not ray.is_initialized():
        ray.init()  # what Ray Data itself does on the first run; here to size the pool
    cpus = int(ray.cluster_resources().get("CPU", 1))
    workers = (concurrency or max(1, cpus - 1)) if actors else cpus
    if rows_per_block is not None and workers > 1 and _STREAMING_REPARTITION:
        ds = ds.repartition(target_num_rows_per_block=rows_per_block)
    options: dict[str, Any] = {
        "model": spec,
        "column": column,
        "output_column": output_column,
        "dim": dim,
        "normalize": normalize,
        "load_kwargs": load_kwargs,
        "prompt_name": prompt_name,
    }
    if actors:
        return ds.map_batches(
            StaticEmbedder,
            fn_constructor_kwargs={**options, "num_threads": 1},
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=1,
            batch_size=batch_size,
            **_SAME_ROWS,
        )
    return ds.map_batches(
        embed_batch, fn_kwargs={**options, "num_threads": 1}, num_cpus=1, batch_size=batch_size, **_SAME_ROWS
    )
