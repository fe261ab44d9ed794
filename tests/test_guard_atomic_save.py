"""Issue 8, point 2: ``save()`` never loses or mixes data.

``save`` writes the whole folder beside the target and swaps it in: a kill at any moment, or a write that
fails part-way (a full disk), leaves the old model intact or the new one complete, never a folder that loads
as a model that never existed, and never stray temporary folders after a failure it could clean up; what a
kill leaves beside the target is removed by the next save once the killed process is gone, never while a save
runs (the bottom of this file). It refuses to overwrite a folder that holds a different kind of model (a
transformer, a model2vec folder, unrelated files) unless ``overwrite=True``, and a saved folder holds one model
only.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from _hostile import (
    TEXTS,
    bert_tokenizer,
    describe,
    popen_python,
    rows_for,
    run_python,
    save_st,
    snapshot,
    table,
    write_m2v,
    write_transformer,
)
from staticemb import StaticModel

BIG_ROWS, BIG_DIM = 200_000, 64


def big_model(which: str) -> StaticModel:
    """Two models that differ in every part a mix could combine: table, tokenizer and normalization."""
    if which == "old":
        tok = bert_tokenizer(lowercase=True)
        return StaticModel(tok, table(BIG_ROWS, BIG_DIM, seed=1), normalize=True)
    tok = bert_tokenizer(lowercase=False)
    return StaticModel(tok, table(BIG_ROWS, BIG_DIM, seed=2), normalize=False)


CHILD_SAVE = r"""
import sys, time
from test_guard_atomic_save import big_model
model = big_model("new")
print("ready", flush=True)
t0 = time.perf_counter()
model.save(sys.argv[1])  # over a static folder: no overwrite flag needed
print("done", time.perf_counter() - t0, flush=True)
"""


def which_model(folder: Path, expected: dict[str, np.ndarray]) -> str:
    """'old' or 'new' when the folder loads as exactly one of them; raises otherwise."""
    model = StaticModel.from_pretrained(folder)
    try:
        got = model.encode(TEXTS)
    finally:
        del model  # drop the mapping before the folder is written again
    for name, vectors in expected.items():
        if got.shape == vectors.shape and np.array_equal(got, vectors):
            return name
    raise AssertionError(f"{folder} loads as a model that is neither the old nor the new one")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """The old model saved once (copied before each run), and both models' vectors."""
    root = tmp_path_factory.mktemp("pristine")
    old = big_model("old")
    old.save(root / "old")
    expected = {"old": old.encode(TEXTS), "new": big_model("new").encode(TEXTS)}
    assert not np.array_equal(expected["old"], expected["new"])
    return root / "old", expected


def _fresh_old(pristine_folder: Path, workdir: Path) -> Path:
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    return Path(shutil.copytree(pristine_folder, workdir / "model"))


def test_a_kill_at_a_random_moment_leaves_old_or_new(pristine, tmp_path):
    """A 200k x 64 table saved by a child process killed part-way through (timed from a full save)."""
    pristine_folder, expected = pristine
    # One uninterrupted save first: it must succeed and tells how long a save takes.
    folder = _fresh_old(pristine_folder, tmp_path / "full")
    proc = popen_python(CHILD_SAVE, str(folder), stdout=-1, stderr=-1, text=True)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, f"{out}\n{err}"
    duration = float(out.split("done")[1])
    assert which_model(folder, expected) == "new"

    outcomes = []
    fractions = [0.1, 0.35, 0.6, 0.85]
    for i, fraction in enumerate(fractions):
        folder = _fresh_old(pristine_folder, tmp_path / f"kill{i}")
        proc = popen_python(CHILD_SAVE, str(folder), stdout=-1, stderr=-1, text=True)
        line = proc.stdout.readline()
        assert line.startswith("ready"), line + proc.stderr.read()
        time.sleep(duration * fraction)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        try:
            outcomes.append((fraction, which_model(folder, expected)))
        except Exception as e:
            raise AssertionError(
                f"killed {duration * fraction:.3f} s into a {duration:.3f} s save: the folder does not load as "
                f"the old or the new model: {type(e).__name__}: {e}\nfolder holds {sorted(snapshot(folder))}"
            ) from e
    print("kill outcomes:", outcomes)


