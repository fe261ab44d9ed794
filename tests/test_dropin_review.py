"""The drop-in promise where a review found it broken: ``truncate_dim`` under a narrower ``dim`` (in encode, in
the model card, in a model2vec save), ``convert_to_numpy=None``, ``similarity_pairwise`` of one vector against
many, and a save into a model folder that holds other files.

Light tier on the tiny fixtures, except the tests marked ``reference``, which run Sentence Transformers and
model2vec themselves on the real bert-base-uncased tokenizer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from staticemb import InvalidInputError, StaticModel

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEXTS: list[str] = json.loads((FIXTURES / "texts.json").read_text(encoding="utf-8"))
LONG = ["the quick brown fox jumps over the lazy dog " * 40, "a short text", "", "naïve café résumé 日本語"]


def load(name: str, **kwargs) -> StaticModel:
    return StaticModel.from_pretrained(FIXTURES / name, **kwargs)


# ---------------------------------------------------------------- truncate_dim under a narrower dim


def test_truncate_dim_cuts_the_dim_wide_output_that_the_saved_folder_gives(tmp_path):
    """A model loaded with ``dim=12`` gives 12-d vectors; ``truncate_dim=6`` cuts that output (normalized first,
    as Sentence Transformers' Normalize module does), as the folder it saves does. It normalized the full 16-d
    vector before, so the model and its own saved folder gave different vectors."""
    model = load("st-tiny", dim=12)
    assert model.normalize and model.full_dim == 16
    want = model.encode(TEXTS)[:, :6]  # the model's output, cut
    np.testing.assert_allclose(model.encode(TEXTS, truncate_dim=6), want, atol=1e-7)
    cut = model.with_options(truncate_dim=6)
    np.testing.assert_allclose(cut.encode(TEXTS), want, atol=1e-7)
    with model.truncate_embeddings(6):
        np.testing.assert_allclose(model.encode(TEXTS), want, atol=1e-7)
    again = StaticModel.from_pretrained(cut.save(tmp_path / "m"))
    assert (again.dim, again.truncate_dim) == (12, 6)
    np.testing.assert_allclose(again.encode(TEXTS), cut.encode(TEXTS), atol=1e-7)


def test_a_truncate_dim_wider_than_dim_is_refused(tmp_path):
    """``truncate_dim`` cuts the model's ``dim``-wide output: a wider one read columns past ``dim`` (14 values
    from a 12-d model), which the folder it saves does not hold."""
    model = load("st-tiny", dim=12)
    with pytest.raises(InvalidInputError, match="truncate_dim must be between 1 and the model's width dim=12"):
        model.encode(TEXTS, truncate_dim=14)
    with pytest.raises(InvalidInputError, match="truncate_dim"):
        model.truncate_dim = 14
    assert model.truncate_dim is None  # a refused value changes nothing
    with pytest.raises(InvalidInputError, match="truncate_dim"):
        model.with_options(truncate_dim=14)
    with pytest.raises(InvalidInputError, match="truncate_dim"):
        load("st-tiny", dim=12, truncate_dim=14)
    with pytest.raises(InvalidInputError, match="truncate_dim"):
        load("st-tiny", truncate_dim=14).with_options(dim=12)
    assert load("st-tiny", truncate_dim=14).with_options(dim=12, truncate_dim=None).encode(TEXTS).shape[1] == 12
    assert model.encode(TEXTS, truncate_dim=12).shape[1] == 12


# ---------------------------------------------------------------- truncate_dim in a model2vec save and the card


def test_a_model2vec_save_keeps_truncate_dim_by_cutting_the_table(tmp_path):
    """model2vec has no ``truncate_dim``: an unnormalized model is saved with the cut table (the mean of the
    first k columns is the first k values of the mean); the truncation was dropped before, and the folder gave
    16-d vectors for a 6-d model."""
    model = load("m2v-f32", normalize=False).with_options(truncate_dim=6)
    want = model.encode(TEXTS)
    assert want.shape[1] == 6
    folder = model.save(tmp_path / "m", format="model2vec")
    again = StaticModel.from_pretrained(folder)
    assert (again.dim, again.truncate_dim) == (6, None)
    np.testing.assert_allclose(again.encode(TEXTS), want, atol=1e-6)
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "| Dimensions | 6 " in card


def test_a_normalized_model_with_truncate_dim_is_refused_as_model2vec(tmp_path):
    """Normalized, Sentence Transformers' truncate_dim cuts the unit vector (no longer unit length), where model2vec
    normalizes what its table gives: no model2vec folder gives these vectors."""
    model = load("m2v-f32").with_options(truncate_dim=6)
    assert model.normalize
    with pytest.raises(InvalidInputError, match="truncate_dim"):
        model.save(tmp_path / "m", format="model2vec")
    assert not (tmp_path / "m").exists()
    # What the message offers instead: the normalized mean of the first 6 columns.
    other = model.with_options(dim=6, truncate_dim=None)
    folder = other.save(tmp_path / "m", format="model2vec")
    np.testing.assert_allclose(StaticModel.from_pretrained(folder).encode(TEXTS), other.encode(TEXTS), atol=1e-6)


def test_the_model_card_gives_the_width_of_the_vectors(tmp_path):
    """The card's Dimensions line said the table's width, 16, for a model whose vectors are 6 wide."""
    folder = load("st-tiny").with_options(truncate_dim=6).save(tmp_path / "st")
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "| Dimensions | 6: the first 6 of the table's 16 columns" in card
    assert "cut to its first 6 values" in card
    plain = (load("st-tiny").save(tmp_path / "plain") / "README.md").read_text(encoding="utf-8")
    assert "| Dimensions | 16 (" in plain and "cut to its first" not in plain


def test_a_model2vec_save_keeps_the_prompts_and_refuses_a_default_prompt(tmp_path):
    """model2vec has no prompts: a model2vec save dropped them (and the similarity function), so the reloaded
    model's encode_query changed, and a default prompt, prepended to every text, was silently lost."""
    model = load("m2v-f32").with_options(prompts={"query": "query: ", "title": "t: "}, similarity_fn_name="dot")
    again = StaticModel.from_pretrained(model.save(tmp_path / "m", format="model2vec"))
    assert again.prompts == model.prompts and again.similarity_fn_name == "dot"
    np.testing.assert_array_equal(again.encode_query(TEXTS), model.encode_query(TEXTS))
    np.testing.assert_array_equal(again.encode(TEXTS, prompt_name="title"), model.encode(TEXTS, prompt_name="title"))
    titled = model.with_options(default_prompt_name="title")
    with pytest.raises(InvalidInputError, match="default prompt 'title'"):
        titled.save(tmp_path / "t", format="model2vec")
    assert not (tmp_path / "t").exists()
    # A default prompt that is empty changes no vector: saved.
    model.with_options(default_prompt_name="document").save(tmp_path / "d", format="model2vec")


