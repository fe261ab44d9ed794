"""Issue 8, point 8: the documented error types hold everywhere.

* A corrupt file is always :class:`ModelFormatError` naming the file: nested-JSON bombs, UTF-16 JSON, empty
  files, infinite / fractional / overflowing shapes and offsets, wrong dtypes — never ``RecursionError``,
  ``OverflowError``, ``UnicodeDecodeError``, ``TypeError`` or a bare ``ValueError`` from deep inside.
* A bad value is :class:`InvalidInputError`: a text with a lone surrogate, ``normalize="false"``, ``dim`` out
  of range.
* A wrong type is ``TypeError``: a set, a dict or ``None`` as the texts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from _hostile import (
    TEXTS,
    bert_tokenizer,
    pack,
    read_header,
    rows_for,
    table,
    tiny_model,
    weights_path,
    write_m2v,
)
from staticemb import InvalidInputError, ModelFormatError, StaticModel

ROWS = rows_for(bert_tokenizer())
DIM = 8


@pytest.fixture(scope="module")
def valid_st(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("st") / "model"
    tiny_model(dim=DIM, normalize=True).save(folder)
    return folder


@pytest.fixture(scope="module")
def valid_m2v(tmp_path_factory) -> Path:
    return write_m2v(tmp_path_factory.mktemp("m2v") / "model", dim=DIM)


def _copy(src: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(src, tmp_path / "model"))


def load_outcome(folder: Path):
    try:
        model = StaticModel.from_pretrained(folder)
        model.encode(TEXTS)
        return None
    except BaseException as e:  # noqa: B036
        if isinstance(e, KeyboardInterrupt):
            raise
        return e


def assert_model_format_error(folder: Path, name: str, *, may_load: bool = False):
    exc = load_outcome(folder)
    if exc is None:
        assert may_load, f"a corrupt {name} was accepted"
        return
    assert isinstance(exc, ModelFormatError), (
        f"expected ModelFormatError naming {name}, got {type(exc).__name__}: {exc}"
    )
    assert name in str(exc), f"the message does not name {name}: {exc}"


# ---------------------------------------------------------------- corrupt JSON files

BOMBS = {
    "list-bomb": "[" * 100_000,
    "object-bomb": '{"a":' * 50_000,
    "closed-list-bomb": "[" * 5_000 + "]" * 5_000,  # valid JSON, nested far deeper than any model file
    "mixed-bomb": '[{"x":' * 30_000,
}

CORRUPTIONS = {
    **BOMBS,
    "empty": "",
    "whitespace": "  \n",
    "garbage": "this is not json",
    "truncated": '[{"idx": 0, "name": "0", "path": "0_Static',
    "nul-bytes": "\0" * 64,
}

# (folder fixture, file relative to the folder, whether a loader may ignore the file altogether)
FILES = {
    "st-modules.json": ("valid_st", "modules.json", False),
    "st-tokenizer.json": ("valid_st", "0_StaticEmbedding/tokenizer.json", False),
    "st-config_sentence_transformers.json": ("valid_st", "config_sentence_transformers.json", True),
    "m2v-config.json": ("valid_m2v", "config.json", False),
    "m2v-tokenizer.json": ("valid_m2v", "tokenizer.json", False),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
@pytest.mark.parametrize("file_id", list(FILES))
def test_corrupt_json_files(request, tmp_path, file_id, corruption):
    fixture, rel, optional = FILES[file_id]
    folder = _copy(request.getfixturevalue(fixture), tmp_path)
    (folder / rel).write_text(CORRUPTIONS[corruption], encoding="utf-8")
    assert_model_format_error(folder, Path(rel).name, may_load=optional)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "latin-1"])
@pytest.mark.parametrize("file_id", list(FILES))
def test_json_in_another_encoding(request, tmp_path, file_id, encoding):
    fixture, rel, optional = FILES[file_id]
    folder = _copy(request.getfixturevalue(fixture), tmp_path)
    path = folder / rel
    text = path.read_text(encoding="utf-8")
    if encoding == "latin-1":  # valid JSON with an "é" in a latin-1 byte: not UTF-8
        data = json.loads(text)
        first = data if isinstance(data, dict) else data[0]
        first["note"] = "café"
        raw = (
            json.dumps(data)
            .replace('"caf\\u00e9"', '"caf\u00e9"')
            .encode("utf-8")
            .replace("é".encode(), b"\xe9")
        )
    else:
        raw = text.encode(encoding)
    path.write_bytes(raw)
    assert_model_format_error(folder, path.name, may_load=optional)


def test_a_utf8_bom_is_not_a_crash(valid_st, tmp_path):
    """A UTF-8 byte order mark is either accepted or a ModelFormatError naming the file."""
    folder = _copy(valid_st, tmp_path)
    path = folder / "modules.json"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert_model_format_error(folder, "modules.json", may_load=True)


# ---------------------------------------------------------------- corrupt model.safetensors


def _rewrite_header(folder: Path, edit) -> None:
    path = weights_path(folder)
    header, data = read_header(path)
    edit(header)
    path.write_bytes(pack(header, data))


def _table_key(header: dict) -> str:
    return next(k for k in header if k in ("embedding.weight", "embeddings"))


def _edit(fn):
    """Edit the table's header entry with ``fn(entry)``."""

    def edit(folder):
        _rewrite_header(folder, lambda h: fn(h[_table_key(h)]))

    return edit


