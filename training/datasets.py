"""Training pairs, unlabeled texts and evaluation tasks built from the real corpora of :mod:`staticemb.corpora`,
with fixed held-out splits that training never sees.

    python -m training.datasets [--refresh]

builds every file below (each cached; ``--refresh`` rebuilds them, not the corpora under them) and prints their
sizes. Everything is deterministic: no randomness but orders and subsamples keyed by SHA-1 of fixed strings.

Splits (:func:`split_of`): every underlying item has a key, and SHA-1 of the key puts it in ``test`` (10 %),
``dev`` (2 %) or ``train`` (the rest); one item has one split in every file built from it.

- Debian: ``debian:<Description-md5>``. The md5 is that of the English description, shared by its translations,
  so an English description held out of ``retrieval-debian`` is held out of every bitext pair set too.
- Wikipedia: ``wikipedia:<title>``. The summaries hold no interlanguage links, but many Level-4 vital articles
  keep the same title in English, French and Spanish (people, places, species, elements: 2,465 of the
  9,951 French articles and 1,276 of the 6,226 Spanish ones). Those are aligned by exact title, so one article
  lands in the same split in every language; the rest are keyed by their own title. A few identical titles
  name different things (Spanish "Francia" is France, English "Francia" the Frankish kingdom): a little noise
  in ``wiki-<lang>-en``, none in the splits.
- BBC news: ``bbc:<topic>/<file>``, with a larger share held out (test 20 %, dev 5 %: 429 test and 95 dev
  articles). The 133 articles that occur twice under different file names are kept once (the first).
- Code documentation (:func:`~staticemb.corpora.python_docstrings`, :func:`~staticemb.corpora.rust_doc_comments`,
  :func:`~staticemb.corpora.man_pages`): ``pydoc:<package>``, ``rustdoc:<crate>`` and ``manpage:<family>``, so a
  whole library (all the ``git-*`` pages) is held out, never one function of it (test 15 %, dev 5 % of the
  libraries).

No held-out text leaks: a training pair or unlabeled text in which either side equals any text of any ``dev``
or ``test`` item (Debian short/long descriptions in every language, Wikipedia titles, descriptions and
extracts in every language, BBC titles and bodies) is dropped, so an item shared by a train and a held-out
package (identical descriptions under two md5s, "transitional package") never trains.

Files under ``data_dir() / "training"`` (``$STATICEMB_DATA``, default ``~/.cache/staticemb``):

``pairs/<name>.jsonl`` (:data:`PAIR_SETS`), train split only, one ``{"anchor": str, "positive": str}`` a line,
without duplicate pairs, empty sides or anchor == positive:

- ``en-debian``: short description -> long description.
- ``en-wordnet``: lemma -> definition and usage example -> definition, subsampled (SHA-1 order) to
  :data:`WORDNET_PAIRS_CAP` so it does not swamp the rest. WordNet shares no key with the evaluation tasks, so
  every synset is eligible; the word-similarity sets are kept as a zero-shot probe and not filtered out.
- ``en-wikipedia``: description -> extract and title -> extract (English).
- ``en-bbc``: title -> body.
- ``en-pydoc``, ``en-rustdoc``, ``en-manpage``: a docstring's (doc comment's) summary -> its body; a manual
  page's NAME line -> its DESCRIPTION.
- ``bitext-<lang>`` for each of :data:`~staticemb.corpora.TRANSLATION_LANGS`: translated short -> English
  short and translated long -> English long, for the same md5.
- ``wiki-fr-en``, ``wiki-es-en``: extract -> English extract and description -> English description of the
  articles aligned by title.

``unlabeled/en.jsonl``: ``{"text": str}`` lines, English texts of the train split for teacher distillation:
Debian short and long descriptions, Wikipedia extracts and descriptions, BBC bodies and WordNet definitions in
the shares of :data:`UNLABELED_QUOTAS`, topped up to :data:`UNLABELED_CAP` texts, deduplicated, in SHA-1
order.

``tasks/<name>.json`` (:data:`TASKS`) from the test split, and ``tasks-dev/<name>.json`` (:data:`DEV_TASKS`)
from the dev split in the same formats, for evaluators during training:

- retrieval (``retrieval-debian`` short -> long, ``retrieval-wikipedia`` description -> extract,
  ``retrieval-bbc`` title -> body, ``retrieval-pydoc``, ``retrieval-rustdoc`` and ``retrieval-manpage``
  summary -> body, at most
  :data:`CODE_TASK_CAP` pairs and :data:`CODE_TASK_PACKAGE_CAP` of one library): ``{"type": "retrieval", "name", "queries": [str], "corpus": [str],
  "relevant": [[int, ...], ...]}``. Queries and documents are unique; ``relevant[i]`` lists the corpus indices
  of every document paired with query ``i`` (a description shared by several packages has them all).
- classification (``classification-bbc`` text = title + newline + body, label = topic;
  ``classification-wikipedia`` text = extract, label = topic, without the "Uncategorized" articles):
  ``{"type": "classification", "name", "train_texts", "train_labels", "test_texts", "test_labels"}``, the train
  side from the train split, the test side from the test (or dev) split; texts unique, none on both sides.
- bitext (``bitext-<lang>``, and test tasks for the languages never trained on,
  :data:`~staticemb.corpora.HELD_OUT_LANGS`, from every package): ``{"type": "bitext", "name", "lang",
  "source": [str], "target": [str]}``,
  ``source[i]`` the translation of the English ``target[i]``: one pair per package, the long descriptions when
  both have one, else the short ones; untranslated texts dropped, no source or target twice, at most
  :data:`BITEXT_TASK_CAP` pairs (SHA-1 subsample of the md5s).
- word similarity (``wordsim-simlex999``: 999 pairs, ``wordsim-wordsim353``: 353 pairs, from the test data of the
  installed ``gensim``): ``{"type": "wordsim", "name", "pairs": [[w1, w2, score], ...]}``. They have no split:
  they are written to ``tasks/`` only.

A missing source raises :class:`~staticemb.corpora.SourceMissingError` saying how to install it; :func:`build`
fails on the first one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from staticemb import corpora
from staticemb.corpora import (
    HELD_OUT_LANGS,
    TRANSLATION_LANGS,
    CodeDoc,
    NewsArticle,
    PackageDescription,
    SourceMissingError,
    WikipediaSummary,
    WordNetSynset,
    data_dir,
)

TEST_SHARE = 0.10
DEV_SHARE = 0.02
BBC_TEST_SHARE = 0.20
BBC_DEV_SHARE = 0.05
CODE_TEST_SHARE = 0.15
CODE_DEV_SHARE = 0.05
SPLITS = ("train", "dev", "test")

WORDNET_PAIRS_CAP = 60_000
BITEXT_TASK_CAP = 2_000
UNLABELED_CAP = 72_000
#: Pairs in a code-documentation retrieval task, and at most this many from one library (SHA-1 subsamples).
CODE_TASK_CAP = 2_000
CODE_TASK_PACKAGE_CAP = 200
#: Texts of each kind in ``unlabeled/en.jsonl`` (fewer where a pool is smaller); the rest up to
#: :data:`UNLABELED_CAP` comes from what the pools have left, in SHA-1 order.
UNLABELED_QUOTAS = {
    "debian-short": 12_000,
    "debian-long": 16_000,
    "wikipedia-extract": 9_000,
    "wikipedia-description": 4_000,
    "bbc-body": 2_000,
    "wordnet-definition": 17_000,
    "pydoc-body": 7_000,
    "rustdoc-body": 3_000,
    "manpage-body": 2_000,
}
#: Wikipedia languages aligned with English by title for ``wiki-<lang>-en``.
WIKI_PAIR_LANGS = ("fr", "es")
#: Wikipedia's catch-all topic, left out of ``classification-wikipedia``.
UNCATEGORIZED = "Uncategorized"

PAIR_SETS: tuple[str, ...] = (
    "en-debian",
    "en-wordnet",
    "en-wikipedia",
    "en-bbc",
    "en-pydoc",
    "en-rustdoc",
    "en-manpage",
    *(f"bitext-{lang}" for lang in TRANSLATION_LANGS),
    *(f"wiki-{lang}-en" for lang in WIKI_PAIR_LANGS),
)
WORDSIM_TASKS = ("wordsim-simlex999", "wordsim-wordsim353")
#: Tasks built from the dev split (``tasks-dev/``): every task but word similarity.
DEV_TASKS: tuple[str, ...] = (
    "retrieval-debian",
    "retrieval-wikipedia",
    "retrieval-bbc",
    "retrieval-pydoc",
    "retrieval-rustdoc",
    "retrieval-manpage",
    "classification-bbc",
    "classification-wikipedia",
    *(f"bitext-{lang}" for lang in TRANSLATION_LANGS),
)
#: Tasks built from the test split (``tasks/``); the languages never trained on have a test task only.
TASKS: tuple[str, ...] = DEV_TASKS + tuple(f"bitext-{lang}" for lang in HELD_OUT_LANGS) + WORDSIM_TASKS
UNLABELED = ("en",)

Pair = tuple[str, str]
Task = dict[str, Any]

#: Code-documentation sources: name -> reader.
CODE_SOURCES: dict[str, Callable[[], list[CodeDoc]]] = {
    "pydoc": corpora.python_docstrings,
    "rustdoc": corpora.rust_doc_comments,
    "manpage": corpora.man_pages,
}


# ---------------------------------------------------------------- splits


def split_of(key: str, *, test_share: float = TEST_SHARE, dev_share: float = DEV_SHARE) -> str:
    """``"test"``, ``"dev"`` or ``"train"`` for an item key, from SHA-1 of the key: the same key always gets
    the same split, a ``test_share`` of keys is test and a ``dev_share`` dev. Raising a share only moves train
    keys into held-out splits (test keys stay test)."""
    u = int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big") / 2.0**64
    if u < test_share:
        return "test"
    return "dev" if u < test_share + dev_share else "train"


def debian_split(md5: str) -> str:
    """The split of a Debian description (English or translated) by its English ``Description-md5``."""
    return split_of(f"debian:{md5}")


def wikipedia_split(title: str) -> str:
    """The split of a Wikipedia article, in any language, by its title."""
    return split_of(f"wikipedia:{title}")


def bbc_split(topic: str, name: str) -> str:
    """The split of a BBC article by topic and file name (test 20 %, dev 5 %)."""
    return split_of(f"bbc:{topic}/{name}", test_share=BBC_TEST_SHARE, dev_share=BBC_DEV_SHARE)


def code_split(source: str, package: str) -> str:
    """The split of a documented code item by its library: ``source`` one of :data:`CODE_SOURCES` (test 15 %, dev
    5 % of the libraries: there are a few hundred, of very different sizes)."""
    return split_of(f"{source}:{package}", test_share=CODE_TEST_SHARE, dev_share=CODE_DEV_SHARE)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _sha(seed: str, text: str) -> bytes:
    return hashlib.sha1(f"{seed}\x00{text}".encode()).digest()


def _stable_order(items: Iterable[str], seed: str) -> list[str]:
    """``items`` in a fixed pseudo-random order (SHA-1 of ``seed`` and the item)."""
    return sorted(items, key=lambda t: _sha(seed, t))


# ---------------------------------------------------------------- sources


class Sources:
    """The corpus records the builders read, loaded from :mod:`staticemb.corpora` on first use (its caches are
    never refreshed from here). Pass record lists to use those instead (tests use small real samples).

    Wikipedia articles are deduplicated by title (French and Spanish have a few titles twice) and BBC
    articles by body, the first kept."""

    def __init__(
        self,
        *,
        debian: Mapping[str, list[PackageDescription]] | None = None,
        wordnet: list[WordNetSynset] | None = None,
        wikipedia: Mapping[str, list[WikipediaSummary]] | None = None,
        bbc: list[NewsArticle] | None = None,
        pydoc: list[CodeDoc] | None = None,
        rustdoc: list[CodeDoc] | None = None,
        manpage: list[CodeDoc] | None = None,
    ) -> None:
        self._debian = dict(debian or {})
        given = {"pydoc": pydoc, "rustdoc": rustdoc, "manpage": manpage}
        self._code: dict[str, list[CodeDoc]] = {k: v for k, v in given.items() if v is not None}
        self._wordnet = wordnet
        self._wikipedia = {lang: _unique_titles(items) for lang, items in (wikipedia or {}).items()}
        self._bbc = _unique_bodies(bbc) if bbc is not None else None

    def debian(self, lang: str = "en") -> list[PackageDescription]:
        """Debian descriptions in ``lang`` ("en" or one of ``TRANSLATION_LANGS``)."""
        if lang not in self._debian:
            self._debian[lang] = corpora.debian_descriptions(lang)
        return self._debian[lang]

    def wordnet(self) -> list[WordNetSynset]:
        if self._wordnet is None:
            self._wordnet = corpora.wordnet_synsets()
        return self._wordnet

    def wikipedia(self, lang: str = "en") -> list[WikipediaSummary]:
        if lang not in self._wikipedia:
            self._wikipedia[lang] = _unique_titles(corpora.wikipedia_summaries(lang))
        return self._wikipedia[lang]

    def bbc(self) -> list[NewsArticle]:
        if self._bbc is None:
            self._bbc = _unique_bodies(corpora.bbc_news())
        return self._bbc

    def code(self, source: str) -> list[CodeDoc]:
        """Documented code items: ``source`` "pydoc" (Python docstrings), "rustdoc" (Rust doc comments) or
        "manpage" (manual pages)."""
        if source not in self._code:
            if source not in CODE_SOURCES:
                raise ValueError(f"source must be one of {CODE_SOURCES}, got {source!r}")
            self._code[source] = CODE_SOURCES[source]()
        return self._code[source]

    @cached_property
    def english_by_md5(self) -> dict[str, PackageDescription]:
        return {d.md5: d for d in self.debian("en")}

    @cached_property
    def held_out(self) -> frozenset[str]:
        """Every text of every dev or test item: no training pair or unlabeled text may contain one."""
        held: set[str] = set()
        for lang in ("en", *TRANSLATION_LANGS):
            for d in self.debian(lang):
                if debian_split(d.md5) != "train":
                    held.update((d.short, d.long))
        for lang in corpora.WIKIPEDIA_LANGS:
            for s in self.wikipedia(lang):
                if wikipedia_split(s.title) != "train":
                    held.update((s.title, s.description, s.extract))
        for a in self.bbc():
            if bbc_split(a.topic, a.name) != "train":
                held.update((a.title, a.body))
        for source in CODE_SOURCES:
            for d in self.code(source):
                if code_split(source, d.package) != "train":
                    held.update((d.summary, d.body))
        held.discard("")
        return frozenset(held)


def _unique_titles(items: Iterable[WikipediaSummary]) -> list[WikipediaSummary]:
    """The first article of each title, in order."""
    first: dict[str, WikipediaSummary] = {}
    for s in items:
        first.setdefault(s.title, s)
    return list(first.values())


def _unique_bodies(items: Iterable[NewsArticle]) -> list[NewsArticle]:
    """The first article of each body, in order."""
    first: dict[str, NewsArticle] = {}
    for a in items:
        first.setdefault(a.body, a)
    return list(first.values())


# ---------------------------------------------------------------- training pairs


def _train_pairs(pairs: Iterable[Pair], held_out: frozenset[str]) -> list[Pair]:
    """Stripped pairs without empty sides, anchor == positive, held-out texts or repeats, in input order."""
    seen: set[Pair] = set()
    out = []
    for a, p in pairs:
        pair = (a.strip(), p.strip())
        a, p = pair
        if a and p and a != p and a not in held_out and p not in held_out and pair not in seen:
            seen.add(pair)
            out.append(pair)
    return out


def debian_pairs(src: Sources) -> list[Pair]:
    """``en-debian``: English short description -> long description, train split."""
    return _train_pairs(
        ((d.short, d.long) for d in src.debian("en") if debian_split(d.md5) == "train"), src.held_out
    )


def wordnet_pairs(src: Sources, cap: int = WORDNET_PAIRS_CAP) -> list[Pair]:
    """``en-wordnet``: lemma -> definition and example -> definition, at most ``cap`` (a SHA-1 subsample, kept
    in synset order)."""

    def candidates() -> Iterator[Pair]:
        for s in src.wordnet():
            for text in (*s.lemmas, *s.examples):
                yield text.replace("_", " "), s.definition

    pairs = _train_pairs(candidates(), src.held_out)
    if len(pairs) > cap:
        keep = set(sorted(pairs, key=lambda p: _sha("en-wordnet", "\t".join(p)))[:cap])
        pairs = [p for p in pairs if p in keep]
    return pairs


def wikipedia_pairs(src: Sources) -> list[Pair]:
    """``en-wikipedia``: description -> extract and title -> extract, English, train split."""
    train = [s for s in src.wikipedia("en") if wikipedia_split(s.title) == "train"]
    return _train_pairs(
        [(s.description, s.extract) for s in train] + [(s.title, s.extract) for s in train], src.held_out
    )


def bbc_pairs(src: Sources) -> list[Pair]:
    """``en-bbc``: title -> body, train split."""
    return _train_pairs(
        ((a.title, a.body) for a in src.bbc() if bbc_split(a.topic, a.name) == "train"), src.held_out
    )


def code_pairs(src: Sources, source: str) -> list[Pair]:
    """``en-pydoc`` / ``en-rustdoc`` / ``en-manpage``: summary -> body of the libraries in the train split."""
    return _train_pairs(
        ((d.summary, d.body) for d in src.code(source) if code_split(source, d.package) == "train"),
        src.held_out,
    )


def bitext_pairs(src: Sources, lang: str) -> list[Pair]:
    """``bitext-<lang>``: translated short -> English short and translated long -> English long of the same
    md5, train split."""
    english = src.english_by_md5

    def candidates() -> Iterator[Pair]:
        for t in src.debian(lang):
            e = english.get(t.md5)
            if e is not None and debian_split(t.md5) == "train":
                yield t.short, e.short
                yield t.long, e.long

    return _train_pairs(candidates(), src.held_out)


def wiki_translation_pairs(src: Sources, lang: str) -> list[Pair]:
    """``wiki-<lang>-en``: extract -> English extract and description -> English description of the articles
    whose title is the same in both languages, train split."""
    english = {s.title: s for s in src.wikipedia("en")}

    def candidates() -> Iterator[Pair]:
        for s in src.wikipedia(lang):
            e = english.get(s.title)
            if e is not None and wikipedia_split(s.title) == "train":
                yield s.extract, e.extract
                yield s.description, e.description

    return _train_pairs(candidates(), src.held_out)


def pair_builders() -> dict[str, Callable[[Sources], list[Pair]]]:
    """Pair-set name -> builder."""
    builders: dict[str, Callable[[Sources], list[Pair]]] = {
        "en-debian": debian_pairs,
        "en-wordnet": wordnet_pairs,
        "en-wikipedia": wikipedia_pairs,
        "en-bbc": bbc_pairs,
    }
    for source in CODE_SOURCES:
        builders[f"en-{source}"] = lambda src, source=source: code_pairs(src, source)
    for lang in TRANSLATION_LANGS:
        builders[f"bitext-{lang}"] = lambda src, lang=lang: bitext_pairs(src, lang)
    for lang in WIKI_PAIR_LANGS:
        builders[f"wiki-{lang}-en"] = lambda src, lang=lang: wiki_translation_pairs(src, lang)
    return builders


# ---------------------------------------------------------------- unlabeled texts


def unlabeled_texts(
    src: Sources, cap: int = UNLABELED_CAP, quotas: Mapping[str, int] = UNLABELED_QUOTAS
) -> list[str]:
    """English texts of the train split for distillation: each pool's ``quotas`` share (SHA-1 order), topped
    up to ``cap`` from the pools' remainders, deduplicated, in SHA-1 order."""
    held = src.held_out
    pools = {
        "debian-short": [d.short for d in src.debian("en") if debian_split(d.md5) == "train"],
        "debian-long": [d.long for d in src.debian("en") if debian_split(d.md5) == "train"],
        "wikipedia-extract": [s.extract for s in src.wikipedia("en") if wikipedia_split(s.title) == "train"],
        "wikipedia-description": [
            s.description for s in src.wikipedia("en") if wikipedia_split(s.title) == "train"
        ],
        "bbc-body": [a.body for a in src.bbc() if bbc_split(a.topic, a.name) == "train"],
        "wordnet-definition": [s.definition for s in src.wordnet()],
        **{
            f"{source}-body": [d.body for d in src.code(source) if code_split(source, d.package) == "train"]
            for source in CODE_SOURCES
        },
    }
    chosen: dict[str, None] = {}
    rest: list[str] = []
    for name, texts in pools.items():
        clean = _stable_order({t.strip() for t in texts} - held - {""}, f"unlabeled-{name}")
        quota = quotas.get(name, 0)
        chosen.update(dict.fromkeys(clean[:quota]))
        rest.extend(clean[quota:])
    for t in _stable_order(set(rest), "unlabeled-rest"):
        if len(chosen) >= cap:
            break
        chosen.setdefault(t, None)
    return _stable_order(chosen, "unlabeled")[:cap]


