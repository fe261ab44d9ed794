"""Thread control: every setting gives the same vectors, concurrent callers are safe, forked children work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import staticemb
from staticemb import StaticModel


@pytest.fixture(scope="module")
def model(bert_tokenizer, table):
    return StaticModel(bert_tokenizer, table, normalize=True)


@pytest.fixture(scope="module")
def texts(real_texts):
    return real_texts[:6000]


@pytest.fixture(scope="module")
def expected(model, texts):
    return model.encode(texts, num_threads=1)


@pytest.mark.parametrize("num_threads", [None, 1, 2, 3, 8])
def test_every_thread_count_gives_the_same_vectors(model, texts, expected, num_threads):
    # Each text is pooled by exactly one thread in a fixed order, so results are bit-identical.
    np.testing.assert_array_equal(model.encode(texts, num_threads=num_threads), expected)


@pytest.mark.parametrize("batch_size", [1, 7, 1000, 100_000])
def test_batching_and_progress_bar_do_not_change_results(model, texts, expected, batch_size):
    out = model.encode(texts[:3000], batch_size=batch_size, show_progress_bar=batch_size == 1000)
    np.testing.assert_array_equal(out, expected[:3000])


def test_many_python_threads_at_once(model, texts, expected):
    slices = [(i * 500, (i + 1) * 500) for i in range(12)]

    def work(job):
        (start, stop), threads = job
        return start, stop, model.encode(texts[start:stop], num_threads=threads)

    jobs = [(s, t) for s in slices for t in (None, 1, 2)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for start, stop, out in pool.map(work, jobs):
            np.testing.assert_array_equal(out, expected[start:stop])


@pytest.mark.parametrize("num_threads", [None, 1, 2, 3])
def test_tokenize_is_the_same_on_any_thread_count(model, texts, num_threads):
    ids, offsets = model.tokenize(texts, num_threads=1)
    ids2, offsets2 = model.tokenize(texts, num_threads=num_threads)
    np.testing.assert_array_equal(ids, ids2)
    np.testing.assert_array_equal(offsets, offsets2)


def test_embed_ids_from_many_threads(model, texts, expected):
    ids, offsets = model.tokenize(texts)
    with ThreadPoolExecutor(max_workers=6) as pool:
        outs = list(pool.map(lambda t: model.embed_ids(ids, offsets, num_threads=t), [None, 1, 2, 3, 2, None]))
    for out in outs:
        np.testing.assert_allclose(out, expected, atol=1e-6)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX-only")
def test_forked_child_encodes(model, texts, expected):
    # The parent has used its thread pools; the child has none of their threads and must build new ones.
    model.encode(texts[:100], num_threads=2)
    model.encode(texts[:100])
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            os.close(read)
            ok = all(
                np.array_equal(model.encode(texts[:2000], num_threads=t), expected[:2000]) for t in (None, 2, 1)
            )
            os.write(write, b"ok" if ok else b"mismatch")
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    message = os.read(read, 100)
    os.close(read)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert message == b"ok"


def test_multiprocessing_fork_pool(model, texts, expected):
    import multiprocessing as mp

    if "fork" not in mp.get_all_start_methods():
        pytest.skip("no fork start method")
    model.encode(texts[:10], num_threads=2)
    chunks = [texts[i : i + 500] for i in range(0, 2000, 500)]
    with mp.get_context("fork").Pool(2) as pool:
        outs = pool.map(_encode_in_child, [(model, c) for c in chunks])
    np.testing.assert_array_equal(np.concatenate(outs), expected[:2000])


def _encode_in_child(job):
    model, chunk = job
    return model.encode(chunk, num_threads=2)


def _fork_and_run(child) -> None:
    """Fork; the child runs ``child()`` (it must not hang: an alarm kills it after 60 s) and exits 0 only if
    ``child()`` returned True."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.alarm(60)
            code = 0 if child() else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child hung (SIGALRM)" if os.WIFSIGNALED(status) else status


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX-only")
def test_fork_while_another_thread_builds_a_lazy_part(xlmr_tokenizer_path):
    # A text holding an added token makes a fresh XLM-R model parse its 250k-piece tokenizer.json with the
    # `tokenizers` crate on first use (about half a second). Forked 50 ms into that parse, the child inherited a
    # part marked "being built" by a thread it does not have, and its own first use waited forever; the fork now
    # waits for the build to end.
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(xlmr_tokenizer_path))
    table = np.random.default_rng(0).standard_normal((tokenizer.get_vocab_size(), 8), dtype=np.float32)
    texts = ["a text </s> with an added token", "ça va, et toi ?"]
    for _ in range(2):
        model = StaticModel(tokenizer, table)
        builder = threading.Thread(target=model.encode, args=(texts[:1],))
        builder.start()
        time.sleep(0.05)
        try:
            _fork_and_run(lambda model=model: model.encode(texts).shape == (2, 8))
        finally:
            builder.join()
        expected = model.encode(texts)
        _fork_and_run(lambda model=model, expected=expected: np.array_equal(model.encode(texts), expected))


