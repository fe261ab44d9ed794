"""LangChain embeddings backed by a staticemb model (``pip install "staticemb[langchain]"``).

>>> from langchain_core.vectorstores import InMemoryVectorStore
>>> from staticemb.integrations.langchain import StaticEmbeddings
>>> store = InMemoryVectorStore(StaticEmbeddings("path/or/hub-id"))
"""

from __future__ import annotations

from typing import Any

try:
    from langchain_core.embeddings import Embeddings
except ImportError as e:
    raise ImportError(
        'staticemb.integrations.langchain needs langchain-core: pip install "staticemb[langchain]"'
    ) from e

from ..model import StaticModel
from . import ModelLike, _check_options, _encode_options, _load_model

__all__ = ["StaticEmbeddings"]


class StaticEmbeddings(Embeddings):
    """A LangChain :class:`~langchain_core.embeddings.Embeddings` that encodes with a staticemb model.

    Documents are encoded with :meth:`StaticModel.encode_document` and queries with
    :meth:`StaticModel.encode_query` (the model's ``"document"`` / ``"query"`` prompts apply when it has them).
    The async methods are LangChain's defaults: the sync ones run in an executor, which is concurrent since
    staticemb releases the GIL while it encodes.
    """

    def __init__(
        self,
        model: ModelLike,
        *,
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
        num_threads: int | None = None,
    ) -> None:
        """Args:
        model: a folder path or Hub id (loaded with :meth:`StaticModel.from_pretrained`) or a loaded model.
        normalize_embeddings: L2-normalize every vector (a model that normalizes does so anyway).
        truncate_dim: keep the first ``truncate_dim`` dimensions (``None``: the model's width).
        num_threads: encoding threads (``None``: every core).

        An option :meth:`StaticModel.encode` refuses is refused here, with its error.
        """
        self.model: StaticModel = _load_model(model)
        self.normalize_embeddings = normalize_embeddings
        self.truncate_dim = truncate_dim
        self.num_threads = num_threads
        _check_options(self.model, self)

    def _options(self) -> dict[str, Any]:
        return _encode_options(self)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, as lists of Python floats, encoded in one call."""
        if isinstance(texts, str):
            raise TypeError("embed_documents takes a list of str, not one str; use embed_query for one text")
        vectors = self.model.encode_document(texts, **self._options())
        result: list[list[float]] = vectors.tolist()
        return result

    def embed_query(self, text: str) -> list[float]:
        """The query's vector, as a list of Python floats."""
        if not isinstance(text, str):
            raise TypeError(
                f"embed_query takes one str, not {type(text).__name__}; use embed_documents for a list"
            )
        vector = self.model.encode_query(text, **self._options())
        result: list[float] = vector.tolist()
        return result