# ---------------------------------------------------------------- evaluation tasks


def retrieval_task(name: str, pairs: Iterable[Pair]) -> Task:
    """A retrieval task from (query, relevant document) pairs: identical queries merge into one whose
    ``relevant`` lists every matching document; identical documents are stored once."""
    queries: dict[str, int] = {}
    corpus: dict[str, int] = {}
    relevant: list[list[int]] = []
    for q, d in pairs:
        q, d = q.strip(), d.strip()
        if not q or not d:
            continue
        qi = queries.setdefault(q, len(queries))
        if qi == len(relevant):
            relevant.append([])
        di = corpus.setdefault(d, len(corpus))
        if di not in relevant[qi]:
            relevant[qi].append(di)
    return {
        "type": "retrieval",
        "name": name,
        "queries": list(queries),
        "corpus": list(corpus),
        "relevant": [sorted(r) for r in relevant],
    }


def classification_task(name: str, train: Iterable[Pair], test: Iterable[Pair]) -> Task:
    """A classification task from (text, label) pairs: texts unique per side (the first label kept), test
    texts that are also training texts dropped."""
    train_d: dict[str, str] = {}
    for text, label in train:
        if text.strip():
            train_d.setdefault(text.strip(), label)
    test_d: dict[str, str] = {}
    for text, label in test:
        if text.strip() and text.strip() not in train_d:
            test_d.setdefault(text.strip(), label)
    return {
        "type": "classification",
        "name": name,
        "train_texts": list(train_d),
        "train_labels": list(train_d.values()),
        "test_texts": list(test_d),
        "test_labels": list(test_d.values()),
    }


