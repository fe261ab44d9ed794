"""Issue 8, point 6: ``model.safetensors`` is validated as strictly as the ``safetensors`` crate does.

The data offsets must tile the data section exactly (no overlap, no gap, no trailing bytes), every size is a
checked multiplication, an int8 table's scales are a tensor of their own (not bytes of the table), a model2vec
``mapping`` is an integer tensor. ``modules.json`` cannot point outside the model folder, and
``from_pretrained("")`` is refused. Every hostile file below is written by hand (8-byte little-endian header
length, JSON header, data) into an otherwise valid folder saved by staticemb itself.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from _hostile import (
    TEXTS,
    bert_tokenizer,
    layout,
    module_dir,
    pack,
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
    tiny_model(dim=DIM).save(folder)
    assert weights_path(folder).is_file()
    return folder


@pytest.fixture(scope="module")
def valid_int8(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("st8") / "model"
    tiny_model(dim=DIM).quantize("int8").save(folder)
    return folder


@pytest.fixture
def st_copy(valid_st, tmp_path) -> Path:
    return Path(shutil.copytree(valid_st, tmp_path / "model"))


def assert_refused(folder: Path, *, names: str = "model.safetensors"):
    try:
        model = StaticModel.from_pretrained(folder)
    except ModelFormatError as e:
        assert names in str(e), f"the message does not name {names}: {e}"
        return
    except BaseException as e:  # noqa: B036
        raise AssertionError(f"expected ModelFormatError naming {names}, got {type(e).__name__}: {e}") from e
    raise AssertionError(
        f"the hostile file was accepted: {model!r} encodes to {model.encode(TEXTS[:1])[0][:4]}"
    )


def F32(rows=ROWS, dim=DIM, seed=0):
    return table(rows, dim, seed)


def write_weights(folder: Path, header: dict, data: bytes, **kw) -> None:
    weights_path(folder).write_bytes(pack(header, data, **kw))


def entry(dtype: str, shape, begin: int, end: int) -> dict:
    return {"dtype": dtype, "shape": list(shape), "data_offsets": [begin, end]}


# ---------------------------------------------------------------- layout of the data section

NB = ROWS * DIM * 4  # bytes of a float32 table


def _hostile_layouts() -> dict[str, tuple[dict, bytes]]:
    data = F32().tobytes()
    cases = {
        # a second tensor whose bytes are the table's
        "overlapping-tensors": (
            {"embedding.weight": entry("F32", (ROWS, DIM), 0, NB), "extra": entry("F32", (4,), 16, 32)},
            data,
        ),
        "identical-ranges": (
            {"embedding.weight": entry("F32", (ROWS, DIM), 0, NB), "alias": entry("F32", (ROWS, DIM), 0, NB)},
            data,
        ),
        "trailing-bytes": ({"embedding.weight": entry("F32", (ROWS, DIM), 0, NB)}, data + b"\0" * 64),
        "one-trailing-byte": ({"embedding.weight": entry("F32", (ROWS, DIM), 0, NB)}, data + b"\0"),
        "gap-before-the-table": (
            {"embedding.weight": entry("F32", (ROWS, DIM), 64, 64 + NB)},
            b"\0" * 64 + data,
        ),
        "gap-between-tensors": (
            {
                "embedding.weight": entry("F32", (ROWS, DIM), 0, NB),
                "extra": entry("F32", (4,), NB + 16, NB + 32),
            },
            data + b"\0" * 32,
        ),
        "offsets-reversed": ({"embedding.weight": entry("F32", (ROWS, DIM), NB, 0)}, data),
        "negative-begin": ({"embedding.weight": entry("F32", (ROWS, DIM), -8, NB - 8)}, data),
        "huge-begin": ({"embedding.weight": entry("F32", (ROWS, DIM), 2**64 - 8, 2**64 - 8 + NB)}, data),
        "offsets-beyond-u64": ({"embedding.weight": entry("F32", (ROWS, DIM), 2**64, 2**64 + NB)}, data),
        "end-past-the-file": ({"embedding.weight": entry("F32", (ROWS, DIM), 0, NB + 4)}, data),
        "shape-product-overflows": ({"embedding.weight": entry("F32", (2**32, 2**32, 2), 0, NB)}, data),
        "shape-product-wraps-to-the-size": (
            # 2**62 * 4 bytes = 2**64 wraps to 0 in unchecked u64 arithmetic; the byte count is then "0 + NB"
            {"embedding.weight": entry("F32", (2**62 + NB // 4,), 0, NB)},
            data,
        ),
        "shape-smaller-than-offsets": ({"embedding.weight": entry("F32", (ROWS - 1, DIM), 0, NB)}, data),
        "negative-dimension": ({"embedding.weight": entry("F32", (-ROWS, DIM), 0, NB)}, data),
        "metadata-not-strings": (
            {"__metadata__": {"format": 1}, "embedding.weight": entry("F32", (ROWS, DIM), 0, NB)},
            data,
        ),
        "metadata-a-list": (
            {"__metadata__": ["pt"], "embedding.weight": entry("F32", (ROWS, DIM), 0, NB)},
            data,
        ),
        "table-one-dimensional": ({"embedding.weight": entry("F32", (ROWS * DIM,), 0, NB)}, data),
        "table-three-dimensional": ({"embedding.weight": entry("F32", (ROWS, DIM, 1), 0, NB)}, data),
        "no-table": ({"something.else": entry("F32", (ROWS, DIM), 0, NB)}, data),
    }
    return cases


HOSTILE = _hostile_layouts()


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_layouts_are_refused(st_copy, name):
    header, data = HOSTILE[name]
    write_weights(st_copy, header, data)
    assert_refused(st_copy)


def test_the_tiling_reference_is_the_safetensors_library(st_copy, tmp_path):
    """The same hostile bytes, read by the ``safetensors`` package itself: what it refuses, staticemb refuses.
    (A sanity check of the cases above: each is invalid by the format's own rules.)"""
    from safetensors import safe_open

    accepted = []
    for name in (
        "overlapping-tensors",
        "trailing-bytes",
        "gap-before-the-table",
        "gap-between-tensors",
        "offsets-reversed",
        "end-past-the-file",
        "shape-smaller-than-offsets",
        "metadata-not-strings",
    ):
        header, data = HOSTILE[name]
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(pack(header, data))
        try:
            with safe_open(str(path), framework="numpy") as f:
                list(f.keys())
            accepted.append(name)
        except Exception:
            pass
    assert not accepted, f"the safetensors library accepts {accepted}: these cases are not invalid"


def test_a_valid_file_with_padding_in_the_header_loads(st_copy):
    """The checks are not too strict: a header padded with spaces (as the writer does), tensors in another
    order than their offsets, and an unaligned extra tensor are all valid."""
    emb = F32(seed=4)
    scales = np.ones(3, np.float32)
    header = {
        "__metadata__": {"format": "pt"},
        "zzz.extra": entry("F32", (3,), emb.nbytes, emb.nbytes + 12),
        "embedding.weight": entry("F32", (ROWS, DIM), 0, emb.nbytes),
    }
    write_weights(st_copy, header, emb.tobytes() + scales.tobytes())
    model = StaticModel.from_pretrained(st_copy)
    np.testing.assert_array_equal(model.embeddings, emb)


# ---------------------------------------------------------------- int8 tables and their scales


def test_int8_scales_overlapping_the_values_are_refused(valid_int8, tmp_path):
    folder = Path(shutil.copytree(valid_int8, tmp_path / "model"))
    values = np.ones((ROWS, DIM), np.int8)
    header = {
        "embedding.weight": entry("I8", (ROWS, DIM), 0, values.nbytes),
        "embedding.scales": entry("F32", (ROWS,), 0, ROWS * 4),  # the first bytes of the values
    }
    write_weights(folder, header, values.tobytes())
    assert_refused(folder)


def test_int8_scales_overlapping_the_end_of_the_values_are_refused(valid_int8, tmp_path):
    folder = Path(shutil.copytree(valid_int8, tmp_path / "model"))
    values = np.ones((ROWS, DIM), np.int8)
    start = values.nbytes - 8
    header = {
        "embedding.weight": entry("I8", (ROWS, DIM), 0, values.nbytes),
        "embedding.scales": entry("F32", (ROWS,), start, start + ROWS * 4),
    }
    write_weights(folder, header, values.tobytes() + b"\0" * (ROWS * 4 - 8))
    assert_refused(folder)


@pytest.mark.parametrize("dtype", ["F16", "I32", "I8", "F64"])
def test_int8_scales_of_another_dtype_or_shape(valid_int8, tmp_path, dtype):
    folder = Path(shutil.copytree(valid_int8, tmp_path / "model"))
    values = np.ones((ROWS, DIM), np.int8)
    size = {"F16": 2, "I32": 4, "I8": 1, "F64": 8}[dtype]
    header = {
        "embedding.weight": entry("I8", (ROWS, DIM), 0, values.nbytes),
        "embedding.scales": entry(dtype, (ROWS,), values.nbytes, values.nbytes + ROWS * size),
    }
    write_weights(folder, header, values.tobytes() + b"\0" * (ROWS * size))
    # F64 scales could be widened; anything else is not a scale. Either way, never silently read as bits.
    try:
        model = StaticModel.from_pretrained(folder)
    except ModelFormatError as e:
        assert "model.safetensors" in str(e)
        return
    assert dtype == "F64", f"{dtype} scales were accepted"
    assert np.all(model.encode(["hello"]) == 0)


def test_int8_scales_of_the_wrong_length(valid_int8, tmp_path):
    folder = Path(shutil.copytree(valid_int8, tmp_path / "model"))
    values = np.ones((ROWS, DIM), np.int8)
    header = {
        "embedding.weight": entry("I8", (ROWS, DIM), 0, values.nbytes),
        "embedding.scales": entry("F32", (ROWS - 1,), values.nbytes, values.nbytes + (ROWS - 1) * 4),
    }
    write_weights(folder, header, values.tobytes() + np.ones(ROWS - 1, np.float32).tobytes())
    assert_refused(folder)


# ---------------------------------------------------------------- model2vec tensors


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_model2vec_mapping_stored_as_float_is_refused(tmp_path, dtype):
    n = rows_for(bert_tokenizer())
    rows = n // 2
    mapping = ((np.arange(n) * 7) % rows).astype(dtype)
    tensors = {"embeddings": table(rows, DIM, 1)}
    header, data = layout(tensors)
    raw = mapping.tobytes()
    name = {np.float32: "F32", np.float64: "F64", np.float16: "F16"}[dtype]
    header["mapping"] = entry(name, (n,), len(data), len(data) + len(raw))
    folder = write_m2v(tmp_path / "m2v")
    (folder / "model.safetensors").write_bytes(pack(header, data + raw))
    assert_refused(folder)


def test_model2vec_mapping_beyond_the_table_is_refused(tmp_path):
    n = rows_for(bert_tokenizer())
    folder = write_m2v(
        tmp_path / "m2v",
        tensors={"embeddings": table(10, DIM, 1), "mapping": np.full(n, 10, dtype=np.int64)},
    )
    assert_refused(folder)


def test_model2vec_weights_of_the_wrong_length_are_refused(tmp_path):
    n = rows_for(bert_tokenizer())
    folder = write_m2v(
        tmp_path / "m2v",
        tensors={"embeddings": table(n, DIM, 1), "weights": np.ones(n - 3, np.float32)},
    )
    assert_refused(folder)


def test_model2vec_float_mapping_holding_integers_is_still_refused(tmp_path):
    """Even when every float is a whole number (1.0, 2.0, …): a mapping is an index, not a measurement."""
    n = rows_for(bert_tokenizer())
    tensors = {"embeddings": table(n, DIM, 1), "mapping": np.arange(n, dtype=np.float32)}
    folder = write_m2v(tmp_path / "m2v", tensors=tensors)
    assert_refused(folder)


# ---------------------------------------------------------------- modules.json paths


def _set_module_path(folder: Path, path) -> None:
    modules_path = folder / "modules.json"
    modules = json.loads(modules_path.read_text())
    modules[0]["path"] = path
    modules_path.write_text(json.dumps(modules))


@pytest.fixture
def outside(valid_st, tmp_path) -> Path:
    """A valid StaticEmbedding module folder outside the model folder (so following the path would load)."""
    return Path(shutil.copytree(module_dir(valid_st), tmp_path / "outside"))


@pytest.mark.parametrize("kind", ["parent", "dotdot-inside", "absolute", "absolute-etc", "dotdot-root"])
def test_module_paths_outside_the_folder_are_refused(st_copy, outside, kind):
    path = {
        "parent": "../outside",
        "dotdot-inside": "0_StaticEmbedding/../../outside",
        "absolute": str(outside),
        "absolute-etc": "/etc",
        "dotdot-root": "../../../../../../../../../etc",
    }[kind]
    _set_module_path(st_copy, path)
    assert_refused(st_copy, names="modules.json")


def test_a_module_folder_that_is_a_symlink_out_is_refused(st_copy, outside):
    shutil.rmtree(st_copy / "0_StaticEmbedding")
    os.symlink(outside, st_copy / "0_StaticEmbedding")
    assert_refused(st_copy, names="modules.json")


@pytest.mark.parametrize("value", [5, None, ["0_StaticEmbedding"], {"p": 1}, True])
def test_module_paths_that_are_not_strings(st_copy, value):
    _set_module_path(st_copy, value)
    try:
        StaticModel.from_pretrained(st_copy)  # None may mean "the folder itself" (model2vec's layout)
    except (ModelFormatError, FileNotFoundError) as e:
        if isinstance(e, ModelFormatError):
            assert "modules.json" in str(e) or "model.safetensors" in str(e), e
        return
    assert value is None


def test_hub_cache_layout_with_files_symlinked_to_blobs_still_loads(valid_st, tmp_path):
    """Not too strict: the Hugging Face cache keeps files as symlinks into ../../blobs; the module folder is
    inside the snapshot, only its files point out. That must keep working."""
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    snap = tmp_path / "snapshots" / "abc123"
    for src in sorted(valid_st.rglob("*")):
        rel = src.relative_to(valid_st)
        dst = snap / rel
        if src.is_dir():
            dst.mkdir(parents=True, exist_ok=True)
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        blob = blobs / str(abs(hash(rel.as_posix())))
        shutil.copyfile(src, blob)
        os.symlink(os.path.relpath(blob, dst.parent), dst)
    np.testing.assert_array_equal(
        StaticModel.from_pretrained(snap).encode(TEXTS), StaticModel.from_pretrained(valid_st).encode(TEXTS)
    )


def test_a_module_path_inside_the_folder_still_loads(valid_st, tmp_path):
    folder = Path(shutil.copytree(valid_st, tmp_path / "model"))
    (folder / "0_StaticEmbedding").rename(folder / "weights")
    _set_module_path(folder, "./weights/")
    np.testing.assert_array_equal(
        StaticModel.from_pretrained(folder).encode(TEXTS), StaticModel.from_pretrained(valid_st).encode(TEXTS)
    )


# ---------------------------------------------------------------- the empty path


def test_from_pretrained_of_an_empty_path_is_refused(monkeypatch, valid_st):
    # Even when the working directory holds a valid model: "" is never "the current directory". (Path("") is
    # Path("."), a real folder name, so only the empty string can be told apart.)
    monkeypatch.chdir(valid_st)
    with pytest.raises(InvalidInputError):
        StaticModel.from_pretrained("")
    np.testing.assert_array_equal(
        StaticModel.from_pretrained(".").encode(TEXTS), StaticModel.from_pretrained(valid_st).encode(TEXTS)
    )
