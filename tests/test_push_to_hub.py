"""``StaticModel.push_to_hub``: what it creates and uploads, through a stand-in for ``huggingface_hub.HfApi`` (the
Hub cannot be reached here) that keeps the uploaded folder; the folder is then loaded back and must give the
model's vectors. The real client offline must fail with huggingface_hub's own error, before writing anything."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import FIXTURES
from staticemb import InvalidInputError, StaticModel

TEXTS = json.loads((FIXTURES / "texts.json").read_text("utf-8"))


class FakeHub:
    """Records the calls ``push_to_hub`` makes; ``upload_folder`` copies the folder into ``root``."""

    def __init__(self, root: Path, readme: bool | Exception = False):
        self.root, self.readme, self.calls = root, readme, []

    def api(self, token=None):
        hub = self

        class Api:
            def create_repo(self, repo_id, private=None, exist_ok=False, repo_type=None):
                hub.calls.append(("create_repo", repo_id, private, exist_ok, repo_type, token))
                return SimpleNamespace(repo_id=repo_id if "/" in repo_id else f"me/{repo_id}")

            def create_branch(self, repo_id, branch, exist_ok=False):
                hub.calls.append(("create_branch", repo_id, branch, exist_ok))

            def file_exists(self, repo_id, filename, revision=None):
                hub.calls.append(("file_exists", repo_id, filename, revision))
                if isinstance(hub.readme, Exception):
                    raise hub.readme
                return hub.readme

            def upload_folder(self, repo_id, folder_path, path_in_repo=None, commit_message=None, revision=None,
                              create_pr=False):
                hub.calls.append(("upload_folder", repo_id, path_in_repo, commit_message, revision, create_pr))
                shutil.copytree(folder_path, hub.root / (path_in_repo or ""), dirs_exist_ok=True)
                return SimpleNamespace(commit_url=f"https://hub/{repo_id}/commit/1", pr_url=f"https://hub/{repo_id}/pr/1")

        return Api()


@pytest.fixture
def hub(tmp_path, monkeypatch):
    fake = FakeHub(tmp_path / "repo")
    monkeypatch.setattr("huggingface_hub.HfApi", fake.api)
    return fake


def test_a_sentence_transformers_model_is_uploaded_as_saved(hub):
    model = StaticModel.from_pretrained(FIXTURES / "st-tiny")
    url = model.push_to_hub("org/tiny", token="secret")
    assert url == "https://hub/org/tiny/commit/1"
    assert hub.calls[0] == ("create_repo", "org/tiny", None, True, "model", "secret")
    assert hub.calls[1] == ("file_exists", "org/tiny", "README.md", None)
    assert hub.calls[2] == ("upload_folder", "org/tiny", None, "Add a staticemb model", None, False)
    assert (hub.root / "modules.json").is_file() and "org/tiny" in (hub.root / "README.md").read_text("utf-8")
    np.testing.assert_array_equal(StaticModel.from_pretrained(hub.root).encode(TEXTS), model.encode(TEXTS))


def test_a_model2vec_model_to_a_subfolder_branch_and_pull_request(hub):
    model = StaticModel.from_pretrained(FIXTURES / "m2v-f32", dimensionality=8)
    url = model.push_to_hub("small", private=True, subfolder="models/small", revision="v1", create_pr=True,
                            commit_message="first", exist_ok=False)
    assert url == "https://hub/me/small/pr/1"  # the repository's full name, as the Hub gives it
    assert hub.calls == [
        ("create_repo", "small", True, True, "model", None),  # a pull request needs the repository to exist
        ("create_branch", "me/small", "v1", True),
        ("file_exists", "me/small", "models/small/README.md", "v1"),
        ("upload_folder", "me/small", "models/small", "first", "v1", True),
    ]
    uploaded = hub.root / "models" / "small"
    assert json.loads((uploaded / "config.json").read_text("utf-8"))["normalize"] is True  # model2vec's format
    back = StaticModel.from_pretrained(hub.root, subfolder="models/small")
    assert back.dim == 8
    np.testing.assert_array_equal(back.encode(TEXTS), model.encode(TEXTS))


def test_exist_ok_and_format_are_passed_on(hub):
    StaticModel.from_pretrained(FIXTURES / "m2v-f16").push_to_hub("org/x", exist_ok=False, format="sentence-transformers")
    assert hub.calls[0][3] is False
    assert (hub.root / "modules.json").is_file() and not (hub.root / "config.json").exists()


@pytest.mark.parametrize("readme, replace, card", [
    (True, False, False), (True, True, True), (False, False, True), (OSError("503"), False, False),
])
def test_an_existing_model_card_is_kept_unless_replaced(tmp_path, monkeypatch, caplog, readme, replace, card):
    """As Sentence Transformers does: a card the repository has is kept, and where the Hub cannot say whether it
    has one, none is written (with a warning)."""
    fake = FakeHub(tmp_path / "repo", readme=readme)
    monkeypatch.setattr("huggingface_hub.HfApi", fake.api)
    with caplog.at_level(logging.WARNING, logger="staticemb.model"):
        StaticModel.from_pretrained(FIXTURES / "st-tiny").push_to_hub("org/x", replace_model_card=replace)
    assert (fake.root / "README.md").exists() is card
    assert ("could not check org/x for an existing README.md" in caplog.text) is isinstance(readme, Exception)


@pytest.mark.parametrize("repo_id, options, error, match", [
    (None, {}, TypeError, "repo_id must be a str"),
    ("", {}, InvalidInputError, "repo_id must name a Hub repository"),
    ("org/it's", {}, InvalidInputError, "repo_id must name a Hub repository"),
    ("org/x", {"subfolder": "../up"}, InvalidInputError, "relative path inside"),
    ("org/x", {"create_pr": "yes"}, InvalidInputError, "create_pr must be True, False or None"),
    ("org/x", {"private": 1}, InvalidInputError, "private must be True, False or None"),
    ("org/x", {"format": "onnx"}, InvalidInputError, "format must be"),
])
def test_bad_arguments_are_named(hub, repo_id, options, error, match):
    with pytest.raises(error, match=match):
        StaticModel.from_pretrained(FIXTURES / "st-tiny").push_to_hub(repo_id, **options)
    assert not hub.root.exists()  # nothing uploaded


def test_offline_the_hub_client_says_so(monkeypatch):
    from huggingface_hub.errors import OfflineModeIsEnabled

    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(OfflineModeIsEnabled, match="offline mode is enabled"):
        StaticModel.from_pretrained(FIXTURES / "st-tiny").push_to_hub("org/x")
