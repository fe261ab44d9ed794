"""Real text corpora built at run time from what this machine's package managers provide.

Nothing here ships third-party text: each builder reads an installed source, writes a cache under the data
directory (``$STATICEMB_DATA``, default ``~/.cache/staticemb``) and fails with a message saying how to get the
source when it is missing.

Debian package descriptions come from apt's translation indexes: ``apt-get update -o
Acquire::Languages=en`` (as root) downloads ``/var/lib/apt/lists/*_i18n_Translation-en.lz4``.
"""

from __future__ import annotations

import glob
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

APT_LISTS = Path(os.environ.get("STATICEMB_APT_LISTS", "/var/lib/apt/lists"))
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def data_dir() -> Path:
    """Where built corpora are cached."""
    d = Path(os.environ.get("STATICEMB_DATA", Path.home() / ".cache" / "staticemb"))
    d.mkdir(parents=True, exist_ok=True)
    return d


class SourceMissingError(FileNotFoundError):
    """A corpus source is not installed on this machine."""


@dataclass(frozen=True)
class PackageDescription:
    package: str
    md5: str
    short: str
    long: str


def _translation_files(lang: str) -> list[str]:
    return sorted(glob.glob(str(APT_LISTS / f"*_i18n_Translation-{lang}.lz4")))


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
            f"no Debian translation index for {lang!r} under {APT_LISTS}. Run (as root): "
            f"apt-get update -o Acquire::Languages={lang}"
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
