"""``StaticModel.from_pretrained``'s model2vec options: ``subfolder`` (a model inside a folder or Hub repository)
and ``max_length`` (the cap on tokens pooled per text, overriding the folder's), given the same way as to model2vec
and giving the same vectors; the Hub path through a pre-populated cache with ``HF_HUB_OFFLINE=1``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from _hostile import HUB_COMMIT, hub_cache
from conftest import FIXTURES
from staticemb import InvalidInputError, StaticModel

TEXTS = json.loads((FIXTURES / "texts.json").read_text("utf-8"))
LONG = ["the model encodes short sentences quickly " * 40, "zyxqvw blorptastic " * 30]


@pytest.fixture
def nested(tmp_path):
    """A folder that holds the model2vec fixture in ``models/f32`` and the Sentence Transformers one in ``st``."""
    root = tmp_path / "repo"
    shutil.copytree(FIXTURES / "m2v-f32", root / "models" / "f32")
    shutil.copytree(FIXTURES / "st-tiny", root / "st")
    return root


@pytest.mark.reference
@pytest.mark.parametrize("max_length", ["unset", None, 3, 700])
def test_subfolder_and_max_length_as_model2vec(nested, max_length):
    from model2vec import StaticModel as Reference

    kwargs = {} if max_length == "unset" else {"max_length": max_length}
    texts = TEXTS + LONG
    reference = Reference.from_pretrained(nested, subfolder="models/f32", force_download=False, **kwargs)
    ours = StaticModel.from_pretrained(nested, subfolder="models/f32", **kwargs)
    np.testing.assert_allclose(ours.encode(texts), reference.encode(texts), atol=1e-6)
    assert ours.max_length == reference.max_length


def test_max_length_given_is_with_options_max_length(nested):
    """For either format, ``max_length`` at load is ``with_options(max_length=...)`` on the loaded model, the
    folder's truncation rule kept (model2vec's character cut, Sentence Transformers' token cap)."""
    for sub in ("models/f32", "st"):
        loaded = StaticModel.from_pretrained(nested / sub)
        for cap in (None, 1, 4):
            capped = StaticModel.from_pretrained(nested, subfolder=sub, max_length=cap)
            assert capped.max_length == cap and capped.truncation == loaded.truncation
            np.testing.assert_array_equal(capped.encode(TEXTS + LONG),
                                          loaded.with_options(max_length=cap).encode(TEXTS + LONG))
    arrays = StaticModel.from_pretrained((loaded.tokenizer, np.asarray(loaded.embeddings)), max_length=2)
    assert arrays.max_length == 2


@pytest.mark.parametrize("subfolder, error, match", [
    ("../repo", InvalidInputError, "relative path inside"),
    ("/models/f32", InvalidInputError, "relative path inside"),
    ("a\nb", InvalidInputError, "relative path inside"),
    ("models/../..", InvalidInputError, "relative path inside"),
    ("C:/models", InvalidInputError, "relative path inside"),
    ("c:models", InvalidInputError, "relative path inside"),
    (3, TypeError, "subfolder must be a path inside the model folder"),
    (b"models", TypeError, "subfolder must be a path inside the model folder"),
    ("models/missing", FileNotFoundError, "no subfolder 'models/missing'"),
])
def test_a_bad_subfolder_is_named(nested, subfolder, error, match):
    with pytest.raises(error, match=match):
        StaticModel.from_pretrained(nested, subfolder=subfolder)


@pytest.mark.parametrize("same", ["", ".", "./", None])
def test_an_empty_subfolder_is_the_folder_itself_and_a_path_is_a_subfolder(nested, same):
    """model2vec's rule: an empty subfolder is none; a ``pathlib.Path`` names one as its text does."""
    from pathlib import Path

    direct = StaticModel.from_pretrained(nested / "st").encode(TEXTS)
    np.testing.assert_array_equal(StaticModel.from_pretrained(nested / "st", subfolder=same).encode(TEXTS), direct)
    np.testing.assert_array_equal(StaticModel.from_pretrained(nested, subfolder=Path("st")).encode(TEXTS), direct)


