"""Issue 8, point 9: memory-mapped model files.

Truncating a file under a live memory map kills the process with SIGBUS (as for ``numpy.memmap``). So
``from_pretrained(..., mmap=False)`` reads the table into memory: the model keeps working whatever happens to
the file afterwards. With the default ``mmap=True``, staticemb's own ``save()`` never truncates a file a live
model maps: saving over the folder a model was loaded from leaves that model working, with the same vectors.
Each scenario runs in a subprocess, so a SIGBUS shows as a failed test (return code -7), not a dead session.
"""

from __future__ import annotations

import json
import signal

import pytest
from _hostile import describe, run_python

SCRIPT_PRELUDE = r"""
import json, os, sys
from pathlib import Path
import numpy as np
from _hostile import TEXTS, tiny_model, weights_path, write_m2v
from staticemb import StaticModel

root = Path(sys.argv[1])
layout, dtype = sys.argv[2], sys.argv[3]
folder = root / "model"
if layout == "st":
    model = tiny_model(dim=16, seed=3, normalize=True)
    if dtype != "float32":
        model = model.quantize(dtype)
    model.save(folder)
else:
    write_m2v(folder, dim=16, table_dtype={"float32": np.float32, "float16": np.float16}[dtype])
path = weights_path(folder)
"""

TRUNCATE_UNDER_A_COPY = (
    SCRIPT_PRELUDE
    + r"""
live = StaticModel.from_pretrained(folder, mmap=False)
before = live.encode(TEXTS)
table_before = np.array(live.embeddings)
size = path.stat().st_size
with open(path, "r+b") as f:   # truncate in place (same inode), then overwrite with garbage
    f.truncate(9)
after_truncate = live.encode(TEXTS)
with open(path, "r+b") as f:
    f.write(b"\xff" * size)
after_overwrite = live.encode(TEXTS, num_threads=2)
path.unlink()
after_unlink = live.encode(TEXTS)
print(json.dumps({
    "same": all(np.array_equal(before, v) for v in (after_truncate, after_overwrite, after_unlink)),
    "table_same": bool(np.array_equal(table_before, live.embeddings)),
}))
"""
)


@pytest.mark.parametrize(
    "layout,dtype",
    [("st", "float32"), ("st", "float16"), ("st", "int8"), ("m2v", "float32"), ("m2v", "float16")],
)
def test_mmap_false_survives_truncation(tmp_path, layout, dtype):
    proc = run_python(TRUNCATE_UNDER_A_COPY, str(tmp_path), layout, dtype, timeout=60)
    assert proc.returncode != -signal.SIGBUS, "SIGBUS: the model still maps the file\n" + describe(proc)
    assert proc.returncode == 0, describe(proc)
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r == {"same": True, "table_same": True}, r


SAVE_OVER_A_LIVE_MAP = (
    SCRIPT_PRELUDE
    + r"""
live = StaticModel.from_pretrained(folder)          # mmap=True, the default
before = live.encode(TEXTS)
live.save(folder, overwrite=True)                    # the same model over its own files
same_self = np.array_equal(live.encode(TEXTS), before)
other = tiny_model(dim=8, seed=99, normalize=False)  # a different model over the files `live` maps
other.save(folder, overwrite=True)
same_other = np.array_equal(live.encode(TEXTS, num_threads=2), before)
reloaded = StaticModel.from_pretrained(folder)
print(json.dumps({
    "same_after_own_save": bool(same_self),
    "same_after_other_save": bool(same_other),
    "folder_is_other": bool(np.array_equal(reloaded.encode(TEXTS), other.encode(TEXTS))),
}))
"""
)


@pytest.mark.parametrize(
    "layout,dtype", [("st", "float32"), ("st", "float16"), ("st", "int8"), ("m2v", "float32")]
)
def test_saving_over_the_folder_a_live_model_maps(tmp_path, layout, dtype):
    proc = run_python(SAVE_OVER_A_LIVE_MAP, str(tmp_path), layout, dtype, timeout=60)
    assert proc.returncode != -signal.SIGBUS, (
        "SIGBUS: save() truncated a file a live model maps\n" + describe(proc)
    )
    assert proc.returncode == 0, describe(proc)
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r == {"same_after_own_save": True, "same_after_other_save": True, "folder_is_other": True}, r


SAVE_WITHOUT_FLAG = (
    SCRIPT_PRELUDE
    + r"""
# Sentence Transformers folders are replaced without overwrite=True; this is the call the issue's users make.
live = StaticModel.from_pretrained(folder)
before = live.encode(TEXTS)
for seed in range(3):
    tiny_model(dim=16, seed=seed).save(folder)
    assert np.array_equal(live.encode(TEXTS), before)
print(json.dumps({"ok": True}))
"""
)


def test_repeated_saves_over_a_mapped_static_folder(tmp_path):
    proc = run_python(SAVE_WITHOUT_FLAG, str(tmp_path), "st", "float32", timeout=60)
    assert proc.returncode != -signal.SIGBUS, (
        "SIGBUS: save() truncated a file a live model maps\n" + describe(proc)
    )
    assert proc.returncode == 0, describe(proc)


MMAP_VALUES = (
    SCRIPT_PRELUDE
    + r"""
out = {}
for value in ("yes", 1, None, 0):
    try:
        StaticModel.from_pretrained(folder, mmap=value)
        out[repr(value)] = "accepted"
    except TypeError:
        out[repr(value)] = "TypeError"
    except Exception as e:
        out[repr(value)] = type(e).__name__
a = StaticModel.from_pretrained(folder, mmap=True).encode(TEXTS)
b = StaticModel.from_pretrained(folder, mmap=False).encode(TEXTS)
out["equal"] = bool(np.array_equal(a, b))
print(json.dumps(out))
"""
)


def test_mmap_true_and_false_give_the_same_model(tmp_path):
    proc = run_python(MMAP_VALUES, str(tmp_path), "st", "float32", timeout=60)
    assert proc.returncode == 0, describe(proc)
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["equal"] is True
    # mmap is a flag: a string is never silently taken as True.
    assert r["'yes'"] in ("TypeError", "InvalidInputError"), r
