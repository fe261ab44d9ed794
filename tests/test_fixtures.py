"""The light tier's parity check: the tiny model folders of ``tests/fixtures`` (written by Sentence
Transformers and model2vec themselves, see ``tests/fixtures/generate.py``) give the vectors those libraries
gave for them.

Needs neither torch nor the reference libraries: the expected vectors are stored beside each folder. This
module must not import torch, sentence_transformers or model2vec (``test_no_heavy_imports`` checks that
``staticemb`` does not either).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file
from staticemb import StaticModel
from tokenizers import Tokenizer

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEXTS: list[str] = json.loads((FIXTURES / "texts.json").read_text(encoding="utf-8"))
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))
FOLDERS = list(MANIFEST["folders"])

# |ours - reference| <= atol + rtol * |reference|, per folder. The references pool the same stored values,
# so the differences are float32 rounding (the order of the sums; measured: at most 6e-8 on these unit
# vectors, 1.2e-7 relative on the int8 folder's raw means of up to 260). For a float16 table model2vec
# returns float16 vectors, rounded twice (the mean, then the normalized mean, whose norm is taken of the
# rounded mean): each rounding is within 2**-11 relative, so 3 * 2**-11 in all (measured: 1.73 * 2**-11);
# staticemb rounds once, to float32.
TOLERANCE = {
    "st-tiny": {"rtol": 0.0, "atol": 1e-6},
    "m2v-f32": {"rtol": 0.0, "atol": 1e-6},
    "m2v-f16": {"rtol": 3 * 2.0**-11, "atol": 1e-6},
    "m2v-int8": {"rtol": 1e-6, "atol": 1e-6},
}


def _expected(name: str) -> np.ndarray:
    return load_file(str(FIXTURES / name / "expected.safetensors"))["embeddings"]


@pytest.fixture(scope="module", params=FOLDERS)
def fixture(request) -> tuple[str, StaticModel]:
    name = request.param
    return name, StaticModel.from_pretrained(FIXTURES / name)


def test_the_fixtures_are_complete():
    assert set(FOLDERS) == set(TOLERANCE)
    assert sum(p.stat().st_size for p in FIXTURES.rglob("*") if p.is_file()) < 1_000_000
    assert "" in TEXTS and len(TEXTS) >= 20
    for name in FOLDERS:
        assert _expected(name).shape == (len(TEXTS), MANIFEST["width"]), name
    kinds = {
        (f["dtype"], f.get("mapping", False), f.get("weights", False)) for f in MANIFEST["folders"].values()
    }
    assert {"float32", "float16", "int8"} <= {k[0] for k in kinds} and (("int8", True, True) in kinds)


def test_loads_as_written(fixture):
    name, model = fixture
    info = MANIFEST["folders"][name]
    assert model.dtype == info["dtype"]
    assert model.normalize == info["normalize"]
    assert model.dim == model.full_dim == MANIFEST["width"]
    assert model.tokenizer_backend == "native-wordpiece"


def test_matches_the_reference(fixture):
    name, model = fixture
    expected = _expected(name)
    got = model.encode(TEXTS, max_length=None)
    assert got.dtype == np.float32 and got.shape == expected.shape
    tol = TOLERANCE[name]
    wrong = [
        f"texts[{i}] {TEXTS[i][:60]!r}: max |diff| {np.abs(got[i] - expected[i]).max():.3g}"
        for i in range(len(TEXTS))
        if not np.allclose(got[i], expected[i], **tol)
    ]
    assert not wrong, f"{name} ({MANIFEST['folders'][name]['reference']}):\n" + "\n".join(wrong)


def test_token_ids_match_tokenizers(fixture):
    """The native WordPiece gives the ``tokenizers`` crate's ids on every fixture text (added tokens too)."""
    name, model = fixture
    reference = Tokenizer.from_file(str(next((FIXTURES / name).rglob("tokenizer.json"))))
    reference.no_truncation()  # model2vec saves max_length=512 truncation; a static model pools every token
    reference.no_padding()
    ids, offsets = model.tokenize(TEXTS)
    ends = [*offsets[1:].tolist(), len(ids)]
    for i, encoding in enumerate(reference.encode_batch(TEXTS, add_special_tokens=False)):
        assert ids[offsets[i] : ends[i]].tolist() == encoding.ids, f"texts[{i}] {TEXTS[i][:60]!r}"


def test_embed_ids_and_options_agree_with_encode(fixture):
    """Pre-tokenized input (mapping, weights and the unknown-token drop applied to raw ids), batching and
    threads give the vectors of one plain ``encode`` call."""
    _, model = fixture
    full = model.encode(TEXTS, max_length=None)
    ids, offsets = model.tokenize(TEXTS)
    np.testing.assert_allclose(model.embed_ids(ids, offsets), full, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(model.encode(TEXTS, batch_size=3, num_threads=2, max_length=None), full)
    np.testing.assert_array_equal(model.encode(TEXTS, num_threads=1, max_length=None), full)


def test_matryoshka_width_of_an_unnormalized_model():
    """Without normalization, a narrower vector is the first columns of the full one."""
    name = next(n for n, f in MANIFEST["folders"].items() if not f["normalize"])
    model = StaticModel.from_pretrained(FIXTURES / name)
    np.testing.assert_allclose(model.encode(TEXTS, dim=5, max_length=None), _expected(name)[:, :5], **TOLERANCE[name])


def test_sentence_transformers_folder_round_trip(tmp_path):
    model = StaticModel.from_pretrained(FIXTURES / "st-tiny")
    again = StaticModel.from_pretrained(model.save(tmp_path / "copy"))
    np.testing.assert_array_equal(again.encode(TEXTS, max_length=None), model.encode(TEXTS, max_length=None))


def test_no_heavy_imports():
    """Loading and encoding a model imports neither torch nor a reference library."""
    code = (
        "import sys, staticemb\n"
        f"staticemb.StaticModel.from_pretrained({str(FIXTURES / 'st-tiny')!r}).encode(['a text'])\n"
        "heavy = {'torch', 'sentence_transformers', 'model2vec', 'transformers'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
