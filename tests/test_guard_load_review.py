"""Loading, saving and distilling under hostile conditions (review of the loading area): a folder swapped while
it is read, a save into the working directory or through a trailing "..", a distillation whose output holds its
own sources, a vocabulary with holes, the model card of what is really written, and a Hub tokenizer kept in a
Sentence Transformers module folder.

Light tier: the tiny fixtures only, no torch, no reference library.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from _hostile import hub_cache
from staticemb import InvalidInputError, StaticModel, _io

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEXTS: list[str] = json.loads((FIXTURES / "texts.json").read_text(encoding="utf-8"))


def _st_copy(tmp_path: Path, name: str = "model") -> Path:
    folder = tmp_path / name
    shutil.copytree(FIXTURES / "st-tiny", folder)
    (folder / "expected.safetensors").unlink()
    return folder


def _encoder(strings: list[str]) -> np.ndarray:
    return np.random.default_rng(len(strings)).normal(size=(len(strings), 12))


def test_a_folder_swapped_while_it_is_read_gives_one_model_not_a_mix(tmp_path, monkeypatch):
    folder = _st_copy(tmp_path)
    a = StaticModel.from_pretrained(folder)
    b = StaticModel(a._tokenizer_json, np.random.default_rng(1).normal(size=(a.vocab_size, 16)).astype(np.float32),
                    normalize=False, similarity_fn_name="dot")
    read_st_config = _io.read_st_config
    swapped = []

    def swap_then_read(path):
        if not swapped:  # the table and tokenizer of the old model are read already
            swapped.append(True)
            b.save(folder, model_card=False)
        return read_st_config(path)

    monkeypatch.setattr(_io, "read_st_config", swap_then_read)
    loaded = StaticModel.from_pretrained(folder)
    assert swapped
    assert loaded.similarity_fn_name == "dot" and not loaded.normalize
    np.testing.assert_allclose(loaded.encode(TEXTS), b.encode(TEXTS), atol=1e-6)


def test_files_written_beside_a_model_while_it_is_read_are_no_swap(tmp_path, monkeypatch):
    # The folder's change time moves with any entry made in it: a status file rewritten beside the model (or a
    # Hub download's next file) made every read look like a swap, and a busy folder failed five times in a row.
    folder = _st_copy(tmp_path)
    expected = StaticModel.from_pretrained(folder).encode(TEXTS)
    read_st_config = _io.read_st_config
    writes = []

    def write_beside_then_read(path):
        writes.append(len(writes))
        status = folder / f".status.{len(writes)}.tmp"
        status.write_text(str(len(writes)))
        os.replace(status, folder / "status.txt")
        (folder / "1_Normalize" / "notes.txt").write_text(str(len(writes)))  # in a module's folder too
        return read_st_config(path)

    monkeypatch.setattr(_io, "read_st_config", write_beside_then_read)
    np.testing.assert_array_equal(StaticModel.from_pretrained(folder).encode(TEXTS), expected)
    assert len(writes) == 1  # read once: nothing it reads had changed
    # A file the load reads, rewritten meanwhile, is still a change: the folder is read again, and its new state wins.
    writes.clear()

    def rewrite_config_then_read(path):
        if not writes:
            writes.append(0)
            config = folder / "config_sentence_transformers.json"
            data = json.loads(config.read_text())
            data["similarity_fn_name"] = "dot"
            tmp = folder / "config.tmp"
            tmp.write_text(json.dumps(data))
            os.replace(tmp, config)
        return read_st_config(path)

    reads = []
    read_once = _io._read_folder_once
    monkeypatch.setattr(_io, "_read_folder_once", lambda *a, **k: reads.append(1) or read_once(*a, **k))
    monkeypatch.setattr(_io, "read_st_config", rewrite_config_then_read)
    assert StaticModel.from_pretrained(folder).similarity_fn_name == "dot"
    assert len(reads) == 2


def test_saving_into_the_working_directory_is_refused_and_leaves_it_whole(tmp_path, monkeypatch):
    # The swap deleted the old folder: os.getcwd() then raised FileNotFoundError and "." was no model.
    model = StaticModel.from_pretrained(FIXTURES / "m2v-f32").with_options(dim=8)
    for name in ("empty", "model"):
        folder = tmp_path / name
        folder.mkdir() if name == "empty" else _st_copy(tmp_path, name)
        before = sorted(p.name for p in folder.iterdir())
        monkeypatch.chdir(folder)
        with pytest.raises(InvalidInputError, match="working directory"):
            model.save(".")
        assert Path(os.getcwd()) == folder.resolve() and sorted(p.name for p in folder.iterdir()) == before
    inner = _st_copy(tmp_path, "inner") / "1_Normalize"
    monkeypatch.chdir(inner)
    with pytest.raises(InvalidInputError, match="working directory"):
        model.save("..", overwrite=True)
    assert StaticModel.from_pretrained("..").dim == 16
    monkeypatch.chdir(tmp_path)
    assert StaticModel.from_pretrained(model.save("elsewhere")).dim == 8


def test_a_save_path_ending_in_dot_dot_is_the_folder_above(tmp_path):
    (tmp_path / "out" / "sub").mkdir(parents=True)
    model = StaticModel.from_pretrained(FIXTURES / "st-tiny")
    saved = model.save(tmp_path / "out" / "sub" / "..", overwrite=True)  # was OSError EBUSY
    assert saved == tmp_path / "out"
    np.testing.assert_array_equal(StaticModel.from_pretrained(tmp_path / "out").encode(TEXTS), model.encode(TEXTS))


@pytest.mark.parametrize("source", ["folder", "file"])
def test_distill_refuses_an_output_that_holds_its_own_sources(tmp_path, source):
    folder = _st_copy(tmp_path)  # a static model: a folder a save may otherwise replace
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    tokenizer = folder if source == "folder" else folder / "tokenizer.json"
    from staticemb.train import distill

    with pytest.raises(InvalidInputError, match="holds the tokenizer"):
        distill("a teacher", tokenizer=str(tokenizer), encoder=_encoder, output=folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before


def test_distill_into_a_vocabulary_with_holes_or_none(tmp_path):
    from staticemb.train import distill

    spec = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
            "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None, "decoder": None,
            "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "a": 1, "b": 5}, "unk_token": "[UNK]"}}
    (tmp_path / "holes.json").write_text(json.dumps(spec))
    model = distill("a teacher", tokenizer=str(tmp_path / "holes.json"), encoder=_encoder, corpus=["a b b"])
    assert model.vocab_size == 6  # was IndexError: list assignment index out of range
    assert not np.asarray(model.embeddings)[2:5].any()  # the holes, that no token has
    assert model.encode(["b"]).shape == (1, model.dim)
    spec["model"]["vocab"] = {}
    (tmp_path / "empty.json").write_text(json.dumps(spec))
    with pytest.raises(InvalidInputError, match="empty vocabulary"):
        distill("a teacher", tokenizer=str(tmp_path / "empty.json"), encoder=_encoder)


def test_distill_card_names_only_the_steps_that_ran(tmp_path):
    """The card said "SIF weights" for a distillation without a corpus (none were applied) and "PCA to 500
    dimensions" where the vocabulary allowed 3."""
    from staticemb.train import distill

    spec = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
            "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None, "decoder": None,
            "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "a": 1, "b": 2, "c": 3}, "unk_token": "[UNK]"}}
    (tmp_path / "tok.json").write_text(json.dumps(spec))
    plain = distill("a teacher", tokenizer=str(tmp_path / "tok.json"), encoder=_encoder, pca_dims=500)
    assert "SIF" not in plain._info["training"]
    kept = np.asarray(plain.embeddings).shape[1]
    assert kept < 500 and f"PCA to {kept} dimensions" in plain._info["training"]
    weighted = distill("a teacher", tokenizer=str(tmp_path / "tok.json"), encoder=_encoder, corpus=["a b b c"])
    assert "SIF weights (a = 0.0001) counted on the given corpus" in weighted._info["training"]