def wide_vocab_model(which: str) -> StaticModel:
    """A large vocabulary and a narrow table: tokenizer.json (~430 kB) is larger than model.safetensors
    (~120 kB), so a size limit between the two lets the table be written and the tokenizer fail."""
    from _hostile import bert_vocab

    tok = bert_tokenizer(vocab=bert_vocab(extra=[f"w{i}" for i in range(30_000)]), lowercase=(which == "old"))
    return StaticModel(
        tok, table(rows_for(tok), 1, seed=1 if which == "old" else 2), normalize=(which == "old")
    )


CHILD_FULL_DISK = r"""
import resource, signal, sys, json
from test_guard_atomic_save import wide_vocab_model
model = wide_vocab_model("new")
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG, like a full disk
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    model.save(sys.argv[1])  # over a static folder: no overwrite flag needed
    print(json.dumps({"raised": None}))
except BaseException as e:
    print(json.dumps({"raised": type(e).__name__, "is_exception": isinstance(e, Exception), "message": str(e)}))
"""


@pytest.fixture(scope="module")
def wide_pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("wide")
    old = wide_vocab_model("old")
    old.save(root / "old")
    new = wide_vocab_model("new")
    weights, tokenizer = (
        root / "old" / "0_StaticEmbedding" / n for n in ("model.safetensors", "tokenizer.json")
    )
    assert weights.stat().st_size < 150_000 and tokenizer.stat().st_size > 350_000
    return root / "old", {"old": old.encode(TEXTS), "new": new.encode(TEXTS)}


@pytest.mark.parametrize("limit", [0, 100, 5_000, 200_000, 300_000])
def test_a_full_disk_leaves_the_old_model_and_no_litter(wide_pristine, tmp_path, limit):
    """A file size limit (RLIMIT_FSIZE) makes every write past ``limit`` bytes fail (EFBIG), in Python and in
    Rust alike; 200 kB and 300 kB let model.safetensors through and stop tokenizer.json."""
    pristine_folder, expected = wide_pristine
    folder = _fresh_old(pristine_folder, tmp_path / "disk")
    before = sorted(os.listdir(folder.parent))
    proc = run_python(CHILD_FULL_DISK, str(folder), str(limit), timeout=120)
    assert proc.returncode == 0, describe(proc)
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["raised"] is not None, "save() reported success although its files could not be written"
    assert r["is_exception"], r
    assert which_model(folder, expected) == "old"
    assert sorted(os.listdir(folder.parent)) == before, "save() left temporary files behind"


# ------------------------------------------------------------------ failures injected in-process

FAILPOINTS = [
    ("os", "rename"),
    ("os", "replace"),
    ("os", "fsync"),
    ("os", "mkdir"),
    ("os", "makedirs"),
    ("shutil", "move"),
    ("shutil", "copyfile"),
    ("pathlib", "Path.write_text"),
    ("pathlib", "Path.write_bytes"),
    ("pathlib", "Path.rename"),
    ("pathlib", "Path.replace"),
    ("pathlib", "Path.mkdir"),
    ("safetensors.numpy", "save_file"),
]


class Injector:
    """Counts calls to every fail point; optionally makes the n-th call raise ENOSPC."""

    def __init__(self, monkeypatch, fail_at: int | None = None):
        import importlib

        self.calls = 0
        self.fail_at = fail_at
        self.failed_in = None
        for module_name, attr in FAILPOINTS:
            module = importlib.import_module(module_name)
            owner, name = (
                (module, attr)
                if "." not in attr
                else (getattr(module, attr.split(".")[0]), attr.split(".")[1])
            )
            original = getattr(owner, name)
            monkeypatch.setattr(owner, name, self._wrap(original, f"{module_name}.{attr}"))

    def _wrap(self, original, label):
        def wrapper(*args, **kwargs):
            self.calls += 1
            if self.calls == self.fail_at:
                self.failed_in = label
                raise OSError(errno.ENOSPC, "No space left on device (injected)")
            return original(*args, **kwargs)

        return wrapper


