"""staticemb.integrations.mteb: a real MTEB evaluation (mteb 2.x), run offline.

No MTEB task can download its data here, so the test defines its own small retrieval task: ``load_data`` builds
the corpus, queries and relevance judgements in memory, the way mteb's own mock tasks do. Each query is the body
of one document; the corpus documents also have titles, which mteb joins to the body (``"title body"``) before
the encoder sees them. The whole ``mteb.evaluate`` run happens with connections and host look-ups refused (a
``socket`` patch) and its result cache in ``tmp_path``.
"""

from __future__ import annotations

import pickle
import re
import shutil
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.reference

mteb = pytest.importorskip("mteb")

from datasets import Dataset  # noqa: E402
from mteb.abstasks.retrieval import AbsTaskRetrieval  # noqa: E402
from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData  # noqa: E402
from mteb.abstasks.task_metadata import TaskMetadata  # noqa: E402
from mteb.models.model_meta import ScoringFunction  # noqa: E402
from mteb.types import PromptType  # noqa: E402
from staticemb import StaticModel  # noqa: E402
from staticemb.integrations.mteb import StaticMTEBEncoder, static_model_meta  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

ST_TINY = Path(__file__).resolve().parent / "fixtures" / "st-tiny"

DOCUMENTS = [
    ("Bread", "Fresh bread is baked every morning in the stone oven behind the village shop."),
    ("Trains", "The night train to the coast leaves from platform four at eleven."),
    ("Volcanoes", "Lava from the volcano slowly covered the old road near the observatory."),
    ("Chess", "She won the chess tournament by trapping the black queen in twelve moves."),
    ("Gardening", "Tomatoes need full sun, deep watering and a cage to climb."),
    ("Astronomy", "A comet with a bright green tail was visible just after sunset."),
    ("Music", "The orchestra rehearsed the second symphony until midnight."),
    ("Finance", "Interest rates rose again, so mortgage payments went up for many families."),
    ("Medicine", "The nurse measured blood pressure twice before the surgery."),
    ("Sailing", "Strong winds tore the mainsail during the race across the bay."),
    ("Coffee", "Dark roasted beans give espresso a bitter, smoky taste."),
    ("Birds", "Swallows migrate south in autumn and return in early spring."),
    ("Programming", "The compiler rejected the function because a variable was never declared."),
    ("Football", "A late header in extra time sent the team into the final."),
    ("Weather", "Heavy snow closed the mountain pass for three days."),
    ("History", "The castle walls were rebuilt after the siege of the fourteenth century."),
    ("Cooking", "Simmer the onions in butter until they turn golden brown."),
    ("Physics", "Light bends when it passes from air into water."),
    ("Libraries", "Overdue books must be returned to the front desk by Friday."),
    ("Cycling", "He fixed the flat tyre with a patch kit and a small pump."),
]
"""(title, body) of each document; document ``d{i}`` answers query ``q{i}``, whose text is its body."""


class StaticembMiniRetrieval(AbsTaskRetrieval):
    metadata = TaskMetadata(
        name="StaticembMiniRetrieval",
        description="Twenty short English documents with titles; each query is the body of one document.",
        reference=None,
        dataset={"path": "staticemb/mini-retrieval", "revision": "1"},
        type="Retrieval",
        category="t2t",
        modalities=["text"],
        eval_splits=["test"],
        eval_langs=["eng-Latn"],
        main_score="ndcg_at_10",
        date=("2026-01-01", "2026-01-01"),
        domains=[],
        task_subtypes=[],
        license="apache-2.0",
        annotations_creators="derived",
        dialect=[],
        sample_creation="created",
        bibtex_citation="",
    )

    def load_data(self, num_proc: int | None = None, **kwargs: object) -> None:
        split = RetrievalSplitData(
            corpus=Dataset.from_list(
                [{"id": f"d{i}", "title": title, "text": body} for i, (title, body) in enumerate(DOCUMENTS)]
            ),
            queries=Dataset.from_list(
                [{"id": f"q{i}", "text": body} for i, (_, body) in enumerate(DOCUMENTS)]
            ),
            relevant_docs={f"q{i}": {f"d{i}": 1} for i in range(len(DOCUMENTS))},
            top_ranked=None,
        )
        self.dataset = {"default": {"test": split}}
        self.data_loaded = True


