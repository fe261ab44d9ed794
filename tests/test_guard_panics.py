"""Issue 8, point 3: a panic in a dependency never escapes as ``pyo3_runtime.PanicException``.

A malformed ``tokenizer.json`` (a ``Precompiled`` normalizer whose ``precompiled_charsmap`` is not valid base64,
too short, missing or of the wrong type) makes the ``tokenizers`` crate panic while it deserializes the file.
``PanicException`` derives from ``BaseException``, so ``except Exception`` does not catch it. staticemb must
turn it into :class:`ModelFormatError` naming ``tokenizer.json``; a panic while encoding must become
:class:`TokenizerError`. Either way the process and other models keep working.
"""

from __future__ import annotations

import base64
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from _hostile import TEXTS, bert_tokenizer, module_dir, rows_for, table, tiny_model
from staticemb import ModelFormatError, StaticModel, TokenizerError


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# Normalizers that make the tokenizers crate panic while it reads tokenizer.json.
PANIC_ON_LOAD = {
    "charsmap-empty": {"type": "Precompiled", "precompiled_charsmap": ""},
    "charsmap-too-short": {"type": "Precompiled", "precompiled_charsmap": "AAAA"},
    "charsmap-one-byte": {"type": "Precompiled", "precompiled_charsmap": _b64(b"\x01")},
    "charsmap-not-base64": {"type": "Precompiled", "precompiled_charsmap": "!!!!"},
    "charsmap-trie-larger-than-file": {
        "type": "Precompiled",
        "precompiled_charsmap": _b64((1000).to_bytes(4, "little") + b"\0" * 8),
    },
    "charsmap-trie-size-odd": {
        "type": "Precompiled",
        "precompiled_charsmap": _b64((3).to_bytes(4, "little") + b"\xff" * 8),
    },
    "charsmap-trie-size-max": {
        "type": "Precompiled",
        "precompiled_charsmap": _b64((2**32 - 1).to_bytes(4, "little")),
    },
    "charsmap-missing": {"type": "Precompiled"},
    "charsmap-integer": {"type": "Precompiled", "precompiled_charsmap": 5},
    "charsmap-null": {"type": "Precompiled", "precompiled_charsmap": None},
    "charsmap-in-sequence": {
        "type": "Sequence",
        "normalizers": [{"type": "Lowercase"}, {"type": "Precompiled", "precompiled_charsmap": ""}],
    },
}

# Charsmaps the crate accepts but that index out of bounds on the first text it normalizes.
PANIC_ON_ENCODE = {
    "trie-empty": {"type": "Precompiled", "precompiled_charsmap": _b64((0).to_bytes(4, "little"))},
    "trie-one-unit": {
        "type": "Precompiled",
        "precompiled_charsmap": _b64((4).to_bytes(4, "little") + b"\0" * 4),
    },
    "trie-garbage": {
        "type": "Precompiled",
        "precompiled_charsmap": _b64((8).to_bytes(4, "little") + b"\xff" * 8 + b"abc\0"),
    },
}

# Other malformed parts of tokenizer.json (the Rust crate's decoder deserializer `expect`s, for one).
MALFORMED = {
    "decoder-int": ("decoder", 5),
    "decoder-unknown-type": ("decoder", {"type": "Nope"}),
    "decoder-list": ("decoder", []),
    "normalizer-int": ("normalizer", 5),
    "pre-tokenizer-unknown": ("pre_tokenizer", {"type": "Nope"}),
    "post-processor-str": ("post_processor", "x"),
    "model-missing": ("model", None),
}


def tokenizer_json(**replace) -> str:
    data = json.loads(bert_tokenizer().to_str())
    data.update(replace)
    return json.dumps(data)


def _rows() -> int:
    return rows_for(bert_tokenizer())


def outcome(fn):
    """Call ``fn``; return ``(result, exception)`` catching even BaseException (PanicException)."""
    try:
        return fn(), None
    except BaseException as e:  # noqa: B036 - a PanicException is exactly what we look for
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        return None, e


def assert_model_format_error(exc, *, names: str):
    assert exc is not None, "no exception raised"
    assert isinstance(exc, Exception), (
        f"{type(exc).__module__}.{type(exc).__name__} escaped: it is not an Exception, so `except Exception` "
        f"does not catch it ({exc})"
    )
    assert isinstance(exc, ModelFormatError), f"expected ModelFormatError, got {type(exc).__name__}: {exc}"
    assert names in str(exc), f"the message does not name {names}: {exc}"


