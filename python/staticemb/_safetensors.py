"""Zero-copy reading of ``.safetensors`` files into NumPy arrays.

The ``safetensors`` package reads tensors into fresh buffers. To keep a 30,522 x 1024 table out of the heap
we memory-map the data section instead; the format is a little-endian u64 header length, a JSON header and
the raw data. Anything inconsistent raises :class:`~staticemb.errors.ModelFormatError` naming the file.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from .errors import ModelFormatError

_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),  # widened to float32 by the caller
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "U32": np.dtype("<u4"),
    "U64": np.dtype("<u8"),
    "BOOL": np.dtype("?"),
}

_MAX_HEADER = 100 * 1024 * 1024


def read_header(path: Path) -> tuple[dict, int, int]:
    """Return ``(header, data_start, file_size)``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model weights not found: {path}")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ModelFormatError(f"{path} is not a safetensors file: it holds only {size} bytes")
        n = int.from_bytes(head, "little")
        if n > min(size - 8, _MAX_HEADER):
            raise ModelFormatError(
                f"{path} is truncated or not a safetensors file: its header claims {n} bytes "
                f"but the file holds {size} bytes"
            )
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ModelFormatError(f"{path} has a corrupt safetensors header: {e}") from None
    if not isinstance(header, dict):
        raise ModelFormatError(f"{path} has a corrupt safetensors header (not a JSON object)")
    return header, 8 + n, size


def load(path: str | os.PathLike, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Memory-map the tensors of a safetensors file (all of them, or ``names`` that exist).

    Float32 and integer tensors are returned as read-only views of the mapped file; BF16 is widened to
    float32 (a copy). A tensor whose offset is not aligned for its dtype is copied.
    """
    path = Path(path)
    header, start, size = read_header(path)
    out: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__" or (names is not None and name not in names):
            continue
        try:
            dtype_name = info["dtype"]
            shape = tuple(int(s) for s in info["shape"])
            begin, end = (int(o) for o in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise ModelFormatError(f"{path}: corrupt header entry for tensor {name!r}") from None
        if dtype_name not in _DTYPES:
            raise ModelFormatError(f"{path}: tensor {name!r} has unsupported dtype {dtype_name}")
        dtype = _DTYPES[dtype_name]
        nbytes = math.prod(shape) * dtype.itemsize
        if end - begin != nbytes or begin < 0 or any(s < 0 for s in shape):
            raise ModelFormatError(
                f"{path}: tensor {name!r} of shape {shape} and dtype {dtype_name} needs {nbytes} bytes "
                f"but its offsets span {end - begin}"
            )
        if start + end > size:
            raise ModelFormatError(
                f"{path} is truncated: tensor {name!r} ends at byte {start + end} but the file has {size} bytes"
            )
        if nbytes == 0:
            arr = np.zeros(shape, dtype=dtype)
        else:
            arr = np.memmap(path, dtype=dtype, mode="r", offset=start + begin, shape=shape).view(np.ndarray)
            if not arr.flags.aligned:
                arr = np.array(arr)
        if dtype_name == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        out[name] = arr
    return out