def test_the_hub_patterns_fetch_one_model_folder_and_its_modules_only(monkeypatch):
    """huggingface_hub matches the patterns with fnmatch, whose ``*`` crosses ``/``: the patterns must still keep
    out other models in nested folders, and read a subfolder's name literally."""
    from huggingface_hub.utils import filter_repo_objects
    from staticemb import _io

    files = ["modules.json", "model.safetensors", "tokenizer.json", "README.md", "1_Normalize/config.json",
             "0_StaticEmbedding/model.safetensors", "models/f32/model.safetensors", "models/f32/config.json",
             "models/f32/1_Normalize/config.json", "models/f32/deep/x/huge.safetensors", "v[1]/model.safetensors",
             "v1/model.safetensors", "pytorch_model.bin", "notes.txt"]

    def fetched(subfolder):  # the patterns resolve() gives snapshot_download
        allow, ignore = _io.hub_patterns(_io._subfolder_path(subfolder))
        return sorted(filter_repo_objects(files, allow_patterns=allow, ignore_patterns=ignore))

    assert fetched(None) == sorted(["modules.json", "model.safetensors", "tokenizer.json", "README.md",
                                    "1_Normalize/config.json", "0_StaticEmbedding/model.safetensors",
                                    "v[1]/model.safetensors", "v1/model.safetensors"])
    assert fetched("models/f32") == ["models/f32/1_Normalize/config.json", "models/f32/config.json",
                                     "models/f32/model.safetensors"]
    assert fetched("v[1]") == ["v[1]/model.safetensors"]
    # resolve() asks snapshot_download for exactly these.
    seen = {}
    monkeypatch.setattr("huggingface_hub.snapshot_download", lambda **kw: seen.update(kw) or "/nonexistent")
    with pytest.raises(FileNotFoundError):
        _io.resolve("org/repo", subfolder="v[1]")
    assert (seen["allow_patterns"], seen["ignore_patterns"]) == _io.hub_patterns("v[1]")


def test_bad_max_length_and_subfolder_of_a_loaded_model_are_named(nested):
    with pytest.raises(InvalidInputError, match="max_length"):
        StaticModel.from_pretrained(nested / "st", max_length=0)
    with pytest.raises(TypeError, match="max_length"):
        StaticModel.from_pretrained(nested / "st", max_length="12")
    loaded = StaticModel.from_pretrained(nested / "st")
    with pytest.raises(InvalidInputError, match="does not apply to a tuple"):
        StaticModel.from_pretrained((loaded.tokenizer, np.asarray(loaded.embeddings)), subfolder="st")


def test_a_subfolder_of_a_hub_repository_from_the_offline_cache(nested, tmp_path):
    """Only the subfolder's files are asked of the cache; a missing subfolder is named."""
    hub_cache(tmp_path / "hub", "staticemb-tests/nested", nested)
    expected = StaticModel.from_pretrained(nested / "models" / "f32").encode(TEXTS)
    np.save(tmp_path / "expected.npy", expected)
    script = textwrap.dedent(f"""
        import json, numpy as np
        from staticemb import StaticModel
        texts = json.load(open({str(FIXTURES / 'texts.json')!r}, encoding="utf-8"))
        model = StaticModel.from_pretrained("staticemb-tests/nested", subfolder="models/f32")
        assert np.array_equal(model.encode(texts), np.load({str(tmp_path / 'expected.npy')!r}))
        assert model.max_length == 512
        assert (model._info["revision"], model._info["subfolder"]) == ({HUB_COMMIT!r}, "models/f32")
        try:
            StaticModel.from_pretrained("staticemb-tests/nested", subfolder="models/f16")
        except FileNotFoundError as e:
            assert "no subfolder 'models/f16' in the local Hugging Face Hub cache" in str(e), e
        else:
            raise AssertionError("a missing subfolder must raise FileNotFoundError")
        print("subfolder-ok")
    """)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "subfolder-ok" in done.stdout


# ---------------------------------------------------------------- model2vec's quantize_to, dimensionality, ...


