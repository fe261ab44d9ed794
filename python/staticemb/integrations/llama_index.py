"""LlamaIndex embeddings backed by a staticemb model (``pip install "staticemb[llama-index]"``).

>>> from llama_index.core import Settings
>>> from staticemb.integrations.llama_index import StaticEmbedding
>>> Settings.embed_model = StaticEmbedding("path/or/hub-id")
"""

from __future__ import annotations

import asyncio
from typing import Any

try:
    from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
    from llama_index.core.bridge.pydantic import Field, PrivateAttr
except ImportError as e:
    raise ImportError(
        'staticemb.integrations.llama_index needs llama-index-core: pip install "staticemb[llama-index]"'
    ) from e

from ..model import StaticModel
from . import ModelLike, _encode_options, _load_model, _model_name

__all__ = ["StaticEmbedding"]

MAX_EMBED_BATCH_SIZE = 2048
"""LlamaIndex's upper bound on ``embed_batch_size``, the default here: a static model encodes a batch of
thousands of texts in one native call, so fewer, larger batches are faster."""


class StaticEmbedding(BaseEmbedding):
    """A LlamaIndex :class:`~llama_index.core.base.embeddings.base.BaseEmbedding` that encodes with a staticemb
    model.

    Texts (nodes, documents) are encoded with :meth:`StaticModel.encode_document`, one native call per
    ``embed_batch_size`` texts, and queries with :meth:`StaticModel.encode_query` (the model's ``"document"`` /
    ``"query"`` prompts apply when it has them). The async methods run the same calls in a worker thread
    (staticemb releases the GIL while it encodes).

    ``to_dict()`` / ``from_dict()`` round-trip through ``model_name``: a model given as a path or Hub id is
    reloaded from it; a loaded :class:`StaticModel` needs ``model_name`` set to where it can be loaded from.
    """

    normalize_embeddings: bool = Field(default=False, description="L2-normalize every vector.")
    truncate_dim: int | None = Field(
        default=None, description="Keep the first truncate_dim dimensions (None: the model's width)."
    )
    num_threads: int | None = Field(default=None, description="Encoding threads (None: every core).")
    _model: StaticModel = PrivateAttr()

    def __init__(
        self,
        model: ModelLike | None = None,
        *,
        model_name: str | None = None,
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
        num_threads: int | None = None,
        embed_batch_size: int = MAX_EMBED_BATCH_SIZE,
        **kwargs: Any,
    ) -> None:
        """Args:
        model: a folder path or Hub id (loaded with :meth:`StaticModel.from_pretrained`) or a loaded model;
            ``None`` loads ``model_name``.
        model_name: the name LlamaIndex reports and serializes; defaults to ``model`` when that is a path or
            Hub id, else ``"unknown"``.
        normalize_embeddings: L2-normalize every vector (a model that normalizes does so anyway).
        truncate_dim: keep the first ``truncate_dim`` dimensions (``None``: the model's width).
        num_threads: encoding threads (``None``: every core).
        embed_batch_size, **kwargs: as in ``BaseEmbedding`` (``callback_manager``, ``embeddings_cache`` …).
        """
        if model is None:
            if model_name is None:
                raise TypeError(
                    "StaticEmbedding needs a model: a path, a Hub id or a StaticModel (or model_name)"
                )
            model = model_name
        loaded = _load_model(model)
        options: dict[str, Any] = {  # this class's fields, which BaseEmbedding's typed __init__ does not list
            "normalize_embeddings": normalize_embeddings,
            "truncate_dim": truncate_dim,
            "num_threads": num_threads,
        }
        super().__init__(
            model_name=model_name or _model_name(model) or "unknown",
            embed_batch_size=embed_batch_size,
            **options,
            **kwargs,
        )
        self._model = loaded

    @classmethod
    def class_name(cls) -> str:
        return "StaticEmbedding"

    @property
    def model(self) -> StaticModel:
        """The staticemb model that encodes."""
        return self._model

    def _options(self) -> dict[str, Any]:
        return _encode_options(self)

    def _get_query_embedding(self, query: str) -> Embedding:
        result: Embedding = self._model.encode_query(query, **self._options()).tolist()
        return result

    def _get_text_embedding(self, text: str) -> Embedding:
        result: Embedding = self._model.encode_document(text, **self._options()).tolist()
        return result

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        result: list[Embedding] = self._model.encode_document(list(texts), **self._options()).tolist()
        return result

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)
