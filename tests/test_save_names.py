"""Saving under the other libraries' names: ``save_pretrained`` (model2vec's and Sentence Transformers'), in the
format the model was loaded from, with model2vec's ``subfolder``; ``save``'s Sentence Transformers arguments
``model_name`` and ``create_model_card``. Each folder is loaded back by the library that would have written it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import FIXTURES
from staticemb import InvalidInputError, StaticModel

TEXTS = json.loads((FIXTURES / "texts.json").read_text("utf-8"))


@pytest.mark.reference
def test_save_pretrained_writes_a_model2vec_model_back_as_model2vec(tmp_path):
    from model2vec import StaticModel as Reference

    model = StaticModel.from_pretrained(FIXTURES / "m2v-f32")
    expected = Reference.from_pretrained(FIXTURES / "m2v-f32", force_download=False).encode(TEXTS)
    folder = model.save_pretrained(tmp_path / "out", subfolder="models/m2v")
    assert folder == tmp_path / "out" / "models" / "m2v"
    assert "format='model2vec'" in repr(StaticModel.from_pretrained(folder))
    # model2vec loads it back through its own subfolder argument, with the same vectors.
    again = Reference.from_pretrained(tmp_path / "out", subfolder="models/m2v", force_download=False)
    np.testing.assert_allclose(again.encode(TEXTS), expected, atol=1e-6)
    np.testing.assert_allclose(model.encode(TEXTS), expected, atol=1e-6)


@pytest.mark.reference
def test_save_with_sentence_transformers_arguments(tmp_path):
    from sentence_transformers import SentenceTransformer

    model = StaticModel.from_pretrained(FIXTURES / "st-tiny")
    expected = model.encode(TEXTS)
    plain = model.save(tmp_path / "plain", "org/tiny", False)  # Sentence Transformers' positional order
    assert not (plain / "README.md").exists()
    np.testing.assert_allclose(SentenceTransformer(str(plain), device="cpu").encode(TEXTS), expected, atol=1e-6)
    named = model.save_pretrained(tmp_path / "named", "org/tiny")  # loaded from a Sentence Transformers folder
    assert (named / "modules.json").exists() and not (named / "config.json").exists()
    card = (named / "README.md").read_text("utf-8")
    assert "# org/tiny" in card and 'SentenceTransformer("org/tiny")' in card
    np.testing.assert_allclose(SentenceTransformer(str(named), device="cpu").encode(TEXTS), expected, atol=1e-6)


def test_save_pretrained_format_follows_the_loaded_folder_unless_told(tmp_path):
    m2v = StaticModel.from_pretrained(FIXTURES / "m2v-f32")
    st = StaticModel.from_pretrained(FIXTURES / "st-tiny")
    assert "format='model2vec'" in repr(StaticModel.from_pretrained(m2v.save_pretrained(tmp_path / "a")))
    assert "format='sentence-transformers'" in repr(StaticModel.from_pretrained(st.save_pretrained(tmp_path / "b")))
    as_st = m2v.with_options(drop_unknown=False, max_length=None).save_pretrained(
        tmp_path / "c", format="sentence-transformers")
    assert "format='sentence-transformers'" in repr(StaticModel.from_pretrained(as_st))
    arrays = StaticModel(st.tokenizer, np.asarray(st.embeddings))
    assert "format='sentence-transformers'" in repr(StaticModel.from_pretrained(arrays.save_pretrained(tmp_path / "d")))
    # A folder already holding the model is replaced as save replaces it.
    np.testing.assert_array_equal(StaticModel.from_pretrained(st.save_pretrained(tmp_path / "b")).encode(TEXTS),
                                  st.encode(TEXTS))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"model_name": 'a"b'}, InvalidInputError, "model_name"),
    ({"model_name": "two\nlines"}, InvalidInputError, "model_name"),
    ({"model_name": "  "}, InvalidInputError, "model_name"),
    ({"model_name": 3}, TypeError, "model_name must be a str"),
    ({"create_model_card": "yes"}, InvalidInputError, "create_model_card must be True, False or None"),
    ({"create_model_card": True, "model_card": False}, InvalidInputError, "disagree"),
])
def test_bad_save_arguments_are_named(tmp_path, kwargs, error, match):
    model = StaticModel.from_pretrained(FIXTURES / "st-tiny")
    with pytest.raises(error, match=match):
        model.save(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_card_arguments_that_agree_and_a_folder_name_the_card_cannot_quote(tmp_path):
    model = StaticModel.from_pretrained(FIXTURES / "st-tiny")
    assert not (model.save(tmp_path / "a", create_model_card=False, model_card=False) / "README.md").exists()
    assert (model.save(tmp_path / "b", create_model_card=True, model_card=True) / "README.md").exists()
    card = (model.save(tmp_path / 'we"ird`name') / "README.md").read_text("utf-8")
    assert 'SentenceTransformer("model")' in card and "we\"ird" not in card


def test_a_bad_save_pretrained_subfolder_is_named(tmp_path):
    model = StaticModel.from_pretrained(FIXTURES / "st-tiny")
    for bad in ("../escape", "/abs"):
        with pytest.raises(InvalidInputError, match="relative path inside"):
            model.save_pretrained(tmp_path / "out", subfolder=bad)
    assert not (tmp_path / "out").exists() and not (tmp_path / "escape").exists()


def test_a_file_on_the_way_to_the_folder_is_named(tmp_path):
    model = StaticModel.from_pretrained(FIXTURES / "st-tiny")
    (tmp_path / "file").write_text("not a folder")
    for path, kwargs in ((tmp_path / "file", {"subfolder": "s"}), (tmp_path / "file" / "x" / "y", {})):
        with pytest.raises(FileExistsError, match=f"{tmp_path / 'file'} is a file, not a folder"):
            model.save_pretrained(path, **kwargs)
    assert (tmp_path / "file").read_text() == "not a folder"


def test_a_save_writes_the_options_it_checked_whatever_another_thread_sets_meanwhile(tmp_path, monkeypatch):
    """The checks and the files read one copy of the options: a max_length set while the save runs (here, from
    inside it) is not half in the folder."""
    model = StaticModel.from_pretrained(FIXTURES / "m2v-f32").with_options(max_length=None)
    real = StaticModel._model2vec_tensors

    def meanwhile(self):
        model.max_length, model.normalize = 7, False
        return real(self)

    monkeypatch.setattr(StaticModel, "_model2vec_tensors", meanwhile)
    folder = model.save(tmp_path / "m", format="model2vec")
    config = json.loads((folder / "config.json").read_text("utf-8"))
    assert (config["max_length"], config["normalize"]) == (None, True)
    assert (model.max_length, model.normalize) == (7, False)  # the model itself took the new values
