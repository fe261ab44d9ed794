"""Differential tests of staticemb's native byte-level BPE against Hugging Face tokenizers: a GPT-2-style
vocabulary trained on Debian's descriptions (``training.bytelevel_bpe``), as trained and in the variants real
models use (``add_prefix_space``, an NFC normalizer, ``ignore_merges``), on every language, generated text and
added tokens; configurations the native pipeline does not cover run the crate with the same ids.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from staticemb import StaticModel

from tests.test_native_unigram import EXTRA, _multilingual

pytestmark = [pytest.mark.reference, pytest.mark.corpus]


def _variant(path, name):
    spec = json.loads(path.read_text("utf-8"))
    if name == "prefix-space":
        spec["pre_tokenizer"]["add_prefix_space"] = True
    elif name == "nfc":
        spec["normalizer"] = {"type": "NFC"}
    elif name == "ignore-merges":
        spec["model"]["ignore_merges"] = True
    elif name == "added-tokens":
        spec["added_tokens"] = [
            {"id": 0, "content": "<|endoftext|>", "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True},
            {"id": 1, "content": "hello", "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": True, "special": False},
        ]
    return json.dumps(spec)


def assert_same_ids(model, tokenizer, texts):
    ids, offsets = model.tokenize(texts)
    ends = list(offsets[1:]) + [len(ids)]
    refs = tokenizer.encode_batch(texts, add_special_tokens=False)
    for i, (text, ref) in enumerate(zip(texts, refs, strict=True)):
        assert ids[offsets[i] : ends[i]].tolist() == ref.ids, f"text {i} {text[:200]!r}"


@pytest.fixture(scope="module", params=["as-trained", "prefix-space", "nfc", "ignore-merges", "added-tokens"])
def pair(request, bytelevel_bpe_path):
    from tokenizers import Tokenizer

    spec = _variant(bytelevel_bpe_path, request.param)
    tok = Tokenizer.from_str(spec)
    model = StaticModel(spec, np.zeros((tok.get_vocab_size(), 4), np.float32))
    return model, tok


def test_backend_is_native(pair):
    assert pair[0].tokenizer_backend == "native-bytelevel-bpe"


def test_same_ids_on_every_language(pair):
    model, tok = pair
    assert_same_ids(model, tok, _multilingual(per_lang=300) + EXTRA)


def test_same_ids_with_added_tokens_in_the_text(pair):
    model, tok = pair
    assert_same_ids(model, tok, ["<|endoftext|>x", "say hello world", "HELLO hello", "a<|endoftext|>"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_same_ids_on_any_text(pair, text):
    model, tok = pair
    assert_same_ids(model, tok, [text])


PIECES = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'", "'S", " ", "  ", "\t", "\n", "\r\n", "\u3000", "\xa0",
          "\x85", "\x1c", "word", "Über", "日本", "٣", "½", "①", "e\u0301", "!", "?!", "😀", "x1", "42", "-"]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(PIECES), max_size=20))
def test_same_ids_on_pattern_edges(pair, pieces):
    model, tok = pair
    assert_same_ids(model, tok, ["".join(pieces)])


def test_unsupported_configurations_run_the_crate(bytelevel_bpe_path):
    from tokenizers import Tokenizer

    spec = json.loads(bytelevel_bpe_path.read_text("utf-8"))
    spec["pre_tokenizer"]["use_regex"] = False
    text = json.dumps(spec)
    tok = Tokenizer.from_str(text)
    model = StaticModel(text, np.zeros((tok.get_vocab_size(), 4), np.float32))
    assert model.tokenizer_backend == "tokenizers"
    assert_same_ids(model, tok, _multilingual(per_lang=5))