@pytest.fixture(scope="module")
def valid_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("valid") / "model"
    tiny_model().save(folder)
    return folder


def folder_with_tokenizer(valid_folder: Path, tmp_path: Path, text: str) -> Path:
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(valid_folder, folder)
    (module_dir(folder) / "tokenizer.json").write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize("backend", ["auto", "tokenizers"])
@pytest.mark.parametrize("name", list(PANIC_ON_LOAD))
def test_panicking_tokenizer_json_in_the_constructor(name, backend, capfd):
    text = tokenizer_json(normalizer=PANIC_ON_LOAD[name])
    _, exc = outcome(lambda: StaticModel(text, table(_rows(), 8), tokenizer_backend=backend))
    assert_model_format_error(exc, names="tokenizer")
    assert_no_panic_report(capfd)


def assert_no_panic_report(capfd):
    """A caught panic is reported once, by the exception: Rust's hook printed "thread '<unnamed>' panicked at
    ..." to stderr as well."""
    err = capfd.readouterr().err
    assert "panicked" not in err, err


@pytest.mark.parametrize("name", list(PANIC_ON_LOAD))
def test_panicking_tokenizer_json_in_a_folder(name, valid_folder, tmp_path):
    folder = folder_with_tokenizer(valid_folder, tmp_path, tokenizer_json(normalizer=PANIC_ON_LOAD[name]))
    _, exc = outcome(lambda: StaticModel.from_pretrained(folder))
    assert_model_format_error(exc, names="tokenizer.json")


def test_except_exception_catches_it(valid_folder, tmp_path):
    """The user's view: a plain ``except Exception`` around loading is enough."""
    folder = folder_with_tokenizer(
        valid_folder, tmp_path, tokenizer_json(normalizer=PANIC_ON_LOAD["charsmap-empty"])
    )
    caught = None
    try:
        try:
            StaticModel.from_pretrained(folder)
        except Exception as e:
            caught = e
    except BaseException as e:  # noqa: B036
        pytest.fail(f"{type(e).__module__}.{type(e).__name__} went through `except Exception`: {e}")
    assert isinstance(caught, ModelFormatError)


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_tokenizer_parts_are_model_format_errors(name, valid_folder, tmp_path):
    field, value = MALFORMED[name]
    text = tokenizer_json(**{field: value})
    _, exc = outcome(lambda: StaticModel(text, table(_rows(), 8)))
    assert_model_format_error(exc, names="tokenizer")
    folder = folder_with_tokenizer(valid_folder, tmp_path, text)
    _, exc = outcome(lambda: StaticModel.from_pretrained(folder))
    assert_model_format_error(exc, names="tokenizer.json")


@pytest.mark.parametrize("num_threads", [1, 2])
@pytest.mark.parametrize("name", list(PANIC_ON_ENCODE))
def test_a_panic_while_encoding_is_a_tokenizer_error(name, num_threads, valid_folder, tmp_path, capfd):
    """Refusing the file at load (ModelFormatError naming tokenizer.json) is fine too; what is not fine is a
    PanicException, a crash, or a model that silently returns vectors."""
    folder = folder_with_tokenizer(valid_folder, tmp_path, tokenizer_json(normalizer=PANIC_ON_ENCODE[name]))
    model, exc = outcome(lambda: StaticModel.from_pretrained(folder))
    if exc is not None:
        assert_model_format_error(exc, names="tokenizer.json")
        return
    texts = TEXTS * 20
    for call in (
        lambda: model.encode(texts, num_threads=num_threads),
        lambda: model.encode(texts, num_threads=num_threads, batch_size=7),
        lambda: model.tokenize(texts, num_threads=num_threads),
    ):
        _, exc = outcome(call)
        assert exc is not None, "a tokenizer that panics on every text gave a result"
        assert isinstance(exc, TokenizerError), f"expected TokenizerError, got {type(exc).__name__}: {exc}"
    assert_no_panic_report(capfd)
    # The process, its thread pools and other models are still fine.
    healthy = tiny_model()
    expected = healthy.encode(TEXTS, num_threads=1)
    np.testing.assert_array_equal(healthy.encode(TEXTS, num_threads=num_threads), expected)


