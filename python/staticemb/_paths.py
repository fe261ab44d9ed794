"""The data directory: the one place that reads ``STATICEMB_DATA``."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir(*, create: bool = True) -> Path:
    """``$STATICEMB_DATA``, or ``~/.cache/staticemb``: where built corpora, datasets, teacher caches and models
    go. Created unless ``create=False``."""
    value = os.path.expandvars(os.environ.get("STATICEMB_DATA", "").strip())
    if "$" in value:
        raise ValueError(f"STATICEMB_DATA={value!r} names an environment variable that is not set")
    d = Path(value or Path.home() / ".cache" / "staticemb").expanduser()
    if create:
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            where = f"STATICEMB_DATA={value!r}" if value else "the default data directory"
            raise OSError(e.errno, f"cannot use {where} as the data directory: {e.strerror or e}", str(d)) from None
    return d


def looks_like_local_path(spec: str) -> bool:
    """Whether a model / tokenizer spec that names nothing on disk can only have been meant as a local path (an
    absolute or ``./`` / ``~`` path, more than one ``/``, a file name ending in ``.json``), not as a Hugging Face
    Hub id (``name`` or ``org/name``)."""
    return (os.path.isabs(spec) or spec.startswith((".", "~")) or spec.count("/") > 1 or "\\" in spec
            or spec.endswith((".json", "/")))