def debian_retrieval(src: Sources, split: str = "test") -> Task:
    """``retrieval-debian``: English short description -> long description."""
    _check_split(split)
    pairs = [(d.short, d.long) for d in src.debian("en") if debian_split(d.md5) == split]
    return retrieval_task("retrieval-debian", pairs)


def wikipedia_retrieval(src: Sources, split: str = "test") -> Task:
    """``retrieval-wikipedia``: Wikidata description -> extract, English."""
    _check_split(split)
    pairs = [(s.description, s.extract) for s in src.wikipedia("en") if wikipedia_split(s.title) == split]
    return retrieval_task("retrieval-wikipedia", pairs)


def bbc_retrieval(src: Sources, split: str = "test") -> Task:
    """``retrieval-bbc``: title -> body."""
    _check_split(split)
    return retrieval_task(
        "retrieval-bbc", [(a.title, a.body) for a in src.bbc() if bbc_split(a.topic, a.name) == split]
    )


def code_retrieval(
    src: Sources,
    source: str,
    split: str = "test",
    cap: int = CODE_TASK_CAP,
    package_cap: int = CODE_TASK_PACKAGE_CAP,
) -> Task:
    """``retrieval-pydoc`` / ``retrieval-rustdoc`` / ``retrieval-manpage``: summary -> body of the libraries in ``split``, at most
    ``package_cap`` items of one library and ``cap`` in all (SHA-1 order), in corpus order."""
    _check_split(split)
    items = [d for d in src.code(source) if code_split(source, d.package) == split]
    by_package: dict[str, list[CodeDoc]] = {}
    for d in items:
        by_package.setdefault(d.package, []).append(d)
    keys = []
    for package, docs in by_package.items():
        ranked = sorted(docs, key=lambda d: _sha(f"retrieval-{source}", f"{d.name}\x00{d.summary}"))
        keys += [(package, d.name, d.summary) for d in ranked[:package_cap]]
    keep = set(sorted(keys, key=lambda k: _sha(f"retrieval-{source}", "\x00".join(k)))[:cap])
    pairs = [(d.summary, d.body) for d in items if (d.package, d.name, d.summary) in keep]
    return retrieval_task(f"retrieval-{source}", pairs)


