"""Configurations at the edge of what the native tokenizers support: each one must give exactly the ids of
the ``tokenizers`` crate (``add_special_tokens=False``) or be left to the crate, and a file the crate refuses
is refused. Light tier: the small WordPiece fixture and Unigram files written here.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from staticemb import InvalidInputError, ModelFormatError, StaticModel, TokenizerError
from tokenizers import Tokenizer

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "tokenizer.json"
TEXTS = ["hello world", "Hello World ok", "a\x00b", "a\x01b", "", " ", "vocabulary words", "naïve café"]


def _wordpiece() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def _unigram(normalizer: dict | None = None) -> dict:
    vocab = [["<unk>", 0.0]] + [[c, -1.0] for c in "abcdehlorwkX▁"] + [["▁hello", -0.5], ["▁world", -0.6], ["ab", -0.7]]
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": normalizer,
            "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
            "post_processor": None, "decoder": None,
            "model": {"type": "Unigram", "unk_id": 0, "vocab": vocab, "byte_fallback": False}}


def _added(i: int, content: str, normalized: bool = True) -> dict:
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": normalized, "special": False}


def _models(spec: dict) -> tuple[StaticModel, Tokenizer]:
    text = json.dumps(spec)
    reference = Tokenizer.from_str(text)
    rows = max(reference.get_vocab(with_added_tokens=True).values()) + 1
    return StaticModel(text, np.zeros((rows, 2), np.float32)), reference


def _assert_same_ids(model: StaticModel, reference: Tokenizer, texts: list[str]) -> None:
    """The reference's ids for each text; where the reference panics (the crate can), a TokenizerError."""
    for text in texts:
        try:
            want = reference.encode(text, add_special_tokens=False).ids
        except BaseException:  # noqa: BLE001 - pyo3's PanicException derives from BaseException
            with pytest.raises(TokenizerError):
                model.tokenize([text])
            continue
        assert model.tokenize([text])[0].tolist() == want, repr(text)


@pytest.mark.parametrize("content", ["\x00", "\u0301"])  # deleted by clean_text / stripped with the accents
def test_wordpiece_added_token_that_normalizes_to_nothing_goes_to_the_crate(content):
    # The crate then matches an empty pattern everywhere (every character its own piece); the native pipeline
    # skipped the token and gave the usual pieces.
    spec = _wordpiece()
    spec["added_tokens"].append(_added(max(t["id"] for t in spec["added_tokens"]) + 1, content))
    model, reference = _models(spec)
    assert model.tokenizer_backend == "tokenizers"
    _assert_same_ids(model, reference, TEXTS)


def test_unigram_added_token_that_normalizes_to_nothing_goes_to_the_crate():
    spec = _unigram({"type": "Replace", "pattern": {"String": "\x01"}, "content": ""})
    spec["added_tokens"].append(_added(len(spec["model"]["vocab"]), "\x01"))
    model, reference = _models(spec)
    assert model.tokenizer_backend == "tokenizers"
    _assert_same_ids(model, reference, TEXTS)
    plain, _ = _models(_unigram({"type": "Replace", "pattern": {"String": "\x01"}, "content": ""}))
    assert plain.tokenizer_backend == "native-unigram"  # without that token the file stays native


def test_unigram_replace_of_an_empty_string_goes_to_the_crate():
    # The crate inserts the replacement between every two characters; the native step copied the text.
    model, reference = _models(_unigram({"type": "Replace", "pattern": {"String": ""}, "content": "X"}))
    assert model.tokenizer_backend == "tokenizers"
    _assert_same_ids(model, reference, ["abc", "ab ab", "hello world"])


def test_wordpiece_word_longer_than_max_input_chars_is_unknown_even_when_it_is_a_piece():
    spec = _wordpiece()
    longest = max((k for k in spec["model"]["vocab"] if k.isalpha()), key=len)
    spec["model"]["max_input_chars_per_word"] = len(longest) - 1
    model, reference = _models(spec)
    assert model.tokenizer_backend == "native-wordpiece"
    _assert_same_ids(model, reference, [longest, f"{longest} {longest}", longest + "s", longest[:-1]])
    assert model.tokenize([longest])[0].tolist() == [spec["model"]["vocab"][spec["model"]["unk_token"]]]


