"""A generated corpus of hostile model folders (issue 8, acceptance: "a hostile-file corpus test").

Three valid folders — a Sentence Transformers static folder (float32, with Normalize), the same as int8 with
row scales, and a model2vec-layout folder (float16 table, ``mapping`` and ``weights``) — are mutated
systematically: ``model.safetensors`` truncated at many offsets, extended, its header bytes overwritten one by
one, its header length and header values replaced with wrong types and absurd numbers, tensors dropped,
renamed or aliased, every file deleted, every JSON file replaced by garbage / empty / deeply nested / UTF-16 /
wrong-type JSON, ``tokenizer.json`` fields corrupted, ``modules.json`` and configs rewritten, files replaced by
dangling symlinks, directories, FIFOs and symlink loops.

For each case ``from_pretrained`` must either give a model that encodes without error, or raise
``ModelFormatError`` (whose message names a file), ``FileNotFoundError`` or ``TokenizerError``: never another
exception type, never a crash, never a hang. The whole corpus runs in a child process (restarted after the
case that killed it) so a segfault or an abort is a failed case, not a dead test session. The cases are
generated in ``_hostile.corpus_cases``.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import defaultdict

import pytest
from _hostile import ALLOWED_ERRORS, CORPUS_BASES, CORPUS_FAMILIES, popen_python

RUNNER = """
import sys
from _hostile import corpus_main
corpus_main(sys.argv[1], sys.argv[2], sys.argv[3])
"""

# A file name in the message: "model.safetensors", "tokenizer.json", "modules.json", "config.json", ...
NAMES_A_FILE = re.compile(r"[\w.-]+\.(json|safetensors)\b")
CASE_TIMEOUT = 20  # seconds without progress before the running case is declared hung
TOTAL_TIMEOUT = 300


def _read(results_path):
    lines = []
    if results_path.exists():
        for line in results_path.read_text().splitlines():
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a crash
                pass
    return lines


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Run the corpus (resuming after a crash or a hang); ``{(base, family): [outcome, ...]}``."""
    import time

    work = tmp_path_factory.mktemp("hostile")
    results_path = work / "results.jsonl"
    start, deadline = 0, time.monotonic() + TOTAL_TIMEOUT
    while time.monotonic() < deadline:
        proc = popen_python(
            RUNNER,
            str(work),
            str(results_path),
            str(start),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        last_size, last_change = -1, time.monotonic()
        while proc.poll() is None:
            size = results_path.stat().st_size if results_path.exists() else 0
            if size != last_size:
                last_size, last_change = size, time.monotonic()
            elif time.monotonic() - last_change > CASE_TIMEOUT or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                break
            time.sleep(0.05)
        stderr = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
        lines = _read(results_path)
        if lines and "done" in lines[-1]:
            break
        begun = [r for r in lines if "begin" in r]
        ended = {r["end"] for r in lines if "end" in r}
        unfinished = [r for r in begun if r["begin"] not in ended]
        if not unfinished:
            raise AssertionError(f"the corpus runner died before its first case: {proc.returncode}\n{stderr}")
        case = unfinished[-1]
        kind = "hang" if proc.returncode in (-9,) else f"crash (return code {proc.returncode})"
        with open(results_path, "a") as f:
            f.write(
                "\n"
                + json.dumps(
                    {
                        "end": case["begin"],
                        "base": case["base"],
                        "family": case["family"],
                        "case": case["case"],
                        "kind": kind,
                        "message": stderr[-500:],
                    }
                )
                + "\n"
            )
        start = case["begin"] + 1
    else:
        raise AssertionError(f"the corpus did not finish in {TOTAL_TIMEOUT} s")

    by_family: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in _read(results_path):
        if "end" in r:
            by_family[(r["base"], r["family"])].append(r)
    return by_family


def _problem(r: dict) -> str | None:
    kind = r["kind"]
    if kind in ("ok", "not-applicable"):
        return None
    mro = r.get("mro", [])
    if not any(name in mro for name in ALLOWED_ERRORS):
        return f"{kind}: {r.get('message', '')[:300]}"
    if "ModelFormatError" in mro and not NAMES_A_FILE.search(r.get("message", "")):
        return f"ModelFormatError that names no file: {r['message'][:300]}"
    return None


@pytest.mark.parametrize("family", CORPUS_FAMILIES)
@pytest.mark.parametrize("base", CORPUS_BASES)
def test_hostile_files(corpus, base, family):
    outcomes = corpus[(base, family)]
    assert outcomes, f"no cases ran for {base}/{family}"
    applicable = [r for r in outcomes if r["kind"] != "not-applicable"]
    assert applicable, f"no mutation of {base}/{family} could be applied: {outcomes[0].get('message')}"
    problems = [(r["case"], p) for r in outcomes if (p := _problem(r))]
    assert not problems, f"{len(problems)} of {len(outcomes)} {base}/{family} cases: " + "\n".join(
        f"  {case}: {p}" for case, p in problems[:15]
    )


def test_the_corpus_is_large_and_mostly_refused(corpus):
    """A sanity check of the generator: hundreds of cases, most of them refused (it is a hostile corpus)."""
    everything = [r for rs in corpus.values() for r in rs]
    assert len(everything) > 500, len(everything)
    refused = [r for r in everything if r["kind"] not in ("ok", "not-applicable")]
    assert len(refused) > len(everything) // 2, (len(refused), len(everything))