def bbc_classification(src: Sources, split: str = "test") -> Task:
    """``classification-bbc``: title + newline + body -> topic; train side from the train split."""
    _check_split(split)

    def side(which: str) -> list[Pair]:
        return [(f"{a.title}\n{a.body}", a.topic) for a in src.bbc() if bbc_split(a.topic, a.name) == which]

    return classification_task("classification-bbc", side("train"), side(split))


def wikipedia_classification(src: Sources, split: str = "test") -> Task:
    """``classification-wikipedia``: extract -> topic (English, without "Uncategorized")."""
    _check_split(split)

    def side(which: str) -> list[Pair]:
        return [
            (s.extract, s.topic)
            for s in src.wikipedia("en")
            if s.topic and s.topic != UNCATEGORIZED and wikipedia_split(s.title) == which
        ]

    return classification_task("classification-wikipedia", side("train"), side(split))


def bitext_task(src: Sources, lang: str, split: str = "test", cap: int = BITEXT_TASK_CAP) -> Task:
    """``bitext-<lang>``: one (translation, English) pair per package of ``split``, long descriptions when both
    have one, else short ones; untranslated pairs dropped; no source or target twice (the first kept); at most
    ``cap`` pairs (the md5s first in SHA-1 order), in package order. A language of
    :data:`~staticemb.corpora.HELD_OUT_LANGS` never trains, so its task takes every package, whatever the split
    (their English sides include training texts of ``en-debian``)."""
    _check_split(split)
    english = src.english_by_md5
    every_package = lang in HELD_OUT_LANGS
    candidates: list[tuple[str, str, str]] = []
    sources: set[str] = set()
    targets: set[str] = set()
    for t in src.debian(lang):
        e = english.get(t.md5)
        if e is None or (not every_package and debian_split(t.md5) != split):
            continue
        source, target = (t.long, e.long) if t.long and e.long else (t.short, e.short)
        source, target = source.strip(), target.strip()
        if not source or not target or source == target or source in sources or target in targets:
            continue
        sources.add(source)
        targets.add(target)
        candidates.append((t.md5, source, target))
    if len(candidates) > cap:
        keep = set(sorted((c[0] for c in candidates), key=lambda m: _sha(f"bitext-{lang}", m))[:cap])
        candidates = [c for c in candidates if c[0] in keep]
    return {
        "type": "bitext",
        "name": f"bitext-{lang}",
        "lang": lang,
        "source": [c[1] for c in candidates],
        "target": [c[2] for c in candidates],
    }


