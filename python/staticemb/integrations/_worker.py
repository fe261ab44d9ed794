"""What the distributed-engine adapters (:mod:`staticemb.integrations.ray`, :mod:`staticemb.integrations.spark`)
share, and what a Dask or Daft recipe imports: a once-per-process model loader and the thread count that fits
an engine's CPU allotment.

An engine ships the function it runs to its worker processes by pickling it. A function (or class) that holds
a loaded :class:`~staticemb.StaticModel` carries the whole table with it: Ray refuses it above its function
size limit, and Spark unpickles a private copy in every Python worker. :func:`get_model` is the alternative:
the function carries only the model's path or Hub id, and each worker process loads the model on its first
call and keeps it. It lives in this importable module (a loader defined in a driver script's ``__main__``
cannot be found by the workers), and it memory-maps the float32 table, so every worker process of a machine
shares one page-cache copy of the file.

    >>> from staticemb.integrations import get_model, worker_threads
    >>> model = get_model("/shared/models/my-model")          # loaded once per process
    >>> vectors = model.encode(texts, num_threads=worker_threads(1))
"""

from __future__ import annotations

import numbers
import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..model import StaticModel

__all__ = ["check_options", "get_model", "model_spec", "worker_threads"]

_MODELS: dict[tuple[str, tuple[tuple[str, Any], ...]], tuple[Any, StaticModel]] = {}
_LOCK = threading.Lock()


def _fresh_lock_in_child() -> None:
    # A child forked while another thread of its parent was loading a model holds a copy of the lock taken by a
    # thread it does not have: every later first load would wait forever. The child starts with a free lock (a
    # load cut short by the fork left nothing in ``_MODELS``: an entry is stored whole, after its load).
    global _LOCK
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_lock_in_child)


def get_model(spec: str | os.PathLike[str], **load_kwargs: Any) -> StaticModel:
    """The model at ``spec`` (a folder path or Hub id), loaded once per process.

    The first call in a process runs ``StaticModel.from_pretrained(spec, **load_kwargs)``; later calls with
    the same ``spec`` and keyword arguments return the same object (the cache is keyed by both and guarded
    by a lock, so concurrent first calls from several threads load once). The default ``mmap=True`` memory-maps
    ``model.safetensors``: loading is instant, and the worker processes of a machine share the file's pages
    instead of holding a copy each.

    ``load_kwargs`` are :meth:`~staticemb.StaticModel.from_pretrained`'s (``dim``, ``normalize``,
    ``revision``, ``cache_dir``, ``mmap`` …); their values must be hashable. A Hub id is fetched into the
    Hugging Face cache of the worker's machine: on a cluster without network, pre-stage the cache (or use a
    folder on a shared filesystem) and set ``HF_HUB_OFFLINE=1`` on the workers.

    A local folder saved again since it was loaded (:meth:`~staticemb.StaticModel.save` swaps in a new folder),
    or one of whose model files was replaced, is loaded again: a long-lived worker never keeps serving the
    model it replaced. A local folder is one entry however its path is spelled (relative, absolute, a
    trailing slash); a symlink is an entry of its own, and one moved to another folder loads that folder in
    its place.

    A loaded model is refused (``TypeError``): passing one defeats the purpose, since it would be pickled
    into every task.
    """
    from ..model import StaticModel

    key = _cache_key(spec, load_kwargs)
    stamp = _folder_stamp(key[0])
    entry = _MODELS.get(key)
    if entry is not None and entry[0] == stamp:
        return entry[1]
    with _LOCK:
        entry = _MODELS.get(key)
        if entry is None or entry[0] != stamp:
            entry = (stamp, StaticModel.from_pretrained(key[0], **load_kwargs))
            _MODELS[key] = entry
    return entry[1]


def _cache_key(spec: Any, load_kwargs: dict[str, Any]) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """:func:`get_model`'s cache key: the spec (a local folder as its absolute path) and the keyword arguments,
    whose values must be hashable (``TypeError`` otherwise)."""
    name = model_spec(spec)
    if os.path.exists(os.path.expanduser(name)):  # a local folder: ./m, m/ and /abs/m are one entry
        # Not the real path: a symlink moved to a new version reloads in place (its target's stamp changes)
        # instead of adding an entry per version that a long-lived worker would keep.
        name = os.path.abspath(os.path.expanduser(name))
    key = (name, tuple(sorted(load_kwargs.items())))
    hash(key)
    return key


def _folder_stamp(spec: str) -> Any:
    """The identity of a local model folder (:func:`staticemb._io._folder_identity`: its inode and those of the
    files a model loads from, in it and its module folders), or None for a Hub id (its cache is keyed by
    commit): a save that swaps in a new folder, or replaces a table inside ``0_StaticEmbedding/``, changes it."""
    from pathlib import Path

    from .._io import _folder_identity

    path = os.path.expanduser(spec)
    return _folder_identity(Path(path)) if os.path.isdir(path) else None


def check_options(spec: str, load_kwargs: dict[str, Any] | None, **encode_options: Any) -> None:
    """Refuse on the driver, before an engine ships any task, what every task would refuse: where ``spec`` is
    a folder this machine has, the model is loaded with ``load_kwargs`` (not kept: the driver encodes nothing,
    and ``mmap=False`` would hold a copy of the table in it for good) and asked to encode no texts with
    ``encode_options`` (``dim``, ``prompt_name`` …), so a bad option raises here, with
    :meth:`~staticemb.StaticModel.encode`'s own error, instead of inside every task of the job. A Hub id, or a
    folder only the workers can read, is left to the workers."""
    from ..model import StaticModel

    _cache_key(spec, load_kwargs or {})  # what the workers' get_model refuses (unhashable values)
    path = os.path.expanduser(spec)
    if os.path.isdir(path):
        StaticModel.from_pretrained(path, **(load_kwargs or {})).encode([], **encode_options)


def model_spec(spec: Any) -> str:
    """``spec`` as the string a worker loads the model from: a folder path or Hub id. A loaded
    :class:`~staticemb.StaticModel` is refused with ``TypeError``: an engine would pickle the whole table into
    every task and unpickle a private copy in every worker."""
    from ..model import StaticModel

    if isinstance(spec, StaticModel):
        raise TypeError(
            "pass the model's folder path or Hub id, not a loaded StaticModel: an engine would pickle the whole "
            "table into every task (a private copy in every worker); pass the path it was loaded from"
        )
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(f"model must be a folder path or Hub id, not {type(spec).__name__}")
    return os.fspath(spec)


def worker_threads(cpus: float | int | None) -> int:
    """The encode thread count for a worker that an engine allots ``cpus`` CPUs: ``max(1, int(cpus))``
    (at most :func:`staticemb.max_threads`), and 1 when the allotment is unknown (``None``).

    ``num_threads=None`` would use every core of the machine in each worker: N workers on N cores would
    then run N x N threads and fight over the cores. An engine that runs one task per CPU needs one thread
    per task.
    """
    from .. import max_threads

    if cpus is None:
        return 1
    if isinstance(cpus, bool) or not isinstance(cpus, numbers.Real):
        raise TypeError(f"cpus must be a number or None, not {type(cpus).__name__}")
    return max(1, min(int(cpus), max_threads()))
