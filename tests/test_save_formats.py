"""Saving in both formats, symmetric with loading: a model saved as a Sentence Transformers or a model2vec
folder loads back (in staticemb and in the format's own library) with the same vectors, each save replaces
only a folder of its own format, and what one format cannot express is refused rather than changed.

Light tier except the tests marked ``reference`` (which run model2vec itself on what staticemb wrote).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file
from staticemb import InvalidInputError, ModelFormatError, StaticModel

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEXTS: list[str] = json.loads((FIXTURES / "texts.json").read_text(encoding="utf-8"))


def load(name: str) -> StaticModel:
    return StaticModel.from_pretrained(FIXTURES / name)


@pytest.mark.parametrize("name", ["m2v-f32", "m2v-f16", "m2v-int8"])
def test_model2vec_round_trip_keeps_mapping_weights_and_vectors(tmp_path, name):
    model = load(name)
    path = model.save(tmp_path / "m", format="model2vec")
    again = StaticModel.from_pretrained(path)
    np.testing.assert_array_equal(again.encode(TEXTS), model.encode(TEXTS))
    written = load_file(str(path / "model.safetensors"))
    original = load_file(str(FIXTURES / name / "model.safetensors"))
    assert set(written) == set(original)
    for key, value in original.items():
        np.testing.assert_array_equal(written[key].astype(value.dtype), value, err_msg=key)
    assert written["embeddings"].dtype == original["embeddings"].dtype
    config = json.loads((path / "config.json").read_text())
    assert config["normalize"] == model.normalize
    assert config["embedding_dtype"] == str(original["embeddings"].dtype)
    assert ("vocabulary_quantization" in config) == ("mapping" in original)
    assert again.drop_unknown and "format='model2vec'" in repr(again)


def test_model2vec_save_truncates_to_dim(tmp_path):
    model = StaticModel.from_pretrained(FIXTURES / "m2v-f32", dim=8)
    path = model.save(tmp_path / "m", format="model2vec")
    again = StaticModel.from_pretrained(path)
    assert again.full_dim == 8
    np.testing.assert_array_equal(again.encode(TEXTS), model.encode(TEXTS))


def test_int8_with_row_scales_is_written_dequantized(tmp_path):
    model = load("m2v-f32").quantize("int8")
    path = model.save(tmp_path / "m", format="model2vec")
    assert load_file(str(path / "model.safetensors"))["embeddings"].dtype == np.float32
    np.testing.assert_allclose(StaticModel.from_pretrained(path).encode(TEXTS), model.encode(TEXTS), atol=1e-6)


def test_a_model_that_pools_the_unknown_token_is_refused_as_model2vec(tmp_path):
    model = load("st-tiny")
    assert not model.drop_unknown
    with pytest.raises(InvalidInputError, match="unknown token"):
        model.save(tmp_path / "m", format="model2vec")
    assert not (tmp_path / "m").exists()


def test_each_format_replaces_only_its_own_kind(tmp_path):
    m2v, st = load("m2v-f32"), load("st-tiny")
    a = m2v.save(tmp_path / "a", format="model2vec")
    b = st.save(tmp_path / "b")
    with pytest.raises(FileExistsError, match="model2vec"):
        st.save(a)
    with pytest.raises(FileExistsError, match="sentence-transformers"):
        m2v.save(b, format="model2vec")
    # Same format: replaced in place; other format with overwrite=True: replaced whole.
    m2v.save(a, format="model2vec")
    st.save(a, overwrite=True)
    assert StaticModel.from_pretrained(a).encode(TEXTS).tobytes() == st.encode(TEXTS).tobytes()
    assert not (a / "config.json").exists()


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(InvalidInputError, match="format must be"):
        load("st-tiny").save(tmp_path / "m", format="onnx")


@pytest.mark.reference
@pytest.mark.parametrize("name", ["m2v-f32", "m2v-int8"])
def test_model2vec_loads_what_staticemb_writes(tmp_path, name):
    from model2vec import StaticModel as M2V

    model = load(name)
    path = model.save(tmp_path / "m", format="model2vec")
    reference = M2V.from_pretrained(str(path))
    # The same call gives the same vectors: model2vec's default max_length (config.json's, here 512, with its
    # text cut), no truncation, and a short one.
    for kwargs in ({}, {"max_length": None}, {"max_length": 7}):
        want = reference.encode(TEXTS, use_multiprocessing=False, **kwargs)
        np.testing.assert_allclose(model.encode(TEXTS, **kwargs), want, rtol=1e-6, atol=1e-6, err_msg=str(kwargs))


@pytest.mark.reference
def test_model2vec_through_a_sentence_transformers_folder_saves_as_model2vec_again(tmp_path):
    # The Sentence Transformers folder pools the unknown token and keeps the first 512 tokens, so saving it as
    # model2vec is refused; with_options gives back model2vec's rules, and model2vec itself then gives the
    # original model's vectors for every max_length.
    from model2vec import StaticModel as M2V

    original = load("m2v-f32")
    via_st = StaticModel.from_pretrained(original.save(tmp_path / "st"))
    assert (via_st.max_length, via_st.truncation, via_st.drop_unknown) == (512, "right", False)
    with pytest.raises(InvalidInputError, match=r"with_options\(drop_unknown=True\)"):
        via_st.save(tmp_path / "refused", format="model2vec")
    with pytest.raises(InvalidInputError, match=r"with_options\(max_length=512, truncation='model2vec'\)"):
        via_st.with_options(drop_unknown=True).save(tmp_path / "refused", format="model2vec")
    back = via_st.with_options(drop_unknown=True, max_length=512, truncation="model2vec")
    reference = M2V.from_pretrained(str(back.save(tmp_path / "m2v", format="model2vec")))
    for kwargs in ({}, {"max_length": None}, {"max_length": 7}):
        want = original.encode(TEXTS, **kwargs)
        np.testing.assert_allclose(reference.encode(TEXTS, use_multiprocessing=False, **kwargs), want,
                                   rtol=1e-6, atol=1e-6, err_msg=str(kwargs))
        np.testing.assert_allclose(back.encode(TEXTS, **kwargs), want, rtol=1e-6, atol=1e-6, err_msg=str(kwargs))


@pytest.mark.reference
def test_sentence_transformers_loads_what_staticemb_writes_from_model2vec(tmp_path):
    from sentence_transformers import SentenceTransformer

    model = load("m2v-f32")
    path = model.save(tmp_path / "m")
    # Sentence Transformers has no unknown-token drop: compare on the texts without an unknown token.
    unknown = model._native.dropped_unknown
    texts = [t for t in TEXTS if t.strip() and unknown not in model.tokenize([t])[0].tolist()]
    assert len(texts) >= 5
    reference = SentenceTransformer(str(path), device="cpu")
    np.testing.assert_allclose(model.encode(texts), reference.encode(texts), atol=1e-6)


# ---------------------------------------------------------------- model card


@pytest.mark.parametrize("format", ["sentence-transformers", "model2vec"])
def test_a_model_card_is_written_with_what_is_known(tmp_path, format):
    model = load("m2v-f32")
    card = (model.save(tmp_path / "my-model", format=format) / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\nlibrary_name: staticemb\n")
    assert "base_model" not in card.split("---")[1]  # nothing is known of its origin
    assert "# my-model" in card
    assert f"| Dimensions | {model.dim} " in card
    assert f"{model.vocab_size:,} tokens (WordPiece tokenizer" in card
    assert "| Maximum length | 512 tokens |" in card  # model2vec's default, read from config.json
    for library in ("from staticemb import", "from sentence_transformers import", "from model2vec import"):
        assert library in card
    # The card is metadata only: the folder loads back as the same model (a model2vec model saved in Sentence
    # Transformers' format pools the unknown token, see test_sentence_transformers_loads_what_staticemb_writes…).
    again = StaticModel.from_pretrained(tmp_path / "my-model")
    assert again.dim == model.dim
    if format == "model2vec":
        np.testing.assert_array_equal(again.encode(TEXTS), model.encode(TEXTS))


def test_the_base_model_named_by_a_card_is_carried_on_and_model_card_false_writes_none(tmp_path):
    model = load("st-tiny")
    first = model.save(tmp_path / "first")
    card = (first / "README.md").read_text(encoding="utf-8")
    (first / "README.md").write_text(card.replace("pipeline_tag:", "base_model: org/parent-model\npipeline_tag:", 1))
    again = StaticModel.from_pretrained(first).save(tmp_path / "second")
    assert "\nbase_model: org/parent-model\n" in (again / "README.md").read_text(encoding="utf-8")
    assert "| Base model | `org/parent-model` |" in (again / "README.md").read_text(encoding="utf-8")
    bare = model.save(tmp_path / "bare", model_card=False)
    assert not (bare / "README.md").exists()
    # A hostile card (not UTF-8, no front matter, a YAML list) names no base model and breaks nothing.
    for text in (b"\xff\xfe garbage", b"# just a title\n", b"---\nbase_model: [a, b]\n---\n"):
        (first / "README.md").write_bytes(text)
        out = StaticModel.from_pretrained(first).save(tmp_path / "third", overwrite=True)
        assert "base_model:" not in (out / "README.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------- tables, mappings and weights that do not fit


def test_rows_and_entries_past_the_vocabulary_are_neither_written_nor_reachable(tmp_path):
    # A table padded past the vocabulary (here to 410 rows for 402 ids) and a mapping with an extra entry that
    # points far outside the table: no id reaches them, saving folds or writes exactly one row per token,
    # and an id past the vocabulary is a named error (it was a Rust panic, which `except Exception` misses).
    from staticemb import TokenIdError

    base = load("st-tiny")
    v = base.vocab_size
    padded = np.concatenate([base.embeddings, np.ones((8, base.full_dim), np.float32)])
    weights = np.linspace(0.5, 1.5, v).astype(np.float32)
    mapping = np.concatenate([np.arange(v), [10_000]])
    models = {
        "padded": StaticModel(base.tokenizer, padded, drop_unknown=True),
        "padded-weights": StaticModel(base.tokenizer, padded, drop_unknown=True).with_corpus_weights(TEXTS),
        "long-mapping": StaticModel(base.tokenizer, padded, token_mapping=mapping, weights=weights,
                                    drop_unknown=True),
    }
    unknown = models["padded"]._native.dropped_unknown
    known = [i for i, t in enumerate(TEXTS) if unknown not in base.tokenize([t])[0].tolist()]
    assert len(known) >= 5
    for name, model in models.items():
        want = model.encode(TEXTS)
        with pytest.raises(TokenIdError, match=f"ids below {v}"):
            model.embed_ids(np.array([v]), np.array([0]))
        for format in ("sentence-transformers", "model2vec"):
            path = model.save(tmp_path / f"{name}-{format}", format=format)
            [file] = path.rglob("model.safetensors")
            written = load_file(str(file))
            rows = written.get("mapping", written.get("embeddings", written.get("embedding.weight")))
            assert len(rows) == v, (name, format)
            # Sentence Transformers has no unknown-token drop: compare on the texts without an unknown token.
            keep = known if format == "sentence-transformers" else slice(None)
            np.testing.assert_allclose(StaticModel.from_pretrained(path).encode(TEXTS)[keep], want[keep],
                                       atol=1e-6, err_msg=f"{name} {format}")


def test_int8_table_folded_with_weights_keeps_its_vectors(tmp_path):
    # Folding the weights into an int8 table and quantizing it again moved vectors by up to 0.3%.
    model = load("m2v-int8")
    path = model.save(tmp_path / "st")
    [file] = path.rglob("model.safetensors")
    assert load_file(str(file))["embedding.weight"].dtype == np.float32
    unknown = model._native.dropped_unknown  # Sentence Transformers pools it: compare the texts without it
    texts = [t for t in TEXTS if unknown not in model.tokenize([t])[0].tolist()]
    assert len(texts) >= 5
    np.testing.assert_allclose(StaticModel.from_pretrained(path).encode(texts), model.encode(texts),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("truncation", ["right", "left"])
def test_a_token_truncation_is_refused_as_model2vec(tmp_path, truncation):
    # model2vec's max_length first cuts the text in characters: its vectors would differ from this model's.
    base = load("st-tiny")
    model = StaticModel(base.tokenizer, base.embeddings, drop_unknown=True, max_length=8, truncation=truncation)
    with pytest.raises(InvalidInputError, match="with_options\\(max_length=8, truncation='model2vec'\\)"):
        model.save(tmp_path / "m", format="model2vec")
    assert not (tmp_path / "m").exists()
    # The Sentence Transformers folder keeps the same token cap (and pools the unknown token, as this one does).
    model = StaticModel(base.tokenizer, base.embeddings, max_length=8, truncation=truncation)
    again = StaticModel.from_pretrained(model.save(tmp_path / "st"))
    np.testing.assert_array_equal(again.encode(TEXTS), model.encode(TEXTS))


def test_with_options_changes_only_what_it_names_and_shares_the_table(tmp_path):
    tiny = load("st-tiny")
    base = StaticModel(tiny.tokenizer, tiny.dequantized(), normalize=True, dim=8,
                       prompts={"query": "q: "}, default_prompt_name="query", max_length=5)
    capped = base.with_options(max_length=None)
    assert (capped.max_length, capped.normalize, capped.dim, capped.prompts) == (None, True, 8, {"query": "q: ", "document": ""})
    assert np.shares_memory(capped.embeddings, base.embeddings)
    assert base.max_length == 5  # the original is untouched
    long = "word " * 40
    np.testing.assert_array_equal(capped.encode([long]), base.encode([long], max_length=None))
    left = base.with_options(truncation="left", normalize=False)
    built = StaticModel(base.tokenizer, base.dequantized(), dim=8, prompts={"query": "q: "},
                        default_prompt_name="query", max_length=5, truncation="left")
    np.testing.assert_array_equal(left.encode([long, "a b c"]), built.encode([long, "a b c"]))
    assert not np.array_equal(left.encode([long]), base.encode([long], normalize=False))  # the last 5, not the first
    # Saved with the new rule, loaded back with it.
    again = StaticModel.from_pretrained(left.save(tmp_path / "left"))
    assert (again.max_length, again.truncation) == (5, "left")
    with pytest.raises(InvalidInputError, match="truncation must be one of"):
        base.with_options(truncation="middle")
    with pytest.raises(TypeError, match="weights"):
        base.with_options(weights=None)  # the table's own changes are quantize and with_corpus_weights


def test_a_float16_table_whose_weights_pass_float16s_range_is_written_as_float32(tmp_path):
    base = load("st-tiny")
    model = StaticModel(base.tokenizer, base.embeddings, weights=np.full(base.vocab_size, 1e5, np.float32)
                        ).quantize("float16")
    path = model.save(tmp_path / "st")
    [file] = path.rglob("model.safetensors")
    assert load_file(str(file))["embedding.weight"].dtype == np.float32
    np.testing.assert_allclose(StaticModel.from_pretrained(path).encode(TEXTS), model.encode(TEXTS), rtol=1e-5)


def test_a_float16_table_with_weights_saves_folded_as_float32_and_loads_back_exactly(tmp_path):
    # Folding the weights into float16 rows rounded them a second time: the reloaded vectors moved by ~2e-4.
    model = load("m2v-f32").quantize("float16").with_options(drop_unknown=False, max_length=None)
    back = StaticModel.from_pretrained(model.save(tmp_path / "st"))
    [file] = (tmp_path / "st").rglob("model.safetensors")
    assert load_file(str(file))["embedding.weight"].dtype == np.float32
    np.testing.assert_array_equal(back.encode(TEXTS), model.encode(TEXTS))


def test_a_float64_table_past_float32s_range_is_refused_naming_the_file(tmp_path):
    from safetensors.numpy import save_file

    base = load("st-tiny")
    folder = base.save(tmp_path / "m")
    [file] = folder.rglob("model.safetensors")
    table = base.embeddings.astype(np.float64)
    save_file({"embedding.weight": table}, str(file))
    np.testing.assert_allclose(StaticModel.from_pretrained(folder).encode(TEXTS), base.encode(TEXTS), rtol=1e-6)
    table[3, 2] = 1e300
    save_file({"embedding.weight": table}, str(file))
    with pytest.raises(ModelFormatError, match=r"model.safetensors: a float64 tensor holds 1e\+300, past float32"):
        StaticModel.from_pretrained(folder)


@pytest.mark.reference
@pytest.mark.parametrize("null", [False, True])
def test_a_model2vec_config_without_normalize_does_not_normalize(tmp_path, null):
    # model2vec's default is False whatever a modules.json says; staticemb took the Normalize module's word.
    # A null 'normalize' loads in model2vec and does not normalize; staticemb refused it.
    from model2vec import StaticModel as M2V

    path = load("m2v-f32").save(tmp_path / "m", format="model2vec")
    config = json.loads((path / "config.json").read_text())
    if null:
        config["normalize"] = None
    else:
        del config["normalize"]
    (path / "config.json").write_text(json.dumps(config))
    (path / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": ".", "type": "sentence_transformers.models.StaticEmbedding"},
        {"idx": 1, "name": "1", "path": "1_Normalize", "type": "sentence_transformers.models.Normalize"}]))
    model = StaticModel.from_pretrained(path)
    assert model.normalize is False
    want = M2V.from_pretrained(str(path)).encode(TEXTS, use_multiprocessing=False)
    np.testing.assert_allclose(model.encode(TEXTS), want, rtol=1e-6, atol=1e-6)
