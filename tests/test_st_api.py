"""The same call as Sentence Transformers: ``StaticModel.encode`` / ``encode_query`` / ``encode_document`` /
``similarity`` take ``SentenceTransformer``'s arguments with the same meaning and give the same outputs, on
folders written by Sentence Transformers itself (the parity suite is marked ``reference``; the rest is light).
"""

from __future__ import annotations

import itertools
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from staticemb import InvalidInputError, StaticModel, quantize_embeddings

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEXTS: list[str] = json.loads((FIXTURES / "texts.json").read_text(encoding="utf-8"))
PROMPTS = {"query": "query: ", "document": "passage: ", "title": "title | "}


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """st-tiny (StaticEmbedding + Normalize) with prompts, and the same table without Normalize, both saved by
    staticemb in Sentence Transformers' layout."""
    base = StaticModel.from_pretrained(FIXTURES / "st-tiny")
    root = tmp_path_factory.mktemp("st-api")
    out = {}
    for name, normalize in (("norm", True), ("plain", False)):
        model = StaticModel(
            base.tokenizer, base.embeddings, normalize=normalize, prompts=PROMPTS, similarity_fn_name="cosine"
        )
        out[name] = model.save(root / name)
    return out


# ---------------------------------------------------------------- light


def test_prompts_round_trip_through_the_folder(folders):
    model = StaticModel.from_pretrained(folders["norm"])
    assert model.prompts == PROMPTS
    config = json.loads((folders["norm"] / "config_sentence_transformers.json").read_text())
    assert config["prompts"] == PROMPTS


def test_prompt_is_prepended(folders):
    model = StaticModel.from_pretrained(folders["plain"])
    np.testing.assert_array_equal(model.encode(TEXTS, prompt_name="query"), model.encode(["query: " + t for t in TEXTS]))
    np.testing.assert_array_equal(model.encode(TEXTS, prompt="x: "), model.encode(["x: " + t for t in TEXTS]))
    np.testing.assert_array_equal(model.encode_query(TEXTS), model.encode(TEXTS, prompt_name="query"))
    np.testing.assert_array_equal(model.encode_document(TEXTS), model.encode(TEXTS, prompt_name="document"))
    with pytest.raises(InvalidInputError, match="not one of this model's prompts"):
        model.encode(TEXTS, prompt_name="nope")


def test_single_string_and_keyword_aliases(folders):
    model = StaticModel.from_pretrained(folders["plain"])
    assert model.encode("hello world").shape == (model.dim,)
    np.testing.assert_array_equal(model.encode(TEXTS, dim=8), model.encode(TEXTS, truncate_dim=8))
    np.testing.assert_array_equal(
        model.encode(TEXTS, normalize=True), model.encode(TEXTS, normalize_embeddings=True)
    )
    with pytest.raises(InvalidInputError, match="not both"):
        model.encode(TEXTS, dim=8, truncate_dim=8)
    with pytest.raises(InvalidInputError, match="contradicts"):
        model.encode(TEXTS, normalize=False, normalize_embeddings=True)


def test_arguments_without_meaning_on_a_cpu_are_accepted_others_refused(folders):
    model = StaticModel.from_pretrained(folders["plain"])
    ref = model.encode(TEXTS)
    np.testing.assert_array_equal(model.encode(TEXTS, device="cpu", output_value="sentence_embedding"), ref)
    with pytest.raises(InvalidInputError, match="device"):
        model.encode(TEXTS, device="cuda")
    with pytest.raises(InvalidInputError, match="output_value"):
        model.encode(TEXTS, output_value="token_embeddings")
    with pytest.raises(InvalidInputError, match="does not use: pool"):
        model.encode(TEXTS, pool={})
    with pytest.raises(InvalidInputError, match="precision"):
        model.encode(TEXTS, precision="int4")


def test_truncate_dim_means_what_sentence_transformers_means(folders):
    norm = StaticModel.from_pretrained(folders["norm"])
    full = norm.encode(TEXTS)
    # The Normalize module runs on the full vector, then the output is cut: not unit length any more.
    np.testing.assert_allclose(norm.encode(TEXTS, truncate_dim=8), full[:, :8], atol=1e-7)
    # staticemb's dim reads 8 columns only and normalizes those.
    cut = norm.encode(TEXTS, dim=8)
    lengths = np.linalg.norm(cut, axis=1)
    assert np.allclose(lengths[lengths > 0], 1.0, atol=1e-6)
    at_load = StaticModel.from_pretrained(folders["norm"], truncate_dim=8)
    np.testing.assert_array_equal(at_load.encode(TEXTS), norm.encode(TEXTS, truncate_dim=8))