class Killer(Injector):
    """SIGKILLs the process just before (or just after) the n-th call to a fail point."""

    def __init__(self, monkeypatch, kill_at: int, after: bool):
        self.kill_at, self.after = kill_at, after
        super().__init__(monkeypatch)

    def _wrap(self, original, label):
        def wrapper(*args, **kwargs):
            self.calls += 1
            n = self.calls
            if n == self.kill_at and not self.after:
                os.kill(os.getpid(), signal.SIGKILL)
            result = original(*args, **kwargs)
            if n == self.kill_at and self.after:
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        return wrapper


def _small_pair():
    old = StaticModel(bert_tokenizer(), table(rows_for(bert_tokenizer()), 16, seed=1), normalize=True)
    new = StaticModel(bert_tokenizer(lowercase=False), table(rows_for(bert_tokenizer()), 16, seed=2))
    return old, new, {"old": old.encode(TEXTS), "new": new.encode(TEXTS)}


def _wait(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"the forked child saving the model hung for {timeout} s")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_kill_between_any_two_steps_leaves_old_or_new(tmp_path, monkeypatch):
    """Deterministic kills: a forked child saves and SIGKILLs itself just before, or just after, each file
    system call that save() makes (rename, fsync, mkdir, file writes, the safetensors writer)."""
    old, new, expected = _small_pair()
    pristine = tmp_path / "pristine"
    old.save(pristine)
    with monkeypatch.context() as m:
        folder = _fresh_old(pristine, tmp_path / "count")
        counter = Injector(m)
        new.save(folder)
    assert which_model(folder, expected) == "new"

    outcomes = []
    for k in range(1, counter.calls + 1):
        for after in (False, True):
            folder = _fresh_old(pristine, tmp_path / f"kill{k}{after}")
            pid = os.fork()
            if pid == 0:  # the child: never returns into pytest
                try:
                    with monkeypatch.context() as m:
                        Killer(m, k, after)
                        new.save(folder)
                finally:
                    os._exit(0)
            status = _wait(pid, timeout=30)
            assert os.WIFSIGNALED(status) or os.WEXITSTATUS(status) == 0, status
            try:
                outcomes.append(which_model(folder, expected))
            except Exception as e:
                raise AssertionError(
                    f"killed {'after' if after else 'before'} file system call {k} of {counter.calls}: the folder "
                    f"does not load as the old or the new model: {type(e).__name__}: {e}\n"
                    f"it holds {sorted(snapshot(folder))}"
                ) from e
    assert "old" in outcomes and "new" in outcomes, outcomes


def test_a_failure_at_any_step_leaves_old_or_new_and_no_litter(tmp_path, monkeypatch):
    old, new, expected = _small_pair()
    pristine = tmp_path / "pristine"
    old.save(pristine)

    with monkeypatch.context() as m:  # how many fail points does one save pass?
        folder = _fresh_old(pristine, tmp_path / "count")
        counter = Injector(m)
        new.save(folder)
    assert which_model(folder, expected) == "new"
    assert counter.calls > 0

    raised = 0
    for k in range(1, counter.calls + 1):
        folder = _fresh_old(pristine, tmp_path / f"fail{k}")
        before = sorted(os.listdir(folder.parent))
        with monkeypatch.context() as m:
            inj = Injector(m, fail_at=k)
            try:
                new.save(folder)
                error = None
            except OSError as e:
                error = e
        where = f"failing call {k} of {counter.calls} ({inj.failed_in})"
        state = which_model(folder, expected)  # raises on a mix or an unloadable folder
        if error is not None:
            raised += 1
            pass  # the old model, or the new one when the step that failed came after the swap
        else:
            assert state == "new", f"{where}: save() returned but the folder holds the {state} model"
        assert sorted(os.listdir(folder.parent)) == before, (
            f"{where}: left {sorted(os.listdir(folder.parent))}"
        )
    assert raised > 0


