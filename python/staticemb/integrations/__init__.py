"""Adapters that plug a staticemb model into other frameworks, each an optional extra. This package imports no
framework: import the module of the one you use.

- ``staticemb.integrations.langchain``: ``StaticEmbeddings``, a LangChain ``Embeddings``
  (``pip install "staticemb[langchain]"``).
- ``staticemb.integrations.llama_index``: ``StaticEmbedding``, a LlamaIndex ``BaseEmbedding``
  (``pip install "staticemb[llama-index]"``).
- ``staticemb.integrations.chroma``: ``StaticEmbeddingFunction``, a Chroma ``EmbeddingFunction``
  (``pip install "staticemb[chroma]"``).
- ``staticemb.integrations.haystack``: ``StaticTextEmbedder`` and ``StaticDocumentEmbedder``, Haystack
  components (``pip install "staticemb[haystack]"``).
- ``staticemb.integrations.mteb``: an MTEB model wrapper (``pip install "staticemb[mteb]"``).
- ``staticemb.integrations.ray``: ``embed_dataset``, ``embed_batch`` and ``StaticEmbedder`` for Ray Data
  ``map_batches``; the model is a path or Hub id only (``pip install "staticemb[ray]"``).
- ``staticemb.integrations.spark``: ``embed_dataframe``, ``mapinarrow_udf`` and ``decode_binary`` for Spark
  ``mapInArrow``; the model is a path or Hub id only (``pip install "staticemb[spark]"``).

The framework adapters (LangChain, LlamaIndex, Chroma, Haystack, MTEB) take ``model``: a folder path or Hub id
(loaded with :meth:`staticemb.StaticModel.from_pretrained`) or a loaded :class:`staticemb.StaticModel`. Queries
are encoded with :meth:`~staticemb.StaticModel.encode_query` and documents with
:meth:`~staticemb.StaticModel.encode_document`, so a model's ``"query"`` and ``"document"`` prompts apply.
``normalize_embeddings``, ``truncate_dim`` and ``num_threads`` are passed to :meth:`~staticemb.StaticModel.encode`,
which checks them when the adapter is built (Haystack's components: when the model is, at ``warm_up``);
staticemb's errors (``InvalidInputError`` …) propagate unchanged. The engines (Ray, Spark) embed a column of
texts as :meth:`~staticemb.StaticModel.encode` does (the model's default prompt, if any); their ``prompt_name``
picks another, ``"document"`` for :meth:`~staticemb.StaticModel.encode_document`'s vectors.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from ..model import StaticModel

ModelLike = Union[str, "os.PathLike[str]", "StaticModel"]
"""What an adapter's ``model`` accepts: a folder path, a Hub id or a loaded model."""


def _load_model(model: Any) -> StaticModel:
    """``model`` itself when it is a :class:`~staticemb.StaticModel`, else ``StaticModel.from_pretrained(model)``."""
    from ..model import StaticModel

    return model if isinstance(model, StaticModel) else StaticModel.from_pretrained(model)


def _encode_options(adapter: Any) -> dict[str, Any]:
    """The :meth:`~staticemb.StaticModel.encode` options every adapter carries."""
    return {
        "normalize_embeddings": adapter.normalize_embeddings,
        "truncate_dim": adapter.truncate_dim,
        "num_threads": adapter.num_threads,
    }


def _check_options(model: StaticModel, adapter: Any) -> None:
    """Refuse at construction the encode options the first embed call would refuse (a ``truncate_dim`` wider
    than the model, ``num_threads=0`` …): an encode of no texts runs :meth:`~staticemb.StaticModel.encode`'s
    own checks, with its errors, which name the argument."""
    model.encode([], **_encode_options(adapter))


def _model_name(model: Any) -> str | None:
    """The path or Hub id ``model`` names; ``None`` when it names none (a loaded model)."""
    if isinstance(model, (str, os.PathLike)):
        return str(os.fspath(model))
    return None


from ._worker import get_model, worker_threads  # noqa: E402  (the engines' loader; imports no framework)

__all__ = ["ModelLike", "get_model", "worker_threads"]
