"""Reading model folders under hostile conditions (review of ``_io``): a file of the folder that is there but is
no file (a broken symlink, as an interrupted Hub download leaves, a folder, a FIFO), config values of the wrong
JSON type, module paths that are no usable path, and a save into a folder whose name is not UTF-8.

Each case must give a staticemb or OS error naming the file, never a load that drops the file's settings and
gives other vectors. Light tier: the tiny fixtures only.
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
from staticemb import ModelFormatError, StaticModel

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEXTS: list[str] = json.loads((FIXTURES / "texts.json").read_text(encoding="utf-8"))


def _copy(tmp_path: Path, base: str) -> Path:
    folder = Path(shutil.copytree(FIXTURES / base, tmp_path / base))
    (folder / "expected.safetensors").unlink()
    return folder


def _break(path: Path, kind: str) -> None:
    path.unlink()
    if kind == "dangling":
        os.symlink(path.parent / "gone", path)
    elif kind == "loop":
        os.symlink(path, path)
    elif kind == "folder":
        path.mkdir()
    else:
        os.mkfifo(path)


# What each file decides: st-tiny's modules.json its Normalize module, its config_sentence_transformers.json the
# truncation width set below, 1_Normalize/config.json which key is normalized; m2v-f32's config.json its
# normalize: true. Taken for absent, each changed the vectors without a word.
OPTIONAL_FILES = [
    ("st-tiny", "modules.json"),
    ("st-tiny", "config_sentence_transformers.json"),
    ("st-tiny", "1_Normalize/config.json"),
    ("m2v-f32", "config.json"),
]


@pytest.mark.parametrize("kind", ["dangling", "loop", "folder", "fifo"])
@pytest.mark.parametrize(("base", "name"), OPTIONAL_FILES)
def test_a_settings_file_that_is_there_but_no_file_is_refused_not_skipped(tmp_path, base, name, kind):
    folder = _copy(tmp_path, base)
    config = folder / "config_sentence_transformers.json"
    if base == "st-tiny":
        config.write_text(json.dumps({**json.loads(config.read_text()), "truncate_dim": 4}))
    _break(folder / name, kind)
    with pytest.raises((ModelFormatError, FileNotFoundError), match=f"{name}") as raised:
        StaticModel.from_pretrained(folder)
    assert ("no file" if kind in ("dangling", "loop") else "not a file") in str(raised.value)


@pytest.mark.parametrize("kind", ["folder", "fifo"])
@pytest.mark.parametrize("name", ["model.safetensors", "tokenizer.json"])
def test_a_needed_file_that_is_no_file_is_named_as_such(tmp_path, name, kind):
    # It was "model.safetensors not found" for a folder of that name.
    folder = _copy(tmp_path, "st-tiny")
    _break(folder / name, kind)
    with pytest.raises(ModelFormatError, match=f"{name} is a .*, not a file"):
        StaticModel.from_pretrained(folder)


@pytest.mark.parametrize("value", [[], {}, ["query"], {"query": ""}])
def test_a_default_prompt_name_of_another_json_type_is_refused(tmp_path, value):
    # A list or an object was looked up in a dict: TypeError "unhashable type".
    folder = _copy(tmp_path, "st-tiny")
    config = folder / "config_sentence_transformers.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "default_prompt_name": value}))
    with pytest.raises(ModelFormatError, match="config_sentence_transformers.json: default_prompt_name"):
        StaticModel.from_pretrained(folder)


@pytest.mark.parametrize("value", [10**30, 0, -3, 1.5, "512", True])
def test_a_model2vec_max_length_the_constructor_refuses_is_named_by_its_file(tmp_path, value):
    # 10**30 passed the reader's own check and was refused by the constructor without naming config.json.
    folder = _copy(tmp_path, "m2v-f32")
    config = folder / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "max_length": value}))
    with pytest.raises(ModelFormatError, match=r"config\.json: 'max_length' must be"):
        StaticModel.from_pretrained(folder)


@pytest.mark.parametrize("path", ["0_Static\x00Embedding", "x" * 300, "/".join(["a"] * 3000)])
def test_a_module_path_that_is_no_usable_path_is_refused_naming_modules_json(tmp_path, path):
    # A NUL character raised ValueError "embedded null byte", a name too long an OSError naming no model file.
    folder = _copy(tmp_path, "st-tiny")
    modules = json.loads((folder / "modules.json").read_text())
    modules[0]["path"] = path
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ModelFormatError, match="modules.json: module path .* is not a usable path"):
        StaticModel.from_pretrained(folder)


@pytest.mark.parametrize(("base", "format"), [("st-tiny", "sentence-transformers"), ("m2v-f32", "model2vec")])
def test_a_save_into_a_folder_whose_name_is_not_utf8(tmp_path, base, format):
    # The model card names the folder and was written as UTF-8: UnicodeEncodeError, nothing saved.
    model = StaticModel.from_pretrained(FIXTURES / base)
    target = tmp_path / os.fsdecode(b"mod\xffel")
    saved = model.save(target, format=format)
    assert saved == target and os.listdir(tmp_path) == [target.name]
    np.testing.assert_array_equal(StaticModel.from_pretrained(target).encode(TEXTS), model.encode(TEXTS))
    assert "# mod\ufffdel" in (target / "README.md").read_bytes().decode("utf-8")


def test_a_hub_download_missing_a_blob_is_refused_not_loaded_without_it(tmp_path):
    """An interrupted download leaves config.json a symlink to a blob that is not there: the model2vec folder
    loaded without its ``normalize: true``."""
    folder = _copy(tmp_path, "m2v-f32")
    snapshot = hub_cache(tmp_path / "hub", "staticemb-tests/m2v", folder, "0123456789abcdef0123456789abcdef01234567")
    (snapshot / "config.json").resolve().unlink()
    script = textwrap.dedent(
        """
        from staticemb import StaticModel
        try:
            model = StaticModel.from_pretrained("staticemb-tests/m2v")
            print("loaded", model.normalize)
        except FileNotFoundError as e:
            print("refused", e)
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("refused") and "config.json is a symbolic link" in done.stdout, done.stdout


@pytest.mark.parametrize("revision", ["", " "])
def test_an_empty_revision_is_refused_as_such(revision):
    # It reached huggingface_hub, whose offline look-up read the refs folder itself: "could not load … from the
    # Hugging Face Hub: IsADirectoryError".
    from staticemb import InvalidInputError

    with pytest.raises(InvalidInputError, match="revision must be a branch, tag or commit name"):
        StaticModel.from_pretrained("staticemb-tests/no-such-model", revision=revision)
