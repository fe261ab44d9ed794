"""The Rust doc-comment corpus reads crate names off cargo's registry folders (``<crate>-<version>``).

A version with a pre-release or build tag holds dashes of its own (``wasi-0.11.0+wasi-snapshot-preview1``), and
cutting the folder name at its last dash kept part of the version in the crate's name: two versions of one
crate became two crates, both were read, and the split by crate could put one in training and the other in the
test set. These run on a registry made in a temporary folder; the real registry is checked at the end.
"""

from __future__ import annotations

import re

import pytest
from staticemb import corpora


@pytest.mark.parametrize(
    ("folder", "name"),
    [
        ("serde-1.0.210", "serde"),
        ("wasi-0.11.0+wasi-snapshot-preview1", "wasi"),
        ("wasi-0.14.2+wasi-0.2.4", "wasi"),
        ("foo-bar-1.0.0-rc.1", "foo-bar"),
        ("foo_bar-2-0.1.0", "foo_bar-2"),
        ("sha2-0.10.8", "sha2"),
        ("r-efi-5.3.0", "r-efi"),
    ],
)
def test_a_registry_folder_gives_the_crate_name_without_its_version(folder, name):
    parsed = corpora.crate_folder_name(folder)
    assert parsed is not None and parsed[0] == name


@pytest.mark.parametrize("folder", ["serde", "serde-1.0", "serde-latest", "-1.0.0", "serde-1.0.0.0", ".cache"])
def test_a_folder_that_is_not_crate_dash_version_is_skipped(folder):
    assert corpora.crate_folder_name(folder) is None


def test_versions_sort_as_semver_says():
    # SemVer 2.0.0, section 11's example, with a build tag that does not count.
    order = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
             "1.0.0-rc.1", "1.0.0", "1.0.1+build.5", "1.2.0", "1.10.0", "10.0.0"]
    keys = [corpora.crate_folder_name(f"c-{v}")[1] for v in order]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


def _crate(registry, folder: str, doc: str) -> None:
    src = registry / folder / "src"
    src.mkdir(parents=True)
    body = f"The long description of {folder}, one of the crates in this registry. " * 3
    (src / "lib.rs").write_text(f"//! {doc}\n//!\n//! {body}\n")


def test_one_crate_per_name_the_newest_version(tmp_path, monkeypatch):
    registry = tmp_path / "cargo" / "registry" / "src" / "index.crates.io-0000"
    _crate(registry, "wasi-0.9.0+wasi-snapshot-preview1", "Old WASI bindings.")
    _crate(registry, "wasi-0.11.0+wasi-snapshot-preview1", "WASI bindings, preview one.")
    _crate(registry, "foo-bar-1.0.0-rc.1", "A release candidate.")
    _crate(registry, "foo-bar-1.0.0", "The release.")
    _crate(registry, "foo-bar-0.9.9", "An older release.")
    _crate(registry, "sha2-0.10.8", "SHA-2 hash functions.")
    (registry / "not-a-crate").mkdir()
    monkeypatch.setenv("CARGO_HOME", str(tmp_path / "cargo"))
    monkeypatch.setenv("STATICEMB_DATA", str(tmp_path / "data"))
    docs = corpora.rust_doc_comments(progress=False)
    assert sorted((d.package, d.name, d.summary) for d in docs) == [
        ("foo-bar", "foo_bar", "The release."),
        ("sha2", "sha2", "SHA-2 hash functions."),
        ("wasi", "wasi", "WASI bindings, preview one."),
    ]


@pytest.mark.corpus
def test_no_crate_of_the_real_registry_keeps_a_version_in_its_name():
    try:
        docs = corpora.rust_doc_comments(progress=False)
    except corpora.SourceMissingError as e:
        pytest.skip(f"source missing: {e}")
    versioned = {d.package for d in docs if re.search(r"-\d+\.\d+\.\d+", d.package)}
    assert not versioned
