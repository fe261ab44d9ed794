"""Issue 8, point 5: thread counts are bounded.

``num_threads`` is ``None`` (every core) or an exact count between 1 and ``staticemb.max_threads()`` (the cap:
``max(16, 4 x cores)``). A count above the cap is refused with :class:`InvalidInputError` before any thread is
spawned; wrong types are ``TypeError``. Pools are cached per count in a small LRU and an evicted pool's threads
end, so trying every count from 2 to the cap leaves a bounded number of threads behind. Results do not depend
on the thread count.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
import staticemb
from _hostile import TEXTS, describe, run_python, thread_count, tiny_model
from staticemb import InvalidInputError


@pytest.fixture(scope="module")
def model():
    return tiny_model(dim=16, seed=9)


@pytest.fixture(scope="module")
def texts():
    return TEXTS * 50


def _cores_candidates() -> set[int]:
    counts = {os.cpu_count() or 1}
    if hasattr(os, "sched_getaffinity"):
        counts.add(len(os.sched_getaffinity(0)))
    return counts


def test_max_threads_is_the_documented_cap():
    cap = staticemb.max_threads()
    assert isinstance(cap, int) and not isinstance(cap, bool)
    assert cap >= 16
    assert cap in {max(16, 4 * c) for c in _cores_candidates()}, (cap, _cores_candidates())
    assert staticemb.max_threads() == cap  # stable


def _calls(model, texts, n):
    ids, offsets = model.tokenize(texts[:10])
    return {
        "encode": lambda: model.encode(texts, num_threads=n),
        "encode-batched": lambda: model.encode(texts, num_threads=n, batch_size=10),
        "tokenize": lambda: model.tokenize(texts, num_threads=n),
        "embed_ids": lambda: model.embed_ids(ids, offsets, num_threads=n),
    }


@pytest.mark.parametrize("call", ["encode", "encode-batched", "tokenize", "embed_ids"])
@pytest.mark.parametrize("over", [1, 2, 100])
def test_counts_above_the_cap_are_refused_without_spawning(model, texts, call, over):
    # Only slightly above the cap in this process (at worst ~100 threads if the cap were not enforced);
    # the huge counts are tried in a subprocess with a time limit below.
    n = staticemb.max_threads() + over
    fn = _calls(model, texts, n)[call]
    before = thread_count()
    with pytest.raises(InvalidInputError, match="num_threads"):
        fn()
    assert thread_count() == before, "threads were spawned for a refused count"


@pytest.mark.parametrize("call", ["encode", "tokenize", "embed_ids"])
@pytest.mark.parametrize(
    "bad,exc",
    [
        (0, InvalidInputError),
        (-1, InvalidInputError),
        (-(2**70), InvalidInputError),
        (True, TypeError),
        (False, TypeError),
        (2.5, TypeError),
        (2.0, TypeError),
        ("2", TypeError),
        (np.float64(2), TypeError),
        ([2], TypeError),
    ],
)
def test_bad_counts(model, texts, call, bad, exc):
    with pytest.raises(exc, match="num_threads"):
        _calls(model, texts, bad)[call]()


def test_numpy_integers_are_counts(model, texts):
    expected = model.encode(texts, num_threads=1)
    np.testing.assert_array_equal(model.encode(texts, num_threads=np.int64(2)), expected)
    np.testing.assert_array_equal(model.encode(texts, num_threads=np.uint8(3)), expected)


def test_the_cap_itself_is_accepted(model, texts):
    expected = model.encode(texts[:50], num_threads=1)
    np.testing.assert_array_equal(model.encode(texts[:50], num_threads=staticemb.max_threads()), expected)


SWEEP = r"""
import json, os, sys, time
from pathlib import Path
import numpy as np
import staticemb
from _hostile import TEXTS, thread_count, tiny_model

model = tiny_model(dim=16, seed=9)
texts = TEXTS * 50
expected = model.encode(texts, num_threads=1)
model.encode(texts)  # the default pool (num_threads=None) exists before the baseline
baseline = thread_count()
# (The fallback lets today's code show how many threads the sweep leaves; test_max_threads checks the function.)
cap = staticemb.max_threads() if hasattr(staticemb, "max_threads") else max(16, 4 * (os.cpu_count() or 1))
# Every count on small machines (2..16 on up to 4 cores); on big ones every count up to 64 and the last few.
counts = sorted(set(range(2, min(cap, 64) + 1)) | set(range(max(2, cap - 3), cap + 1)))
peak, diffs = baseline, []
for n in counts:
    for call in (lambda: model.encode(texts, num_threads=n), lambda: model.tokenize(texts, num_threads=n)):
        out = call()
    if not np.array_equal(model.encode(texts, num_threads=n), expected):
        diffs.append(n)
    peak = max(peak, thread_count())
