"""The framework adapters of :mod:`staticemb.integrations`, each run through its real framework: LangChain (its
standard test suites, ``InMemoryVectorStore``), LlamaIndex (``VectorStoreIndex``), Chroma (an ephemeral client)
and Haystack (indexing and query pipelines, serialized and loaded back).

The frameworks are reference-tier dependencies: the whole module is marked ``reference`` and imports them inside
the tests (the light tier still collects it). The model is the tiny ``st-tiny`` fixture (normalized, width 16,
empty ``"query"``/``"document"`` prompts); ``prompted`` is the same table with non-empty prompts. Retrieval
checks use a query equal or close to one document, which the tiny model ranks first by a wide margin.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import pickle
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from staticemb import InvalidInputError, StaticModel

pytestmark = pytest.mark.reference

# No telemetry from the frameworks (there is no network here anyway).
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ST_TINY = FIXTURES / "st-tiny"

DOCS = {
    "encode": "The model encodes short sentences quickly.",
    "gizmo": "GizmoTron pools the table",
    "case": "UPPER lower MiXeD case TEXT",
    "punct": "punctuation!!! ??? ... --- ((())) [yes] {no} <maybe>",
}
QUERIES = {  # query -> the document it must find first
    "GizmoTron pools": "gizmo",
    "lower case TEXT": "case",
    "The model encodes short sentences quickly.": "encode",
}
PROMPTS = {"query": "numbers ", "document": "punctuation "}

ADAPTERS = {  # adapter module -> (a framework module it imports, the pip extra its ImportError names)
    "staticemb.integrations.langchain": ("langchain_core.embeddings", "langchain"),
    "staticemb.integrations.llama_index": ("llama_index.core.base.embeddings.base", "llama-index"),
    "staticemb.integrations.chroma": ("chromadb.api.types", "chroma"),
    "staticemb.integrations.haystack": ("haystack", "haystack"),
}


@pytest.fixture(scope="module")
def model() -> StaticModel:
    return StaticModel.from_pretrained(ST_TINY)


@pytest.fixture(scope="module")
def prompted(model: StaticModel) -> StaticModel:
    """st-tiny with prompts that change the vectors (their words are in the fixture vocabulary)."""
    out = StaticModel(model.tokenizer, model.embeddings, normalize=True, prompts=PROMPTS)
    assert not np.allclose(out.encode_query("GizmoTron"), out.encode("GizmoTron"))
    assert not np.allclose(out.encode_document("GizmoTron"), out.encode("GizmoTron"))
    return out


def _close(a: Any, b: Any) -> bool:
    return bool(
        np.allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=1e-6, atol=1e-7)
    )


# ---------------------------------------------------------------------------------------------------- package


def test_package_imports_no_framework() -> None:
    code = (
        "import sys, staticemb.integrations\n"
        "print(sorted(m for m in ('langchain_core', 'llama_index', 'chromadb', 'haystack') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("module", sorted(ADAPTERS))
def test_missing_framework_names_the_extra(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    framework, extra = ADAPTERS[module]
    monkeypatch.setitem(sys.modules, framework, None)  # `import framework` now raises ImportError
    monkeypatch.delitem(sys.modules, module, raising=False)  # restored afterwards by monkeypatch
    with pytest.raises(ImportError, match=f'pip install "staticemb\\[{extra}\\]"'):
        importlib.import_module(module)


# ---------------------------------------------------------------------------------------------------- LangChain

try:  # the classes below exist only where langchain-tests is installed; test_langchain_standard_suites fails loudly
    from langchain_tests.integration_tests import EmbeddingsIntegrationTests as _LangChainIntegrationTests
    from langchain_tests.unit_tests import EmbeddingsUnitTests as _LangChainUnitTests
except ImportError:
    _LangChainIntegrationTests = _LangChainUnitTests = None  # type: ignore[assignment,misc]

if _LangChainUnitTests is not None:

    class TestLangChainStandardUnit(_LangChainUnitTests):
        """LangChain's standard unit tests for an ``Embeddings`` class."""

        @property
        def embeddings_class(self) -> type:
            from staticemb.integrations.langchain import StaticEmbeddings

            return StaticEmbeddings

        @property
        def embedding_model_params(self) -> dict[str, Any]:
            return {"model": str(ST_TINY)}