def _card_row(folder: Path, row: str) -> str:
    card = (folder / "README.md").read_text(encoding="utf-8")
    return next(line for line in card.splitlines() if line.startswith(f"| {row} |")).split("|")[2].strip()


def test_the_model_card_describes_the_table_as_written(tmp_path):
    int8 = StaticModel.from_pretrained(FIXTURES / "st-tiny").quantize("int8").save(tmp_path / "int8")
    assert _card_row(int8, "Stored as") == "int8"
    card = (int8 / "README.md").read_text(encoding="utf-8")
    assert "SentenceTransformer(" not in card and "cannot load this folder" in card
    folded = StaticModel.from_pretrained(FIXTURES / "m2v-int8").save(tmp_path / "folded")  # mapping, weights
    assert _card_row(folded, "Stored as") == "float32"
    assert "SentenceTransformer(" in (folded / "README.md").read_text(encoding="utf-8")
    scaled = StaticModel.from_pretrained(FIXTURES / "m2v-f32").quantize("int8").save(tmp_path / "m2v",
                                                                                     format="model2vec")
    assert _card_row(scaled, "Stored as") == "float32"


def test_distill_into_the_vocabulary_of_a_hub_static_model_with_a_module_folder(tmp_path):
    folder = tmp_path / "static"
    module = folder / "0_StaticEmbedding"
    module.mkdir(parents=True)
    for name in ("model.safetensors", "tokenizer.json"):
        shutil.copy(FIXTURES / "st-tiny" / name, module / name)
    (folder / "modules.json").write_text(json.dumps(
        [{"idx": 0, "name": "0", "path": "0_StaticEmbedding", "type": "sentence_transformers.models.StaticEmbedding"}]))
    hub_cache(tmp_path / "hub", "staticemb-tests/module-static", folder, "0123456789abcdef0123456789abcdef01234567")
    script = textwrap.dedent(
        """
        import numpy as np
        from staticemb.train import distill
        enc = lambda s: np.random.default_rng(len(s)).normal(size=(len(s), 12))
        model = distill("a teacher", tokenizer="staticemb-tests/module-static", encoder=enc)
        print("vocab", model.vocab_size)
        try:
            distill("a teacher", tokenizer="staticemb-tests/not-cached", encoder=enc)
        except FileNotFoundError as e:
            assert "not-cached" in str(e), e
            print("missing-ok")
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "vocab 402" in done.stdout and "missing-ok" in done.stdout


def test_a_bad_truncate_dim_or_revision_is_named_as_such():
    # truncate_dim past the width was reported as "dim must be ..."; revision=5 became a FileNotFoundError
    # wrapping huggingface_hub's TypeError.
    with pytest.raises(InvalidInputError, match="^truncate_dim must be between 1 and the table width 16, got 17"):
        StaticModel.from_pretrained(FIXTURES / "st-tiny", truncate_dim=17)
    model = StaticModel.from_pretrained(FIXTURES / "st-tiny")
    with pytest.raises(TypeError, match="^truncate_dim must be None or an int"):
        model.encode(["a text"], truncate_dim="8")
    with pytest.raises(TypeError, match="revision must be a branch, tag or commit name"):
        StaticModel.from_pretrained("staticemb-tests/no-such-model", revision=5)


def test_a_folder_swapped_twice_while_it_is_read_is_read_again(tmp_path, monkeypatch):
    # The first swap frees the folder's inode and the second save's folder gets it at once (ext4): the same
    # (device, inode) before and after, and one model's table came with the other's config.
    a = StaticModel.from_pretrained(FIXTURES / "st-tiny", mmap=False)
    b, c = (StaticModel(a._tokenizer_json, np.random.default_rng(seed).normal(size=(a.vocab_size, 16)).astype(np.float32),
                        normalize=False, similarity_fn_name=fn) for seed, fn in ((1, "dot"), (2, "euclidean")))
    folder = tmp_path / "model"
    read_st_config, armed = _io.read_st_config, []

    def swap_twice_then_read(path):
        if armed:
            armed.clear()
            b.save(folder, model_card=False)
            c.save(folder, model_card=False)
        return read_st_config(path)

    monkeypatch.setattr(_io, "read_st_config", swap_twice_then_read)
    for _ in range(5):
        a.save(folder, model_card=False)
        armed.append(True)
        loaded = StaticModel.from_pretrained(folder, mmap=False)
        np.testing.assert_allclose(loaded.encode(TEXTS), c.encode(TEXTS), atol=1e-6)


def test_a_save_through_a_symlink_then_dot_dot_goes_where_the_os_says(tmp_path, monkeypatch):
    (tmp_path / "real" / "inner").mkdir(parents=True)
    (tmp_path / "a").mkdir()
    os.symlink(tmp_path / "real" / "inner", tmp_path / "a" / "link")
    monkeypatch.chdir(tmp_path)
    StaticModel.from_pretrained(FIXTURES / "st-tiny").with_options(dim=8).save("a/link/../out")
    assert StaticModel.from_pretrained("a/link/../out").dim == 8 and (tmp_path / "real" / "out").is_dir()


def test_replacing_a_symlink_to_the_working_directory_is_not_refused(tmp_path, monkeypatch):
    model = StaticModel.from_pretrained(FIXTURES / "st-tiny")
    real = model.save(tmp_path / "v1")
    os.symlink(real, tmp_path / "current")
    monkeypatch.chdir(real)
    saved = model.with_options(dim=8).save(tmp_path / "current")  # the link is replaced, v1 is left
    assert not saved.is_symlink() and StaticModel.from_pretrained(saved).dim == 8
    assert Path(os.getcwd()) == real and StaticModel.from_pretrained(".").dim == 16


def test_distill_into_a_symlink_to_its_tokenizer_folder_replaces_the_link(tmp_path):
    from staticemb.train import distill

    folder = _st_copy(tmp_path)
    os.symlink(folder, tmp_path / "link")
    distill("a teacher", tokenizer=str(folder), encoder=_encoder, output=tmp_path / "link")
    assert (folder / "tokenizer.json").is_file() and not (tmp_path / "link").is_symlink()


@pytest.mark.parametrize("value", [0, "", [], {}])
def test_a_model2vec_normalize_that_is_not_a_bool_or_null_is_refused(tmp_path, value):
    folder = tmp_path / "m"
    shutil.copytree(FIXTURES / "m2v-f32", folder)
    config = json.loads((folder / "config.json").read_text())
    config["normalize"] = value
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(Exception, match="'normalize' must be true, false or null"):
        StaticModel.from_pretrained(folder)
