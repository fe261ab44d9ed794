"""A Chroma embedding function backed by a staticemb model (``pip install "staticemb[chroma]"``).

    >>> import chromadb
    >>> from staticemb.integrations.chroma import StaticEmbeddingFunction
    >>> client = chromadb.EphemeralClient()
    >>> docs = client.create_collection("docs", embedding_function=StaticEmbeddingFunction("path/or/hub-id"))

Importing this module registers the function under :meth:`StaticEmbeddingFunction.name` (``"staticemb"``), so
``client.get_collection(name)`` rebuilds it from the collection's saved configuration.
"""

from __future__ import annotations

from typing import Any

try:
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
    from chromadb.utils.embedding_functions import register_embedding_function
except ImportError as e:
    raise ImportError('staticemb.integrations.chroma needs chromadb: pip install "staticemb[chroma]"') from e

from ..model import StaticModel
from . import ModelLike, _check_options, _encode_options, _load_model, _model_name

__all__ = ["StaticEmbeddingFunction"]

_SPACES: dict[str, Space] = {"cosine": "cosine", "dot": "ip", "euclidean": "l2", "manhattan": "l2"}
"""Chroma's distance for each of the model's similarity functions (Chroma has no Manhattan distance)."""

_CONFIG_TYPES: dict[str, tuple[type, ...]] = {
    "model_name": (str,),
    "normalize_embeddings": (bool,),
    "truncate_dim": (int, type(None)),
    "num_threads": (int, type(None)),
}


class StaticEmbeddingFunction(EmbeddingFunction[Documents]):
    """A Chroma :class:`~chromadb.api.types.EmbeddingFunction` that encodes with a staticemb model.

    Documents are encoded with :meth:`StaticModel.encode_document` and query texts (``collection.query(
    query_texts=...)``) with :meth:`StaticModel.encode_query`, so the model's ``"document"`` / ``"query"``
    prompts apply when it has them. Both return a list of 1-D float32 NumPy arrays, as Chroma expects.

    The configuration Chroma saves with a collection (:meth:`get_config`) holds ``model_name`` and the encode
    options; :meth:`build_from_config` loads the model again from ``model_name``. A loaded :class:`StaticModel`
    given without ``model_name`` cannot be rebuilt: Chroma then treats the function as a legacy one (it saves no
    configuration), and the function must be passed again to ``get_collection``.
    """

    def __init__(
        self,
        model: ModelLike,
        *,
        model_name: str | None = None,
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
        num_threads: int | None = None,
    ) -> None:
        """Args:
        model: a folder path or Hub id (loaded with :meth:`StaticModel.from_pretrained`) or a loaded model.
        model_name: where the model loads from, saved in the collection's configuration; defaults to
            ``model`` when that is a path or Hub id.
        normalize_embeddings: L2-normalize every vector (a model that normalizes does so anyway).
        truncate_dim: keep the first ``truncate_dim`` dimensions (``None``: the model's width).
        num_threads: encoding threads (``None``: every core).

        An option :meth:`StaticModel.encode` refuses is refused here, with its error.
        """
        self.model: StaticModel = _load_model(model)
        self.model_name = model_name or _model_name(model)
        self.normalize_embeddings = normalize_embeddings
        self.truncate_dim = truncate_dim
        self.num_threads = num_threads
        _check_options(self.model, self)

    def _options(self) -> dict[str, Any]:
        return _encode_options(self)

    def __call__(self, input: Documents) -> Embeddings:
        """Document vectors: one 1-D float32 array per text."""
        return list(self.model.encode_document(_documents(input), **self._options()))

    def embed_query(self, input: Documents) -> Embeddings:
        """Query vectors: one 1-D float32 array per text."""
        return list(self.model.encode_query(_documents(input), **self._options()))

    @staticmethod
    def name() -> str:
        return "staticemb"

    def default_space(self) -> Space:
        """The distance matching the model's similarity function: ``"cosine"`` for most models."""
        return _SPACES[self.model.similarity_fn_name]

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "l2", "ip"]

    def get_config(self) -> dict[str, Any]:
        """``model_name`` (``None`` for a loaded model given without one) and the encode options."""
        return {"model_name": self.model_name, **self._options()}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> StaticEmbeddingFunction:
        """Load ``config["model_name"]`` with the saved encode options."""
        StaticEmbeddingFunction.validate_config(config)
        return StaticEmbeddingFunction(
            config["model_name"],
            normalize_embeddings=config.get("normalize_embeddings", False),
            truncate_dim=config.get("truncate_dim"),
            num_threads=config.get("num_threads"),
        )

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        """Raise ``ValueError`` unless ``config`` names a model and its options have the right types."""
        if not isinstance(config.get("model_name"), str):
            raise ValueError(
                "a staticemb embedding function's config needs model_name (the path or Hub id of the model)"
            )
        for key, value in config.items():
            expected = _CONFIG_TYPES.get(key)
            if expected is None:
                raise ValueError(f"unknown staticemb embedding function option {key!r}")
            if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
                raise ValueError(f"staticemb embedding function option {key!r} has a bad value {value!r}")

    def is_legacy(self) -> bool:
        """``True`` when there is no ``model_name`` to rebuild the function from (Chroma then saves no config).

        Chroma's default builds a second instance from :meth:`get_config` to find out; this answers without
        loading the model again."""
        return self.model_name is None


register_embedding_function(StaticEmbeddingFunction)


def _documents(input: Any) -> Any:
    """Chroma's ``Documents`` (a list of str) as given; one str is refused (``list()`` made it characters)."""
    if isinstance(input, str):
        raise TypeError("an embedding function takes a list of str (Chroma's Documents), not one str")
    return input