def test_truncate_dim_setter_is_checked_as_the_constructor_checks_it(folders):
    model = StaticModel.from_pretrained(folders["norm"], truncate_dim=8)
    width = model.full_dim
    for bad, error in ((0, InvalidInputError), (width + 1, InvalidInputError), (8.0, TypeError), ("8", TypeError),
                       (True, TypeError)):
        with pytest.raises(error, match="truncate_dim"):
            model.truncate_dim = bad
        with pytest.raises(error, match="truncate_dim"), model.truncate_embeddings(bad):
            pass
        assert model.truncate_dim == 8  # a refused value changes nothing
    model.truncate_dim = np.int64(4)
    assert model.truncate_dim == 4 and type(model.truncate_dim) is int
    assert model.encode(TEXTS).shape == (len(TEXTS), 4)
    with pytest.warns(FutureWarning, match="truncate_embeddings"), model.truncate_sentence_embeddings(2):
        assert model.encode(TEXTS).shape == (len(TEXTS), 2)
    assert model.truncate_dim == 4
    # A copy keeps the width set on its original; pickling carries it.
    assert model.with_options(dim=None).truncate_dim == 4
    assert pickle.loads(pickle.dumps(model)).truncate_dim == 4


def test_settable_options_are_checked_and_a_refused_value_changes_nothing(folders, tmp_path):
    model = StaticModel.from_pretrained(folders["plain"])
    want = model.encode(TEXTS)
    for attribute, bad, error in (
        ("prompts", ["query: "], TypeError),
        ("prompts", {"query": 1}, TypeError),
        ("default_prompt_name", "missing", InvalidInputError),
        ("default_prompt_name", 3, InvalidInputError),
        ("similarity_fn_name", "jaccard", InvalidInputError),
    ):
        before = getattr(model, attribute)
        with pytest.raises(error):
            setattr(model, attribute, bad)
        assert getattr(model, attribute) == before, attribute
    model.prompts["query"] = "changed: "  # the model's own dict, as in Sentence Transformers
    np.testing.assert_array_equal(model.encode_query(TEXTS), model.encode(TEXTS, prompt="changed: "))
    model.prompts["query"] = 7
    with pytest.raises(TypeError, match="prompts\\['query'\\] must be a str"):
        model.encode_query(TEXTS)
    with pytest.raises(TypeError, match="prompts"):
        model.save(tmp_path / "bad-prompts")
    model.prompts = {"query": "", "document": "", "title": "title | "}
    model.default_prompt_name = "title"
    with pytest.raises(InvalidInputError, match="default_prompt_name 'title'"):
        model.prompts = {"query": "q: "}  # would leave the default prompt dangling
    np.testing.assert_array_equal(model.encode(TEXTS), model.encode(TEXTS, prompt_name="title"))
    model.default_prompt_name = None
    np.testing.assert_array_equal(model.encode(TEXTS), want)
    assert model.max_seq_length == float("inf")
    assert model.with_options(max_length=7).max_seq_length == 7
    with pytest.raises(AttributeError, match="max_length"):
        model.max_seq_length = 16  # a silent no-op before; Sentence Transformers' StaticEmbedding refuses it too
    assert model.get_embedding_dimension() == model.get_sentence_embedding_dimension() == model.full_dim


@pytest.mark.parametrize("bad", ["16", True, 0, -4, 2.5, [16]])
def test_a_saved_truncate_dim_that_is_no_width_names_the_file(folders, tmp_path, bad):
    import shutil

    from staticemb import ModelFormatError

    folder = Path(shutil.copytree(folders["plain"], tmp_path / "m"))
    path = folder / "config_sentence_transformers.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "truncate_dim": bad}))
    with pytest.raises(ModelFormatError, match="config_sentence_transformers.json: truncate_dim"):
        StaticModel.from_pretrained(folder)


def test_truncate_dim_round_trips_through_the_folder(folders, tmp_path):
    model = StaticModel.from_pretrained(folders["norm"], truncate_dim=8)
    saved = StaticModel.from_pretrained(model.save(tmp_path / "m"))
    assert saved.truncate_dim == 8
    np.testing.assert_array_equal(saved.encode(TEXTS), model.encode(TEXTS))
    assert StaticModel.from_pretrained(tmp_path / "m", truncate_dim=4).truncate_dim == 4  # the given width wins
    model.truncate_dim = None
    assert StaticModel.from_pretrained(model.save(tmp_path / "m")).truncate_dim is None