# ------------------------------------------------------------------ refusing other kinds of folder


def _new_model() -> StaticModel:
    return StaticModel(bert_tokenizer(), table(rows_for(bert_tokenizer()), 16, seed=3))


def _fresh_layout(tmp_path: Path, model: StaticModel) -> set[str]:
    ref = tmp_path / "reference-layout"
    model.save(ref)
    return set(snapshot(ref))


def _unrelated(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("my notes")
    (folder / "data").mkdir()
    (folder / "data" / "table.csv").write_text("a,b\n1,2\n")
    return folder


OTHER_KINDS = {
    "transformer": lambda p: write_transformer(p),
    "sentence-transformer-transformer": lambda p: write_transformer(p, with_modules=True),
    "model2vec": lambda p: write_m2v(p),
    "unrelated-files": _unrelated,
    "only-a-readme": lambda p: (p.mkdir(parents=True), (p / "README.md").write_text("# my model"))[0] or p,
}


@pytest.mark.parametrize("kind", list(OTHER_KINDS))
def test_refuses_to_overwrite_another_kind_of_folder(tmp_path, kind):
    folder = tmp_path / "target"
    OTHER_KINDS[kind](folder)
    before = snapshot(folder)
    model = _new_model()
    with pytest.raises(FileExistsError, match="overwrite"):
        model.save(folder)
    assert snapshot(folder) == before, "the refused save changed the folder"
    assert sorted(os.listdir(tmp_path)) == ["target"], "the refused save left files beside the folder"


@pytest.mark.parametrize("kind", list(OTHER_KINDS))
def test_overwrite_true_replaces_the_folder_with_one_model(tmp_path, kind):
    folder = tmp_path / "target"
    OTHER_KINDS[kind](folder)
    model = _new_model()
    layout = _fresh_layout(tmp_path, model)
    model.save(folder, overwrite=True)
    assert set(snapshot(folder)) == layout, "files of the old folder are left beside the new model"
    np.testing.assert_array_equal(StaticModel.from_pretrained(folder).encode(TEXTS), model.encode(TEXTS))
    assert sorted(os.listdir(tmp_path)) == ["reference-layout", "target"]


def test_refuses_a_file_in_the_way(tmp_path):
    target = tmp_path / "model"
    target.write_text("not a folder")
    with pytest.raises(FileExistsError):
        _new_model().save(target)
    assert target.read_text() == "not a folder"


def test_saves_into_a_missing_or_empty_folder(tmp_path):
    model = _new_model()
    layout = _fresh_layout(tmp_path, model)
    (tmp_path / "empty").mkdir()
    for target in (tmp_path / "empty", tmp_path / "missing" / "nested"):
        model.save(target)
        assert set(snapshot(target)) == layout


def test_saving_over_a_static_folder_needs_no_flag_and_leaves_one_model(tmp_path):
    """Old: normalize=True (with 1_Normalize), float16; new: normalize=False, float32 — nothing of the old
    model may remain."""
    folder = tmp_path / "model"
    save_st(folder, normalize=True, dtype="float16", seed=1)
    assert (folder / "1_Normalize").exists()
    model = _new_model()
    layout = _fresh_layout(tmp_path, model)
    model.save(folder)
    assert set(snapshot(folder)) == layout, f"left over: {sorted(set(snapshot(folder)) - layout)}"
    loaded = StaticModel.from_pretrained(folder)
    assert loaded.normalize is False and loaded.dtype == "float32"
    np.testing.assert_array_equal(loaded.encode(TEXTS), model.encode(TEXTS))
    assert sorted(os.listdir(tmp_path)) == ["model", "reference-layout"], "save() left temporary folders"


def test_extra_files_in_a_static_folder_do_not_survive(tmp_path):
    """A static folder with stray files of another model (a root model.safetensors and config.json, as
    model2vec writes) is replaced whole with overwrite=True: never two models in one folder."""
    folder = tmp_path / "model"
    save_st(folder, seed=1)
    write_m2v(folder)  # now the folder holds two models
    model = _new_model()
    layout = _fresh_layout(tmp_path, model)
    model.save(folder, overwrite=True)
    assert set(snapshot(folder)) == layout


def test_a_plain_save_keeps_a_training_runs_files_and_what_a_module_folder_holds(tmp_path):
    """A plain save over a trained model folder is refused: it would delete the run's checkpoints and log, or a
    file put into a module's folder. overwrite=True replaces them; the trainer's next run into its own folder
    may (tests/test_train_resume.py)."""
    model = _new_model()
    for extra in ("checkpoints/checkpoint-100/optimizer.pt", "training_log.json", "0_StaticEmbedding/notes.txt",
                  "1_Normalize/extra.bin"):
        folder = save_st(tmp_path / extra.replace("/", "-") / "model", normalize=True, seed=1)
        assert (folder / "0_StaticEmbedding").is_dir() and (folder / "1_Normalize").is_dir()
        (folder / extra).parent.mkdir(parents=True, exist_ok=True)
        (folder / extra).write_text("precious")
        shown = extra if extra[1] == "_" else extra.split("/")[0]
        before = snapshot(folder)
        with pytest.raises(FileExistsError, match=f"a sentence-transformers model and other files \\({shown}\\)"):
            model.save(folder)
        assert snapshot(folder) == before and (folder / extra).read_text() == "precious"
        model.save(folder, overwrite=True)
        assert not (folder / extra).exists()
        np.testing.assert_array_equal(StaticModel.from_pretrained(folder).encode(TEXTS), model.encode(TEXTS))


def test_two_saves_racing_to_a_new_folder_both_succeed_and_the_last_wins(tmp_path, monkeypatch):
    """The other save renames its folder into place between this save's check and its own rename: this save
    replaces it as it replaces any model (it failed with a raw "Directory not empty")."""
    from staticemb import _io

    old, new, expected = _small_pair()
    target = tmp_path / "model"
    written = new.save(tmp_path / "written")

    def write(tmp: Path) -> None:
        old.save(target)  # the racing save lands first
        shutil.copytree(written, tmp, dirs_exist_ok=True)

    _io.write_folder(target, write, format="sentence-transformers")
    assert which_model(target, expected) == "new"
    assert sorted(os.listdir(tmp_path)) == ["model", "written"], "a temporary folder was left"

    # The other save lands between this save's last look and its rename (os.rename fails "Directory not empty").
    late = tmp_path / "late"
    real_rename, raced = os.rename, []

    def rename(a, b):
        if Path(b) == late and not raced:
            raced.append(a)
            old.save(late)  # its own rename comes through here too, and goes straight on
        return real_rename(a, b)

    monkeypatch.setattr(os, "rename", rename)
    _io.write_folder(late, lambda tmp: shutil.copytree(written, tmp, dirs_exist_ok=True),
                     format="sentence-transformers")
    monkeypatch.undo()
    assert raced and which_model(late, expected) == "new"
    shutil.rmtree(late)

    # What lands meanwhile is checked as any existing folder is: unrelated files are not replaced.
    other = tmp_path / "other"

    def write_after_unrelated(tmp: Path) -> None:
        _unrelated(other)
        shutil.copytree(written, tmp, dirs_exist_ok=True)

    with pytest.raises(FileExistsError, match="notes.txt"):
        _io.write_folder(other, write_after_unrelated, format="sentence-transformers")
    assert (other / "notes.txt").read_text() == "my notes"
    assert sorted(os.listdir(tmp_path)) == ["model", "other", "written"], "a temporary folder was left"


def test_a_model_can_be_saved_over_the_folder_it_was_loaded_from(tmp_path):
    folder = tmp_path / "model"
    save_st(folder, seed=4, normalize=True)
    model = StaticModel.from_pretrained(folder)
    vectors = model.encode(TEXTS)
    model.save(folder)
    np.testing.assert_array_equal(StaticModel.from_pretrained(folder).encode(TEXTS), vectors)
    np.testing.assert_array_equal(model.encode(TEXTS), vectors)


# ---------------------------------------------------------------- text outputs (eval JSON, crop pairs, caches)


def test_a_text_output_follows_a_symlink_and_keeps_it(tmp_path):
    from staticemb._io import write_file

    target, link = tmp_path / "target.json", tmp_path / "link.json"
    target.write_text("old")
    link.symlink_to(target)
    write_file(link, lambda f: f.write("new"))
    assert link.is_symlink() and target.read_text() == "new"


def test_a_text_output_into_a_pipe_is_written_through_not_replaced(tmp_path):
    # Renaming over the path replaced a named pipe (or /dev/null, as root) with a regular file.
    import threading

    from staticemb.train.crops import write_pairs

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(pipe.read_text(encoding="utf-8")), daemon=True)
    reader.start()
    assert write_pairs([("a query", "a passage")], pipe) == 1
    reader.join(timeout=30)
    assert pipe.is_fifo()
    assert [json.loads(line) for line in got[0].splitlines()] == [{"anchor": "a query", "positive": "a passage"}]


