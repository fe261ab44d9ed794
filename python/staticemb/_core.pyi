"""Type stubs for the native module ``staticemb._core``."""

import numpy as np
import numpy.typing as npt

__version__: str

class TextEncoder:
    def __init__(
        self,
        tokenizer_json: str,
        mapping: npt.NDArray[np.int64] | None = None,
        weights: npt.NDArray[np.float32] | None = None,
        drop_ids: list[int] = ...,
        native: bool = True,
    ) -> None: ...
    @property
    def backend(self) -> str: ...
    @property
    def vocab_size(self) -> int: ...
    @property
    def required_rows(self) -> int: ...
    def encode_into(
        self,
        texts: list[str],
        table: npt.NDArray[np.float32],
        out: npt.NDArray[np.float32],
        normalize: bool = False,
        num_threads: int | None = None,
    ) -> None: ...
    def tokenize(
        self, texts: list[str], num_threads: int | None = None
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]: ...

def pool_into(
    table: npt.NDArray[np.float32],
    ids: npt.NDArray[np.int64] | npt.NDArray[np.int32] | npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    out: npt.NDArray[np.float32],
    normalize: bool = False,
    num_threads: int | None = None,
    weights: npt.NDArray[np.float32] | None = None,
) -> None: ...
def check_offsets(offsets: npt.NDArray[np.int64], n_ids: int) -> None: ...
def kernel_name() -> str: ...
def available_kernels() -> list[str]: ...
def default_threads() -> int: ...