def test_quantize_embeddings_matches_its_definition():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 16)).astype(np.float32)
    u8 = quantize_embeddings(x, "uint8")
    lo, hi = x.min(axis=0), x.max(axis=0)
    want = np.clip(np.floor((x - lo) / ((hi - lo) / 255)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(u8, want)
    np.testing.assert_array_equal(quantize_embeddings(x, "int8"), (want.astype(np.int16) - 128).astype(np.int8))
    np.testing.assert_array_equal(quantize_embeddings(x, "ubinary"), np.packbits(x > 0, axis=-1))
    calibrated = quantize_embeddings(x[:2], "int8", calibration_embeddings=x)
    np.testing.assert_array_equal(calibrated, quantize_embeddings(x, "int8")[:2])
    with pytest.raises(InvalidInputError, match="single embedding"):
        quantize_embeddings(x[:1], "int8")


@pytest.mark.parametrize("fn", ["cosine", "dot", "euclidean", "manhattan"])
def test_similarity_functions(fn):
    base = StaticModel.from_pretrained(FIXTURES / "st-tiny")
    model = StaticModel(base.tokenizer, base.embeddings, similarity_fn_name=fn)
    a, b = model.encode(TEXTS[4:9]), model.encode(TEXTS[9:14])
    m = model.similarity(a, b)
    assert m.shape == (5, 5)
    np.testing.assert_allclose(model.similarity_pairwise(a, b), np.diag(m), rtol=1e-5, atol=1e-6)
    if fn == "dot":
        np.testing.assert_allclose(m, a @ b.T, rtol=1e-6)
    if fn == "euclidean":
        np.testing.assert_allclose(m[0, 1], -np.linalg.norm(a[0] - b[1]), rtol=1e-5)


@pytest.mark.parametrize("fn", ["euclidean", "manhattan"])
def test_distances_are_computed_a_block_at_a_time(monkeypatch, fn):
    # Every pair's difference at once took len(a) x len(b) x width floats (500 x 500 x 256: 514 MB).
    import staticemb.model

    base = StaticModel.from_pretrained(FIXTURES / "st-tiny")
    model = StaticModel(base.tokenizer, base.embeddings, similarity_fn_name=fn)
    a, b = model.encode(TEXTS[:9]), model.encode(TEXTS[9:20])
    want = -np.linalg.norm(a[:, None, :] - b[None, :, :], ord=2 if fn == "euclidean" else 1, axis=-1)
    for budget in (1, 16, 40, 10_000):  # blocks of one pair, of part of a row, of a few rows, of everything
        monkeypatch.setattr(staticemb.model, "_DISTANCE_ELEMENTS", budget)
        np.testing.assert_allclose(model.similarity(a, b), want, rtol=1e-6, err_msg=str(budget))
    assert model.similarity(a[:0], b).shape == (0, len(b)) and model.similarity(a, b[:0]).shape == (len(a), 0)


# ---------------------------------------------------------------- parity with Sentence Transformers

CALLS = [
    dict(zip(("prompt_name", "precision", "truncate_dim", "normalize_embeddings"), combo, strict=True))
    for combo in itertools.product(
        [None, "query"], ["float32", "int8", "uint8", "binary", "ubinary"], [None, 8], [False, True]
    )
]


@pytest.mark.reference
@pytest.mark.parametrize("kind", ["norm", "plain"])
@pytest.mark.parametrize("call", CALLS, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_same_call_same_output_as_sentence_transformers(folders, kind, call):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(folders[kind]), device="cpu")
    model = StaticModel.from_pretrained(folders[kind])
    for inputs in (TEXTS, "a single text with a prompt"):
        if isinstance(inputs, str) and call["precision"] in ("int8", "uint8"):
            continue  # both refuse to calibrate int8 ranges on one vector
        want = reference.encode(inputs, **call)
        got = model.encode(inputs, **call)
        assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape, got.dtype, want.dtype)
        if call["precision"] == "float32":
            np.testing.assert_allclose(got, want, atol=1e-5)
        else:
            np.testing.assert_array_equal(got, want)


@pytest.mark.reference
def test_tensors_queries_documents_and_similarity_like_sentence_transformers(folders):
    import torch
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(folders["norm"]), device="cpu")
    model = StaticModel.from_pretrained(folders["norm"])
    got = model.encode(TEXTS, convert_to_tensor=True)
    assert isinstance(got, torch.Tensor)
    torch.testing.assert_close(got, reference.encode(TEXTS, convert_to_tensor=True), atol=1e-5, rtol=0)
    as_list = model.encode(TEXTS[:3], convert_to_numpy=False)
    assert isinstance(as_list, list) and all(isinstance(t, torch.Tensor) for t in as_list)
    np.testing.assert_allclose(model.encode_query(TEXTS), reference.encode_query(TEXTS), atol=1e-5)
    np.testing.assert_allclose(model.encode_document(TEXTS), reference.encode_document(TEXTS), atol=1e-5)
    a, b = model.encode(TEXTS[:6]), model.encode(TEXTS[6:12])
    np.testing.assert_allclose(model.similarity(a, b), reference.similarity(a, b).numpy(), atol=1e-5)
    np.testing.assert_allclose(
        model.similarity_pairwise(a, b), reference.similarity_pairwise(a, b).numpy(), atol=1e-5
    )