# ---------------------------------------------------------------- what a killed save leaves beside the target


def _beside(folder: Path) -> list[str]:
    """What the folder's parent holds besides the folder itself."""
    return sorted(name for name in os.listdir(folder.parent) if name != folder.name)


def _signal_mid_save(pristine_folder: Path, workdir: Path, sig: int):
    """A child saving the big "new" model over a fresh copy of the old one, sent ``sig`` as soon as something
    appears beside the folder (the save's temporary folder). Tried again (up to 3 times) where the save had
    ended before the signal landed. Returns the folder, the process and what was beside the folder."""
    for _ in range(3):
        folder = _fresh_old(pristine_folder, workdir)
        proc = popen_python(CHILD_SAVE, str(folder), stdout=-1, stderr=-1, text=True)
        line = proc.stdout.readline()
        assert line.startswith("ready"), line + proc.stderr.read()
        deadline = time.monotonic() + 60
        while not _beside(folder) and proc.poll() is None:
            assert time.monotonic() < deadline, "no temporary folder appeared beside the target in 60 s"
            time.sleep(0.0005)
        proc.send_signal(sig)
        if sig == signal.SIGKILL:
            proc.communicate(timeout=60)
        left = _beside(folder)
        if left and (sig != signal.SIGKILL or proc.returncode == -signal.SIGKILL):
            return folder, proc, left
        proc.send_signal(signal.SIGCONT)
        proc.communicate(timeout=120)
    raise AssertionError("the save ended before it could be signalled, 3 times")