@pytest.mark.parametrize("deleted", ["\x00", "\x01", "\x7f", "\x00\x01"])
def test_marks_meet_across_a_deleted_ascii_character(deleted):
    # clean_text deletes the control character, then NFD's canonical reordering sorts the marks that meet
    # (U+1D165 has combining class 216, U+1D16D 226); the native pipeline treated the byte as a boundary.
    spec = _wordpiece()
    marks = ["\U0001d16d", "\U0001d165", "\u302e", "\u1b44"]
    for mark in marks:
        for piece in (mark, "##" + mark):
            spec["model"]["vocab"].setdefault(piece, len(spec["model"]["vocab"]))
    model, reference = _models(spec)
    assert model.tokenizer_backend == "native-wordpiece"
    texts = [f"x\U0001d16d{deleted}\U0001d165", f"x\u302e{deleted}\u1b44", f"\U0001d16d{deleted}\U0001d165 word",
             f"x\U0001d16d{deleted}", f"{deleted}\U0001d165", f"x\U0001d16d{deleted}a\U0001d165",
             f"x\U0001d16d{deleted}{deleted}\U0001d165{deleted}"]
    _assert_same_ids(model, reference, texts)


def _refused_variants() -> dict[str, dict]:
    good = _unigram()
    good["added_tokens"] = [{**_added(0, "<unk>", normalized=False), "special": True}]
    out = {}
    for name, change in {
        "version": lambda v: v.update(version="7.0"),
        "post_processor": lambda v: v.update(post_processor={"type": "NoSuchProcessor"}),
        "decoder": lambda v: v.update(decoder={"type": "NoSuchDecoder"}),
        "padding": lambda v: v.update(padding={"strategy": "nonsense"}),
        "truncation": lambda v: v.update(truncation={"max_length": 3, "direction": "Sideways"}),
        "added-token": lambda v: v["added_tokens"][0].pop("special"),
    }.items():
        variant = copy.deepcopy(good)
        change(variant)
        out[name] = variant
    return out


@pytest.mark.parametrize("name", list(_refused_variants()))
def test_a_unigram_file_the_crate_refuses_is_refused(name):
    # The native Unigram read only the parts it uses, so it loaded these and failed later, on a text holding an
    # added token.
    text = json.dumps(_refused_variants()[name])
    with pytest.raises(Exception):  # noqa: B017 - the reference's own error type
        Tokenizer.from_str(text)
    with pytest.raises(ModelFormatError, match="tokenizer"):
        StaticModel(text, np.zeros((20, 2), np.float32))


@pytest.mark.parametrize(("pattern", "content", "native"), [
    ({"String": "aa"}, "a", False),  # a run of characters replaced: its result no longer starts at offset 0
    ({"String": "ab"}, "kb", False),
    ({"Regex": " {2,}"}, "X", False),
    ({"Regex": " {2,}"}, " ", True),  # collapsed to a space or the replacement: nothing is prepended either way
    ({"Regex": " {2,}"}, "▁", True),
    ({"String": "a"}, "kk", True),  # one character replaced keeps its offset, whatever it becomes
])
def test_unigram_first_scheme_after_a_replace_at_the_start(pattern, content, native):
    # With prepend_scheme "first" the crate prepends "▁" only where the normalized text starts at original offset
    # 0; a multi-character match replaced at the start moves that, and the native pipeline prepended anyway.
    spec = _unigram({"type": "Replace", "pattern": pattern, "content": content})
    spec["pre_tokenizer"]["prepend_scheme"] = "first"
    spec["model"]["vocab"] += [["▁a", -0.5], ["▁k", -0.5], ["▁X", -0.5], ["kb", -0.6]]
    model, reference = _models(spec)
    assert model.tokenizer_backend == ("native-unigram" if native else "tokenizers")
    _assert_same_ids(model, reference, [*TEXTS, "aab", "aa b", "baa", "ab ab", "  a", "a  b", "   ", "a", "ka a"])