if _LangChainIntegrationTests is not None:

    class TestLangChainStandardIntegration(_LangChainIntegrationTests):
        """LangChain's standard integration tests (no network needed: the model is a local folder). Two are
        coroutines: pytest-asyncio runs them through the class mark (the suite's asyncio mode is strict); the
        mark's warning on the sync tests is expected."""

        pytestmark = [
            pytest.mark.asyncio,
            pytest.mark.filterwarnings(
                "ignore:The test <.*> is marked with '@pytest.mark.asyncio' but it is not an async function"
                ":pytest.PytestWarning"
            ),
        ]

        @property
        def embeddings_class(self) -> type:
            from staticemb.integrations.langchain import StaticEmbeddings

            return StaticEmbeddings

        @property
        def embedding_model_params(self) -> dict[str, Any]:
            return {"model": str(ST_TINY)}


def test_langchain_standard_suites() -> None:
    """The reference tier has langchain-tests, so the two standard suites above are defined and run."""
    import langchain_tests  # noqa: F401

    assert _LangChainUnitTests is not None and _LangChainIntegrationTests is not None
    assert "TestLangChainStandardUnit" in globals() and "TestLangChainStandardIntegration" in globals()


def test_langchain_vectors(model: StaticModel, prompted: StaticModel) -> None:
    from langchain_core.embeddings import Embeddings
    from staticemb.integrations.langchain import StaticEmbeddings

    emb = StaticEmbeddings(ST_TINY)
    assert isinstance(emb, Embeddings)
    texts = list(DOCS.values())
    vectors = emb.embed_documents(texts)
    assert vectors == model.encode_document(texts).tolist()
    assert all(type(x) is float for v in vectors for x in v)
    query = emb.embed_query("GizmoTron pools")
    assert query == model.encode_query("GizmoTron pools").tolist() and type(query[0]) is float
    assert emb.embed_documents([]) == []

    emb = StaticEmbeddings(prompted, truncate_dim=8, normalize_embeddings=True, num_threads=1)
    query, doc = prompted.encode(
        ["numbers GizmoTron", "punctuation GizmoTron"], truncate_dim=8, normalize_embeddings=True
    )
    assert _close(emb.embed_query("GizmoTron"), query)
    assert _close(emb.embed_documents(["GizmoTron"])[0], doc)
    assert not _close(emb.embed_query("GizmoTron"), prompted.encode("numbers GizmoTron", truncate_dim=8))
    assert len(emb.embed_query("x")) == 8

    async def both() -> tuple[list[list[float]], list[float]]:
        return await emb.aembed_documents(["GizmoTron"]), await emb.aembed_query("GizmoTron")

    docs, query = asyncio.run(both())
    assert docs == emb.embed_documents(["GizmoTron"]) and query == emb.embed_query("GizmoTron")

    with pytest.raises(TypeError, match="embed_documents"):
        emb.embed_query(["a", "b"])  # type: ignore[arg-type]
    # One str was embedded a character at a time; a set or a dict has no order to give the vectors.
    with pytest.raises(TypeError, match="not one str"):
        emb.embed_documents("hello world")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not one str"):
        asyncio.run(emb.aembed_documents("hello"))  # type: ignore[arg-type]
    for unordered in ({"a", "b"}, {"a": 1}):
        with pytest.raises(TypeError):
            emb.embed_documents(unordered)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        StaticEmbeddings(ST_TINY, truncate_dim=10_000).embed_query("x")


def test_langchain_vector_store() -> None:
    from langchain_core.vectorstores import InMemoryVectorStore
    from staticemb.integrations.langchain import StaticEmbeddings

    store = InMemoryVectorStore(StaticEmbeddings(ST_TINY))
    store.add_texts(list(DOCS.values()), ids=list(DOCS))
    for query, expected in QUERIES.items():
        hits = store.similarity_search(query, k=2)
        assert hits[0].id == expected and hits[0].page_content == DOCS[expected]
    hits = asyncio.run(store.asimilarity_search("GizmoTron pools", k=1))
    assert hits[0].id == "gizmo"


# ---------------------------------------------------------------------------------------------------- LlamaIndex