WORDSIM_FILES = {"wordsim-simlex999": "simlex999.txt", "wordsim-wordsim353": "wordsim353.tsv"}


def gensim_test_data() -> Path:
    """The installed ``gensim`` package's ``test/test_data`` folder (found without importing gensim)."""
    return corpora.package_dir("gensim", "gensim") / "test" / "test_data"


def wordsim_task(name: str, directory: Path | None = None) -> Task:
    """``wordsim-simlex999`` or ``wordsim-wordsim353`` from gensim's test data (or ``directory``): tab-separated
    ``word1 word2 score`` lines, ``#`` lines being comments."""
    if name not in WORDSIM_FILES:
        raise ValueError(f"name must be one of {sorted(WORDSIM_FILES)}, got {name!r}")
    path = Path(directory if directory is not None else gensim_test_data()) / WORDSIM_FILES[name]
    if not path.is_file():
        raise SourceMissingError(f"{path} is missing: pip install --force-reinstall gensim")
    pairs: list[list[Any]] = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split("\t") if "\t" in line else line.split()
            if len(fields) != 3:
                raise ValueError(f"{path}:{number}: expected 'word1<TAB>word2<TAB>score', got {line!r}")
            pairs.append([fields[0].strip(), fields[1].strip(), float(fields[2])])
    return {"type": "wordsim", "name": name, "pairs": pairs}