def test_quantize_to_int8_is_one_scale_for_the_whole_table():
    """model2vec's ``quantize_to="int8"``: the table divided by one scale (its largest magnitude over 127), so
    the vectors come out in the scale's units; :meth:`quantize` keeps a scale per row (the magnitudes) instead."""
    folder = FIXTURES / "m2v-f16"
    full = StaticModel.from_pretrained(folder, normalize=False)
    table = full.dequantized()
    scale = float(np.abs(full.embeddings).max() / 127.0)  # computed in the table's float16, as model2vec does
    model = StaticModel.from_pretrained(folder, normalize=False, quantize_to="int8")
    assert model.embeddings.dtype == np.int8 and int(np.abs(model.embeddings).max()) == 127
    np.testing.assert_array_equal(model.dequantized(), model.embeddings.astype(np.float32))  # no scales
    # Half a step of rounding, and up to 1/32 of one more: the division is done in float16, whose values near
    # 127 are 1/16 apart.
    np.testing.assert_allclose(model.dequantized() * scale, table, atol=scale * (0.5 + 1 / 32))
    np.testing.assert_allclose(model.encode(TEXTS) * scale, full.encode(TEXTS), atol=scale * (0.5 + 1 / 32))
    per_row = full.quantize("int8")
    np.testing.assert_allclose(per_row.encode(TEXTS), full.encode(TEXTS), atol=scale * 0.51)
    # The other dtypes store the table as they name it (float64 pooled as float32, as every float table).
    for dtype, stored in (("float16", np.float16), ("float32", np.float32), ("float64", np.float32)):
        assert StaticModel.from_pretrained(folder, quantize_to=dtype).embeddings.dtype == stored


def test_dimensionality_is_dim():
    folder = FIXTURES / "m2v-f16"
    narrow = StaticModel.from_pretrained(folder, dimensionality=8)
    assert narrow.dim == 8 and narrow.full_dim == 16
    np.testing.assert_array_equal(narrow.encode(TEXTS), StaticModel.from_pretrained(folder, dim=8).encode(TEXTS))
    assert StaticModel.from_pretrained(folder, dim=8, dimensionality=8).dim == 8


@pytest.mark.parametrize("options, error, match", [
    ({"dim": 4, "dimensionality": 8}, InvalidInputError, "dim=4 and dimensionality=8 disagree"),
    ({"dimensionality": 17}, InvalidInputError, "dim"),
    ({"dimensionality": 0}, InvalidInputError, "dim"),
    ({"quantize_to": "int4"}, InvalidInputError, "quantize_to must be one of 'float16', 'float32', 'float64', 'int8'"),
    ({"quantize_to": 8}, TypeError, "quantize_to must be a str"),
    ({"vocabulary_quantization": 0}, InvalidInputError, "vocabulary_quantization must be a positive integer"),
    ({"vocabulary_quantization": 2.0}, TypeError, "vocabulary_quantization must be None or an int"),
    ({"vocabulary_quantization": 403}, InvalidInputError, "at most the table's 402 rows"),
    ({"force_download": "yes"}, InvalidInputError, "force_download must be True, False or None"),
])
def test_bad_model2vec_load_options_are_named(options, error, match):
    with pytest.raises(error, match=match):
        StaticModel.from_pretrained(FIXTURES / "m2v-f16", **options)


