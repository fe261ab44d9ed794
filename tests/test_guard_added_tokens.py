"""Issue 8, point 1: added tokens are matched exactly as the ``tokenizers`` crate matches them.

A BERT-style tokenizer runs on staticemb's native WordPiece; a text that holds an added token must still get
exactly the ids of ``tokenizers`` (``add_special_tokens=False``): normalized added tokens are matched on the
normalized text *with their content normalized too* (``"HELLO"`` matches ``hello``), ``single_word``,
``lstrip`` and ``rstrip`` apply. Every configuration below is checked against the ``tokenizers`` library on
texts holding the token in many cases, positions and surroundings, and the vectors must be the pooled rows
of the reference ids.
"""

from __future__ import annotations

import itertools
import unicodedata

import numpy as np
import pytest
from _hostile import bert_tokenizer, rows_for, table
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from staticemb import StaticModel
from tokenizers import AddedToken

CONTENTS = {
    "upper": "HELLO",  # matched on the lowercased text only when its content is normalized too
    "lower": "hello",
    "title": "Hello",
    "upper-accent": "CAFÉ",  # normalized to "cafe"
    "lower-accent": "café",
    "diaeresis": "naïve",
    "hyphen": "foo-bar",  # punctuation inside
    "brackets": "[X]",  # like [MASK]
    "two-words": "new york",
    "two-words-title": "New York",
    "spaces-around": " ok ",
    "word-prefix": "ca",  # a prefix of words in the vocabulary
    "cjk": "日本",  # the normalizer puts spaces around each character
}

FLAGS = list(itertools.product([True, False], repeat=5))  # normalized, special, single_word, lstrip, rstrip


def _flag_id(flags) -> str:
    names = ["norm", "special", "single", "lstrip", "rstrip"]
    return "-".join(n for n, f in zip(names, flags, strict=True) if f) or "plain"


def _strip_accents(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")


def variants(content: str) -> list[str]:
    core = content.strip()
    out = {
        content,
        core,
        core.lower(),
        core.upper(),
        core.title(),
        _strip_accents(core),
        _strip_accents(core).upper(),
    }
    out.add(core.swapcase())
    return sorted(out)


def texts_for(content: str) -> list[str]:
    texts = ["", "nothing here", "hello world", "the cafe and the new york data"]
    for v in variants(content):
        texts += [
            v,
            f"say {v} now",
            f"{v}{v}",
            f"x{v}y",
            f"  {v}  ",
            f"{v}!",
            f"({v})",
            f"{v} {v}",
            f"pre{v}",
            f"{v}post",
            f"the {v}, and",
            f"\t{v}\n",
            f"{v}-{v}",
            f"a  {v}\u00a0b",
            f"ÉTÉ {v} été",
        ]
    return texts


def build(content: str, flags) -> tuple[object, StaticModel, np.ndarray]:
    normalized, special, single_word, lstrip, rstrip = flags
    tok = bert_tokenizer()
    token = AddedToken(
        content, single_word=single_word, lstrip=lstrip, rstrip=rstrip, normalized=normalized, special=special
    )
    if special:
        tok.add_special_tokens([token])
    else:
        tok.add_tokens([token])
    emb = table(rows_for(tok), 8, seed=len(content))
    model = StaticModel(tok, emb)
    return tok, model, emb


def reference(tok, texts):
    return [tok.encode(t, add_special_tokens=False).ids for t in texts]


def assert_same_as_tokenizers(tok, model, emb, texts, label=""):
    ids, offsets = model.tokenize(texts)
    assert ids.dtype == np.uint32 and offsets.dtype == np.int64
    ends = list(offsets[1:]) + [len(ids)]
    ref = reference(tok, texts)
    bad = [
        (t, ids[offsets[i] : ends[i]].tolist(), r)
        for i, (t, r) in enumerate(zip(texts, ref, strict=True))
        if ids[offsets[i] : ends[i]].tolist() != r
    ]
    assert not bad, (
        f"{label}: {len(bad)} of {len(texts)} texts get other ids than tokenizers, e.g. "
        + "; ".join(f"{t!r}: staticemb {o} != tokenizers {r}" for t, o, r in bad[:4])
    )
    # The vectors are the mean of the reference ids' rows.
    got = model.encode(texts)
    flat = np.asarray([i for r in ref for i in r], dtype=np.int64)
    ref_offsets = np.cumsum([0] + [len(r) for r in ref[:-1]]).astype(np.int64)
    np.testing.assert_array_equal(got, model.embed_ids(flat, ref_offsets), err_msg=label)
    expected = np.stack([emb[r].mean(axis=0) if r else np.zeros(emb.shape[1], np.float32) for r in ref])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=label)