@pytest.mark.parametrize("kind", ["wordpiece", "unigram"])
def test_a_truncation_the_crate_cannot_apply_to_one_text_is_refused(kind):
    # The crate fails on every text longer than max_length with these (OnlySecond: "Second sequence not provided";
    # a stride of max_length or more panics), as Sentence Transformers does; staticemb cut at max_length instead.
    def spec(**truncation) -> dict:
        s = _wordpiece() if kind == "wordpiece" else _unigram()
        s["truncation"] = {"direction": "Right", "max_length": 3, "strategy": "LongestFirst", "stride": 0,
                           **truncation}
        return s

    long = "hello world hello world hello"
    for bad, message in (({"strategy": "OnlySecond"}, "OnlySecond"), ({"stride": 3}, "stride 3 is not below"),
                         ({"stride": 7}, "stride 7")):
        reference = Tokenizer.from_str(json.dumps(spec(**bad)))
        with pytest.raises(BaseException):  # noqa: B017 - an Exception or pyo3's PanicException
            reference.encode(long, add_special_tokens=False)
        with pytest.raises(ModelFormatError, match=message):
            StaticModel(json.dumps(spec(**bad)), np.ones((64, 2), np.float32))
    # What the crate applies to one text still loads (a folder's loader then cuts at max_length, as the crate does).
    for good in ({"stride": 2}, {"strategy": "OnlyFirst"}):
        model, reference = _models(spec(**good))
        cut = reference.encode(long, add_special_tokens=False).ids
        assert len(cut) == 3 and model.tokenize([long])[0][:3].tolist() == cut  # tokenize itself never cuts


def test_a_tokenizer_that_splits_special_tokens_is_refused():
    # encode_special_tokens is a runtime setting that tokenizer.json does not carry: the model matched
    # "[CLS]" as one special token where the tokenizer given splits it into pieces.
    reference = Tokenizer.from_file(str(FIXTURE))
    reference.encode_special_tokens = True
    with pytest.raises(InvalidInputError, match="encode_special_tokens=True"):
        StaticModel(reference, np.zeros((reference.get_vocab_size(), 2), np.float32))
    reference.encode_special_tokens = False
    StaticModel(reference, np.zeros((reference.get_vocab_size(), 2), np.float32))


def test_unigram_added_token_ids_are_the_crates_not_the_declared_ones():
    # The crate gives an added token its piece's id, or the next id after the vocabulary, whatever id the file
    # declares; the native Unigram sized the table by the declared ids and refused a table the crate fits.
    spec = _unigram()
    n = len(spec["model"]["vocab"])
    spec["added_tokens"] = [_added(n + 5, "a"), _added(1000, "[X]", normalized=False), _added(7, "[Y]", False)]
    model, reference = _models(spec)
    assert reference.get_vocab_size(with_added_tokens=True) == n + 2
    assert model.vocab_size == n + 2  # was 1001 rows required
    assert model.tokenizer_backend == "native-unigram"
    _assert_same_ids(model, reference, [*TEXTS, "a [X] b [Y]", "[Y][X]", "ab"])


def _template(single: str) -> dict:
    from tokenizers import processors

    processor = processors.TemplateProcessing(single=single, pair="$A $B", special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
    return json.loads(processor.__getstate__())


@pytest.mark.parametrize("kind", ["wordpiece", "unigram"])
def test_a_post_processor_that_changes_one_texts_tokens_is_refused(kind):
    # The post-processor is skipped (no special tokens), but a one-text template that repeats $A or leaves it
    # out repeats or drops the text in the tokenizers library even without special tokens, and $B panics
    # there: staticemb gave the text's tokens once, a vector no reference gives.
    def spec(processor: dict | None) -> dict:
        s = _wordpiece() if kind == "wordpiece" else _unigram()
        s["post_processor"] = processor
        return s

    text = "hello world hello"
    for single, reference_ids in (("$A $A", "twice"), ("[CLS]", "none"), ("$B", "panics"), ("$A [SEP] $A:1", "twice")):
        reference = Tokenizer.from_str(json.dumps(spec(_template(single))))
        try:
            ids = reference.encode(text, add_special_tokens=False).ids
            once = Tokenizer.from_str(json.dumps(spec(None))).encode(text, add_special_tokens=False).ids
            assert ids == (once * 2 if reference_ids == "twice" else []), single
        except BaseException:  # noqa: BLE001 - pyo3's PanicException derives from BaseException
            assert reference_ids == "panics"
        with pytest.raises(ModelFormatError, match=r"post_processor: .* \(\$A\) exactly once"):
            StaticModel(json.dumps(spec(_template(single))), np.zeros((64, 2), np.float32))
    # The usual processors add special tokens only, and load with the reference's ids.
    bert = _template("[CLS] $A [SEP]")
    roberta = {"type": "RobertaProcessing", "sep": ["[SEP]", 2], "cls": ["[CLS]", 1], "trim_offsets": True,
               "add_prefix_space": True}
    byte_level = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    for processor in (bert, roberta, byte_level, {"type": "Sequence", "processors": [byte_level, bert]}):
        model, reference = _models(spec(processor))
        _assert_same_ids(model, reference, [*TEXTS, text])