def test_llama_index_vectors(model: StaticModel, prompted: StaticModel) -> None:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from staticemb.integrations.llama_index import StaticEmbedding

    emb = StaticEmbedding(ST_TINY, embed_batch_size=3)  # 4 texts: two batches
    assert isinstance(emb, BaseEmbedding) and emb.model_name == str(ST_TINY)
    texts = list(DOCS.values())
    expected = model.encode(texts).tolist()
    assert emb.get_text_embedding_batch(texts) == expected
    assert emb.get_text_embedding(texts[1]) == expected[1]
    assert emb.get_query_embedding(texts[1]) == expected[1]
    assert asyncio.run(emb.aget_text_embedding_batch(texts)) == expected
    assert asyncio.run(emb.aget_text_embedding(texts[2])) == expected[2]
    assert asyncio.run(emb.aget_query_embedding(texts[2])) == expected[2]

    emb = StaticEmbedding(prompted, model_name="prompted", truncate_dim=8, num_threads=2)
    assert emb.model_name == "prompted" and emb.model is prompted
    assert _close(emb.get_query_embedding("GizmoTron"), prompted.encode("numbers GizmoTron", truncate_dim=8))
    batch = emb.get_text_embedding_batch(["GizmoTron", "table"])
    assert _close(batch, prompted.encode(["punctuation GizmoTron", "punctuation table"], truncate_dim=8))
    assert StaticEmbedding(model).model_name == "unknown"
    with pytest.raises(TypeError, match="model"):
        StaticEmbedding()


def test_llama_index_serialization(model: StaticModel) -> None:
    from staticemb.integrations.llama_index import StaticEmbedding

    emb = StaticEmbedding(ST_TINY, truncate_dim=8, normalize_embeddings=True)
    data = emb.to_dict()
    assert data["class_name"] == "StaticEmbedding" and data["model_name"] == str(ST_TINY)
    again = StaticEmbedding.from_dict(data)
    assert (
        again.truncate_dim == 8
        and again.normalize_embeddings
        and again.embed_batch_size == emb.embed_batch_size
    )
    assert again.get_query_embedding("GizmoTron") == emb.get_query_embedding("GizmoTron")
    assert StaticEmbedding(model_name=str(ST_TINY)).get_text_embedding("x") == model.encode("x").tolist()
    unpickled = pickle.loads(pickle.dumps(emb))
    assert unpickled.get_text_embedding("GizmoTron") == emb.get_text_embedding("GizmoTron")


def test_llama_index_vector_store_index() -> None:
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.llms import MockLLM
    from staticemb.integrations.llama_index import StaticEmbedding

    documents = [Document(text=text, id_=key) for key, text in DOCS.items()]
    index = VectorStoreIndex.from_documents(documents, embed_model=StaticEmbedding(ST_TINY))
    retriever = index.as_retriever(similarity_top_k=2)
    for query, expected in QUERIES.items():
        hits = retriever.retrieve(query)
        assert hits[0].node.ref_doc_id == expected and hits[0].node.get_content() == DOCS[expected]
        assert hits[0].score is not None and hits[1].score is not None and hits[0].score > hits[1].score
    assert asyncio.run(retriever.aretrieve("GizmoTron pools"))[0].node.ref_doc_id == "gizmo"
    response = index.as_query_engine(llm=MockLLM(), similarity_top_k=1).query("lower case TEXT")
    assert [n.node.ref_doc_id for n in response.source_nodes] == ["case"]


# ---------------------------------------------------------------------------------------------------- Chroma


