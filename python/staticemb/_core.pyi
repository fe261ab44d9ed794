"""Type stubs for the native module ``staticemb._core`` (checked against the binary by ``make lint``:
``python -m mypy.stubtest staticemb._core``)."""

from collections.abc import Callable
from typing import Any, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "CACHED_POOLS",
    "Model",
    "available_kernels",
    "available_threads",
    "cached_pools",
    "default_threads",
    "kernel_name",
    "max_threads",
    "read_model_weights",
    "segment_max",
    "__version__",
]

__version__: str
CACHED_POOLS: int

@final
class Model:
    def __new__(
        cls,
        tokenizer_json: str | bytes,
        table: npt.NDArray[np.float32] | npt.NDArray[np.uint16] | npt.NDArray[np.int8],
        *,
        scales: npt.NDArray[np.float32] | None = None,
        mapping: npt.NDArray[np.int64] | None = None,
        weights: npt.NDArray[np.float32] | None = None,
        drop_unknown: bool = False,
        native: bool = True,
    ) -> Model: ...
    @property
    def vocab_size(self) -> int: ...
    @property
    def backend(self) -> str: ...
    @property
    def rows(self) -> int: ...
    @property
    def width(self) -> int: ...
    @property
    def dropped_unknown(self) -> int | None: ...
    @property
    def unknown_token(self) -> int | None: ...
    @property
    def file_truncation(self) -> tuple[int, bool] | None: ...
    @property
    def median_token_chars(self) -> int: ...
    def encode(
        self,
        texts: list[str],
        dim: int,
        normalize: bool,
        num_threads: int | None = None,
        max_tokens: int | None = None,
        keep_end: bool = False,
        batch_size: int = 16384,
        progress: Callable[[int], object] | None = None,
    ) -> npt.NDArray[np.float32]: ...
    def embed_ids(
        self,
        ids: npt.NDArray[np.int64] | npt.NDArray[np.int32] | npt.NDArray[np.uint32],
        offsets: npt.NDArray[np.int64],
        dim: int,
        normalize: bool,
        num_threads: int | None = None,
    ) -> npt.NDArray[np.float32]: ...
    def tokenize(
        self, texts: list[str], num_threads: int | None = None
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]: ...

def read_model_weights(data: npt.NDArray[np.uint8]) -> dict[str, Any]: ...
def segment_max(
    values: npt.NDArray[np.float32],
    rows: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int64],
    fill: float,
    num_threads: int | None = None,
    scales: npt.NDArray[np.float32] | None = None,
) -> npt.NDArray[np.float32]: ...
def kernel_name() -> str: ...
def available_kernels() -> list[str]: ...
def default_threads() -> int: ...
def available_threads() -> int: ...
def max_threads() -> int: ...
def cached_pools() -> int: ...
