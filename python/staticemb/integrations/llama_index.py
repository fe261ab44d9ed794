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

from .. import _inputs
from ..model import StaticModel
from . import ModelLike, _check_options, _encode_options, _load_model, _model_name

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

        An option :meth:`StaticModel.encode` refuses is refused here, with its error.
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
        _check_options(loaded, self)
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

    def get_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs: Any
    ) -> list[Embedding]:
        """LlamaIndex's batched embedding, the texts checked first (see :func:`_batch_texts`)."""
        return super().get_text_embedding_batch(_batch_texts(texts), show_progress=show_progress, **kwargs)

    async def aget_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs: Any
    ) -> list[Embedding]:
        """:meth:`get_text_embedding_batch`, asynchronously."""
        texts = _batch_texts(texts)
        return await super().aget_text_embedding_batch(texts, show_progress=show_progress, **kwargs)

    def _get_query_embedding(self, query: str) -> Embedding:
        result: Embedding = self._model.encode_query(_one_text(query, "query"), **self._options()).tolist()
        return result

    def _get_text_embedding(self, text: str) -> Embedding:
        result: Embedding = self._model.encode_document(_one_text(text, "text"), **self._options()).tolist()
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


def _one_text(text: Any, what: str) -> str:
    """``text`` when it is a ``str``: a list would give a list of vectors where LlamaIndex expects one, and
    ``None`` would be reported as a list of texts that is ``None``."""
    if not isinstance(text, str):
        raise TypeError(
            f"the {what} to embed must be one str, not {type(text).__name__}; embed a list of texts with "
            "get_text_embedding_batch"
        )
    return text


def _batch_texts(texts: Any) -> list[str]:
    """``texts`` as a list of ``str``, checked before LlamaIndex cuts it into ``embed_batch_size`` batches:
    one ``str`` would be embedded a character at a time, and a text that is not a ``str`` is named by its
    place in the whole list (the encoder sees one batch, so it would name its place in that batch)."""
    return _inputs.str_texts(texts, "get_text_embedding_batch's texts", "text")