@pytest.mark.parametrize("flags", FLAGS, ids=_flag_id)
@pytest.mark.parametrize("content", list(CONTENTS.values()), ids=list(CONTENTS))
def test_added_token_configuration_matches_tokenizers(content, flags):
    tok, model, emb = build(content, flags)
    assert model.tokenizer_backend == "native-wordpiece"
    assert_same_as_tokenizers(tok, model, emb, texts_for(content), f"{content!r} {_flag_id(flags)}")


def test_normalized_upper_case_token_is_found_in_lower_case_text():
    """The case of the issue: ``add_tokens(["HELLO"])`` (normalized by default) and the text ``hello``."""
    tok = bert_tokenizer()
    tok.add_tokens(["HELLO"])
    hello = tok.token_to_id("HELLO")
    assert tok.encode("hello world", add_special_tokens=False).ids[0] == hello
    model = StaticModel(tok, table(rows_for(tok), 8))
    assert model.tokenizer_backend == "native-wordpiece"
    ids, _ = model.tokenize(["hello world", "Hello", "HELLO"])
    assert ids.tolist().count(hello) == 3, ids.tolist()


def test_several_added_tokens_at_once():
    tok = bert_tokenizer()
    tok.add_tokens(
        [
            AddedToken("HELLO", normalized=True),
            AddedToken("World", normalized=False, single_word=True),
            AddedToken("ÉTÉ", normalized=True, lstrip=True),
            AddedToken("<sep>", normalized=False, special=True, rstrip=True),
            AddedToken("Fast Text", normalized=True),
        ]
    )
    tok.add_special_tokens([AddedToken("<S>", normalized=True)])
    emb = table(rows_for(tok), 8, seed=7)
    model = StaticModel(tok, emb)
    assert model.tokenizer_backend == "native-wordpiece"
    texts = [
        "hello World worlds World! été <sep> fast text",
        "HELLO<sep>ÉTÉ  été   fast   text FAST TEXT",
        "<s> <S> <S><s>",
        "helloworld the World, the world",
        "nothing special",
    ]
    assert_same_as_tokenizers(tok, model, emb, texts)


# A handful of configurations, each tried on random texts made of pieces around the token.
HYPO_TOKENS = [
    AddedToken("HELLO", normalized=True),
    AddedToken("Café", normalized=True, single_word=True),
    AddedToken("new york", normalized=True, lstrip=True, rstrip=True),
    AddedToken("Foo", normalized=False, single_word=True, lstrip=True),
]
PIECES = [
    "hello",
    "HELLO",
    "Hello",
    "café",
    "CAFE",
    "Café",
    "new",
    "york",
    "New York",
    "foo",
    "Foo",
    "FOO",
    " ",
    "  ",
    "\t",
    "x",
    "é",
    "!",
    "-",
    ",",
    "日",
    "ab",
    "the",
]


@pytest.fixture(scope="module")
def hypo_models():
    out = []
    for token in HYPO_TOKENS:
        tok = bert_tokenizer()
        tok.add_tokens([token])
        emb = table(rows_for(tok), 8, seed=3)
        out.append((tok, StaticModel(tok, emb), emb))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.sampled_from(PIECES), max_size=12).map("".join), min_size=1, max_size=6))
def test_random_texts_around_added_tokens(hypo_models, texts):
    for tok, model, emb in hypo_models:
        assert_same_as_tokenizers(tok, model, emb, texts, repr(texts))


@pytest.mark.reference
def test_real_bert_tokenizer_with_added_tokens(bert_tokenizer_path):
    """bert-base-uncased's own tokenizer.json, with tokens added the way users add them."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(bert_tokenizer_path))
    tok.no_padding()
    tok.no_truncation()
    tok.add_tokens(
        ["HELLO", "Staticemb", AddedToken("Café Crème", normalized=True), AddedToken("QPS", normalized=False)]
    )
    tok.add_special_tokens([AddedToken("<DOC>", normalized=True), AddedToken("[Q]", single_word=True)])
    emb = table(rows_for(tok), 8, seed=11)
    model = StaticModel(tok, emb)
    assert model.tokenizer_backend == "native-wordpiece"
    texts = [
        "Hello there, hello THERE",
        "staticemb serves 10,000 QPS (qps) at the café crème",
        "<doc> first <DOC>second [Q] [q] x[Q]y",
        "CAFE CREME and Café   Crème",
        "[CLS] hello [SEP] [MASK]",
        "nothing added here at all",
    ]
    assert_same_as_tokenizers(tok, model, emb, texts)