_FIRST_CRATE_USE = """
import os, signal, sys, threading, time
import numpy as np
from tokenizers import AddedToken, Tokenizer
from staticemb import StaticModel

tok = Tokenizer.from_file(sys.argv[1])
tok.add_special_tokens([AddedToken("<foo>", single_word=True)])
model = StaticModel(tok, np.zeros((tok.get_vocab_size(), 8), np.float32))
started = threading.Event()
first = threading.Thread(target=lambda: (started.set(), model.encode(["hello <foo> world"], num_threads=1)))
first.start()
started.wait()
end = time.perf_counter() + float(sys.argv[2])
while time.perf_counter() < end:
    pass
pid = os.fork()
if pid == 0:
    signal.alarm(20)
    model.encode(["hello <foo> world"], num_threads=1)
    os._exit(0)
first.join()
print("hung" if os.WIFSIGNALED(os.waitpid(pid, 0)[1]) else "ok")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX-only")
def test_fork_during_the_first_use_of_the_tokenizers_crate(bytelevel_bpe_path):
    # A single_word added token sends the text through the tokenizers crate's cut, whose regexes the crate builds
    # on first use in the process (its own lazy statics). Forked a millisecond into that first use, 30 children
    # of 32 waited forever; the fork now waits for every call into the crate under way. Each try is a fresh
    # process: the crate builds them once per process.
    for delay in ("0", "0.0005", "0.001", "0.0015"):
        done = subprocess.run([sys.executable, "-c", _FIRST_CRATE_USE, str(bytelevel_bpe_path), delay],
                              capture_output=True, text=True, timeout=120)
        assert done.stdout.strip() == "ok", (delay, done.stdout, done.stderr[-2000:])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX-only")
def test_fork_while_another_thread_builds_a_model_with_a_regex():
    # Building a tokenizer whose pre-tokenizer splits by a regex compiles it with Oniguruma, under a lock of the
    # whole process; a child forked meanwhile inherited the lock held, and its own next build waited forever
    # (10 children of 15). The fork now waits for a build under way.
    from tokenizers import Tokenizer

    pattern = r"(?i:'s|'t|'re)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s+(?!\S)|\s+"
    spec = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
            "pre_tokenizer": {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated",
                              "invert": False},
            "post_processor": None, "decoder": None,
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                      "vocab": {c: i for i, c in enumerate("abcdefghijklmnopqrstuvwxyz ")}, "merges": []}}
    tokenizer = Tokenizer.from_str(json.dumps(spec))
    table = np.ones((tokenizer.get_vocab_size(), 4), np.float32)
    stop = threading.Event()

    def build_models():
        while not stop.is_set():
            StaticModel(tokenizer, table)

    builder = threading.Thread(target=build_models)
    builder.start()
    try:
        for _ in range(12):
            time.sleep(0.005)
            _fork_and_run(lambda: StaticModel(tokenizer, table).encode(["a text"]).shape == (1, 4))
    finally:
        stop.set()
        builder.join()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX-only")
def test_fork_while_another_thread_loads_a_worker_model(tiny_st_folder, monkeypatch):
    # get_model loads under a lock; a child forked while another thread held it (a Spark or Dask worker forking
    # beside a loading thread) inherited the lock held, and its own first get_model waited forever.
    from staticemb.integrations import _worker

    loading, release = threading.Event(), threading.Event()
    load = StaticModel.from_pretrained

    def slow_load(spec, **kwargs):
        if kwargs.get("dim") == 8:  # only the parent's thread waits, holding the lock
            loading.set()
            release.wait(30)
        return load(spec, **kwargs)

    monkeypatch.setattr(StaticModel, "from_pretrained", staticmethod(slow_load))
    monkeypatch.setattr(_worker, "_MODELS", {})
    holder = threading.Thread(target=_worker.get_model, args=(tiny_st_folder,), kwargs={"dim": 8})
    holder.start()
    try:
        assert loading.wait(30)
        expected = load(tiny_st_folder).encode(["a text"])
        _fork_and_run(lambda: np.array_equal(_worker.get_model(tiny_st_folder).encode(["a text"]), expected))
    finally:
        release.set()
        holder.join()
    assert _worker.get_model(tiny_st_folder, dim=8).dim == 8


def test_rayon_num_threads_is_honoured():
    code = "import staticemb; print(staticemb.default_threads())"
    env = {**os.environ, "RAYON_NUM_THREADS": "3"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "3"
    env.pop("RAYON_NUM_THREADS")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert int(out.stdout.strip()) == os.cpu_count()


def test_gil_is_released_during_encode(model, texts):
    """While one thread encodes, another Python thread keeps running."""
    big = texts * 10
    ticks = 0
    done = threading.Event()

    def ticker():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        model.encode(big, num_threads=1, batch_size=len(big))
    finally:
        done.set()
        t.join()
    assert ticks > 5


def test_kernel_selection_is_reported():
    assert staticemb.kernel_name() in staticemb._core.available_kernels()
    assert "scalar" in staticemb._core.available_kernels()


@pytest.mark.parametrize("kernel", ["scalar", "baseline", "avx2", "avx512"])
def test_every_kernel_gives_the_same_vectors(kernel, tmp_path, st_folder, real_texts):
    if kernel not in staticemb._core.available_kernels():
        pytest.skip(f"{kernel} not available on this CPU")
    texts = real_texts[:2000]
    (tmp_path / "texts.txt").write_text("\n".join(t.replace("\n", " ") for t in texts))
    script = (
        "import sys, numpy as np, staticemb\n"
        "texts = open(sys.argv[2]).read().split('\\n')\n"
        "m = staticemb.StaticModel.from_pretrained(sys.argv[1])\n"
        "assert staticemb.kernel_name() == sys.argv[4], staticemb.kernel_name()\n"
        "np.save(sys.argv[3], m.encode(texts, dim=200))\n"
    )
    outs = {}
    for name in ("scalar", kernel):
        env = {**os.environ, "STATICEMB_KERNEL": name}
        path = tmp_path / f"{name}.npy"
        subprocess.run(
            [sys.executable, "-c", script, str(st_folder), str(tmp_path / "texts.txt"), str(path), name],
            env=env, check=True, capture_output=True,
        )
        outs[name] = np.load(path)
    np.testing.assert_allclose(outs[kernel], outs["scalar"], atol=1e-6)


@pytest.mark.parametrize(("value", "warns"), [("bogus", True), ("AVX512x", True), ("scalar", False), (" Scalar ", False),
                                              ("", False)])
def test_a_kernel_override_that_names_no_kernel_warns(value, warns):
    # STATICEMB_KERNEL=bogus silently ran the detected kernel, though the README says the variable forces one.
    env = {**os.environ, "STATICEMB_KERNEL": value}
    done = subprocess.run([sys.executable, "-W", "default", "-c", "import staticemb; print(staticemb.kernel_name())"],
                          env=env, capture_output=True, text=True, check=True)
    assert ("names no kernel this CPU runs" in done.stderr) is warns, done.stderr
    if not warns and value:
        assert done.stdout.strip() == "scalar"