def _set(field, value):
    return _edit(lambda e: e.__setitem__(field, value(e) if callable(value) else value))


def _raw_header(folder: Path, text: bytes) -> None:
    path = weights_path(folder)
    _, data = read_header(path)
    path.write_bytes(len(text).to_bytes(8, "little") + text + data)


def _literal(field, make):
    """Put a JSON literal that Python's json cannot produce (``1e400``) into the table's entry."""

    def edit(folder):
        header, _ = read_header(weights_path(folder))
        entry = header[_table_key(header)]
        entry[field] = "@@LITERAL@@"
        text = json.dumps(header).replace('"@@LITERAL@@"', make(entry))
        _raw_header(folder, text.encode())

    return edit


def _rows(e):
    return e["shape"][0]


def _nbytes(e):
    return e["data_offsets"][1] - e["data_offsets"][0]


HEADER_CASES = {
    "header-list-bomb": lambda f: _raw_header(f, b"[" * 100_000),
    "header-object-bomb": lambda f: _raw_header(f, b'{"a":' * 50_000),
    "header-utf16": lambda f: _raw_header(f, json.dumps(read_header(weights_path(f))[0]).encode("utf-16")),
    "header-empty": lambda f: _raw_header(f, b""),
    "header-not-json": lambda f: _raw_header(f, b"not json at all!"),
    "header-a-list": lambda f: _raw_header(f, b"[1, 2, 3]"),
    "header-nul": lambda f: _raw_header(f, b"\0" * 16),
    "empty-file": lambda f: weights_path(f).write_bytes(b""),
    "seven-bytes": lambda f: weights_path(f).write_bytes(b"\x10\0\0\0\0\0\0"),
    "header-length-huge": lambda f: weights_path(f).write_bytes((2**63).to_bytes(8, "little") + b"{}"),
    "header-length-max": lambda f: weights_path(f).write_bytes((2**64 - 1).to_bytes(8, "little") + b"{}"),
    "shape-1e400": _literal("shape", lambda e: f"[1e400, {DIM}]"),
    "shape-Infinity": _literal("shape", lambda e: f"[Infinity, {DIM}]"),
    "shape-NaN": _literal("shape", lambda e: f"[NaN, {DIM}]"),
    "shape-fraction": _set("shape", lambda e: [_rows(e) + 0.5, DIM]),
    "shape-float-whole": _set("shape", lambda e: [float(_rows(e)), DIM]),
    "shape-exponent": _literal("shape", lambda e: f"[{_rows(e)}e0, {DIM}]"),
    "shape-huge": _set("shape", [2**64, DIM]),
    "shape-beyond-u64": _set("shape", [2**70, 2**70]),
    "shape-strings": _set("shape", lambda e: [str(_rows(e)), str(DIM)]),
    "shape-null": _set("shape", None),
    "shape-nested": _set("shape", lambda e: [[_rows(e)], [DIM]]),
    "shape-bools": _set("shape", [True, True]),
    "offsets-1e400": _literal("data_offsets", lambda e: "[0, 1e400]"),
    "offsets-floats": _set("data_offsets", lambda e: [0.0, float(_nbytes(e))]),
    "offsets-strings": _set("data_offsets", lambda e: ["0", str(_nbytes(e))]),
    "offsets-three": _set("data_offsets", lambda e: [0, _nbytes(e), 0]),
    "offsets-missing": _edit(lambda e: e.pop("data_offsets")),
    "dtype-missing": _edit(lambda e: e.pop("dtype")),
    "entry-a-list": lambda f: _rewrite_header(f, lambda h: h.__setitem__(_table_key(h), [1, 2])),
}

# Wrong dtypes for the table: the byte count is kept consistent, only the type is wrong.
DTYPE_CASES = {
    "BOOL": ("BOOL", 1),
    "U8": ("U8", 1),
    "I16": ("I16", 2),
    "I32": ("I32", 4),
    "I64": ("I64", 8),
    "U64": ("U64", 8),
    "STRING": ("STRING", 1),
    "lower-case-f32": ("f32", 4),
    "number": (5, 4),
    "list": (["F32"], 4),
    "null": (None, 4),
    "F8_E4M3": ("F8_E4M3", 1),
}


@pytest.mark.parametrize("fixture", ["valid_st", "valid_m2v"])
@pytest.mark.parametrize("case", list(HEADER_CASES))
def test_corrupt_safetensors(request, tmp_path, fixture, case):
    folder = _copy(request.getfixturevalue(fixture), tmp_path)
    HEADER_CASES[case](folder)
    assert_model_format_error(folder, "model.safetensors")


