"""Input coercion: every public argument that carries meaning is checked here, once.

Python owns meaning (which texts, which ``dim``, how many threads, which dtype, which path); the native
binding owns buffers (dtype, contiguity and shape of arrays) and the Rust core the invariants its kernels rely
on. Nothing here is repeated there, and nothing there is repeated here.

Wrong types raise :class:`TypeError`; right types with bad values raise
:class:`~staticemb.errors.InvalidInputError`.
"""

from __future__ import annotations

import enum
import json
import os
import sys
from collections.abc import Iterable, Mapping, Set
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InvalidInputError

__all__ = [
    "count",
    "dim",
    "flag",
    "json_file",
    "ids_array",
    "max_threads",
    "model_path",
    "num_threads",
    "offsets_array",
    "table_dtype",
    "texts",
]


def _type_name(value: Any) -> str:
    return type(value).__name__


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def texts(value: Any) -> list:
    """A private list of the texts (a snapshot: a list another thread changes during the call cannot change
    what is encoded). Item types are checked by the binding as it borrows each string."""
    if isinstance(value, (str, bytes, bytearray, memoryview)):  # iterating bytes would give ints
        raise TypeError(
            f"texts must be a list of str, not a single {_type_name(value)}; to encode one text pass [text]"
        )
    if value is None:
        raise TypeError("texts must be a list of str, not None")
    if isinstance(value, (Set, Mapping)):
        raise TypeError(
            f"texts must be an ordered sequence of str (a list), not a {_type_name(value)}: "
            "the rows of the result would have no defined order"
        )
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise InvalidInputError(f"an array of texts must be 1-D, got shape {value.shape}")
        return value.tolist()
    ndim = getattr(value, "ndim", 1)
    if isinstance(ndim, (int, np.integer)) and ndim != 1:  # a table: a pandas DataFrame iterates its column names
        raise InvalidInputError(
            f"texts must be 1-D (one text per item), not a {ndim}-D {_type_name(value)}: pass one column of it, "
            "such as df['text']"
        )
    if isinstance(value, Iterable):
        return list(value)
    raise TypeError(f"texts must be a list of str, not {_type_name(value)}")


def str_texts(value: Any, what: str, item: str) -> list[str]:
    """:func:`texts`, every item checked to be a ``str`` of valid Unicode here (for callers that read, reorder or
    de-duplicate the texts in Python before the binding sees them): a ``TypeError`` names the first that is not a
    ``str``, as ``"<what> must be str; <item> n is <type>"``, an ``InvalidInputError`` the first holding a lone
    surrogate."""
    items = texts(value)
    for n, text in enumerate(items):
        if not isinstance(text, str):
            raise TypeError(f"{what} must be str; {item} {n} is {_type_name(text)}")
        if lone_surrogate(text) is not None:  # named here, at the caller's position
            raise InvalidInputError(f"{what} must be valid Unicode text; {item} {n} holds a lone surrogate "
                                    "code point")
    return items


def lone_surrogate(text: str) -> int | None:
    """Where ``text`` holds a lone surrogate code point (no UTF-8 encoding has it), or ``None``: the one test of
    valid Unicode text, cheap for ASCII."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return e.start
    return None


def dim(value: Any, *, full: int, default: int, name: str = "dim") -> int:
    """An output width in ``1..=full``; ``None`` gives ``default``. ``name`` is the argument's, for errors."""
    if value is None:
        return default
    if not _is_int(value):
        raise TypeError(f"{name} must be None or an int, not {_type_name(value)}")
    if not 1 <= value <= full:
        raise InvalidInputError(f"{name} must be between 1 and the table width {full}, got {value}")
    return int(value)


def flag(name: str, value: Any, *, default: bool) -> bool:
    """A boolean option; ``None`` gives ``default``. Strings such as ``"false"`` are refused rather than
    read as true."""
    if value is None:
        return default
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise InvalidInputError(f"{name} must be True, False or None, got {value!r}")


def count(name: str, value: Any) -> int | None:
    """A positive integer count, or ``None``."""
    if value is None:
        return None
    if not _is_int(value):
        raise TypeError(f"{name} must be None or an int, not {_type_name(value)}")
    if value < 1:
        raise InvalidInputError(f"{name} must be a positive integer, got {value}")
    if value > sys.maxsize:
        raise InvalidInputError(f"{name} must be at most {sys.maxsize}, got {value}")
    return int(value)


def max_threads() -> int:
    """The largest ``num_threads`` accepted: four times the CPUs this process may use, and at least 16 (the
    binding's cap, which ``RAYON_NUM_THREADS`` is held to as well). More threads than that never helps a
    memory-bound loop, and each costs a stack for the process's life."""
    from . import _core

    return int(_core.max_threads())


def num_threads(value: Any) -> int | None:
    """``None`` (every core, or ``RAYON_NUM_THREADS``) or a thread count in ``1..=max_threads()``."""
    n = count("num_threads", value)
    if n is not None and n > max_threads():
        raise InvalidInputError(
            f"num_threads={n} is more than staticemb allows on this machine ({max_threads()}: four times its "
            f"CPUs, at least 16); pass None to use every core"
        )
    return n


def _int_vector(name: str, value: Any) -> np.ndarray:
    """A 1-D integer array (an empty list counts as one), with no value beyond int64."""
    if isinstance(value, np.ma.MaskedArray):  # np.asarray drops the mask: masked ids would be pooled
        raise TypeError(f"{name} must be a plain integer array, not a masked array (its mask would be ignored)")
    arr = np.asarray(value)
    if arr.size == 0 and arr.dtype.kind not in "iu":
        arr = np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array, not {arr.dtype}")
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.dtype == np.uint64 and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
        raise InvalidInputError(f"{name} holds values too large for int64")
    return arr


