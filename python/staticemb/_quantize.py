"""Storage quantization of embedding tables: float16, or int8 with one float32 scale per row."""

from __future__ import annotations

import numpy as np

from . import _inputs
from .errors import InvalidInputError

__all__ = ["PRECISIONS", "check_finite", "model2vec_int8", "quantize_embeddings", "quantize_table"]


def quantize_table(table: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Quantize a float32 table: ``"float16"`` (rounded to nearest) or ``"int8"`` with one scale per row
    (``scale = max|row| / 127``, values rounded to nearest); ``"float32"`` returns it as is. Returns
    ``(values, scales or None)``."""
    dtype = _inputs.table_dtype(dtype)
    table = np.asarray(table, dtype=np.float32)
    if dtype == "float32":
        return np.ascontiguousarray(table), None
    check_finite(table, f"quantized to {dtype}")
    if dtype == "float16":
        if past_float16(table):
            raise InvalidInputError("the table holds values beyond float16's largest value (65504): float16 would "
                                    "make them infinite; quantize to 'int8' instead")
        return np.ascontiguousarray(table.astype(np.float16)), None
    scales = np.abs(table).max(axis=1) / 127.0
    scales = np.where(scales > 0, scales, 1.0).astype(np.float32)
    values = np.clip(np.rint(table / scales[:, None]), -127, 127).astype(np.int8)
    return np.ascontiguousarray(values), scales


def check_finite(table: np.ndarray, purpose: str) -> None:
    """Refuse a table with a NaN or infinite value, naming its first such row and what it cannot be."""
    bad = np.flatnonzero(~np.isfinite(table).all(axis=1))
    if bad.size:
        raise InvalidInputError(f"row {int(bad[0])} of the table is not finite: it cannot be {purpose}")


def model2vec_int8(table: np.ndarray, used: int) -> np.ndarray:
    """model2vec's ``quantize_to="int8"``: one scale for the table (the largest magnitude of its first ``used``
    rows over 127), the division done in float16 and rounded to nearest, so the values are model2vec's to the
    bit. A vector pooled from them is in the scale's units (model2vec returns it so)."""
    check_finite(table, "quantized to int8")
    scale = np.max(np.abs(table[:used])) / 127.0 if table[:used].size else 0.0
    if scale == 0:  # an empty or all-zero table: zero values (model2vec would divide by zero)
        return np.zeros(table.shape, dtype=np.int8)
    half = table.astype(np.float16)
    with np.errstate(over="ignore"):  # past float16 is past 127 steps: clipped below, as model2vec clips it
        np.divide(half, scale, out=half)
    np.rint(half, out=half)
    np.clip(half, -127, 127, out=half)
    return np.ascontiguousarray(half.astype(np.int8))


def past_float16(table: np.ndarray) -> bool:
    """Whether a finite ``table`` holds a value float16 cannot (it would round to infinity); no copy is made."""
    return bool(table.size) and max(float(table.max()), -float(table.min())) > float(np.finfo(np.float16).max)


PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")


def quantize_embeddings(
    embeddings: np.ndarray,
    precision: str,
    ranges: np.ndarray | None = None,
    calibration_embeddings: np.ndarray | None = None,
) -> np.ndarray:
    """Quantize float embeddings as Sentence Transformers' ``quantize_embeddings`` does, bit for bit:

    * ``"int8"`` / ``"uint8"``: per-dimension buckets over ``ranges`` (a ``(2, dim)`` array of minimum and
      maximum), else over the minimum and maximum of ``calibration_embeddings``, else of ``embeddings``
      themselves (which needs at least two embeddings);
    * ``"binary"`` / ``"ubinary"``: one bit per dimension (``> 0``), packed 8 per byte (``binary`` shifted to
      int8);
    * ``"float32"``: unchanged.
    """
    from .errors import InvalidInputError

    if precision not in PRECISIONS:
        raise InvalidInputError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    embeddings = np.asarray(embeddings)
    if embeddings.dtype in (np.uint8, np.int8):
        raise InvalidInputError("embeddings to quantize must be floating point, not int8 or uint8")
    if embeddings.ndim == 2 and embeddings.shape[0] == 0:
        dim = embeddings.shape[1]
        if precision.endswith("int8"):
            return np.zeros((0, dim), dtype=np.int8 if precision == "int8" else np.uint8)
        if precision.endswith("binary"):
            return np.zeros((0, (dim + 7) // 8), dtype=np.int8 if precision == "binary" else np.uint8)
    if precision == "float32":
        return embeddings.astype(np.float32)
    if precision.endswith("int8"):
        if ranges is None:
            calibration = embeddings if calibration_embeddings is None else np.asarray(calibration_embeddings)
            if calibration_embeddings is None and (embeddings.ndim == 1 or embeddings.shape[0] == 1):
                raise InvalidInputError(
                    f"cannot compute {precision} quantization ranges from a single embedding: pass ranges or "
                    "calibration_embeddings from a representative set of embeddings"
                )
            ranges = np.vstack((np.min(calibration, axis=0), np.max(calibration, axis=0)))
        ranges = np.asarray(ranges).astype(np.float32, copy=False)
        starts = ranges[0, :]
        steps = (ranges[1, :] - starts) / 255
        steps = np.where(steps == 0, 1, steps)
        q_vals = np.clip(np.floor((embeddings - starts) / steps), 0, 255)
        if precision == "uint8":
            return q_vals.astype(np.uint8)
        return (q_vals - 128).astype(np.int8)
    if precision == "binary":
        return (np.packbits(embeddings > 0, axis=-1) - 128).astype(np.int8)
    return np.packbits(embeddings > 0, axis=-1)