def test_chroma_function(model: StaticModel, prompted: StaticModel) -> None:
    from chromadb.api.types import EmbeddingFunction
    from chromadb.utils.embedding_functions import known_embedding_functions
    from staticemb.integrations.chroma import StaticEmbeddingFunction

    ef = StaticEmbeddingFunction(ST_TINY)
    assert isinstance(ef, EmbeddingFunction)
    assert known_embedding_functions["staticemb"] is StaticEmbeddingFunction
    texts = list(DOCS.values())
    vectors = ef(texts)
    assert isinstance(vectors, list) and len(vectors) == len(texts)
    assert all(
        isinstance(v, np.ndarray) and v.dtype == np.float32 and v.shape == (model.dim,) for v in vectors
    )
    np.testing.assert_array_equal(np.stack(vectors), model.encode_document(texts))
    np.testing.assert_array_equal(np.stack(ef.embed_query(texts)), model.encode_query(texts))
    for call in (ef, ef.embed_query):  # one str was embedded a character at a time
        with pytest.raises(TypeError, match="not one str"):
            call("hello")  # type: ignore[arg-type]

    assert (
        StaticEmbeddingFunction.name() == "staticemb"
        and not ef.is_legacy()
        and ef.default_space() == "cosine"
    )
    config = ef.get_config()
    assert config == {
        "model_name": str(ST_TINY),
        "normalize_embeddings": False,
        "truncate_dim": None,
        "num_threads": None,
    }
    ef.validate_config(config)
    again = StaticEmbeddingFunction.build_from_config({**config, "truncate_dim": 8})
    assert again.get_config() == {**config, "truncate_dim": 8}
    np.testing.assert_array_equal(np.stack(again(["GizmoTron"])), model.encode(["GizmoTron"], truncate_dim=8))
    for bad in ({}, {**config, "model_name": None}, {**config, "truncate_dim": "8"}, {**config, "other": 1}):
        with pytest.raises(ValueError):
            StaticEmbeddingFunction.validate_config(bad)

    ef = StaticEmbeddingFunction(prompted, normalize_embeddings=True)
    assert ef.is_legacy() and ef.get_config()["model_name"] is None  # a loaded model cannot be rebuilt
    assert _close(ef.embed_query(["GizmoTron"])[0], prompted.encode("numbers GizmoTron"))
    assert _close(ef(["GizmoTron"])[0], prompted.encode("punctuation GizmoTron"))
    assert not StaticEmbeddingFunction(prompted, model_name="somewhere").is_legacy()


def test_chroma_collection(model: StaticModel) -> None:
    import chromadb
    from staticemb.integrations.chroma import StaticEmbeddingFunction

    client = chromadb.EphemeralClient()
    name = f"staticemb-{uuid.uuid4().hex}"
    collection = client.create_collection(name, embedding_function=StaticEmbeddingFunction(ST_TINY))
    try:
        collection.add(ids=list(DOCS), documents=list(DOCS.values()))
        for query, expected in QUERIES.items():
            result = collection.query(query_texts=[query], n_results=2)
            assert result["ids"][0][0] == expected
        assert collection.configuration["hnsw"]["space"] == "cosine"  # the function's default_space

        # The saved configuration names the function and its model: get_collection rebuilds it.
        reopened = client.get_collection(name)
        rebuilt = reopened.configuration["embedding_function"]
        assert isinstance(rebuilt, StaticEmbeddingFunction) and rebuilt.get_config()["model_name"] == str(
            ST_TINY
        )
        assert reopened.query(query_texts=["lower case TEXT"], n_results=1)["ids"] == [["case"]]
    finally:
        client.delete_collection(name)


@pytest.mark.filterwarnings("ignore:legacy embedding function config:DeprecationWarning")
def test_chroma_collection_prompts(prompted: StaticModel) -> None:
    """Chroma embeds documents with __call__ and query texts with embed_query: the cosine distance it reports
    between a query and the same text stored as a document is that of the two prompted vectors."""
    import chromadb
    from staticemb.integrations.chroma import StaticEmbeddingFunction

    client = chromadb.EphemeralClient()
    name = f"staticemb-{uuid.uuid4().hex}"
    ef = StaticEmbeddingFunction(prompted)  # legacy: nothing saved to rebuild it from
    collection = client.create_collection(
        name, embedding_function=ef, configuration={"hnsw": {"space": "cosine"}}
    )
    try:
        collection.add(ids=list(DOCS), documents=list(DOCS.values()))
        result = collection.query(query_texts=[DOCS["gizmo"]], n_results=1)
        assert result["ids"] == [["gizmo"]]
        query, doc = prompted.encode_query(DOCS["gizmo"]), prompted.encode_document(DOCS["gizmo"])
        assert result["distances"][0][0] == pytest.approx(1.0 - float(query @ doc), abs=1e-5)
        assert float(query @ doc) < 0.999  # the prompts made the two vectors differ
        reopened = client.get_collection(name, embedding_function=ef)  # a legacy function is passed again
        assert reopened.query(query_texts=["lower case TEXT"], n_results=1)["ids"] == [["case"]]
    finally:
        client.delete_collection(name)


# ---------------------------------------------------------------------------------------------------- Haystack