def test_a_save_killed_mid_write_leaves_a_temporary_that_the_next_save_removes(pristine, tmp_path):
    """SIGKILL left the temporary folder (a whole model's size) beside the target for ever."""
    pristine_folder, expected = pristine
    folder, _, left = _signal_mid_save(pristine_folder, tmp_path / "work", signal.SIGKILL)
    assert which_model(folder, expected) in ("old", "new")  # a load meanwhile: one model, the leftover ignored
    big_model("new").save(folder)
    assert _beside(folder) == [], f"the next save left the killed save's {left} beside the target"
    assert which_model(folder, expected) == "new"


def test_a_live_save_keeps_its_temporary_while_another_save_runs(pristine, tmp_path):
    """A save frozen mid-write (SIGSTOP) is alive: another save of the same target leaves its folder alone, and
    it completes when resumed."""
    pristine_folder, expected = pristine
    folder, proc, theirs = _signal_mid_save(pristine_folder, tmp_path / "work", signal.SIGSTOP)
    try:
        big_model("old").save(folder)
        assert _beside(folder) == theirs, "a save removed the folder of a save still running"
    finally:
        proc.send_signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, f"the resumed save failed:\n{out}\n{err}"
    assert _beside(folder) == [] and which_model(folder, expected) == "new"