# ---------------------------------------------------------------- similarity_pairwise


@pytest.mark.parametrize("fn", ["cosine", "dot", "euclidean", "manhattan"])
def test_similarity_pairwise_compares_one_vector_with_every_row(fn):
    """Sentence Transformers broadcasts a single vector against a set; staticemb refused it."""
    model = load("st-tiny").with_options(similarity_fn_name=fn)
    rows = model.encode(TEXTS[:5])
    one = model.encode(TEXTS[7])
    want = model.similarity_pairwise(rows, np.tile(one, (5, 1)))
    for a, b in ((rows, one), (one, rows), (rows, one[None, :])):
        got = model.similarity_pairwise(a, b)
        assert got.shape == (5,) and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    with pytest.raises(InvalidInputError, match="same shape"):
        model.similarity_pairwise(rows, rows[:3])


# ---------------------------------------------------------------- saving into a folder that holds other files


@pytest.mark.parametrize("format", ["sentence-transformers", "model2vec"])
def test_a_save_refuses_a_model_folder_that_holds_other_files(tmp_path, format):
    """A model folder is replaced whole; one that also holds a user's files (a Hub clone's ``.git``, notes)
    lost them without ``overwrite=True``."""
    model = load("m2v-f32")
    folder = model.save(tmp_path / "m", format=format)
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    before = sorted(os.listdir(folder))
    with pytest.raises(FileExistsError, match=r"other files \(\.git, notes\.txt\).*overwrite=True"):
        model.save(folder, format=format)
    assert sorted(os.listdir(folder)) == before and (folder / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert sorted(os.listdir(tmp_path)) == ["m"]
    model.save(folder, format=format, overwrite=True)
    assert not (folder / "notes.txt").exists() and not (folder / ".git").exists()


def test_a_save_still_replaces_a_model_folder_with_only_model_files(tmp_path):
    """What staticemb, Sentence Transformers and model2vec write, and a Hub download's ``.gitattributes``, are a
    model folder's own: a save of its format replaces it. A training run's log and checkpoints are not: a plain
    save refuses to delete them (tests/test_guard_atomic_save.py), the trainer's next run replaces them."""
    model = load("st-tiny")
    folder = model.save(tmp_path / "m")
    (folder / ".gitattributes").write_text("*.safetensors filter=lfs\n", encoding="utf-8")
    (folder / ".DS_Store").write_bytes(b"\0")
    model.with_options(normalize=False).save(folder)
    assert not StaticModel.from_pretrained(folder).normalize
    (folder / "training_log.json").write_text("{}", encoding="utf-8")
    with pytest.raises(FileExistsError, match=r"other files \(training_log.json\)"):
        model.save(folder)


# ---------------------------------------------------------------- against the reference libraries


@pytest.fixture(scope="module")
def st_folder_256(tmp_path_factory, bert_tokenizer, table) -> Path:
    """A Sentence Transformers folder that Sentence Transformers wrote: 256 columns, with a Normalize module."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding

    path = tmp_path_factory.mktemp("st-review") / "model"
    module = StaticEmbedding(bert_tokenizer, embedding_weights=torch.from_numpy(table[:, :256].copy()))
    SentenceTransformer(modules=[module, Normalize()], device="cpu").save(str(path))
    return path


@pytest.mark.reference
def test_convert_to_numpy_none_as_sentence_transformers(st_folder_256):
    """Sentence Transformers reads ``convert_to_numpy=None`` as false: a list of tensors (one tensor for a
    single text); staticemb returned a NumPy array."""
    import torch
    from sentence_transformers import SentenceTransformer

    reference, ours = SentenceTransformer(str(st_folder_256), device="cpu"), StaticModel.from_pretrained(st_folder_256)
    got, want = ours.encode(LONG, convert_to_numpy=None), reference.encode(LONG, convert_to_numpy=None)
    assert type(got) is type(want) is list and len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert isinstance(g, torch.Tensor)
        np.testing.assert_allclose(g.numpy(), w.numpy(), atol=1e-6)
    one = ours.encode(LONG[0], convert_to_numpy=None)
    assert isinstance(one, torch.Tensor) and isinstance(reference.encode(LONG[0], convert_to_numpy=None), torch.Tensor)
    assert isinstance(ours.encode(LONG, convert_to_numpy=None, convert_to_tensor=True), torch.Tensor)


@pytest.mark.reference
def test_truncate_dim_under_dim_as_sentence_transformers_on_the_saved_folder(st_folder_256, tmp_path):
    """The model loaded with ``dim=128`` and its folder, loaded by Sentence Transformers, give the same vectors
    for every ``truncate_dim``: per call, on the model, and saved."""
    from sentence_transformers import SentenceTransformer

    model = StaticModel.from_pretrained(st_folder_256, dim=128)
    reference = SentenceTransformer(str(model.save(tmp_path / "m")), device="cpu")
    for k in (32, 100, 128):
        np.testing.assert_allclose(model.encode(LONG, truncate_dim=k), reference.encode(LONG, truncate_dim=k),
                                   atol=1e-6)
    cut = model.with_options(truncate_dim=32)
    saved = SentenceTransformer(str(cut.save(tmp_path / "cut")), device="cpu")
    assert saved.truncate_dim == 32
    np.testing.assert_allclose(cut.encode(LONG), saved.encode(LONG), atol=1e-6)


@pytest.mark.reference
def test_model2vec_loads_a_truncated_model_with_its_vectors(st_folder_256, tmp_path):
    from model2vec import StaticModel as M2V

    model = StaticModel.from_pretrained(st_folder_256, normalize=False).with_options(
        truncate_dim=64, drop_unknown=True)
    folder = model.save(tmp_path / "m", format="model2vec")
    reference = M2V.from_pretrained(str(folder))
    assert reference.dim == 64
    np.testing.assert_allclose(model.encode(LONG), reference.encode(LONG), atol=1e-6)


@pytest.mark.reference
def test_model2vec_and_sentence_transformers_load_a_model2vec_save_with_prompts(st_folder_256, tmp_path):
    """The prompts ride in ``config_sentence_transformers.json``: Sentence Transformers reads them from the model2vec
    folder, model2vec ignores them (and gives the same vectors)."""
    from model2vec import StaticModel as M2V
    from sentence_transformers import SentenceTransformer

    model = StaticModel.from_pretrained(st_folder_256).with_options(
        drop_unknown=True, prompts={"query": "query: "}, similarity_fn_name="dot")
    folder = model.save(tmp_path / "m", format="model2vec")
    np.testing.assert_allclose(M2V.from_pretrained(str(folder)).encode(LONG), model.encode(LONG), atol=1e-6)
    reference = SentenceTransformer(str(folder), device="cpu")
    assert reference.prompts["query"] == "query: " and reference.similarity_fn_name == "dot"


@pytest.mark.reference
def test_similarity_pairwise_broadcasts_as_sentence_transformers(st_folder_256):
    from sentence_transformers import SentenceTransformer

    reference, ours = SentenceTransformer(str(st_folder_256), device="cpu"), StaticModel.from_pretrained(st_folder_256)
    rows, one = reference.encode(LONG), reference.encode(LONG[1])
    for fn in ("cosine", "dot", "euclidean", "manhattan"):
        reference.similarity_fn_name = ours.similarity_fn_name = fn
        for a, b in ((rows, one), (one, rows), (rows, rows[::-1].copy())):
            want = reference.similarity_pairwise(a, b).numpy()
            np.testing.assert_allclose(ours.similarity_pairwise(a, b), want, rtol=1e-5, atol=1e-5)


@pytest.mark.reference
def test_a_truncating_tokenizer_json_gives_sentence_transformers_vectors(tmp_path, bert_tokenizer_path, table):
    """A folder whose tokenizer.json truncates (bert-base-uncased's own, at 128): Sentence Transformers keeps 128
    tokens too, though its ``StaticEmbedding`` reports ``max_seq_length`` inf; staticemb reports the 128 it
    keeps (documented: inf unless a limit is set)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(bert_tokenizer_path))
    assert tok.truncation["max_length"] == 128
    module = StaticEmbedding(tok, embedding_weights=torch.from_numpy(table[:, :64].copy()))
    SentenceTransformer(modules=[module], device="cpu").save(str(tmp_path / "m"))
    reference, ours = SentenceTransformer(str(tmp_path / "m"), device="cpu"), StaticModel.from_pretrained(tmp_path / "m")
    assert reference.max_seq_length == float("inf") and ours.max_seq_length == 128
    np.testing.assert_allclose(ours.encode(LONG), reference.encode(LONG), atol=1e-6)
    assert not np.allclose(ours.encode(LONG, max_length=None), reference.encode(LONG), atol=1e-6)


@pytest.mark.reference
@pytest.mark.parametrize("normalize", [True, False])
def test_model2vec_tensors_in_a_sentence_transformers_module_load_as_sentence_transformers_does(tmp_path, normalize):
    """A Sentence Transformers folder whose StaticEmbedding module holds model2vec tensors (embeddings, mapping,
    weights), which Sentence Transformers' StaticEmbedding.load folds into its rows: modules.json's Normalize
    applies and nothing is dropped or capped (staticemb read model2vec's config from the top folder instead)."""
    import shutil

    from sentence_transformers import SentenceTransformer

    folder = tmp_path / "model"
    (folder / "0_StaticEmbedding").mkdir(parents=True)
    for name in ("model.safetensors", "tokenizer.json"):
        shutil.copy(FIXTURES / "m2v-f32" / name, folder / "0_StaticEmbedding" / name)
    modules = [{"idx": 0, "name": "0", "path": "0_StaticEmbedding",
                "type": "sentence_transformers.models.StaticEmbedding"}]
    if normalize:
        (folder / "1_Normalize").mkdir()
        modules.append({"idx": 1, "name": "1", "path": "1_Normalize", "type": "sentence_transformers.models.Normalize"})
    (folder / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    texts = [*TEXTS, " ".join(TEXTS) * 20]  # a long text: no 512-token cap
    ours = StaticModel.from_pretrained(folder)
    assert ours.normalize is normalize and not ours.drop_unknown
    theirs = SentenceTransformer(str(folder), device="cpu").encode(texts)
    np.testing.assert_allclose(ours.encode(texts), theirs, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- the call's shape, and what the model owns


@pytest.mark.reference
def test_encode_query_document_and_encode_take_sentence_transformers_positional_arguments():
    """encode_query/encode_document took (texts, prompt_name, **kwargs) only: Sentence Transformers' third
    positional argument (prompt) was a TypeError; encode stopped before pool and chunk_size. task= and an
    empty processing_kwargs, which Sentence Transformers accepts, were refused."""
    from sentence_transformers import SentenceTransformer

    folder = FIXTURES / "st-tiny"
    reference, ours = SentenceTransformer(str(folder), device="cpu"), StaticModel.from_pretrained(folder)
    queries = ["a query", "fast search", "the cat sat on the mat"]
    for method, args in (("encode_query", (None, "query: ")), ("encode_document", (None, None, 64, False)),
                         ("encode", (None, None, 32, False, "sentence_embedding", "int8", True, False, None, True,
                                     8, None, 5))):
        want, got = getattr(reference, method)(queries, *args), getattr(ours, method)(queries, *args)
        assert got.dtype == want.dtype and got.shape == want.shape, method
        np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), atol=1e-6)
    for options in ({"task": "query"}, {"task": None}, {"processing_kwargs": {}}, {"processing_kwargs": None},
                    {"chunk_size": 7}, {"pool": None}):
        np.testing.assert_allclose(ours.encode(queries, **options), reference.encode(queries, **options), atol=1e-6)
    # What would change nothing silently is refused; Sentence Transformers ignores processing_kwargs here.
    with pytest.raises(InvalidInputError, match="processing_kwargs do not apply .* pass max_length="):
        ours.encode(queries, processing_kwargs={"text": {"max_length": 2, "truncation": True}})
    with pytest.raises(InvalidInputError, match="does not use: pool"):
        ours.encode(queries, pool={"processes": []})
    with pytest.raises(TypeError, match="task must be a str"):
        ours.encode(queries, task=1)
    # The query prompt still wins over a default prompt, and an explicit prompt over both.
    ours.prompts = {"query": "q: ", "document": "", "x": "x: "}
    ours.default_prompt_name = "x"
    np.testing.assert_array_equal(ours.encode_query(queries), ours.encode(queries, prompt="q: "))
    np.testing.assert_array_equal(ours.encode_query(queries, None, "p: "), ours.encode(queries, prompt="p: "))


@pytest.mark.parametrize("precision, dtype, width", [("int8", np.int8, 16), ("uint8", np.uint8, 16),
                                                     ("binary", np.int8, 2), ("ubinary", np.uint8, 2)])
def test_no_texts_give_the_precisions_type_and_width(precision, dtype, width):
    """encode([]) gave (0, 16) float32 whatever the precision: joining it with other batches upcast them or
    failed on the width."""
    model = load("st-tiny")
    some, none = model.encode(["a", "b"], precision=precision), model.encode([], precision=precision)
    assert (some.dtype, some.shape[1]) == (dtype, width) and (none.dtype, none.shape) == (dtype, (0, width))
    assert model.encode([], precision=precision, dim=9).shape == (0, 9 if precision.endswith("int8") else 2)


def test_changing_the_tokenizer_object_lent_out_changes_neither_encode_nor_save(tmp_path):
    """save() wrote model.tokenizer, the object lent out to read: after model.tokenizer.add_tokens(...) or
    enable_truncation(...) the saved folder was another model than the one saved."""
    for name, format in (("st-tiny", "sentence-transformers"), ("m2v-f32", "model2vec")):
        model = load(name)
        before = model.encode(TEXTS)
        model.tokenizer.enable_truncation(2)
        model.tokenizer.add_tokens(["zzzz"])
        np.testing.assert_array_equal(model.encode(TEXTS), before)
        saved = StaticModel.from_pretrained(model.save(tmp_path / format, format=format, model_card=False))
        np.testing.assert_allclose(saved.encode(TEXTS), before, atol=1e-7)
        assert saved.vocab_size == model.vocab_size and "zzzz" not in saved.tokenizer.get_vocab()


def test_encode_as_sequence_checks_the_batch_size_it_ignores():
    # model2vec refuses batch_size=0; any value, even "x", was taken here, where encode refuses them.
    model = load("m2v-f32")
    assert len(model.encode_as_sequence(["a b", "c"], batch_size=1)) == 2
    with pytest.raises(InvalidInputError, match="batch_size"):
        model.encode_as_sequence(["a"], batch_size=0)
    with pytest.raises(TypeError, match="batch_size"):
        model.encode_as_sequence(["a"], batch_size="x")
