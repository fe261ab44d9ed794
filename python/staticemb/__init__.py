"""staticemb: fast static embedding models.

A static embedding model is a tokenizer plus one table of token vectors; a text's embedding is the mean of its
tokens' rows. staticemb tokenizes and pools in Rust, on every core, with the GIL released.

    >>> from staticemb import StaticModel
    >>> model = StaticModel.from_pretrained("path/or/hub-id")
    >>> vectors = model.encode(["a sentence", "another"], dim=256)
"""

from __future__ import annotations

import os
import warnings

from . import _core, _inputs
from ._quantize import quantize_embeddings
from .errors import (
    InvalidInputError,
    ModelFormatError,
    StaticembError,
    TokenIdError,
    TokenizerError,
)
from .index import SearchIndex
from .model import StaticModel
from .search import passage_search, semantic_search, split_passages

__version__: str = _core.__version__

__all__ = [
    "InvalidInputError",
    "ModelFormatError",
    "SearchIndex",
    "StaticModel",
    "StaticembError",
    "TokenIdError",
    "TokenizerError",
    "__version__",
    "default_threads",
    "kernel_name",
    "max_threads",
    "passage_search",
    "quantize_embeddings",
    "semantic_search",
    "split_passages",
]


def _check_kernel_override() -> None:
    """Warn when ``STATICEMB_KERNEL`` names no kernel this CPU runs (pooling then uses the detected one)."""
    wanted = os.environ.get("STATICEMB_KERNEL", "").strip().lower()
    running = _core.kernel_name()
    if wanted and wanted.replace("neon", "baseline") != running.replace("neon", "baseline"):
        warnings.warn(
            f"STATICEMB_KERNEL={wanted!r} names no kernel this CPU runs (scalar, baseline, avx2, avx512 where the "
            f"CPU has AVX-512F; neon on aarch64): pooling uses {running!r}",
            RuntimeWarning,
            stacklevel=3,
        )


def kernel_name() -> str:
    """The SIMD kernel used for pooling on this CPU ("avx2", "baseline", "neon", … or the value of
    ``STATICEMB_KERNEL`` when it names an available one)."""
    return _core.kernel_name()


def default_threads() -> int:
    """Threads used for ``num_threads=None``: ``RAYON_NUM_THREADS`` if set (at most :func:`max_threads`), else
    every core."""
    return int(_core.default_threads())


def max_threads() -> int:
    """The largest ``num_threads`` accepted: four times the CPUs this process may use, and at least 16.
    Larger values raise :class:`InvalidInputError` before any thread is started."""
    return _inputs.max_threads()

_check_kernel_override()