CHILD_HOLD = r"""
import os, sys, time
from pathlib import Path
from staticemb import _io
tmp = _io.temp_path(Path(sys.argv[1]))
os.mkdir(tmp)
fd = _io.hold(tmp)
if os.fork():  # the writer's process ends; a process it started holds the folder on, as a writer in another
    os._exit(0)  # process id namespace (a container sharing the folder) would, whose id means nothing here
print(os.getpid(), tmp.name, flush=True)
null = os.open(os.devnull, os.O_WRONLY)
os.dup2(null, 1)
os.dup2(null, 2)
time.sleep(600)
"""


def test_a_temporary_held_by_a_live_process_is_kept_though_its_writer_id_is_gone(tmp_path):
    _, new, expected = _small_pair()
    folder = new.save(tmp_path / "model")
    proc = popen_python(CHILD_HOLD, str(folder), stdout=-1, stderr=-1, text=True)
    holder, name = proc.stdout.readline().split()
    try:
        assert proc.wait(timeout=30) == 0, proc.stderr.read()
        assert _beside(folder) == [name]
        new.save(folder)
        assert _beside(folder) == [name], "the save removed a folder that a live process holds"
    finally:
        os.kill(int(holder), signal.SIGKILL)
        proc.stdout.close()
        proc.stderr.close()
    deadline = time.monotonic() + 30
    while True:  # the holder's lock goes when it has died, a moment after the signal
        new.save(folder)
        if not _beside(folder) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert _beside(folder) == [] and which_model(folder, expected) == "new"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_kill_between_the_renames_of_a_swap_without_exchange_is_repaired_by_the_next_save(tmp_path, monkeypatch):
    """Without an atomic exchange (macOS, some file systems) the swap is two renames; a kill between them left
    the target missing and the old model at a temporary name for ever."""
    from staticemb import _io

    old, new, expected = _small_pair()
    folder = old.save(tmp_path / "model")
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            renames = []
            real_rename = os.rename

            def rename(src, dst):
                renames.append(src)
                if len(renames) == 2:  # the old model moved aside, the new one not yet in place
                    os.kill(os.getpid(), signal.SIGKILL)
                real_rename(src, dst)

            monkeypatch.setattr(_io, "_exchange", lambda a, b: False)
            monkeypatch.setattr(os, "rename", rename)
            new.save(folder)
        finally:
            os._exit(0)
    assert os.WIFSIGNALED(_wait(pid, timeout=30))
    assert not folder.exists() and len(_beside(folder)) == 2  # the old model aside, the new one unswapped
    model2vec = StaticModel.from_pretrained(Path(__file__).parent / "fixtures" / "m2v-f32")
    with pytest.raises(FileExistsError):  # the old model is put back first, and is no model2vec folder
        model2vec.save(folder, format="model2vec")
    assert _beside(folder) == [] and which_model(folder, expected) == "old"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_kill_just_after_the_swap_keeps_a_training_runs_checkpoints(tmp_path, monkeypatch):
    """A training run's save keeps the old folder's checkpoints; killed just after the swap, they were left in
    the old folder at a temporary name, and the next save of the run deleted them."""
    from staticemb import _io

    old, new, expected = _small_pair()
    folder = old.save(tmp_path / "work" / "model")
    (folder / "checkpoints" / "checkpoint-10").mkdir(parents=True)
    (folder / "checkpoints" / "checkpoint-10" / "state.json").write_text("{}")

    written = new.save(tmp_path / "source" / "written")

    def save() -> None:  # as a training run saves: its files into the fresh folder, the checkpoints kept
        def write(tmp: Path) -> None:
            shutil.copytree(written, tmp, dirs_exist_ok=True)

        _io.write_folder(folder, write, format="sentence-transformers", overwrite=True, keep=("checkpoints",))

    pid = os.fork()
    if pid == 0:
        try:
            real_exchange = _io._exchange

            def exchange(a, b):
                done = real_exchange(a, b)
                os.kill(os.getpid(), signal.SIGKILL)
                return done

            monkeypatch.setattr(_io, "_exchange", exchange)
            save()
        finally:
            os._exit(0)
    assert os.WIFSIGNALED(_wait(pid, timeout=30))
    if not _beside(folder):
        pytest.skip("no atomic exchange on this file system")
    assert which_model(folder, expected) == "new" and not (folder / "checkpoints").exists()
    save()
    assert _beside(folder) == [] and which_model(folder, expected) == "new"
    assert (folder / "checkpoints" / "checkpoint-10" / "state.json").read_text() == "{}"


