"""The drop-in promise, as one parametrized suite: Sentence Transformers' ``SentenceTransformer(folder)``,
model2vec's ``StaticModel`` and staticemb are called with the same arguments on folders written by the
reference libraries themselves, on real texts of 10 to 5,000 tokens, and must give the same outputs (float32
within 1e-5; model2vec's float16 vectors equal to ours rounded to float16).

Quantized precisions are equal element for element except where the float32 value sits on a bucket boundary:
the float vectors of two implementations differ in the last bits (summation order), and a value a few ulps from
an int8 bucket edge (or from 0, for binary) may land on either side. Those few elements are checked to be
exactly such boundary cases, one step apart; ``quantize_embeddings`` itself is bit-exact (tests/test_st_api.py).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from staticemb import InvalidInputError, StaticModel

PROMPTS = {"query": "query: ", "document": "passage: "}
TARGET_TOKENS = (10, 30, 100, 300, 1_000, 2_000, 5_000)
WIDTH = 256


@pytest.fixture(scope="module")
def texts(real_texts, bert_tokenizer) -> list[str]:
    """Real Debian sentences and descriptions joined into texts of at least 10, 30, …, 5,000 tokens, plus short
    sentences, an empty text and one of only unknown characters."""

    def count(t: str) -> int:
        return len(bert_tokenizer.encode(t, add_special_tokens=False).ids)

    built, pool = [], iter(real_texts[:9_000])
    for target in TARGET_TOKENS:
        parts: list[str] = []
        while count(" ".join(parts)) < target:
            parts.append(next(pool))
        built.append(" ".join(parts))
    lengths = [count(t) for t in built]
    assert all(t <= n < 2 * t + 60 for t, n in zip(TARGET_TOKENS, lengths, strict=True)), lengths
    return built + real_texts[9_000:9_012] + ["", "\u2603\u2603"]


@pytest.fixture(scope="module")
def st_models(tmp_path_factory, bert_tokenizer, table) -> dict[str, tuple]:
    """(SentenceTransformer, staticemb) pairs on folders that Sentence Transformers wrote: with and without a
    Normalize module, both with prompts and a similarity function."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding

    out = {}
    for kind in ("norm", "plain"):
        module = StaticEmbedding(bert_tokenizer, embedding_weights=torch.from_numpy(table[:, :WIDTH].copy()))
        modules = [module, Normalize()] if kind == "norm" else [module]
        path = tmp_path_factory.mktemp("st-written") / kind
        SentenceTransformer(modules=modules, device="cpu", prompts=PROMPTS, similarity_fn_name="cosine").save(
            str(path)
        )
        out[kind] = (SentenceTransformer(str(path), device="cpu"), StaticModel.from_pretrained(path))
    return out


def _numpy(x):
    import torch

    if isinstance(x, torch.Tensor):
        return x.numpy()
    if isinstance(x, list):
        return np.stack([_numpy(v) for v in x]) if x else np.zeros((0,))
    return x


def _same(got, want, precision: str = "float32", floats=None) -> None:
    """``got`` equals ``want``: same container type, shape and dtype; float32 within 1e-5; quantized outputs equal
    but at bucket boundaries of the reference's float32 output ``floats``."""
    assert type(got) is type(want), (type(got), type(want))
    got, want = _numpy(got), _numpy(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape, got.dtype, want.dtype)
    if precision == "float32":
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
        return
    floats = np.atleast_2d(_numpy(floats))
    if precision in ("int8", "uint8"):
        differ = got != want
        assert np.all(np.abs(got.astype(np.int16) - want.astype(np.int16))[differ] <= 1)
        starts = floats.min(axis=0)
        scaled = (floats - starts) / ((floats.max(axis=0) - starts) / 255)
        edge_distance = np.abs(scaled - np.round(scaled)).reshape(got.shape)
    else:  # binary, ubinary: bits packed 8 to a byte, set where the value is > 0
        offset = 128 if precision == "binary" else 0
        got = np.unpackbits((np.atleast_2d(got).astype(np.int16) + offset).astype(np.uint8), axis=-1)
        want = np.unpackbits((np.atleast_2d(want).astype(np.int16) + offset).astype(np.uint8), axis=-1)
        differ = got != want
        edge_distance = np.abs(floats)
    assert np.all(edge_distance[differ] < 1e-4), edge_distance[differ]
    assert differ.mean() < 1e-3, differ.mean()