def task_builders() -> dict[str, Callable[[Sources, str], Task]]:
    """Task name -> builder(sources, split); word-similarity builders ignore the split."""
    builders: dict[str, Callable[[Sources, str], Task]] = {
        "retrieval-debian": debian_retrieval,
        "retrieval-wikipedia": wikipedia_retrieval,
        "retrieval-bbc": bbc_retrieval,
        "classification-bbc": bbc_classification,
        "classification-wikipedia": wikipedia_classification,
    }
    for source in CODE_SOURCES:
        builders[f"retrieval-{source}"] = lambda src, split, source=source: code_retrieval(src, source, split)
    for lang in TRANSLATION_LANGS:
        builders[f"bitext-{lang}"] = lambda src, split, lang=lang: bitext_task(src, lang, split)
    for lang in HELD_OUT_LANGS:
        builders[f"bitext-{lang}"] = lambda src, split, lang=lang: bitext_task(src, lang, split)
    for name in WORDSIM_TASKS:
        builders[name] = lambda src, split, name=name: wordsim_task(name)
    return builders


# ---------------------------------------------------------------- files


def training_dir() -> Path:
    """Where the built files live: ``data_dir() / "training"``."""
    return data_dir() / "training"


def _root(root: Path | str | None) -> Path:
    return Path(root) if root is not None else training_dir()


