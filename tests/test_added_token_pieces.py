"""Texts that hold added tokens run the native pipelines around them: the crate cuts the raw text at its
``normalized: false`` added tokens, and each piece between goes through staticemb's own WordPiece, Unigram or
byte-level BPE. The ids must be the ``tokenizers`` library's for every way a user adds tokens (special or not,
``single_word``, ``lstrip``, ``rstrip``, normalized ones beside them) on the three real tokenizers, over real text
cut and joined at random around the tokens; and a long text holding one must no longer cost the crate's whole
pipeline in memory."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from _hostile import run_python
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from staticemb import StaticModel
from tokenizers import AddedToken, Tokenizer

FLAGS = list(itertools.product([False, True], repeat=3))  # single_word, lstrip, rstrip
SPACES = ["", " ", "  ", "\n", "\t", " \u3000", "\xa0"]


def _with_added(path) -> Tokenizer:
    """The tokenizer with one raw added token per flag combination (half of them special), a normalized one
    (matched on the normalized text, which keeps the whole text on the crate) and one that is a word's prefix."""
    tok = Tokenizer.from_file(str(path))
    tok.no_padding()
    tok.no_truncation()
    for i, (single, left, right) in enumerate(FLAGS):
        token = AddedToken(f"<t{i}>", single_word=single, lstrip=left, rstrip=right, normalized=False)
        (tok.add_special_tokens if i % 2 else tok.add_tokens)([token])
    tok.add_tokens([AddedToken("Zebra Crossing", normalized=True), AddedToken("pre", single_word=True,
                                                                              normalized=False)])
    return tok


@pytest.fixture(scope="module", params=["wordpiece", "unigram", "bytelevel-bpe"])
def pair(request, bert_tokenizer_path, xlmr_tokenizer_path, bytelevel_bpe_path):
    path = {"wordpiece": bert_tokenizer_path, "unigram": xlmr_tokenizer_path,
            "bytelevel-bpe": bytelevel_bpe_path}[request.param]
    tok = _with_added(path)
    rows = max(tok.get_vocab(with_added_tokens=True).values()) + 1
    model = StaticModel(tok, np.zeros((rows, 4), dtype=np.float32))
    assert model.tokenizer_backend == f"native-{request.param}"
    return model, tok


def _same_ids(model, tok, texts):
    ids, offsets = model.tokenize(texts)
    bounds = list(offsets) + [len(ids)]
    want = tok.encode_batch(texts, add_special_tokens=False)
    for i, text in enumerate(texts):
        got = list(ids[bounds[i]:bounds[i + 1]])
        assert got == want[i].ids, (text, got, want[i].ids)


def _added_contents(tok) -> list[str]:
    return [t.content for t in tok.get_added_tokens_decoder().values()]


def test_real_text_around_every_added_token(pair, real_texts):
    model, tok = pair
    contents = _added_contents(tok)
    rng = np.random.default_rng(3)
    texts = []
    for sentence in real_texts[:600]:
        words = sentence.split(" ")
        for _ in range(2):
            at = int(rng.integers(0, len(words) + 1))
            token = contents[int(rng.integers(len(contents)))]
            left, right = (SPACES[int(rng.integers(len(SPACES)))] for _ in range(2))
            words = words[:at] + [left + token + right] + words[at:]
        texts.append(" ".join(words))
    texts += [c for c in contents] + [c + c for c in contents] + ["pre preface pre-fix", "a<t3>b<t4>c"]
    _same_ids(model, tok, texts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_joins(pair, data):
    model, tok = pair
    pieces = _added_contents(tok) + SPACES + ["word", "Über", "日本語", "e\u0301", "!", "😀", "x1", "ZEBRA crossing",
                                               "prefix", "'s", "▁", "Ġ"]
    text = "".join(data.draw(st.lists(st.sampled_from(pieces), max_size=12)))
    _same_ids(model, tok, [text])


def test_a_cut_the_crate_panics_on_is_a_decline(bert_tokenizer_path):
    """The crate's matcher, run without the normalizer, panics on this text (normalized lstrip/rstrip tokens
    around a raw one); its own pipeline tokenizes it, and so must staticemb."""
    tok = Tokenizer.from_file(str(bert_tokenizer_path))
    tok.no_truncation()
    tok.no_padding()
    tok.add_tokens([AddedToken("  ", normalized=True, single_word=True, lstrip=True, rstrip=True),
                    AddedToken("\xa0", normalized=True, single_word=True, lstrip=True)])
    model = StaticModel(tok, np.zeros((max(tok.get_vocab(with_added_tokens=True).values()) + 1, 4), np.float32))
    assert model.tokenizer_backend == "native-wordpiece"
    _same_ids(model, tok, ["[MASK]   \xa0", "[MASK] a \xa0 [SEP]", "   \xa0"])


def test_a_long_text_holding_an_added_token_stays_small(bert_tokenizer_path):
    """4 MB of prose with a [SEP] every 2,500 characters: the crate's whole pipeline needed about 430 MB more on
    it; cut at the tokens and run natively it needs the cut's alignments (about 40 bytes per byte: 170 MB)."""
    code = f"""
import resource, numpy as np
from tokenizers import Tokenizer
from staticemb import StaticModel
tok = Tokenizer.from_file({str(bert_tokenizer_path)!r})
tok.no_truncation()
model = StaticModel(tok, np.zeros((tok.get_vocab_size(), 4), np.float32))
text = ("the quick brown fox jumps over the lazy dog, again and again. " * 40 + "[SEP] ") * 1600
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
ids, _ = model.tokenize([text])
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
assert list(ids) == tok.encode(text, add_special_tokens=False).ids
print(round(grown))
"""
    done = run_python(code, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    grown = json.loads(done.stdout.strip().splitlines()[-1])
    assert grown < 300, f"tokenizing 4 MB grew the peak memory by {grown} MB"