def document_ids(values: Any, what: str, n: int) -> np.ndarray:
    """``values`` (any iterable of ints: a list, a set, a 1-D integer array) as sorted, distinct int64 indices
    of ``n`` documents; ``what`` names it in errors."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise TypeError(f"{what} must be a list of document indices, not {type(values).__name__}")
    if isinstance(values, np.ma.MaskedArray):
        raise TypeError(f"{what} must be a list or array of document indices, not a masked array")
    if isinstance(values, np.ndarray):
        if values.ndim != 1 or (values.size and values.dtype.kind not in "iu"):
            raise TypeError(f"{what} must hold int document indices, got {values.dtype} of shape {values.shape}")
        bad = np.flatnonzero((values < 0) | (values >= n))
        if len(bad):
            raise InvalidInputError(f"{what} holds {values[bad[0]]}, not a document index of {n} documents")
        return np.unique(values.astype(np.int64))
    ids = []
    for value in values:  # one by one: NumPy would promote a mix of int64 and uint64 to float, bools to ints
        if not _is_int(value):
            raise TypeError(f"{what} must hold int document indices, not {type(value).__name__}")
        if not 0 <= int(value) < n:
            raise InvalidInputError(f"{what} holds {int(value)}, not a document index of {n} documents")
        ids.append(int(value))
    return np.unique(np.array(ids, dtype=np.int64))


def ids_array(value: Any) -> np.ndarray:
    """Token ids as a 1-D integer array: int32, uint32 and int64 pass as they are (the binding reads all
    three), other integer dtypes are widened to int64."""
    arr = _int_vector("ids", value)
    return arr if arr.dtype in (np.int32, np.uint32, np.int64) else arr.astype(np.int64)


def offsets_array(value: Any) -> np.ndarray:
    """Bag start offsets as a 1-D int64 array (their order and range are the core's to check)."""
    return _int_vector("offsets", value).astype(np.int64, copy=False)


TABLE_DTYPES = ("float32", "float16", "int8")


def table_dtype(value: Any) -> str:
    """A storage dtype name: ``"float32"``, ``"float16"`` or ``"int8"``."""
    if not isinstance(value, str):
        raise TypeError(f"dtype must be a str, not {_type_name(value)}")
    if value not in TABLE_DTYPES:
        raise InvalidInputError(f"dtype must be 'float32', 'float16' or 'int8', got {value!r}")
    return value


MODEL2VEC_DTYPES = ("float16", "float32", "float64", "int8")


def model2vec_dtype(value: Any) -> str:
    """model2vec's ``quantize_to``: one of its dtype names, as a str or its ``DType`` enum (a str enum)."""
    if not isinstance(value, str):
        raise TypeError(f"quantize_to must be a str such as 'int8', not {_type_name(value)}")
    name = str(value.value) if isinstance(value, enum.Enum) else str(value)
    if name not in MODEL2VEC_DTYPES:
        raise InvalidInputError(f"quantize_to must be one of {', '.join(map(repr, MODEL2VEC_DTYPES))}, got {value!r}")
    return name


def model_path(value: Any) -> str:
    """A folder path or Hub id, as a non-empty string."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(
            "model must be a folder path, a Hub id, a SentenceTransformer or a (tokenizer, embeddings) pair, "
            f"not {_type_name(value)}"
        )
    text = os.fspath(value)
    if isinstance(text, bytes):
        raise TypeError("model paths must be str or os.PathLike of str, not bytes")
    if not text.strip():
        raise InvalidInputError("model must name a folder or a Hugging Face Hub id, got an empty string")
    return text


def json_file(path: str | os.PathLike, what: str) -> Any:
    """A user's JSON file (a training config, a task file): every problem, missing file and JSON bomb
    included, is an InvalidInputError that says ``what`` it is and names it."""
    p = Path(path)
    try:
        return json.loads(p.read_bytes().decode("utf-8-sig"))  # a byte order mark (Notepad's) is skipped
    except FileNotFoundError:
        raise InvalidInputError(f"{what} not found: {p}") from None
    except IsADirectoryError:
        raise InvalidInputError(f"{what} {p} is a folder, not a JSON file") from None
    except UnicodeDecodeError as e:
        raise InvalidInputError(f"{what} {p} is not UTF-8 text: {e}") from None
    except RecursionError:
        raise InvalidInputError(f"{what} {p} is not valid JSON: it is nested too deeply") from None
    except ValueError as e:
        raise InvalidInputError(f"{what} {p} is not valid JSON: {e}") from None


SIMILARITY_FNS = ("cosine", "dot", "euclidean", "manhattan")
OUTPUT_VALUES = ("sentence_embedding",)


def prompts(value: Any) -> dict[str, str]:
    """Named prompts: a dict of str to str (``None`` is none)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError("prompts must be a dict mapping prompt names to prompt strings")
    for name, text in value.items():  # a model's prompts dict is the user's to change: a bad entry is named
        if not isinstance(name, str) or not isinstance(text, str):
            raise TypeError(f"prompts[{name!r}] must be a str named by a str, not {type(text).__name__}")
    return dict(value)


def similarity_fn_name(value: Any) -> str | None:
    """``"cosine"``, ``"dot"``, ``"euclidean"``, ``"manhattan"`` or ``None`` (cosine)."""
    value = getattr(value, "value", value)  # Sentence Transformers' SimilarityFunction enum
    if value is None:
        return None
    if value not in SIMILARITY_FNS:
        raise InvalidInputError(f"similarity_fn_name must be one of {', '.join(SIMILARITY_FNS)}, got {value!r}")
    return str(value)


def prompt(value: Any, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be None or a str, not {_type_name(value)}")
    return value