@pytest.mark.reference
@pytest.mark.parametrize("direction", ["right", "left"])
def test_a_truncation_left_in_tokenizer_json_is_honoured_like_sentence_transformers(tmp_path, direction):
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    from tokenizers import Tokenizer

    base = StaticModel.from_pretrained(FIXTURES / "st-tiny")
    tok = Tokenizer.from_str(base.tokenizer.to_str())
    tok.enable_truncation(5, direction=direction)
    module = StaticEmbedding(tok, embedding_weights=torch.from_numpy(np.array(base.embeddings)))
    SentenceTransformer(modules=[module], device="cpu").save(str(tmp_path / "m"))
    reference = SentenceTransformer(str(tmp_path / "m"), device="cpu")
    model = StaticModel.from_pretrained(tmp_path / "m")
    assert model.max_length == 5
    np.testing.assert_allclose(model.encode(TEXTS), reference.encode(TEXTS), atol=1e-6)
    # max_length=None is staticemb's documented advantage: every token pooled.
    assert not np.allclose(model.encode(TEXTS, max_length=None), reference.encode(TEXTS), atol=1e-6)
    # Saved back, the truncation travels with the tokenizer.
    again = StaticModel.from_pretrained(model.save(tmp_path / "again"))
    assert again.max_length == 5
    np.testing.assert_array_equal(again.encode(TEXTS), model.encode(TEXTS))


# ---------------------------------------------------------------- module settings and drop-in arguments

NORMALIZE_SETTINGS = [
    {},
    {"module_input_name": "sentence_embedding", "module_output_name": "sentence_embedding"},
    {"module_output_name": "normalized"},  # written beside sentence_embedding, which stays as it is
    {"module_input_name": "token_embeddings"},  # a static model gives no token embeddings: nothing changes
    {"module_input_name": "token_embeddings", "module_output_name": "sentence_embedding"},
]


def _with_normalize_config(folders, tmp_path, names):
    import shutil

    folder = Path(shutil.copytree(folders["norm"], tmp_path / "m"))
    (folder / "1_Normalize" / "config.json").write_text(json.dumps(names))
    return folder


@pytest.mark.parametrize("names", NORMALIZE_SETTINGS)
def test_a_normalize_module_normalizes_only_where_its_settings_say(folders, tmp_path, names):
    # A Normalize whose output key is not sentence_embedding left the vectors unnormalized in Sentence
    # Transformers, and unit length in staticemb.
    model = StaticModel.from_pretrained(_with_normalize_config(folders, tmp_path, names))
    plain = StaticModel.from_pretrained(folders["plain"])
    want = names.get("module_input_name", "sentence_embedding") == "sentence_embedding" and names.get(
        "module_output_name", "sentence_embedding") == "sentence_embedding"
    assert model.normalize is want
    np.testing.assert_allclose(model.encode(TEXTS), plain.encode(TEXTS, normalize=want), atol=1e-6)


def test_a_normalize_of_another_package_is_refused(folders, tmp_path):
    import shutil

    from staticemb import ModelFormatError

    folder = Path(shutil.copytree(folders["norm"], tmp_path / "m"))
    modules = json.loads((folder / "modules.json").read_text())
    modules[1]["type"] = "l1norm.Normalize"  # custom code: an L1 norm is not Sentence Transformers' L2 Normalize
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ModelFormatError, match="l1norm.Normalize"):
        StaticModel.from_pretrained(folder)


