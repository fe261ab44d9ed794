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
def test_panicking_tokenizer_json_in_the_constructor(name, backend):
    text = tokenizer_json(normalizer=PANIC_ON_LOAD[name])
    _, exc = outcome(lambda: StaticModel(text, table(_rows(), 8), tokenizer_backend=backend))
    assert_model_format_error(exc, names="tokenizer")


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
def test_a_panic_while_encoding_is_a_tokenizer_error(name, num_threads, valid_folder, tmp_path):
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
    # The process, its thread pools and other models are still fine.
    healthy = tiny_model()
    expected = healthy.encode(TEXTS, num_threads=1)
    np.testing.assert_array_equal(healthy.encode(TEXTS, num_threads=num_threads), expected)