def test_haystack_components(model: StaticModel, prompted: StaticModel) -> None:
    from haystack import Document
    from haystack.core.errors import SerializationError
    from staticemb.integrations.haystack import StaticDocumentEmbedder, StaticTextEmbedder

    text = StaticTextEmbedder(ST_TINY)
    out = text.run("GizmoTron pools")
    assert set(out) == {"embedding"} and out["embedding"] == model.encode_query("GizmoTron pools").tolist()
    assert asyncio.run(text.run_async("GizmoTron pools")) == out
    with pytest.raises(TypeError, match="StaticDocumentEmbedder"):
        text.run([Document(content="x")])  # type: ignore[arg-type]

    docs = [
        Document(content="GizmoTron", meta={"title": "table", "n": None}),
        Document(content=None, meta={"title": "lower"}),
        Document(content="case"),
    ]
    embedder = StaticDocumentEmbedder(
        prompted,
        prefix="UPPER ",
        suffix=" TEXT",
        meta_fields_to_embed=["title", "n"],
        embedding_separator=" | ",
    )
    out = embedder.run(docs)
    assert set(out) == {"documents"}
    embedded = out["documents"]
    assert [d.id for d in embedded] == [d.id for d in docs] and all(d.embedding is None for d in docs)
    expected = prompted.encode_document(
        ["UPPER table | GizmoTron TEXT", "UPPER lower |  TEXT", "UPPER case TEXT"]
    )
    assert _close([d.embedding for d in embedded], expected)
    assert embedded[0].content == "GizmoTron" and embedded[0].meta == docs[0].meta
    assert asyncio.run(embedder.run_async(docs))["documents"] == embedded
    assert embedder.run([]) == {"documents": []}
    with pytest.raises(TypeError, match="StaticTextEmbedder"):
        embedder.run("GizmoTron")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        embedder.run([docs[0], "text"])  # type: ignore[list-item]

    truncated = StaticTextEmbedder(prompted, normalize_embeddings=True, truncate_dim=8, num_threads=1)
    expected = prompted.encode("numbers GizmoTron", truncate_dim=8, normalize_embeddings=True)
    assert _close(truncated.run("GizmoTron")["embedding"], expected)
    with pytest.raises(SerializationError, match="Hub id"):
        truncated.to_dict()  # a loaded model has no path to save

    for component in (
        StaticTextEmbedder(ST_TINY, prefix="a ", truncate_dim=8),
        StaticDocumentEmbedder(
            ST_TINY, meta_fields_to_embed=["title"], embedding_separator=" - ", num_threads=2
        ),
    ):
        data = component.to_dict()
        assert data["init_parameters"]["model"] == str(ST_TINY)
        again = type(component).from_dict(data)
        assert again.to_dict() == data


def test_haystack_pipelines(model: StaticModel) -> None:
    from haystack import Document, Pipeline
    from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
    from haystack.components.writers import DocumentWriter
    from haystack.document_stores.in_memory import InMemoryDocumentStore
    from staticemb.integrations.haystack import StaticDocumentEmbedder, StaticTextEmbedder

    store = InMemoryDocumentStore(
        embedding_similarity_function="cosine", index=f"staticemb-{uuid.uuid4().hex}"
    )
    indexing = Pipeline()
    indexing.add_component("embedder", StaticDocumentEmbedder(ST_TINY))
    indexing.add_component("writer", DocumentWriter(store))
    indexing.connect("embedder.documents", "writer.documents")
    documents = [Document(content=text, meta={"key": key}) for key, text in DOCS.items()]
    assert indexing.run({"embedder": {"documents": documents}})["writer"]["documents_written"] == len(DOCS)
    stored = {d.meta["key"]: d.embedding for d in store.filter_documents()}
    assert _close([stored[k] for k in DOCS], model.encode_document(list(DOCS.values())))

    query = Pipeline()
    query.add_component("embedder", StaticTextEmbedder(ST_TINY))
    query.add_component("retriever", InMemoryEmbeddingRetriever(store, top_k=2))
    query.connect("embedder.embedding", "retriever.query_embedding")
    for text, expected in QUERIES.items():
        hits = query.run({"embedder": {"text": text}})["retriever"]["documents"]
        assert hits[0].meta["key"] == expected and hits[0].score > hits[1].score

    # Serialized and loaded back, the pipelines rebuild the components (the in-memory store is shared by index).
    # Haystack loads classes only from modules on its allowlist (its own, by default): staticemb's is opted in.
    allowed = ["staticemb.integrations.haystack"]
    for pipeline in (indexing, query):
        loaded = Pipeline.loads(pipeline.dumps(), allowed_modules=allowed)
        assert loaded.dumps() == pipeline.dumps()
        assert isinstance(loaded.get_component("embedder"), type(pipeline.get_component("embedder")))
    loaded = Pipeline.loads(query.dumps(), allowed_modules=allowed)
    hits = loaded.run({"embedder": {"text": "GizmoTron pools"}})["retriever"]["documents"]
    assert hits[0].meta["key"] == "gizmo"