class RecordingEncoder(StaticMTEBEncoder):
    """Keeps what mteb asked for and what the encoder gave back."""

    def __init__(self, model: StaticModel, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.calls: list[tuple[Any, list[str], np.ndarray]] = []

    def encode(self, inputs, *, task_metadata, hf_split, hf_subset, prompt_type=None, **kwargs):
        texts = [text for batch in inputs for text in batch["text"]]
        out = super().encode(
            inputs,
            task_metadata=task_metadata,
            hf_split=hf_split,
            hf_subset=hf_subset,
            prompt_type=prompt_type,
            **kwargs,
        )
        self.calls.append((prompt_type, texts, np.asarray(out)))
        return out


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection or resolve a host name fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture(scope="module")
def model() -> StaticModel:
    return StaticModel.from_pretrained(ST_TINY)


def _encode(encoder: StaticMTEBEncoder, texts: list[str], prompt_type: Any = None) -> np.ndarray:
    """The encoder called as mteb calls it, on batches as mteb gives them (dicts with a ``"text"`` list)."""
    batches: DataLoader[Any] = DataLoader(Dataset.from_dict({"text": texts}), batch_size=3)
    out = encoder.encode(
        batches,
        task_metadata=StaticembMiniRetrieval.metadata,
        hf_split="test",
        hf_subset="default",
        prompt_type=prompt_type,
    )
    return np.asarray(out)


def test_mteb_evaluate_retrieval_offline(model: StaticModel, tmp_path: Path, no_network: None) -> None:
    encoder = RecordingEncoder(model, name="staticemb/st-tiny")
    task = StaticembMiniRetrieval()
    result = mteb.evaluate(
        encoder,
        tasks=[task],
        cache=mteb.ResultCache(tmp_path / "mteb-cache"),
        overwrite_strategy="always",
        co2_tracker=False,
        show_progress_bar=False,
        encode_kwargs={"batch_size": 4, "show_progress_bar": False},  # several batches per call
    )

    assert not result.exceptions
    assert result.model_name == "staticemb/st-tiny"
    [task_result] = result.task_results
    assert task_result.task_name == "StaticembMiniRetrieval"
    [scores] = task_result.scores["test"]
    assert scores["main_score"] == scores["ndcg_at_10"]
    assert scores["ndcg_at_10"] > 0.9, scores
    assert scores["recall_at_10"] > 0.9, scores
    saved = list((tmp_path / "mteb-cache").rglob("StaticembMiniRetrieval.json"))
    assert len(saved) == 1 and "staticemb__st-tiny" in saved[0].parts

    # What the encoder got from mteb, and that its vectors are the model's own.
    seen = {prompt_type: texts for prompt_type, texts, _ in encoder.calls}
    assert sorted(seen[PromptType.query]) == sorted(body for _, body in DOCUMENTS)
    assert sorted(seen[PromptType.document]) == sorted(f"{title} {body}" for title, body in DOCUMENTS)
    for prompt_type, texts, out in encoder.calls:
        assert out.dtype == np.float32 and out.shape == (len(texts), model.dim)
        expected = (
            model.encode_query(texts) if prompt_type == PromptType.query else model.encode_document(texts)
        )
        np.testing.assert_array_equal(out, expected)


def test_unnamed_local_models_keep_their_own_cached_results(
    model: StaticModel, tmp_path: Path, no_network: None
) -> None:
    # Two different local models, no name given, one results cache and mteb's default overwrite strategy
    # ("only-missing"): the second must be scored, not handed the first one's cached result.
    other = StaticModel(model.tokenizer, np.ones(model.embeddings.shape, np.float32))  # every document ties
    cache = mteb.ResultCache(tmp_path / "mteb-cache")

    def ndcg(m: StaticModel, cache: Any) -> float:
        result = mteb.evaluate(StaticMTEBEncoder(m), tasks=[StaticembMiniRetrieval()], cache=cache,
                               co2_tracker=False, show_progress_bar=False)
        return float(result.task_results[0].scores["test"][0]["ndcg_at_10"])

    first, second = ndcg(model, cache), ndcg(other, cache)
    assert second == ndcg(other, None) != first
    assert ndcg(model, cache) == first  # and the first is still found in the cache


def test_encode_matches_model_and_uses_prompts(model: StaticModel) -> None:
    texts = [body for _, body in DOCUMENTS[:7]]
    encoder = StaticMTEBEncoder(model)
    for prompt_type in (None, PromptType.query, PromptType.document):
        np.testing.assert_array_equal(_encode(encoder, texts, prompt_type), model.encode(texts))

    # The same table, now with query and document prompts.
    prompted = StaticModel(
        model.tokenizer,
        model.dequantized(),
        normalize=True,
        prompts={"query": "query: ", "document": "passage: "},
    )
    encoder = StaticMTEBEncoder(prompted)
    query_out = _encode(encoder, texts, PromptType.query)
    np.testing.assert_array_equal(query_out, prompted.encode(["query: " + t for t in texts]))
    assert not np.array_equal(query_out, prompted.encode(texts))  # the prompt changes the vectors
    doc_out = _encode(encoder, texts, PromptType.document)
    np.testing.assert_array_equal(doc_out, prompted.encode(["passage: " + t for t in texts]))
    np.testing.assert_array_equal(_encode(encoder, texts), prompted.encode(texts))

    # mteb's keys: "{task name}-{prompt type}" first; given prompts replace the model's own.
    encoder = StaticMTEBEncoder(prompted, model_prompts={"StaticembMiniRetrieval-query": "find: "})
    query_out = _encode(encoder, texts, PromptType.query)
    np.testing.assert_array_equal(query_out, prompted.encode(["find: " + t for t in texts]))
    np.testing.assert_array_equal(_encode(encoder, texts, PromptType.document), prompted.encode(texts))


def test_similarity_and_protocol(model: StaticModel) -> None:
    encoder = StaticMTEBEncoder(model)
    assert isinstance(encoder, mteb.models.EncoderProtocol)
    a = model.encode([body for _, body in DOCUMENTS[:5]])
    b = model.encode([title for title, _ in DOCUMENTS[:5]])
    np.testing.assert_array_equal(encoder.similarity(a, b), model.similarity(a, b))
    np.testing.assert_array_equal(encoder.similarity_pairwise(a, b), model.similarity_pairwise(a, b))
    assert encoder.similarity(a, b).shape == (5, 5)
    np.testing.assert_allclose(
        np.diag(encoder.similarity(a, b)), encoder.similarity_pairwise(a, b), rtol=1e-6
    )


def test_model_meta(model: StaticModel, tmp_path: Path, no_network: None) -> None:
    meta = StaticMTEBEncoder(model).mteb_model_meta
    assert isinstance(meta, mteb.models.ModelMeta)
    assert (meta.name, meta.loader) == ("no_model_name/available", None)
    # A local model's revision is a digest of what makes its vectors: the same model however loaded, and a
    # different one for any change to its table, tokenizer or settings.
    assert re.fullmatch(r"content-[0-9a-f]{32}", meta.revision)
    assert StaticMTEBEncoder(str(ST_TINY)).mteb_model_meta.revision == meta.revision
    assert StaticMTEBEncoder(pickle.loads(pickle.dumps(model))).mteb_model_meta.revision == meta.revision
    table = np.array(model.embeddings)
    table[401, 15] += 1e-3
    changed = [
        StaticModel(model.tokenizer, table),
        StaticModel(model.tokenizer, model.embeddings, normalize=not model.normalize),
        StaticModel(model.tokenizer, model.embeddings, dim=8),
        model.quantize("int8"),
    ]
    revisions = {StaticMTEBEncoder(m).mteb_model_meta.revision for m in changed}
    assert len(revisions) == len(changed) and meta.revision not in revisions
    assert meta.n_parameters == meta.n_embedding_parameters == model.vocab_size * model.full_dim == 402 * 16
    assert meta.embed_dim == model.dim == 16
    assert meta.similarity_fn_name is ScoringFunction.COSINE
    assert meta.framework == ["NumPy", "safetensors"]
    assert meta.modalities == ["text"] and meta.use_instructions is False
    assert meta.memory_usage_mb == round(model.nbytes / 2**20, 3)

    # A Hub model (here: found in a Hugging Face cache, offline) is named by its repository and commit.
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--someone--tiny-static"
    shutil.copytree(ST_TINY, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    encoder = StaticMTEBEncoder("someone/tiny-static", cache_dir=tmp_path)
    meta = encoder.mteb_model_meta
    assert (meta.name, meta.revision, meta.loader) == ("someone/tiny-static", commit, StaticMTEBEncoder)
    assert meta.experiment_kwargs is None
    texts = [body for _, body in DOCUMENTS]
    np.testing.assert_array_equal(_encode(encoder, texts), model.encode(texts))
    assert static_model_meta(model, name="me/tiny", revision="v1").name == "me/tiny"
    with pytest.raises(ValueError, match="organization/model_name"):
        static_model_meta(model, name="tiny")


def test_settings_change_vectors_and_experiment(model: StaticModel) -> None:
    texts = [body for _, body in DOCUMENTS[:6]]
    assert StaticMTEBEncoder(model).mteb_model_meta.experiment_kwargs is None

    encoder = StaticMTEBEncoder(model, truncate_dim=8, name="staticemb/st-tiny")
    np.testing.assert_array_equal(_encode(encoder, texts), model.encode(texts, truncate_dim=8))
    meta = encoder.mteb_model_meta
    assert meta.embed_dim == 8 and meta.experiment_kwargs == {"truncate_dim": 8}
    assert meta.experiment_name == "truncate_dim_8"  # its own folder in mteb's results cache

    loaded = StaticMTEBEncoder(ST_TINY, dim=4)  # a folder, loaded with from_pretrained options
    np.testing.assert_array_equal(_encode(loaded, texts), model.encode(texts, dim=4))
    assert loaded.mteb_model_meta.embed_dim == 4 and loaded.mteb_model_meta.experiment_kwargs == {"dim": 4}
    assert loaded.mteb_model_meta.name == "no_model_name/available"

    int8 = model.quantize("int8")
    meta = StaticMTEBEncoder(int8).mteb_model_meta
    assert meta.experiment_kwargs == {"quantized": "int8"} and meta.memory_usage_mb < round(
        model.nbytes / 2**20, 3
    )

    prompts = {"query": "query: "}
    meta = StaticMTEBEncoder(model, model_prompts=prompts, normalize_embeddings=True).mteb_model_meta
    assert meta.experiment_kwargs == {"normalize_embeddings": True, "model_prompts": prompts}
    assert meta.use_instructions is True

    with pytest.raises(TypeError, match="loading options"):
        StaticMTEBEncoder(model, dim=4)


def test_the_loader_takes_what_model_meta_passes_back(tmp_path) -> None:
    """``ModelMeta.load_model`` calls the loader with ``embed_dim`` and the experiment's settings: ``embed_dim``
    and ``quantized`` reached from_pretrained and failed there."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--someone--tiny-static"
    shutil.copytree(ST_TINY, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    model = StaticModel.from_pretrained(ST_TINY)
    texts = [body for _, body in DOCUMENTS[:5]]
    same = StaticMTEBEncoder("someone/tiny-static", cache_dir=tmp_path, embed_dim=model.dim)
    assert same.mteb_model_meta.experiment_kwargs is None
    np.testing.assert_array_equal(_encode(same, texts), model.encode(texts))
    cut = StaticMTEBEncoder("someone/tiny-static", cache_dir=tmp_path, embed_dim=8)
    np.testing.assert_array_equal(_encode(cut, texts), model.encode(texts, truncate_dim=8))
    quantized = StaticMTEBEncoder("someone/tiny-static", cache_dir=tmp_path, quantized="int8")
    assert quantized.mteb_model_meta.experiment_kwargs == {"quantized": "int8"}
    np.testing.assert_array_equal(_encode(quantized, texts), model.quantize("int8").encode(texts))