CHILD_WRITE_FILE = r"""
import os, signal, sys
from pathlib import Path
from staticemb._io import write_file

def write(f):
    f.write("half a file")
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)

write_file(Path(sys.argv[1]), write)
"""


def test_a_text_output_killed_mid_write_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    from staticemb._io import write_file

    path = tmp_path / "results.json"
    path.write_text("old")
    proc = run_python(CHILD_WRITE_FILE, str(path))
    assert proc.returncode == -signal.SIGKILL, describe(proc)
    assert path.read_text() == "old" and len(os.listdir(tmp_path)) == 2
    write_file(path, lambda f: f.write("new"))
    assert os.listdir(tmp_path) == ["results.json"] and path.read_text() == "new"


def test_a_leftover_named_with_this_process_id_but_not_live_is_removed(tmp_path):
    # A container restarted after a kill runs its program as the same process id: its leftover carries our id.
    # It was taken for another thread's live save and kept for ever, a whole model each time.
    from staticemb import _io

    old, new, expected = _small_pair()
    folder = old.save(tmp_path / "model")
    leftover = _io.temp_path(folder)
    os.mkdir(leftover)
    (leftover / "model.safetensors").write_bytes(b"partial")
    _io.done_with(leftover)  # as an earlier process with our id left it: no save of this process holds it
    live = _io.temp_path(folder)  # another thread's save, still writing
    os.mkdir(live)
    try:
        new.save(folder)
        assert _beside(folder) == [live.name] and which_model(folder, expected) == "new"
    finally:
        _io.done_with(live)
        shutil.rmtree(live)


@pytest.mark.parametrize("length", [200, 240, 255])
def test_a_long_folder_name_saves_and_its_leftovers_are_found(tmp_path, length):
    # The temporary's name adds ~50 characters to the target's: a 215-character folder name gave
    # "File name too long" (names of up to 227 characters saved before temporaries named their writer).
    from staticemb import _io

    old, new, expected = _small_pair()
    folder = old.save(tmp_path / ("n" * (length - 5) + "é.xy"))  # length bytes
    leftover = _io.temp_path(folder)
    assert len(leftover.name.encode()) <= 255
    os.mkdir(leftover)
    _io.done_with(leftover)
    new.save(folder)
    assert _beside(folder) == [] and which_model(folder, expected) == "new"


def test_a_folder_downloaded_with_hf_local_dir_is_saved_over(tmp_path):
    # `hf download --local-dir` leaves .cache/huggingface/ in the folder: it was counted as a user's file.
    old, new, expected = _small_pair()
    folder = old.save(tmp_path / "model")
    (folder / ".cache" / "huggingface" / "download").mkdir(parents=True)
    (folder / ".cache" / "huggingface" / "download" / "modules.json.metadata").write_text("x")
    new.save(folder)
    assert which_model(folder, expected) == "new"