def test_query_and_document_prompts_are_empty_where_the_model_has_none(folders):
    model = StaticModel.from_pretrained(folders["plain"]).with_options(prompts=None)
    assert model.prompts == {"query": "", "document": ""}  # as Sentence Transformers 6 gives every model
    for name in ("query", "document"):
        np.testing.assert_array_equal(model.encode(TEXTS, prompt_name=name), model.encode(TEXTS))
    with pytest.raises(InvalidInputError, match="not one of this model's prompts"):
        model.encode(TEXTS, prompt_name="title")


def test_arguments_that_only_spread_the_work_are_accepted(folders):
    model = StaticModel.from_pretrained(folders["plain"])
    want = model.encode(TEXTS)
    for kwargs in ({"use_multiprocessing": True, "multiprocessing_threshold": 1}, {"chunk_size": 3},
                   {"pool": None}):
        np.testing.assert_array_equal(model.encode(TEXTS, **kwargs), want, err_msg=str(kwargs))
    with pytest.raises(InvalidInputError, match="pool"):
        model.encode(TEXTS, pool={"processes": []})


def test_sentence_embedding_dimension(folders):
    model = StaticModel.from_pretrained(folders["plain"])
    assert model.get_sentence_embedding_dimension() == model.encode(TEXTS).shape[1] == model.full_dim
    assert model.with_options(dim=8).get_sentence_embedding_dimension() == 8
    assert StaticModel.from_pretrained(folders["plain"], truncate_dim=4).get_sentence_embedding_dimension() == 4


@pytest.mark.reference
@pytest.mark.parametrize("names", NORMALIZE_SETTINGS)
def test_normalize_settings_as_sentence_transformers(folders, tmp_path, names):
    from sentence_transformers import SentenceTransformer

    folder = _with_normalize_config(folders, tmp_path, names)
    reference = SentenceTransformer(str(folder), device="cpu")
    want = reference.encode(TEXTS)
    np.testing.assert_allclose(StaticModel.from_pretrained(folder).encode(TEXTS), want, atol=1e-6)
    np.testing.assert_allclose(StaticModel.from_pretrained(reference).encode(TEXTS), want, atol=1e-6)
    assert StaticModel.from_pretrained(folder).get_sentence_embedding_dimension() == \
        reference.get_sentence_embedding_dimension()


@pytest.mark.reference
def test_query_and_document_prompts_as_sentence_transformers(folders, tmp_path):
    from sentence_transformers import SentenceTransformer

    # A folder that names no prompts: Sentence Transformers still takes "query" and "document".
    folder = StaticModel.from_pretrained(folders["plain"]).with_options(prompts=None).save(tmp_path / "m")
    reference, model = SentenceTransformer(str(folder), device="cpu"), StaticModel.from_pretrained(folder)
    assert model.prompts == reference.prompts == {"query": "", "document": ""}
    for name in ("query", "document"):
        np.testing.assert_allclose(model.encode(TEXTS, prompt_name=name),
                                   reference.encode(TEXTS, prompt_name=name), atol=1e-6)
    np.testing.assert_allclose(StaticModel.from_pretrained(reference).encode(TEXTS, prompt_name="query"),
                               reference.encode(TEXTS, prompt_name="query"), atol=1e-6)


def test_copies_and_pickles_keep_the_prompts_as_they_are(folders):
    """A model whose prompts were replaced without the empty "document" one uses its "passage" prompt for
    documents, as Sentence Transformers does; its copies did not (the constructor put the default back)."""
    model = StaticModel.from_pretrained(folders["plain"])
    model.prompts = {"query": "q: ", "passage": "p: "}
    want = model.encode_document(TEXTS)
    np.testing.assert_array_equal(want, model.encode(TEXTS, prompt="p: "))
    for copy in (model.with_options(dim=None), pickle.loads(pickle.dumps(model)), model.quantize("float32")):
        assert copy.prompts == {"query": "q: ", "passage": "p: "}
        np.testing.assert_array_equal(copy.encode_document(TEXTS), want)
    assert model.with_options(prompts={"passage": "p: "}).prompts == {"query": "", "document": "", "passage": "p: "}


def test_a_given_dim_wins_over_a_saved_truncate_dim(folders, tmp_path):
    folder = StaticModel.from_pretrained(folders["plain"], truncate_dim=8).save(tmp_path / "m")
    model = StaticModel.from_pretrained(folder, dim=4)
    assert model.truncate_dim is None and model.encode(TEXTS).shape[1] == 4
    assert StaticModel.from_pretrained(folder).encode(TEXTS).shape[1] == 8