deadline = time.monotonic() + 10
while time.monotonic() < deadline and thread_count() > baseline + 4 * cap:
    time.sleep(0.05)  # evicted pools' workers end asynchronously
after = thread_count()
# Again: the counts still work after their pools were evicted and rebuilt.
for n in counts:
    if not np.array_equal(model.encode(texts[:20], num_threads=n), expected[:20]):
        diffs.append(n)
time.sleep(0.2)
print(json.dumps({"baseline": baseline, "after": after, "peak": peak, "cap": cap, "diffs": diffs,
                  "final": thread_count()}))
"""


def test_every_count_up_to_the_cap_leaves_few_threads():
    proc = run_python(SWEEP, timeout=120)
    assert proc.returncode == 0, describe(proc)
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not r["diffs"], f"results differ for num_threads in {r['diffs']}"
    bound = r["baseline"] + 4 * r["cap"]
    assert r["after"] <= bound, f"{r['after']} threads after trying 2..{r['cap']} (baseline {r['baseline']})"
    assert r["final"] <= bound, r


HUGE = r"""
import json, sys
import staticemb
from _hostile import TEXTS, thread_count, tiny_model
model = tiny_model()
ids, offsets = model.tokenize(TEXTS)
results = []
for n in (10_000, 2**31, 2**63, 2**64 + 1, 2**70):
    for name, call in (("encode", lambda: model.encode(TEXTS, num_threads=n)),
                       ("encode-batched", lambda: model.encode(TEXTS, num_threads=n, batch_size=2)),
                       ("tokenize", lambda: model.tokenize(TEXTS, num_threads=n)),
                       ("embed_ids", lambda: model.embed_ids(ids, offsets, num_threads=n))):
        before = thread_count()
        print("trying", name, n, file=sys.stderr, flush=True)
        try:
            call()
            outcome = "accepted"
        except staticemb.InvalidInputError as e:
            outcome = "InvalidInputError"
        except Exception as e:
            outcome = type(e).__name__
        results.append({"call": name, "n": str(n), "outcome": outcome, "spawned": thread_count() - before})
print(json.dumps(results))
"""


def test_huge_counts_are_refused_quickly():
    """The issue's case: ``num_threads=10000`` spawned 10,000 threads (166 s, +1.5 GB, kept for life). Run in
    a subprocess that is killed after 30 s, so a regression cannot take the test session down with it."""
    import subprocess

    try:
        proc = run_python(HUGE, timeout=30)
    except subprocess.TimeoutExpired as e:
        err = e.stderr or ""
        tried = (err.decode(errors="replace") if isinstance(err, bytes) else err).strip().splitlines()[-1:]
        pytest.fail(f"a huge num_threads was not refused within 30 s (threads being spawned?): {tried}")
    assert proc.returncode == 0, describe(proc)
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    bad = [r for r in results if r["outcome"] != "InvalidInputError" or r["spawned"] != 0]
    assert not bad, bad


def test_results_are_equal_across_counts(model, texts):
    expected = model.encode(texts, num_threads=1)
    ids1, off1 = model.tokenize(texts, num_threads=1)
    for n in (None, 2, 3, 5, 8):
        np.testing.assert_array_equal(model.encode(texts, num_threads=n), expected, err_msg=str(n))
        ids, off = model.tokenize(texts, num_threads=n)
        np.testing.assert_array_equal(ids, ids1)
        np.testing.assert_array_equal(off, off1)


if sys.platform != "linux":  # /proc/self/status
    pytestmark = pytest.mark.skip(reason="thread counting reads /proc")


ENV_HUGE = r"""
import json, os
os.environ["RAYON_NUM_THREADS"] = "3000"  # read by the binding at each call with num_threads=None
import numpy as np
import staticemb
from _hostile import TEXTS, thread_count, tiny_model
model = tiny_model()
expected = model.encode(TEXTS, num_threads=1)
baseline = thread_count()
out = model.encode(TEXTS)
print(json.dumps({"default": staticemb.default_threads(), "cap": staticemb.max_threads(),
                  "added": thread_count() - baseline, "same": bool(np.array_equal(out, expected))}))
"""


def test_rayon_num_threads_is_held_to_the_cap():
    # RAYON_NUM_THREADS=3000 started 3,000 threads that lived as long as the process.
    proc = run_python(ENV_HUGE, timeout=120)
    assert proc.returncode == 0, describe(proc)
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["default"] == r["cap"], r
    assert r["added"] <= r["cap"] + 2, r
    assert r["same"], r