@pytest.mark.parametrize("fixture", ["valid_st", "valid_m2v"])
@pytest.mark.parametrize("case", list(DTYPE_CASES))
def test_wrong_table_dtypes(request, tmp_path, fixture, case):
    folder = _copy(request.getfixturevalue(fixture), tmp_path)
    dtype, size = DTYPE_CASES[case]

    def edit(header):
        key = _table_key(header)
        rows, dim = header[key]["shape"]
        begin, end = header[key]["data_offsets"]
        header[key]["dtype"] = dtype
        header[key]["shape"] = [rows, (end - begin) // (rows * size)]

    _rewrite_header(folder, edit)
    assert_model_format_error(folder, "model.safetensors")


# ---------------------------------------------------------------- bad values


@pytest.fixture(scope="module")
def model():
    return tiny_model(dim=DIM)


@pytest.mark.parametrize("text", ["\ud800", "bad \udfff surrogate", "a\ud83d", "\udc00\ud800"])
def test_lone_surrogates_are_invalid_input(model, text):
    with pytest.raises(InvalidInputError, match=r"texts\[1\]"):
        model.encode(["fine", text])
    with pytest.raises(InvalidInputError, match=r"texts\[1\]"):
        model.tokenize(["fine", text])
    with pytest.raises(InvalidInputError):
        model.encode(["fine"] * 5 + [text], batch_size=2)


def test_a_valid_surrogate_pair_is_fine(model):
    model.encode(["emoji \U0001f916 ok", "\ud83e\udd16".encode("utf-16", "surrogatepass").decode("utf-16")])


@pytest.mark.parametrize("value", ["false", "true", "False", "", "0", "yes", "no"])
def test_normalize_as_a_string_is_refused(model, value, valid_st):
    with pytest.raises(InvalidInputError, match="normalize"):
        model.encode(TEXTS, normalize=value)
    with pytest.raises(InvalidInputError, match="normalize"):
        model.embed_ids(np.array([1, 2], np.int64), np.array([0], np.int64), normalize=value)
    with pytest.raises(InvalidInputError, match="normalize"):
        StaticModel(bert_tokenizer(), table(ROWS, DIM), normalize=value)
    with pytest.raises(InvalidInputError, match="normalize"):
        StaticModel.from_pretrained(valid_st, normalize=value)


@pytest.mark.parametrize("value", [True, False, None])
def test_normalize_booleans_are_fine(model, value):
    out = model.encode(TEXTS, normalize=value)
    if value:
        norms = np.linalg.norm(out, axis=1)
        np.testing.assert_allclose(norms[norms > 0], 1, rtol=1e-5)


@pytest.mark.parametrize("dim", [0, -1, DIM + 1, 2**70, -(2**70)])
def test_dim_out_of_range_is_invalid_input(model, valid_st, dim):
    with pytest.raises(InvalidInputError, match="dim"):
        model.encode(TEXTS, dim=dim)
    with pytest.raises(InvalidInputError, match="dim"):
        model.embed_ids(np.array([1, 2], np.int64), np.array([0], np.int64), dim=dim)
    with pytest.raises(InvalidInputError, match="dim"):
        StaticModel(bert_tokenizer(), table(ROWS, DIM), dim=dim)
    with pytest.raises(InvalidInputError, match="dim"):
        StaticModel.from_pretrained(valid_st, dim=dim)


@pytest.mark.parametrize("dim", [True, 2.0, "4", [4]])
def test_dim_of_the_wrong_type(model, dim):
    with pytest.raises(TypeError, match="dim"):
        model.encode(TEXTS, dim=dim)


# ---------------------------------------------------------------- wrong types of texts


@pytest.mark.parametrize(
    "texts",
    [
        set(TEXTS),
        frozenset(TEXTS),
        dict.fromkeys(TEXTS),
        {t: 1 for t in TEXTS},
        None,
        b"bytes",
    ],
    ids=["set", "frozenset", "dict", "dict-of-ints", "None", "bytes"],
)
def test_texts_of_the_wrong_type(model, texts):
    with pytest.raises(TypeError):
        model.encode(texts)
    with pytest.raises(TypeError):
        model.tokenize(texts)


def test_a_lone_string_is_one_text_for_encode_but_not_for_tokenize(model):
    # encode follows Sentence Transformers (one str, one 1-D vector); tokenize's flat ids need a list.
    assert model.encode("a lone string").ndim == 1
    with pytest.raises(TypeError, match=r"\[text\]"):
        model.tokenize("a lone string")


def test_dict_views_are_refused_like_dicts(model):
    d = {t: t for t in TEXTS}
    for texts in (d.keys(), d.items()):
        with pytest.raises(TypeError):
            model.encode(texts)


def test_ordered_iterables_are_still_fine(model):
    expected = model.encode(TEXTS)
    np.testing.assert_array_equal(model.encode(tuple(TEXTS)), expected)
    np.testing.assert_array_equal(model.encode(t for t in TEXTS), expected)
    np.testing.assert_array_equal(model.encode(np.array(TEXTS)), expected)