# ---------------------------------------------------------------- Sentence Transformers

ST_CALLS = [
    dict(zip(("prompt_name", "precision", "truncate_dim", "normalize_embeddings", "convert_to_tensor"), c, strict=True))
    for c in itertools.product(
        [None, "query"], ["float32", "int8", "uint8", "binary", "ubinary"], [None, 64], [False, True], [False, True]
    )
]


@pytest.mark.parametrize("kind", ["norm", "plain"])
@pytest.mark.parametrize("call", ST_CALLS, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_same_call_as_sentence_transformers(st_models, texts, kind, call):
    reference, ours = st_models[kind]
    for inputs in (texts, texts[3]):  # a list (10 to 5,000 tokens), and a single 300-token string
        if isinstance(inputs, str) and call["precision"] in ("int8", "uint8"):
            continue  # both refuse to calibrate int8 ranges on one vector
        floats = reference.encode(inputs, **{**call, "precision": "float32", "convert_to_tensor": False})
        _same(ours.encode(inputs, **call), reference.encode(inputs, **call), call["precision"], floats)


@pytest.mark.parametrize("kind", ["norm", "plain"])
def test_queries_documents_and_similarity_as_sentence_transformers(st_models, texts, kind):
    reference, ours = st_models[kind]
    q, d = texts[:4], texts[4:]
    _same(ours.encode_query(q), reference.encode_query(q))
    _same(ours.encode_document(d), reference.encode_document(d))
    _same(ours.encode(q, convert_to_numpy=False), reference.encode(q, convert_to_numpy=False))
    a, b = reference.encode(q), reference.encode(d)
    np.testing.assert_allclose(ours.similarity(a, b), reference.similarity(a, b).numpy(), atol=1e-6)
    np.testing.assert_allclose(
        ours.similarity_pairwise(a, b[:4]), reference.similarity_pairwise(a, b[:4]).numpy(), atol=1e-6
    )


@pytest.mark.parametrize("truncate_dim", [32, 128])
def test_truncate_dim_at_load_as_sentence_transformers(st_models, texts, truncate_dim):
    from sentence_transformers import SentenceTransformer

    reference, ours = st_models["norm"]
    folder = ours._info["source"]
    want = SentenceTransformer(folder, device="cpu", truncate_dim=truncate_dim).encode(texts)
    _same(StaticModel.from_pretrained(folder, truncate_dim=truncate_dim).encode(texts), want)


def test_truncate_dim_set_and_scoped_as_sentence_transformers(st_models, texts):
    """``model.truncate_dim = k`` and ``with model.truncate_embeddings(k):`` give Sentence Transformers' vectors
    and widths; the block restores the width before it, also when it raises."""
    import warnings

    reference, ours = st_models["norm"]
    full = reference.get_sentence_embedding_dimension()
    for model in (reference, ours):
        model.truncate_dim = 64
    try:
        assert ours.get_sentence_embedding_dimension() == reference.get_sentence_embedding_dimension() == 64
        _same(ours.encode(texts), reference.encode(texts))
        with ours.truncate_embeddings(16), reference.truncate_embeddings(16):
            assert ours.truncate_dim == reference.truncate_dim == 16
            _same(ours.encode(texts), reference.encode(texts))
        assert ours.truncate_dim == reference.truncate_dim == 64
        with pytest.raises(KeyError), ours.truncate_embeddings(None), reference.truncate_embeddings(None):
            assert ours.get_sentence_embedding_dimension() == reference.get_sentence_embedding_dimension() == full
            _same(ours.encode(texts), reference.encode(texts))
            raise KeyError("inside the block")
        assert ours.truncate_dim == reference.truncate_dim == 64
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # the reference's older name warns
            with ours.truncate_sentence_embeddings(8), reference.truncate_sentence_embeddings(8):
                _same(ours.encode(texts), reference.encode(texts))
    finally:
        for model in (reference, ours):
            model.truncate_dim = None
    _same(ours.encode(texts), reference.encode(texts))


def test_truncate_dim_saved_in_the_folder_as_sentence_transformers(st_models, texts, tmp_path):
    """A ``truncate_dim`` in ``config_sentence_transformers.json`` is the model's width in both libraries, written
    by either; one past the table's width cuts nothing, as there."""
    import json

    from sentence_transformers import SentenceTransformer

    reference, ours = st_models["norm"]
    with reference.truncate_embeddings(48):
        reference.save(str(tmp_path / "st"))
    loaded = StaticModel.from_pretrained(tmp_path / "st")
    assert loaded.truncate_dim == 48
    _same(loaded.encode(texts), SentenceTransformer(str(tmp_path / "st"), device="cpu").encode(texts))
    # An explicit width wins over the saved one, in both.
    _same(StaticModel.from_pretrained(tmp_path / "st", truncate_dim=16).encode(texts),
          SentenceTransformer(str(tmp_path / "st"), device="cpu", truncate_dim=16).encode(texts))
    with ours.truncate_embeddings(24):
        ours.save(tmp_path / "ours")
    assert json.loads((tmp_path / "ours" / "config_sentence_transformers.json").read_text())["truncate_dim"] == 24
    _same(StaticModel.from_pretrained(tmp_path / "ours").encode(texts),
          SentenceTransformer(str(tmp_path / "ours"), device="cpu").encode(texts))
    config_path = tmp_path / "ours" / "config_sentence_transformers.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "truncate_dim": WIDTH + 100}))
    wide = StaticModel.from_pretrained(tmp_path / "ours")
    assert wide.get_sentence_embedding_dimension() == WIDTH
    _same(wide.encode(texts), SentenceTransformer(str(tmp_path / "ours"), device="cpu").encode(texts))


@pytest.mark.parametrize(
    ("prompts", "default_prompt_name"),
    [
        ({"passage": "passage: "}, None),  # encode_document takes the empty "document" prompt, not "passage"
        ({"corpus": "corpus: ", "query": "q: "}, None),
        ({"classification": "classify: "}, "classification"),  # encode_query/document bypass the default
        ({"query": "q: ", "document": "d: ", "title": "t: "}, "title"),
    ],
)
def test_prompt_choice_as_sentence_transformers(st_models, texts, tmp_path, prompts, default_prompt_name):
    from sentence_transformers import SentenceTransformer

    _, ours = st_models["plain"]
    folder = ours.with_options(prompts=prompts, default_prompt_name=default_prompt_name).save(tmp_path / "m")
    reference, model = SentenceTransformer(str(folder), device="cpu"), StaticModel.from_pretrained(folder)
    assert model.prompts == reference.prompts
    assert model.default_prompt_name == reference.default_prompt_name
    for method in ("encode", "encode_query", "encode_document"):
        _same(getattr(model, method)(texts), getattr(reference, method)(texts))
        for name in prompts:
            _same(getattr(model, method)(texts, prompt_name=name), getattr(reference, method)(texts, prompt_name=name))
        _same(getattr(model, method)(texts, prompt="p: "), getattr(reference, method)(texts, prompt="p: "))


def test_a_prompt_and_a_prompt_name_as_sentence_transformers(st_models, texts, caplog):
    """Given both, the prompt wins and the name is not even looked up, with Sentence Transformers' warning."""
    import logging

    outputs, warnings = [], []
    for model in st_models["plain"]:
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            outputs.append(model.encode(texts[:4], prompt="p: ", prompt_name="no such prompt"))
        warnings.append([r.getMessage() for r in caplog.records if r.levelno == logging.WARNING])
    _same(outputs[1], outputs[0])
    assert warnings[1] == warnings[0] and len(warnings[0]) == 1 and "but not both" in warnings[0][0]


def test_settable_options_as_sentence_transformers(st_models, texts):
    """The attributes Sentence Transformers lets a user set, set the same way, give the same outputs."""
    reference, ours = st_models["plain"]
    before = (dict(reference.prompts), reference.default_prompt_name, reference.similarity_fn_name)
    a, b = reference.encode(texts[:5]), reference.encode(texts[5:])
    try:
        for model in (reference, ours):
            model.prompts = {"query": "q: ", "title": "t: "}
            model.default_prompt_name = "title"
            model.similarity_fn_name = "dot"
        assert ours.prompts == reference.prompts
        for method in ("encode", "encode_query", "encode_document"):
            _same(getattr(ours, method)(texts), getattr(reference, method)(texts))
        for model in (reference, ours):
            model.prompts["query"] = "changed: "  # the model's own dict, in both
        _same(ours.encode_query(texts), reference.encode_query(texts))
        np.testing.assert_allclose(ours.similarity(a, b), reference.similarity(a, b).numpy(), atol=1e-6)
    finally:
        for model in (reference, ours):
            model.default_prompt_name = None
            model.prompts, model.similarity_fn_name = before[0], before[2]
    assert ours.max_seq_length == reference.max_seq_length
    assert ours.get_embedding_dimension() == reference.get_embedding_dimension()


def test_texts_by_the_reference_names(st_models, texts):
    """Sentence Transformers calls the texts ``inputs`` (formerly ``sentences``), model2vec ``sentences``."""
    reference, ours = st_models["plain"]
    for name in ("inputs", "sentences"):
        for method in ("encode", "encode_query", "encode_document"):
            _same(getattr(ours, method)(**{name: texts}), getattr(reference, method)(inputs=texts))
    got = ours.encode_as_sequence(sentences=texts[:3])
    for a, b in zip(got, ours.encode_as_sequence(texts[:3]), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="more than once: texts, inputs"):
        ours.encode(texts, inputs=texts)
    with pytest.raises(TypeError, match="missing the texts"):
        ours.encode(batch_size=4)


def test_cpu_device_names_and_a_missing_precision_as_sentence_transformers(st_models, texts):
    import torch

    reference, ours = st_models["plain"]
    for device in ("cpu", "cpu:0", torch.device("cpu")):
        _same(ours.encode(texts, device=device), reference.encode(texts, device=device))
    _same(ours.encode(texts, precision=None), reference.encode(texts, precision=None))


# ---------------------------------------------------------------- model2vec


@pytest.fixture(scope="module")
def m2v_models(tmp_path_factory, bert_tokenizer, table) -> dict[str, Path]:
    """Folders model2vec wrote: float32 with its default max_length, with weights and a vocabulary mapping
    and no max_length, and float16."""
    from conftest import save_model2vec

    rng = np.random.default_rng(11)
    root = tmp_path_factory.mktemp("m2v-written")
    vectors = table[:, :WIDTH].copy()
    rows = 3_000
    return {
        "f32": save_model2vec(root / "f32", bert_tokenizer, vectors, normalize=True),
        "mapped": save_model2vec(
            root / "mapped",
            bert_tokenizer,
            rng.standard_normal((rows, WIDTH), dtype=np.float32),
            weights=rng.uniform(0.1, 2.0, size=vectors.shape[0]).astype(np.float32),
            token_mapping=rng.integers(0, rows, size=vectors.shape[0]).astype(np.int64),
            max_length=None,
        ),
        "f16": save_model2vec(root / "f16", bert_tokenizer, vectors.astype(np.float16), normalize=False),
    }


def _m2v(path: Path, **kwargs):
    from model2vec import StaticModel as M2V

    return M2V.from_pretrained(str(path), force_download=False, **kwargs)


def _same_as_model2vec(got: np.ndarray, want: np.ndarray, steps: int = 1) -> None:
    """``steps``: how many float16 steps apart a float16 vector may be (two where model2vec normalizes a mean it
    has already rounded to float16, so a value is rounded twice)."""
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype == np.float16:  # model2vec keeps a float16 table's dtype; staticemb returns float32
        assert got.dtype == np.float32
        # rtol: float16's precision; atol: two steps of its subnormals (about 6e-8 apart), where rtol means nothing
        np.testing.assert_allclose(got.astype(np.float16).astype(np.float32), want.astype(np.float32),
                                   rtol=1e-3 * steps, atol=1.2e-7)
    else:
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


UNSET = object()
M2V_CALLS = [
    dict(zip(("max_length", "normalize", "dimensionality", "single"), c, strict=True))
    for c in itertools.product([UNSET, None, 64, 1_000], [None, False], [None, 64], [False, True])
]


@pytest.mark.parametrize("name", ["f32", "mapped", "f16"])
@pytest.mark.parametrize(
    "call", M2V_CALLS, ids=lambda c: "-".join("default" if v is UNSET else str(v) for v in c.values())
)
def test_same_call_as_model2vec(m2v_models, texts, name, call):
    load = {k: call[k] for k in ("normalize", "dimensionality") if call[k] is not None}
    reference = _m2v(m2v_models[name], **load)
    ours = StaticModel.from_pretrained(
        m2v_models[name], normalize=call["normalize"], dim=call["dimensionality"]
    )
    inputs = texts[5] if call["single"] else texts  # one 2,000-token text, or all of them
    kwargs = {} if call["max_length"] is UNSET else {"max_length": call["max_length"]}
    _same_as_model2vec(ours.encode(inputs, **kwargs), reference.encode(inputs, **kwargs))


@pytest.mark.parametrize("name", ["f32", "mapped", "f16"])
@pytest.mark.parametrize("dimensionality", [None, 64])
@pytest.mark.parametrize("quantize_to", [None, "float16", "float32", "float64", "int8", "DType.Int8"])
def test_model2vec_load_options_as_model2vec(m2v_models, texts, name, dimensionality, quantize_to):
    """model2vec's ``from_pretrained(quantize_to=, dimensionality=)`` given to both libraries as they are: the
    same stored table (int8 values to the bit; float64 kept as float32) and the same vectors."""
    from model2vec.quantization import DType

    if quantize_to == "DType.Int8":
        quantize_to = DType.Int8
    load = {"quantize_to": quantize_to, "dimensionality": dimensionality}
    reference = _m2v(m2v_models[name], **load)
    ours = StaticModel.from_pretrained(m2v_models[name], force_download=False, **load)
    assert ours.dim == reference.dim
    want_dtype = np.float32 if reference.embedding.dtype == np.float64 else reference.embedding.dtype
    assert ours.embeddings.dtype == want_dtype
    if reference.embedding.dtype == np.int8:
        np.testing.assert_array_equal(ours.embeddings, reference.embedding)
    for normalize in (False, True):
        ours.normalize = reference.normalize = normalize
        got, want = ours.encode(texts), reference.encode(texts)
        if reference.embedding.dtype == np.int8 and not normalize:  # in the int8 scale's units, up to 127
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
        else:
            _same_as_model2vec(got, want.astype(np.float32) if want.dtype == np.float64 else want,
                               steps=2 if normalize else 1)


@pytest.mark.parametrize("name", ["f32", "mapped", "f16"])
@pytest.mark.parametrize("load", [{}, {"quantize_to": "int8", "dimensionality": 64}])
def test_model2vec_attributes(m2v_models, name, load):
    """What a model2vec user reads off a loaded model has the same value: the table (``embedding``), its dtype,
    the vocabulary quantization, the mapping, the weights, the tokens and the width."""
    reference = _m2v(m2v_models[name], **load)
    ours = StaticModel.from_pretrained(m2v_models[name], **load)
    np.testing.assert_array_equal(ours.embedding, reference.embedding)
    assert ours.embedding_dtype == reference.embedding_dtype
    assert ours.vocabulary_quantization == reference.vocabulary_quantization
    assert ours.tokens == reference.tokens
    assert ours.dim == reference.dim
    for got, want in ((ours.token_mapping, reference.token_mapping), (ours.weights, reference.weights)):
        if want is None:
            assert got is None
        else:
            np.testing.assert_array_equal(got, want)
            with pytest.raises(ValueError, match="read-only"):
                got[0] = 0


@pytest.fixture(scope="module")
def m2v_narrow(tmp_path_factory, bert_tokenizer, table) -> dict[str, Path]:
    """model2vec folders narrow enough for k-means in seconds: float32 and float16 tables, one with weights."""
    from conftest import save_model2vec

    root = tmp_path_factory.mktemp("m2v-narrow")
    vectors = table[:, :48].copy()
    weights = np.random.default_rng(5).uniform(0.1, 2.0, size=len(vectors)).astype(np.float32)
    return {
        "f32": save_model2vec(root / "f32", bert_tokenizer, vectors, normalize=False),
        "f16": save_model2vec(root / "f16", bert_tokenizer, vectors.astype(np.float16), normalize=True),
        "weighted": save_model2vec(root / "weighted", bert_tokenizer, vectors, weights=weights, normalize=False),
    }


@pytest.mark.parametrize("name, extra", [
    ("f32", {}),
    ("f16", {"quantize_to": "int8"}),
    ("weighted", {"dimensionality": 32, "quantize_to": "float16"}),
])
def test_vocabulary_quantization_as_model2vec(m2v_narrow, texts, name, extra):
    """``vocabulary_quantization=n``: the same clusters (scikit-learn's k-means with model2vec's settings), the
    same token → cluster mapping and weights, the same vectors; with a dtype and a width after, in model2vec's
    order."""
    load = {"vocabulary_quantization": 40, **extra}
    reference = _m2v(m2v_narrow[name], **load)
    ours = StaticModel.from_pretrained(m2v_narrow[name], **load)
    assert ours.embeddings.shape == reference.embedding.shape == (40, extra.get("dimensionality", 48))
    np.testing.assert_array_equal(ours._mapping, reference.token_mapping)
    np.testing.assert_allclose(ours._weights, reference.weights.astype(np.float32), rtol=1e-6)
    got, want = ours.encode(texts), reference.encode(texts)
    if reference.weights.dtype == np.float16:
        # A float16 table's norms are float16 weights, and model2vec multiplies every row by its weight in
        # float16 before the mean: float16's precision (2^-11) on each term of the normalized vector's sums.
        np.testing.assert_allclose(got, want, rtol=2e-3, atol=3e-4)
    else:
        _same_as_model2vec(got, want, steps=2 if reference.normalize else 1)


@pytest.mark.parametrize("name", ["f32", "mapped", "f16"])
@pytest.mark.parametrize("max_length", [None, 7, 1_000])
def test_encode_as_sequence_as_model2vec(m2v_models, texts, name, max_length):
    reference, ours = _m2v(m2v_models[name]), StaticModel.from_pretrained(m2v_models[name])
    want = reference.encode_as_sequence(texts, max_length=max_length)
    got = ours.encode_as_sequence(texts, max_length=max_length)
    assert isinstance(got, list) and len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        if len(w) == 0:
            assert g.shape == (0, ours.dim)
        else:
            _same_as_model2vec(g, w)
    _same_as_model2vec(ours.encode_as_sequence(texts[2]), reference.encode_as_sequence(texts[2]))


@pytest.mark.parametrize("name", ["f32", "mapped", "f16"])
def test_settable_options_as_model2vec(m2v_models, texts, name):
    """model2vec lets a user set ``normalize`` and ``max_length`` on a loaded model; encode then follows them
    (encode_as_sequence, which neither library caps or normalizes by them, stays the same), as in model2vec."""
    reference, ours = _m2v(m2v_models[name]), StaticModel.from_pretrained(m2v_models[name])
    for normalize, max_length in ((not reference.normalize, 7), (reference.normalize, None), (True, 1_000)):
        for model in (reference, ours):
            model.normalize, model.max_length = normalize, max_length
        assert (ours.normalize, ours.max_length) == (reference.normalize, reference.max_length)
        _same_as_model2vec(ours.encode(texts), reference.encode(texts))
        for g, w in zip(ours.encode_as_sequence(texts[:4]), reference.encode_as_sequence(texts[:4]), strict=True):
            if len(w):
                _same_as_model2vec(g, w)
    with pytest.raises(InvalidInputError, match="max_length"):
        ours.max_length = 0
    with pytest.raises(InvalidInputError, match="normalize"):
        ours.normalize = "yes"
    assert (ours.normalize, ours.max_length) == (True, 1_000)  # a refused value changes nothing