def pairs_path(name: str, root: Path | str | None = None) -> Path:
    """``<root>/pairs/<name>.jsonl``."""
    if name not in PAIR_SETS:
        raise ValueError(f"unknown pair set {name!r}; one of {PAIR_SETS}")
    return _root(root) / "pairs" / f"{name}.jsonl"


def task_path(name: str, split: str = "test", root: Path | str | None = None) -> Path:
    """``<root>/tasks/<name>.json`` (test split) or ``<root>/tasks-dev/<name>.json`` (dev split)."""
    if split not in ("test", "dev"):
        raise ValueError(f"split must be 'test' or 'dev', got {split!r}")
    names = TASKS if split == "test" else DEV_TASKS
    if name not in names:
        raise ValueError(f"unknown {split} task {name!r}; one of {names}")
    return _root(root) / ("tasks" if split == "test" else "tasks-dev") / f"{name}.json"


def unlabeled_path(lang: str = "en", root: Path | str | None = None) -> Path:
    """``<root>/unlabeled/<lang>.jsonl`` (English only)."""
    if lang not in UNLABELED:
        raise ValueError(f"lang must be one of {UNLABELED}, got {lang!r}")
    return _root(root) / "unlabeled" / f"{lang}.jsonl"


def _write_atomic(path: Path, write: Callable[[Any], None]) -> None:
    from staticemb._io import write_file

    path.parent.mkdir(parents=True, exist_ok=True)
    write_file(path, write)