# ---------------------------------------------------------------- found by a review of the Rust core


def test_an_added_token_numbered_past_the_vocabulary_needs_its_row():
    # The tokenizers crate numbers an added token that is no vocabulary piece after the pieces, whatever id the
    # JSON gives it; the table has no row for that id. It was a Rust panic in the pooling kernel, then an error
    # at encode; the native Unigram now counts the crate's ids, so the table is refused when the model is built.
    from tokenizers import Tokenizer, models, pre_tokenizers

    pieces = [("<unk>", 0.0), ("\u2581hello", -1.0), ("\u2581world", -1.5)] + [
        (c, -5.0) for c in "abcdefghijklmnopqrstuvwxyz\u2581<>"]
    tok = Tokenizer(models.Unigram(pieces, unk_id=0, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.add_special_tokens(["<foo>"])
    spec = json.loads(tok.to_str())
    spec["added_tokens"][0]["id"] = 1  # claims an id inside the vocabulary
    n = len(pieces)
    with pytest.raises(ModelFormatError, match=f"produces ids up to {n} but the embedding table has only {n} rows"):
        StaticModel(json.dumps(spec), np.ones((n, 8), np.float32))
    with pytest.raises(ModelFormatError, match=f"the token mapping has {n} entries but the tokenizer has {n + 1} ids"):
        StaticModel(json.dumps(spec), np.ones((n, 8), np.float32), token_mapping=np.arange(n))
    model = StaticModel(json.dumps(spec), np.arange((n + 1) * 8, dtype=np.float32).reshape(n + 1, 8))
    ids = Tokenizer.from_str(json.dumps(spec)).encode("hello <foo> world", add_special_tokens=False).ids
    assert n in ids and model.tokenize(["hello <foo> world"])[0].tolist() == ids
    np.testing.assert_allclose(model.encode(["hello <foo> world"], normalize=False)[0],
                               np.asarray(model.embeddings)[ids].mean(0))


def test_an_id_too_large_for_the_id_arrays_is_a_model_format_error():
    # An id of 2**32 - 1 wrapped the per-id arrays to nothing (then a panic); 2**31 allocated 8 GiB.
    from tokenizers import Tokenizer, models, pre_tokenizers

    for big in (2**32 - 1, 2**31, 2**24):
        tok = Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1, "big": 2}, unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        spec = json.loads(tok.to_str())
        spec["model"]["vocab"]["big"] = big
        for drop_unknown in (False, True):
            with pytest.raises(ModelFormatError, match="ids above 16777215 are not supported"):
                StaticModel(json.dumps(spec), np.ones((3, 4), np.float32), drop_unknown=drop_unknown)


def test_changing_the_tables_dtype_or_shape_afterwards_changes_nothing():
    # NumPy lets a caller assign a new dtype or shape to an array in place. The core read the array it was given
    # as float32 whatever its dtype had become: a table set to uint8 was read as four times its length (a
    # segfault), and a reshaped one panicked.
    base = tiny_model()
    want = base.encode(TEXTS)
    for change in ("dtype", "shape"):
        values = np.array(base.embeddings)
        model = StaticModel(base.tokenizer, values)
        for held in (values, model.dequantized(), model.embeddings):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # NumPy 2.x deprecates assigning a dtype
                if change == "dtype":
                    held.dtype = np.uint8
                else:
                    held.shape = (held.size,)
        np.testing.assert_array_equal(model.encode(TEXTS), want)
        ids, offsets = model.tokenize(TEXTS)
        np.testing.assert_array_equal(model.embed_ids(ids, offsets), want)


def test_ids_written_by_another_thread_during_embed_ids_never_panic():
    # The ids and offsets were checked, then read again by the workers without the GIL while another Python
    # thread could write into them: a PanicException ("range start index ... out of range").
    import threading

    model = tiny_model()
    n = 400_000
    ids = np.ones(n, np.int64)
    offsets = np.arange(0, n, 4, dtype=np.int64)
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            ids[n // 2] = -1
            ids[n // 2] = 1
            offsets[len(offsets) // 2] = n + 10**9
            offsets[len(offsets) // 2] = n // 2

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        for _ in range(60):
            try:
                model.embed_ids(ids, offsets, num_threads=2)
            except (ValueError, IndexError):  # TokenIdError / InvalidInputError: the values as they were
                pass
    finally:
        stop.set()
        thread.join()