# ---------------------------------------------------------------------------------------------------- review


def test_adapters_refuse_bad_encode_options_at_construction(tmp_path: Path) -> None:
    """A truncate_dim wider than the model (or num_threads=0) was accepted by every adapter and refused only
    by the first embed call (in a pipeline, long after it was built); a collection's saved config rebuilt
    it."""
    from staticemb.integrations.chroma import StaticEmbeddingFunction
    from staticemb.integrations.haystack import StaticDocumentEmbedder, StaticTextEmbedder
    from staticemb.integrations.langchain import StaticEmbeddings
    from staticemb.integrations.llama_index import StaticEmbedding
    from staticemb.integrations.mteb import StaticMTEBEncoder

    def build(adapter: Any, source: Any, **options: Any) -> Any:
        built = adapter(source, **options)
        if adapter in (StaticTextEmbedder, StaticDocumentEmbedder):
            built.warm_up()  # Haystack loads a path or Hub id here, not in the constructor
        return built

    model = StaticModel.from_pretrained(ST_TINY)
    for adapter in (StaticEmbeddings, StaticEmbedding, StaticEmbeddingFunction, StaticTextEmbedder,
                    StaticDocumentEmbedder, StaticMTEBEncoder):
        for source in (ST_TINY, model):
            with pytest.raises(InvalidInputError, match="truncate_dim must be between 1 and the table width"):
                build(adapter, source, truncate_dim=17)
        with pytest.raises(InvalidInputError, match="num_threads"):
            adapter(model, num_threads=0)
        assert build(adapter, ST_TINY, truncate_dim=16, num_threads=1).truncate_dim == 16
    with pytest.raises(InvalidInputError, match="truncate_dim"):  # a loaded model: the constructor refuses it
        StaticTextEmbedder(model, truncate_dim=17)
    with pytest.raises(InvalidInputError, match="normalize_embeddings"):
        StaticEmbeddings(model, normalize_embeddings="yes")  # type: ignore[arg-type]
    config = StaticEmbeddingFunction(ST_TINY).get_config()
    with pytest.raises(InvalidInputError, match="truncate_dim"):
        StaticEmbeddingFunction.build_from_config({**config, "truncate_dim": 17})
    with pytest.raises(TypeError, match="list of field names, not a str"):  # it embedded no field, silently
        StaticDocumentEmbedder(model, meta_fields_to_embed="title")  # type: ignore[arg-type]
    # A path stays unloaded until warm_up (Haystack's convention): building or deserializing needs no model.
    assert StaticDocumentEmbedder(tmp_path / "not-yet-there", truncate_dim=17).to_dict()


def test_llama_index_names_a_text_that_is_not_one(model: StaticModel) -> None:
    """None was reported as 'texts must be a list of str, not None' for a query; a list as a query gave a list
    of vectors and a pydantic error; a str given as a batch was embedded a character at a time; a None in a
    batch was named by its place in its embed_batch_size batch, not in the list."""
    from staticemb.integrations.llama_index import StaticEmbedding

    emb = StaticEmbedding(model, embed_batch_size=2)
    for call in (emb.get_query_embedding, emb.get_text_embedding):
        for bad in (None, ["a text"]):
            with pytest.raises(TypeError, match="must be one str, not (NoneType|list)"):
                call(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be one str, not NoneType"):
        asyncio.run(emb.aget_query_embedding(None))  # type: ignore[arg-type]
    texts = ["a", "b", "c", None, "e"]
    with pytest.raises(TypeError, match="text 3 is NoneType"):
        emb.get_text_embedding_batch(texts)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="text 3 is NoneType"):
        asyncio.run(emb.aget_text_embedding_batch(texts))  # type: ignore[arg-type]
    for bad in ("abc", None):
        with pytest.raises(TypeError, match="list of str"):
            emb.get_text_embedding_batch(bad)  # type: ignore[arg-type]
    assert emb.get_text_embedding_batch(("a", "b", "c")) == model.encode(["a", "b", "c"]).tolist()
    assert emb.get_text_embedding_batch([]) == []