def _write_jsonl(path: Path, records: Iterable[dict[str, str]]) -> None:
    _write_atomic(path, lambda f: f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def _write_json(path: Path, obj: Task) -> None:
    _write_atomic(path, lambda f: json.dump(obj, f, ensure_ascii=False))


def _outputs(root: Path, src: Sources) -> list[tuple[Path, Callable[[], Any]]]:
    """(file, producer): a producer returns the JSON object of a ``.json`` file or the records of a ``.jsonl``."""
    jobs: list[tuple[Path, Callable[[], Any]]] = []
    for name, make_pairs in pair_builders().items():
        jobs.append(
            (pairs_path(name, root), lambda f=make_pairs: ({"anchor": a, "positive": p} for a, p in f(src)))
        )
    jobs.append((unlabeled_path("en", root), lambda: ({"text": t} for t in unlabeled_texts(src))))
    builders = task_builders()
    for split, names in (("test", TASKS), ("dev", DEV_TASKS)):
        for name in names:
            jobs.append((task_path(name, split, root), lambda f=builders[name], split=split: f(src, split)))
    return jobs


def build(
    refresh: bool = False,
    *,
    root: Path | str | None = None,
    sources: Sources | None = None,
    progress: bool = True,
) -> Path:
    """Write every pair set, the unlabeled texts and every task under ``root`` (default :func:`training_dir`)
    and return ``root``. Existing files are kept unless ``refresh``; the corpora caches under them are never
    refreshed here. Raises :class:`SourceMissingError` on the first missing source."""
    root = _root(root)
    src = sources if sources is not None else Sources()
    todo = [(path, make) for path, make in _outputs(root, src) if refresh or not path.is_file()]
    if not todo:
        return root
    from tqdm.auto import tqdm

    with tqdm(todo, desc="training data", unit="file", disable=not progress) as bar:
        for path, make in bar:
            bar.set_postfix_str(str(path.relative_to(root)), refresh=True)
            content = make()
            (_write_jsonl if path.suffix == ".jsonl" else _write_json)(path, content)
    return root


def _ensure(path: Path, root: Path | str | None) -> Path:
    if not path.is_file():
        build(root=root)
    return path


def load_pairs(name: str, root: Path | str | None = None) -> list[Pair]:
    """The (anchor, positive) pairs of a pair set, building the files first if needed."""
    with open(_ensure(pairs_path(name, root), root), encoding="utf-8") as f:
        return [(r["anchor"], r["positive"]) for r in map(json.loads, f)]


def load_unlabeled(lang: str = "en", root: Path | str | None = None) -> list[str]:
    """The unlabeled texts, building the files first if needed."""
    with open(_ensure(unlabeled_path(lang, root), root), encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


def load_task(name: str, split: str = "test", root: Path | str | None = None) -> Task:
    """An evaluation task (``split`` "test" or "dev"), building the files first if needed."""
    with open(_ensure(task_path(name, split, root), root), encoding="utf-8") as f:
        return json.load(f)


# ---------------------------------------------------------------- summary / CLI


def _describe(path: Path) -> str:
    if path.suffix == ".jsonl":
        with open(path, encoding="utf-8") as f:
            return f"{sum(1 for _ in f):,} lines"
    with open(path, encoding="utf-8") as f:
        task = json.load(f)
    kind = task["type"]
    if kind == "retrieval":
        pairs = sum(len(r) for r in task["relevant"])
        return f"{len(task['queries']):,} queries, {len(task['corpus']):,} docs, {pairs:,} relevant"
    if kind == "classification":
        labels = len(set(task["train_labels"]))
        return f"{len(task['train_texts']):,} train, {len(task['test_texts']):,} test, {labels} labels"
    if kind == "bitext":
        return f"{len(task['source']):,} pairs"
    return f"{len(task['pairs']):,} pairs"


def summary(root: Path | str | None = None) -> list[tuple[str, str, int]]:
    """(file relative to ``root``, contents, bytes) for every built file."""
    root = _root(root)
    paths = [pairs_path(n, root) for n in PAIR_SETS] + [unlabeled_path("en", root)]
    paths += [task_path(n, "test", root) for n in TASKS] + [task_path(n, "dev", root) for n in DEV_TASKS]
    return [(str(p.relative_to(root)), _describe(p), p.stat().st_size) for p in paths if p.is_file()]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--refresh", action="store_true", help="rebuild every file (not the corpora caches)")
    args = parser.parse_args(argv)
    try:
        root = build(refresh=args.refresh)
    except SourceMissingError as e:
        sys.exit(f"missing source: {e}")
    except KeyboardInterrupt:  # each file is written whole or not at all: a rerun builds the rest
        print("training.datasets: interrupted", file=sys.stderr)
        sys.exit(130)
    rows = summary(root)
    width = max(len(r[0]) for r in rows)
    print(f"{root}\n{'file':<{width}}  {'MB':>7}  contents")
    for name, contents, size in rows:
        print(f"{name:<{width}}  {size / 1e6:7.2f}  {contents}")
    print(f"{'total':<{width}}  {sum(r[2] for r in rows) / 1e6:7.2f}  {len(rows)} files")


if __name__ == "__main__":
    main()
