"""Storage quantization of embedding tables: float16, or int8 with one float32 scale per row."""

from __future__ import annotations

import numpy as np

from . import _inputs

__all__ = ["quantize_table"]


def quantize_table(table: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Quantize a float32 table: ``"float16"`` (rounded to nearest) or ``"int8"`` with one scale per row
    (``scale = max|row| / 127``, values rounded to nearest); ``"float32"`` returns it as is. Returns
    ``(values, scales or None)``."""
    dtype = _inputs.table_dtype(dtype)
    table = np.asarray(table, dtype=np.float32)
    if dtype == "float32":
        return np.ascontiguousarray(table), None
    if dtype == "float16":
        return np.ascontiguousarray(table.astype(np.float16)), None
    scales = np.abs(table).max(axis=1) / 127.0
    scales = np.where(scales > 0, scales, 1.0).astype(np.float32)
    values = np.clip(np.rint(table / scales[:, None]), -127, 127).astype(np.int8)
    return np.ascontiguousarray(values), scales