def test_vocabulary_quantization_of_what_cannot_be_clustered_is_named(monkeypatch):
    """An already clustered table (model2vec's own rule) and an int8 table are refused; without scikit-learn the
    error names the package to install."""
    with pytest.raises(InvalidInputError, match="already quantized"):
        StaticModel.from_pretrained(FIXTURES / "m2v-f32", vocabulary_quantization=8)
    with pytest.raises(InvalidInputError, match="this one is int8"):
        StaticModel.from_pretrained((StaticModel.from_pretrained(FIXTURES / "st-tiny").tokenizer,
                                     np.ones((402, 4), dtype=np.int8)), vocabulary_quantization=8)
    monkeypatch.setitem(sys.modules, "sklearn.cluster", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        StaticModel.from_pretrained(FIXTURES / "m2v-f16", vocabulary_quantization=8)


@pytest.mark.parametrize("option", [{"quantize_to": "int8"}, {"vocabulary_quantization": 4}])
def test_a_table_that_is_not_finite_is_named(option):
    tokenizer = StaticModel.from_pretrained(FIXTURES / "st-tiny").tokenizer
    table = np.ones((402, 4), dtype=np.float32)
    table[7, 2] = np.nan
    with pytest.raises(InvalidInputError, match="row 7 of the table is not finite"):
        StaticModel.from_pretrained((tokenizer, table), **option)


def test_force_download_reaches_the_hub(monkeypatch):
    """``force_download`` is passed to ``snapshot_download`` (offline, huggingface_hub reads its cache)."""
    seen = {}
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setattr("huggingface_hub.snapshot_download", lambda **kw: seen.update(kw) or "/nonexistent")
    for given in (True, False):
        with pytest.raises(FileNotFoundError):
            StaticModel.from_pretrained("org/repo", force_download=given)
        assert seen["force_download"] is given


def test_model2vec_attributes_read_the_files():
    """``embedding``, ``embedding_dtype``, ``vocabulary_quantization``, ``token_mapping``, ``weights`` and
    ``tokens`` (model2vec's names) against the files themselves, without model2vec."""
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    for name, dtype, shared in (("m2v-f32", "float32", 48), ("m2v-f16", "float16", None), ("m2v-int8", "int8", 48)):
        tensors = load_file(str(FIXTURES / name / "model.safetensors"))
        model = StaticModel.from_pretrained(FIXTURES / name)
        np.testing.assert_array_equal(model.embedding, tensors["embeddings"])
        assert (model.embedding_dtype, model.vocabulary_quantization) == (dtype, shared)
        for got, key in ((model.token_mapping, "mapping"), (model.weights, "weights")):
            if key in tensors:
                np.testing.assert_array_equal(got, tensors[key])
            else:
                assert got is None
        vocab = Tokenizer.from_file(str(FIXTURES / name / "tokenizer.json")).get_vocab()
        assert model.tokens == tuple(sorted(vocab, key=vocab.get)) and len(model.tokens) == 402


@pytest.mark.reference  # scikit-learn
def test_vocabulary_quantization_of_zero_and_huge_rows():
    """A zero row (a [PAD] row, say) and a row whose norm float16 cannot hold: model2vec's float16 arithmetic
    divides by zero or infinity there, so those tables are clustered with the same arithmetic in float64."""
    tokenizer = StaticModel.from_pretrained(FIXTURES / "st-tiny").tokenizer
    table = np.random.default_rng(0).normal(size=(402, 8)).astype(np.float16)
    table[0] = 0
    table[1] *= np.float16(200)  # a norm past 256: its square is past float16's largest value
    model = StaticModel.from_pretrained((tokenizer, table), vocabulary_quantization=4)
    wide = np.linalg.norm(table.astype(np.float64), axis=1) + 1e-32
    np.testing.assert_allclose(model.weights, wide.astype(np.float32), rtol=1e-6)
    assert np.isfinite(model.encode(TEXTS)).all()
    huge = np.ones((402, 4), dtype=np.float32)
    huge[5] = 3e38
    with pytest.raises(InvalidInputError, match="row 5's norm .* is beyond float32"):
        StaticModel.from_pretrained((tokenizer, huge), vocabulary_quantization=4)


def test_rows_past_the_vocabulary():
    """Rows no token reaches (a table longer than the vocabulary) take no part in the int8 scale, and
    vocabulary_quantization names why it refuses such a table."""
    tokenizer = StaticModel.from_pretrained(FIXTURES / "st-tiny").tokenizer
    table = np.random.default_rng(1).normal(size=(410, 4)).astype(np.float32)
    table[405] = 1e4
    model = StaticModel.from_pretrained((tokenizer, table), quantize_to="int8")
    assert int(np.abs(model.embeddings[:402]).max()) == 127
    with pytest.raises(InvalidInputError, match="one row per token, and this table has 410 rows for 402 token ids"):
        StaticModel.from_pretrained((tokenizer, table), vocabulary_quantization=4)


def test_quantize_to_the_stored_dtype_leaves_the_table_as_it_is():
    """As in model2vec: asking for the dtype the table has changes nothing (not even checks it)."""
    tokenizer = StaticModel.from_pretrained(FIXTURES / "st-tiny").tokenizer
    table = np.ones((402, 4), dtype=np.float16)
    table[9, 1] = np.inf
    model = StaticModel.from_pretrained((tokenizer, table), quantize_to="float16")
    assert model.embeddings.dtype == np.float16 and np.isinf(model.embeddings[9, 1])
