"""Corpus builders on odd installed files (no real corpus needed): a man page that loops, FIFOs and dangling
links in scanned folders, a stray file in cargo's registry, a damaged apt index, a project folder named like an
installed package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest
from staticemb import corpora

BODY = "A longer description of the thing, long enough to be kept as a body. " * 3


@pytest.fixture(autouse=True)
def _scratch_data(tmp_path, monkeypatch):
    monkeypatch.setenv("STATICEMB_DATA", str(tmp_path / "data"))


CHILD = """
import os, subprocess, sys
from pathlib import Path
from staticemb import corpora
corpora._MAN_RENDER_SECONDS = 1
pids = []
class Popen(subprocess.Popen):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        pids.append(self.pid)
subprocess.Popen = Popen
print(repr(corpora._render_man_page(Path(sys.argv[1]))), pids[0], flush=True)
"""


def _group_alive(pgid: int) -> list[str]:
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text.rpartition(")")[2].split()  # state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(text.split()[1])
    return alive


@pytest.mark.skipif(shutil.which("groff") is None or not Path("/proc").is_dir(), reason="needs groff and /proc")
@pytest.mark.parametrize("loop", [".while 1 .nr x +1", ".while 1 .tm a warning groff writes forever",
                                  ".while 1 text without end"])
def test_looping_man_page_is_cut_short_with_all_of_groff(tmp_path, loop):
    page = tmp_path / "loop.1"
    page.write_text(f".TH LOOP 1\n.SH NAME\nloop \\- loops\n{loop}\n")
    src = str(Path(corpora.__file__).parents[1])
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(page)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": src}, start_new_session=True)
    try:
        out, _ = child.communicate(timeout=8)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, 9)  # the child and, on the old code, its groff and troff
        child.communicate()
        pytest.fail("rendering a looping page was not cut short")
    result, pid = out.split()
    assert result == "None"
    deadline = time.monotonic() + 3
    while _group_alive(int(pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _group_alive(int(pid)), "groff's troff outlived the timeout"


def test_man_source_size_checked_before_reading(tmp_path, monkeypatch):
    page = tmp_path / "big.1"
    page.write_bytes(b".TH BIG 1\n" + b"x" * 100)
    monkeypatch.setattr(corpora, "_MAX_SOURCE_BYTES", 50)
    read = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self) or real(self))
    assert corpora._man_source(page) is None
    assert read == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("reader, name", [(corpora._python_file_docs, "pipe.py"), (corpora._rust_file_docs, "pipe.rs")])
def test_source_reader_skips_a_fifo(tmp_path, reader, name):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    result = []
    t = threading.Thread(target=lambda: result.append(reader("pkg", "pkg.pipe", fifo)), daemon=True)
    t.start()
    t.join(3)
    blocked = t.is_alive()
    deadline = time.monotonic() + 5
    while t.is_alive() and time.monotonic() < deadline:  # let a blocked open() return, so the thread ends
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
        t.join(0.1)
    assert not blocked and result == [[]]


def test_python_module_named_from_its_root_not_the_first_match_in_the_path(tmp_path, monkeypatch):
    site = tmp_path / "requests" / ".venv" / "lib" / "site-packages"
    (site / "requests").mkdir(parents=True)
    (site / "requests" / "sessions.py").write_text(f'"""Session objects for requests.\n\n{BODY}\n"""\n')
    monkeypatch.setattr(corpora, "_python_roots", lambda: [(site, False)])
    assert [d.name for d in corpora.python_docstrings(refresh=True, progress=False)] == ["requests.sessions"]


def test_stray_file_in_cargo_registry_is_skipped(tmp_path, monkeypatch):
    src = tmp_path / "cargo" / "registry" / "src"
    crate = src / "index.crates.io-0" / "demo-1.0.0" / "src"
    crate.mkdir(parents=True)
    (crate / "lib.rs").write_text(f"//! The demo crate does things.\n//!\n//! {BODY}\n")
    (src / ".DS_Store").write_bytes(b"\0")
    monkeypatch.setenv("CARGO_HOME", str(tmp_path / "cargo"))
    assert [d.name for d in corpora.rust_doc_comments(refresh=True, progress=False)] == ["demo"]


def test_damaged_apt_index_is_skipped_with_a_warning_naming_it(tmp_path, monkeypatch):
    lz4_frame = pytest.importorskip("lz4.frame")
    record = b"Package: demo\nDescription-md5: 0123\nDescription-de: Demo\n Lang.\n\n"
    (tmp_path / "a_i18n_Translation-de.lz4").write_bytes(lz4_frame.compress(record))
    (tmp_path / "b_i18n_Translation-de.lz4").write_bytes(lz4_frame.compress(record)[:-9])
    monkeypatch.setattr(corpora, "APT_LISTS", tmp_path)
    with pytest.warns(UserWarning, match="b_i18n_Translation-de.lz4"):
        docs = corpora.debian_descriptions("de", refresh=True)
    assert [(d.package, d.short) for d in docs] == [("demo", "Demo")]


@pytest.mark.parametrize("odd", ["dangling", "folder", "fifo"])
def test_odd_entry_named_mo_is_skipped(tmp_path, monkeypatch, odd):
    polib = pytest.importorskip("polib")
    lc = tmp_path / "locale" / "de" / "LC_MESSAGES"
    lc.mkdir(parents=True)
    po = polib.POFile()
    po.metadata = {"Content-Type": "text/plain; charset=UTF-8"}
    po.append(polib.POEntry(msgid="Open the file", msgstr="Datei öffnen"))
    po.save_as_mofile(str(lc / "good.mo"))
    odd_path = lc / "odd.mo"
    if odd == "dangling":
        odd_path.symlink_to(lc / "missing.mo")
    elif odd == "folder":
        odd_path.mkdir()
    else:
        os.mkfifo(odd_path)
    monkeypatch.setattr(corpora, "LOCALE_DIR", tmp_path / "locale")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        messages = corpora.ui_messages("de", refresh=True)
    assert [(m.domain, m.english) for m in messages] == [("good", "Open the file")]
