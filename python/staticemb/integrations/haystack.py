"""Haystack embedder components backed by a staticemb model (``pip install "staticemb[haystack]"``).

:class:`StaticTextEmbedder` embeds a query string and :class:`StaticDocumentEmbedder` a list of documents, with
the inputs, outputs and text options (``prefix``, ``suffix``, ``meta_fields_to_embed``, ``embedding_separator``)
of Haystack's Sentence Transformers embedders::

    from haystack import Pipeline
    from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
    from staticemb.integrations.haystack import StaticTextEmbedder

    query = Pipeline()
    query.add_component("embedder", StaticTextEmbedder("path/or/hub-id"))
    query.add_component("retriever", InMemoryEmbeddingRetriever(document_store))
    query.connect("embedder.embedding", "retriever.query_embedding")

Both serialize (``to_dict``, ``Pipeline.dumps``) when ``model`` is a path or Hub id. Haystack loads classes
only from modules on its deserialization allowlist, which holds Haystack's own: load a pipeline with
``Pipeline.loads(text, allowed_modules=["staticemb.integrations.haystack"])``, or allow the module for the whole
process with ``haystack.core.serialization.allow_deserialization_module("staticemb.integrations.haystack")``.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

try:
    from haystack import Document, component, default_from_dict, default_to_dict
    from haystack.core.errors import SerializationError
except ImportError as e:
    raise ImportError(
        'staticemb.integrations.haystack needs haystack-ai: pip install "staticemb[haystack]"'
    ) from e

from ..model import StaticModel
from . import ModelLike, _check_options, _encode_options, _load_model, _model_name

__all__ = ["StaticDocumentEmbedder", "StaticTextEmbedder"]


class _StaticEmbedder:
    """What both components share: the model (loaded by :meth:`warm_up`), the encode options, serialization.

    The encode options are checked against the model (an option :meth:`StaticModel.encode` refuses is refused,
    with its error) as soon as there is one: at construction for a loaded model, by :meth:`warm_up` for a path
    or Hub id, which Haystack loads there rather than when it builds or deserializes a pipeline.
    """

    def __init__(
        self,
        model: ModelLike,
        *,
        prefix: str = "",
        suffix: str = "",
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
        num_threads: int | None = None,
        progress_bar: bool = False,
    ) -> None:
        self.model = model
        self.prefix = prefix
        self.suffix = suffix
        self.normalize_embeddings = normalize_embeddings
        self.truncate_dim = truncate_dim
        self.num_threads = num_threads
        self.progress_bar = progress_bar
        self._model: StaticModel | None = None
        if isinstance(model, StaticModel):
            _check_options(model, self)
            self._model = model

    def warm_up(self) -> None:
        """Load the model (once) and check the encode options against it; ``run`` calls this itself when
        needed."""
        if self._model is None:
            loaded = _load_model(self.model)
            _check_options(loaded, self)
            self._model = loaded

    def _loaded(self) -> StaticModel:
        self.warm_up()
        assert self._model is not None
        return self._model

    def _options(self) -> dict[str, Any]:
        return {**_encode_options(self), "show_progress_bar": self.progress_bar}

    def _init_parameters(self) -> dict[str, Any]:
        name = _model_name(self.model)
        if name is None:
            raise SerializationError(
                f"{type(self).__name__} holds a loaded StaticModel, which a pipeline cannot serialize: "
                "pass the model's folder path or Hub id instead"
            )
        return {
            "model": name,
            "prefix": self.prefix,
            "suffix": self.suffix,
            "normalize_embeddings": self.normalize_embeddings,
            "truncate_dim": self.truncate_dim,
            "num_threads": self.num_threads,
            "progress_bar": self.progress_bar,
        }


@component
class StaticTextEmbedder(_StaticEmbedder):
    """Embeds a string (a query) with :meth:`StaticModel.encode_query` (the model's ``"query"`` prompt applies
    when it has one), after adding ``prefix`` and ``suffix``.

    Input: ``text`` (``str``). Output: ``{"embedding": list[float]}``.
    """

    def __init__(
        self,
        model: ModelLike,
        *,
        prefix: str = "",
        suffix: str = "",
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
        num_threads: int | None = None,
        progress_bar: bool = False,
    ) -> None:
        """Args:
        model: a folder path or Hub id (loaded by :meth:`warm_up` with :meth:`StaticModel.from_pretrained`)
            or a loaded model (which ``to_dict`` cannot serialize).
        prefix, suffix: strings added before and after the text.
        normalize_embeddings: L2-normalize every vector (a model that normalizes does so anyway).
        truncate_dim: keep the first ``truncate_dim`` dimensions (``None``: the model's width).
        num_threads: encoding threads (``None``: every core).
        progress_bar: show a progress bar while encoding.
        """
        # Haystack's @component rebuilds the class, which breaks zero-argument super().
        _StaticEmbedder.__init__(
            self,
            model,
            prefix=prefix,
            suffix=suffix,
            normalize_embeddings=normalize_embeddings,
            truncate_dim=truncate_dim,
            num_threads=num_threads,
            progress_bar=progress_bar,
        )

    def to_dict(self) -> dict[str, Any]:
        """Serialize the component (``SerializationError`` for a loaded model: pass a path or Hub id)."""
        return default_to_dict(self, **self._init_parameters())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StaticTextEmbedder:
        """Build the component from :meth:`to_dict`'s output."""
        return default_from_dict(cls, data)

    @component.output_types(embedding=list[float])
    def run(self, text: str) -> dict[str, Any]:
        """Embed ``text``: ``{"embedding": list[float]}``."""
        if not isinstance(text, str):
            raise TypeError(
                "StaticTextEmbedder expects a string as input; to embed a list of Documents, use "
                "StaticDocumentEmbedder"
            )
        vector = self._loaded().encode_query(self.prefix + text + self.suffix, **self._options())
        return {"embedding": vector.tolist()}

    @component.output_types(embedding=list[float])
    async def run_async(self, text: str) -> dict[str, Any]:
        """:meth:`run` in a worker thread (staticemb releases the GIL while it encodes)."""
        return await asyncio.to_thread(self.run, text)


@component
class StaticDocumentEmbedder(_StaticEmbedder):
    """Embeds documents with :meth:`StaticModel.encode_document` (the model's ``"document"`` prompt applies
    when it has one), in one call.

    Each document's text is ``prefix + embedding_separator.join([*meta values, content]) + suffix``, the meta
    values being those of ``meta_fields_to_embed`` that the document has (and are not ``None``), as in
    Haystack's other document embedders.

    Input: ``documents`` (``list[Document]``). Output: ``{"documents": list[Document]}``: copies of the input
    documents with ``embedding`` set (the inputs are left unchanged).
    """

    def __init__(
        self,
        model: ModelLike,
        *,
        prefix: str = "",
        suffix: str = "",
        meta_fields_to_embed: list[str] | None = None,
        embedding_separator: str = "\n",
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
        num_threads: int | None = None,
        progress_bar: bool = False,
    ) -> None:
        """Args:
        model: a folder path or Hub id (loaded by :meth:`warm_up` with :meth:`StaticModel.from_pretrained`)
            or a loaded model (which ``to_dict`` cannot serialize).
        prefix, suffix: strings added before and after each document's text.
        meta_fields_to_embed: meta fields whose values are embedded along with the content.
        embedding_separator: joins the meta values and the content.
        normalize_embeddings: L2-normalize every vector (a model that normalizes does so anyway).
        truncate_dim: keep the first ``truncate_dim`` dimensions (``None``: the model's width).
        num_threads: encoding threads (``None``: every core).
        progress_bar: show a progress bar while encoding.
        """
        # Haystack's @component rebuilds the class, which breaks zero-argument super().
        _StaticEmbedder.__init__(
            self,
            model,
            prefix=prefix,
            suffix=suffix,
            normalize_embeddings=normalize_embeddings,
            truncate_dim=truncate_dim,
            num_threads=num_threads,
            progress_bar=progress_bar,
        )
        if isinstance(meta_fields_to_embed, str):  # list("title") would look up the fields "t", "i", …
            raise TypeError("meta_fields_to_embed must be a list of field names, not a str")
        self.meta_fields_to_embed = list(meta_fields_to_embed or [])
        self.embedding_separator = embedding_separator

    def to_dict(self) -> dict[str, Any]:
        """Serialize the component (``SerializationError`` for a loaded model: pass a path or Hub id)."""
        return default_to_dict(
            self,
            **self._init_parameters(),
            meta_fields_to_embed=self.meta_fields_to_embed,
            embedding_separator=self.embedding_separator,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StaticDocumentEmbedder:
        """Build the component from :meth:`to_dict`'s output."""
        return default_from_dict(cls, data)

    def _text_to_embed(self, document: Document) -> str:
        meta = [
            str(document.meta[key])
            for key in self.meta_fields_to_embed
            if key in document.meta and document.meta[key] is not None
        ]
        return self.prefix + self.embedding_separator.join([*meta, document.content or ""]) + self.suffix

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """Embed ``documents``: ``{"documents": list[Document]}``, copies with ``embedding`` set."""
        if not isinstance(documents, list) or not all(isinstance(d, Document) for d in documents):
            raise TypeError(
                "StaticDocumentEmbedder expects a list of Documents as input; to embed a string, use "
                "StaticTextEmbedder"
            )
        if not documents:
            return {"documents": []}
        texts = [self._text_to_embed(d) for d in documents]
        vectors = self._loaded().encode_document(texts, **self._options()).tolist()
        return {"documents": [replace(d, embedding=v) for d, v in zip(documents, vectors, strict=True)]}

    @component.output_types(documents=list[Document])
    async def run_async(self, documents: list[Document]) -> dict[str, Any]:
        """:meth:`run` in a worker thread (staticemb releases the GIL while it encodes)."""
        return await asyncio.to_thread(self.run, documents)
