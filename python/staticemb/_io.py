"""Model folders on disk, both ways: finding and reading Sentence Transformers static folders, model2vec folders
and Hub ids; writing Sentence Transformers static folders atomically.

Every file problem raises :class:`~staticemb.errors.ModelFormatError` naming the file (or
:class:`FileNotFoundError` for a missing one). The bytes of ``model.safetensors`` are validated by the Rust
core with the ``safetensors`` crate's own rules; this module only maps the validated ranges.
"""

from __future__ import annotations

import ctypes
import errno
import glob
import hashlib
import json
import mmap as _mmap
import os
import re
import shutil
import socket
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import _core, _inputs
from .errors import InvalidInputError, ModelFormatError

# Files a static model needs; everything else in a Hub repository (ONNX exports, PyTorch pickles, …) is skipped.
MODEL2VEC_MAX_LENGTH = 512
"""model2vec's ``max_length`` when a folder's ``config.json`` sets none."""

_HUB_PATTERNS = ["*.json", "*.safetensors", "README.md"]
"""The files a static model folder needs, fetched from the Hub: at its top and one folder down (the modules'
folders); :data:`_HUB_DEEPER` keeps out what lies deeper (huggingface_hub's patterns are fnmatch's, whose ``*``
also matches ``/``: other models in nested folders would come along)."""
_HUB_DEEPER = "*/*/*"
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")

_NUMPY_DTYPES: dict[str, np.dtype[Any]] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),  # widened to float32 below
    "I8": np.dtype("i1"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
    "U32": np.dtype("<u4"),
    "U64": np.dtype("<u8"),
}

WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"


@dataclass
class LoadedModel:
    """What a folder holds, before it becomes a StaticModel."""

    tokenizer_json: str | bytes
    embeddings: np.ndarray
    normalize: bool
    weights: np.ndarray | None = None
    mapping: np.ndarray | None = None
    drop_unknown: bool = False
    scales: np.ndarray | None = None
    weights_path: Path = Path()
    tokenizer_path: Path = Path()
    prompts: dict[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None
    similarity_fn_name: str | None = None
    truncate_dim: int | None = None
    max_length: int | None = None
    truncation: str = "right"
    info: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- reading


def resolve(
    text: str, *, revision=None, token=None, cache_dir=None, subfolder=None, force_download: bool = False
) -> tuple[Path, Path]:
    """A local folder as is; otherwise a Hugging Face Hub id, fetched (or found in the cache) with
    ``huggingface_hub.snapshot_download`` (``force_download``: fetched again even where cached).
    ``HF_HUB_OFFLINE=1`` makes this use the local cache only. With
    ``subfolder``, the folder of that relative path inside it (only its files are fetched from the Hub).
    Returns the model's folder and the folder or snapshot it is in (the same without ``subfolder``)."""
    inner = _subfolder_path(subfolder)
    path = Path(text).expanduser()
    if path.is_dir():
        return _in_subfolder(path, inner, text, cached=False), path
    if path.exists():
        raise ModelFormatError(f"{path} is a file; pass the model folder that contains it")
    if not _REPO_ID.match(text) or text.count("/") > 1:
        raise FileNotFoundError(f"no model folder at {text!r} (and it is not a Hugging Face Hub id)")
    if revision is not None and not isinstance(revision, str):
        raise TypeError(f"revision must be a branch, tag or commit name (str), not {type(revision).__name__}")
    if revision is not None and not revision.strip():
        raise InvalidInputError(f"revision must be a branch, tag or commit name, got {revision!r} (None: the "
                                "default branch)")
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    allow, ignore = hub_patterns(inner)

    def download(local_only: bool) -> str:
        return str(snapshot_download(repo_id=text, revision=revision, token=token, cache_dir=cache_dir,
                                     allow_patterns=allow, ignore_patterns=ignore, local_files_only=local_only,
                                     force_download=force_download and not local_only))

    try:
        # Offline, a revision given as a full commit hash is found in the cache (without local_files_only,
        # huggingface_hub asks the Hub for the file list and fails).
        offline = bool(constants.HF_HUB_OFFLINE)
        try:
            folder = download(offline)
        except Exception as e:
            # The Hub unreachable: huggingface_hub falls back to its cache for a branch, not for a commit hash
            # (a commit never changes, so its cached copy is the model; a branch's may be stale, or deleted).
            unreachable = _is_connection_error(e)
            pinned = isinstance(revision, str) and _COMMIT.fullmatch(revision) is not None
            cached = _cached_snapshot(download) if pinned and unreachable and not offline else None
            if cached is None:
                raise
            warnings.warn(f"the Hugging Face Hub cannot be reached ({type(e).__name__}): {text!r} at commit "
                          f"{revision} is loaded from the local cache", stacklevel=4)
            folder = cached
    except LocalEntryNotFoundError as e:
        raise FileNotFoundError(
            f"{text!r} is not a local folder and is not in the Hugging Face Hub cache, and the Hub cannot be "
            f"reached (offline mode or no network): {e}"
        ) from None
    except Exception as e:  # the Hub raises many types: network, auth, missing repo
        raise FileNotFoundError(f"could not load {text!r} from the Hugging Face Hub: {type(e).__name__}: {e}") from e
    return _in_subfolder(Path(folder), inner, text, cached=offline), Path(folder)


def hub_patterns(inner: str | None) -> tuple[list[str], list[str]]:
    """``snapshot_download``'s ``allow_patterns`` and ``ignore_patterns`` for the model folder at ``inner`` (a
    subfolder from :func:`_subfolder_path`, or None for the repository's top), its name read literally."""
    prefix = "" if inner is None else glob.escape(inner) + "/"  # a "[" in a folder's name is no pattern
    return [prefix + p for p in _HUB_PATTERNS], [prefix + _HUB_DEEPER]


def _subfolder_path(subfolder: object) -> str | None:
    """``subfolder`` (a str or path) as a relative POSIX path below a model folder; ``None``, ``""`` and
    ``"."`` name the folder itself (model2vec's rule). Refused where it is neither, or where its text leaves
    the folder (an absolute path, a drive, ``..``); a symlink inside the folder is followed like any folder."""
    if subfolder is None:
        return None
    if not isinstance(subfolder, (str, os.PathLike)):
        raise TypeError(f"subfolder must be a path inside the model folder (str or path) or None, not "
                        f"{type(subfolder).__name__}")
    text = os.fspath(subfolder)
    if not isinstance(text, str):
        raise TypeError(f"subfolder must be a text path, not {type(text).__name__}")
    parts = [p for p in text.replace("\\", "/").split("/") if p not in ("", ".")]
    drive = re.match(r"[A-Za-z]:", text) is not None  # Windows' C:
    if text.startswith(("/", "\\")) or ".." in parts or drive or not text.isprintable():
        raise InvalidInputError(f"subfolder must be a relative path inside the model folder, got {text!r}")
    return "/".join(parts) or None


def _in_subfolder(folder: Path, inner: str | None, text: str, *, cached: bool) -> Path:
    """``folder``, or its ``inner`` subfolder, which must be a folder (``cached``: ``folder`` is what the local
    Hub cache holds, offline)."""
    if inner is None:
        return folder
    path = folder / inner
    if not path.is_dir():
        where = " in the local Hugging Face Hub cache (offline: only what was downloaded before is there)"
        raise FileNotFoundError(f"{text!r} has no subfolder {inner!r}{where if cached else ''}")
    return path


_COMMIT = re.compile(r"[0-9a-f]{40}")


def _is_connection_error(e: BaseException) -> bool:
    """Whether ``e`` (or an error it was raised from) says the Hub could not be reached: no network, a refused
    connection, a timeout (httpx, requests and the standard library name them so)."""
    chain: BaseException | None = e
    for _ in range(8):
        if chain is None:
            return False
        name = type(chain).__name__
        if isinstance(chain, (ConnectionError, TimeoutError)) or "Connect" in name or "Timeout" in name:
            return True
        chain = chain.__cause__ or chain.__context__
    return False


def _cached_snapshot(download: Callable[[bool], str]) -> str | None:
    """The snapshot ``download(local_only=True)`` finds in the Hugging Face cache, or None."""
    try:
        return download(True)
    except Exception:  # noqa: BLE001 - not cached (or not readable): the first error stands
        return None


def present(path: Path) -> bool:
    """Whether a file of a model folder is there: ``True`` for a regular file (through symlinks), ``False`` when
    nothing is at ``path``. Anything else there raises, naming it: a broken symlink (an interrupted Hub download)
    :class:`FileNotFoundError`, a folder, FIFO or device :class:`~staticemb.errors.ModelFormatError`. Taken for
    absent, an optional file's settings (the ``Normalize`` of ``modules.json``, model2vec's ``normalize``, a
    ``truncate_dim``) would be dropped without a word and the vectors would change."""
    if path.is_file():
        return True
    if not os.path.lexists(path):
        return False
    if not path.exists():
        try:
            link = f" to {os.readlink(path)!r}"
        except OSError:
            link = ""
        raise FileNotFoundError(f"{path} is a symbolic link{link} that names no file (missing, or a loop)")
    kind = "a folder" if path.is_dir() else "a FIFO, a device or a socket"
    raise ModelFormatError(f"{path} is {kind}, not a file")


def read_text(path: Path) -> str:
    """A UTF-8 text file."""
    if not present(path):
        raise FileNotFoundError(f"{path.name} not found in {path.parent}")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ModelFormatError(f"{path} is not UTF-8 text: {e}") from None


def read_json(path: Path) -> Any:
    """A UTF-8 JSON file. Malformed, deeply nested (a "JSON bomb") or non-UTF-8 content is a
    ModelFormatError naming the file."""
    text = read_text(path)
    try:
        return json.loads(text)
    except RecursionError:
        raise ModelFormatError(f"{path} is not valid JSON: it is nested too deeply") from None
    except ValueError as e:
        raise ModelFormatError(f"{path} is not valid JSON: {e}") from None


def _file_buffer(path: Path, *, mmap: bool) -> np.ndarray:
    """The whole file as a read-only uint8 array: a memory map, or the bytes read into memory."""
    if not present(path):
        raise FileNotFoundError(f"{path.name} not found in {path.parent}")
    if path.stat().st_size == 0:
        raise ModelFormatError(f"{path} is empty")
    if mmap:
        with open(path, "rb") as f:
            mapped = _mmap.mmap(f.fileno(), 0, access=_mmap.ACCESS_READ)
        return np.frombuffer(mapped, dtype=np.uint8)
    buf = np.fromfile(path, dtype=np.uint8)
    buf.flags.writeable = False
    return buf


def _tensor(buf: np.ndarray, spec: dict) -> np.ndarray:
    dtype = _NUMPY_DTYPES[spec["dtype"]]
    arr = buf[spec["start"] : spec["end"]].view(dtype).reshape(spec["shape"])
    if not arr.flags.aligned:
        arr = np.array(arr)  # an unaligned tensor (legal in the format) is copied once
    if spec["dtype"] == "BF16":
        arr = (arr.astype(np.uint32) << 16).view(np.float32)
    elif spec["dtype"] == "F64":
        with np.errstate(over="ignore"):  # checked just below, with the file named
            wide, arr = arr, arr.astype(np.float32)
        overflow = np.isinf(arr) & np.isfinite(wide)
        if overflow.any():
            raise ModelFormatError(f"a float64 tensor holds {np.abs(wide[overflow]).max():.3g}, past float32's range "
                                   "(staticemb computes in float32); scale the table down")
    return arr


def read_weights(path: Path, *, mmap: bool = True) -> tuple[str, np.ndarray, dict[str, np.ndarray | None]]:
    """Validate ``model.safetensors`` (in Rust, with the ``safetensors`` crate's rules) and map its tensors
    without copying. Returns ``(layout, table, {"scales", "weights", "mapping"})``."""
    buf = _file_buffer(path, mmap=mmap)
    try:
        spec = _core.read_model_weights(buf)
    except ModelFormatError as e:
        raise ModelFormatError(f"{path}: {e}") from None
    try:
        tensors = {key: None if spec[key] is None else _tensor(buf, spec[key])
                   for key in ("scales", "weights", "mapping")}
        return spec["layout"], _tensor(buf, spec["table"]), tensors
    except ModelFormatError as e:
        raise ModelFormatError(f"{path}: {e}") from None


def module_kind(qualified: str) -> str:
    """A module's class name where it is one of Sentence Transformers' own (``sentence_transformers.….Normalize``
    → ``Normalize``), else the whole qualified name: a ``Normalize`` of another package (custom code, an L1 norm)
    is not Sentence Transformers' L2 ``Normalize``."""
    package, _, name = qualified.rpartition(".")
    return name if package.split(".", 1)[0] == "sentence_transformers" else qualified


def normalizes_sentence(module_input_name: Any = "sentence_embedding", module_output_name: Any = None) -> bool:
    """Whether a Sentence Transformers ``Normalize`` with these settings changes the ``sentence_embedding`` a
    ``StaticEmbedding`` gives: it L2-normalizes its input key (a static model gives only ``sentence_embedding``)
    into its output key (by default the input key)."""
    output = module_input_name if module_output_name is None else module_output_name
    return module_input_name == "sentence_embedding" and output == "sentence_embedding"


def _module_type(entry: dict) -> str:
    return module_kind(str(entry.get("type", "")))


def _normalize_settings(folder: Path, entry: dict, where: Path) -> bool:
    """Whether the ``Normalize`` module of ``entry`` normalizes the sentence embedding, from its ``config.json``
    (absent: Sentence Transformers' defaults)."""
    path = _inside(folder, entry.get("path", "") or ".", where) / "config.json"
    if not present(path):
        return True
    config = read_json(path)
    if not isinstance(config, dict):
        raise ModelFormatError(f"{path} must hold a JSON object")
    names = {key: config[key] for key in ("module_input_name", "module_output_name") if key in config}
    for key, value in names.items():
        if not (isinstance(value, str) or key == "module_output_name" and value is None):
            raise ModelFormatError(f"{path}: {key!r} must be a string, got {value!r}")
    return normalizes_sentence(**names)


def _inside(folder: Path, relative: Any, what: Path) -> Path:
    """``folder / relative``, refused unless it stays inside ``folder`` (after following symlinks)."""
    if not isinstance(relative, str):
        raise ModelFormatError(f"{what}: a module path must be a string, got {relative!r}")
    try:
        target = (folder / relative).resolve()
        target.exists()  # False for a missing path; raises for a name too long
    except (OSError, ValueError) as e:  # ValueError: a NUL character
        raise ModelFormatError(f"{what}: module path {relative!r} is not a usable path: "
                               f"{getattr(e, 'strerror', None) or e}") from None
    if not target.is_relative_to(folder.resolve()):
        raise ModelFormatError(f"{what}: module path {relative!r} points outside the model folder {folder}")
    return target


def read_modules(folder: Path) -> tuple[Path, bool]:
    """Read ``modules.json``: the StaticEmbedding module's folder and whether a Normalize module follows."""
    path = folder / "modules.json"
    modules = read_json(path)
    if not isinstance(modules, list) or not modules or not all(isinstance(m, dict) for m in modules):
        raise ModelFormatError(f"{path} must be a non-empty JSON list of module objects")
    kinds = [_module_type(m) for m in modules]
    if kinds[0] != "StaticEmbedding":
        raise ModelFormatError(
            f"{path}: the first module is {kinds[0] or 'unknown'}, not Sentence Transformers' StaticEmbedding: "
            "staticemb only runs static embedding models"
        )
    rest = [k for k in kinds[1:] if k != "Normalize"]
    if rest:
        raise ModelFormatError(
            f"{path}: modules after StaticEmbedding must be Sentence Transformers' Normalize only, found "
            f"{', '.join(rest)}"
        )
    module_dir = _inside(folder, modules[0].get("path", "") or ".", path)
    return module_dir, any([_normalize_settings(folder, m, path) for m in modules[1:]])


def read_st_config(folder: Path) -> dict[str, Any]:
    """``config_sentence_transformers.json`` (prompts, default prompt, similarity function, truncation width),
    checked; ``{}`` when the folder has none."""
    path = folder / "config_sentence_transformers.json"
    if not present(path):
        return {}
    config = read_json(path)
    if not isinstance(config, dict):
        raise ModelFormatError(f"{path} must hold a JSON object")
    prompts = config.get("prompts") or {}
    if not isinstance(prompts, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in prompts.items()):
        raise ModelFormatError(f"{path}: 'prompts' must map names to strings")
    default = config.get("default_prompt_name")
    if default is not None and (not isinstance(default, str) or default not in {**DEFAULT_PROMPTS, **prompts}):
        raise ModelFormatError(f"{path}: default_prompt_name {default!r} is not one of the prompts")
    similarity = config.get("similarity_fn_name")
    if similarity is not None and similarity not in SIMILARITY_FNS:
        raise ModelFormatError(f"{path}: similarity_fn_name must be one of {', '.join(SIMILARITY_FNS)}, got {similarity!r}")
    truncate_dim = config.get("truncate_dim")
    if truncate_dim is not None and (type(truncate_dim) is not int or truncate_dim < 1):
        raise ModelFormatError(f"{path}: truncate_dim must be a positive integer or null, got {truncate_dim!r}")
    return {
        "prompts": dict(prompts),
        "default_prompt_name": default,
        "similarity_fn_name": similarity,
        "truncate_dim": truncate_dim,
    }


DEFAULT_PROMPTS = {"query": "", "document": ""}
"""The prompts every model has, empty unless configured, as in Sentence Transformers 6: ``encode_query`` and
``encode_document`` use them."""


SIMILARITY_FNS = ("cosine", "dot", "euclidean", "manhattan")


_READ_ATTEMPTS = 5


_READ_FILES = frozenset({"modules.json", "config_sentence_transformers.json", "config.json", WEIGHTS_FILE,
                         TOKENIZER_FILE})
"""The names of the files a load reads, at the top of the folder or in a module's folder one level down."""


def _folder_identity(folder: Path) -> tuple[Any, ...] | None:
    """The folder (device, inode) and, for each file a load may read, its inode, size, modification and change
    times: a swapped-in folder differs in its files even where it reuses the old folder's inode (ext4 hands the
    freed inode to the next save's folder at once), and a file written beside the model (a log, a download's
    next file) changes nothing that a load reads."""
    try:
        st = os.stat(folder)
        files = []
        with os.scandir(folder) as top:
            for entry in top:
                if entry.name in _READ_FILES:
                    files.append(_file_identity(entry))
                elif entry.is_dir():
                    try:
                        with os.scandir(entry.path) as module:
                            files += [_file_identity(e) for e in module if e.name in _READ_FILES]
                    except OSError:  # unreadable: no module the load could read either
                        continue
    except OSError:
        return None
    return st.st_dev, st.st_ino, tuple(sorted(files))


def _file_identity(entry: os.DirEntry[str]) -> tuple[str, int, int, int, int]:
    try:
        st = entry.stat()  # through a symlink (a Hub cache's snapshot): the blob that is read
    except OSError:
        return entry.path, -1, -1, -1, -1
    return entry.path, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def read_folder(folder: Path, *, mmap: bool = True) -> LoadedModel:
    """Read a Sentence Transformers static folder or a model2vec folder.

    The files are read one by one, by path: a folder swapped for another meanwhile (staticemb's own atomic
    save, a ``mv`` of a new model over it) would give one model's table with another's tokenizer or config.
    The folder's identity is compared before and after, and a folder replaced meanwhile is read again."""
    for _ in range(_READ_ATTEMPTS):
        before = _folder_identity(folder)
        try:
            loaded = _read_folder_once(folder, mmap=mmap)
        except (OSError, ModelFormatError):
            if _folder_identity(folder) == before:
                raise
            continue  # the folder was replaced meanwhile: what was read of it says nothing
        if _folder_identity(folder) == before:
            return loaded
    raise ModelFormatError(f"{folder} was replaced while it was being read, {_READ_ATTEMPTS} times in a row: load "
                           "it again once the writer is done")


def _read_folder_once(folder: Path, *, mmap: bool) -> LoadedModel:
    module_dir, normalize = folder, False
    has_modules = present(folder / "modules.json")
    if has_modules:
        module_dir, normalize = read_modules(folder)
    weights_path = module_dir / WEIGHTS_FILE
    tokenizer_path = module_dir / TOKENIZER_FILE
    layout, table, tensors = read_weights(weights_path, mmap=mmap)
    if not present(tokenizer_path):
        raise FileNotFoundError(
            f"{TOKENIZER_FILE} not found in {module_dir}: a static model folder needs the tokenizer that made "
            "its table"
        )
    # Bytes, not str: the Rust core parses (and checks the UTF-8 of) the file once, without a Python copy.
    tokenizer_json = tokenizer_path.read_bytes()
    st_config = read_st_config(folder)
    if layout == "model2vec" and module_dir != folder.resolve():
        # model2vec tensors in a Sentence Transformers module's own folder: Sentence Transformers' StaticEmbedding
        # reads them (mapping and weights folded into the rows) and modules.json decides the rest, as for any
        # module; model2vec's config, if any, is not this folder's.
        return LoadedModel(
            tokenizer_json=tokenizer_json,
            embeddings=table,
            normalize=normalize,
            weights=None if tensors["weights"] is None else tensors["weights"].astype(np.float32, copy=False),
            mapping=None if tensors["mapping"] is None else tensors["mapping"].astype(np.int64, copy=False),
            weights_path=weights_path,
            tokenizer_path=tokenizer_path,
            info={"format": "sentence-transformers", "source": str(folder)},
            **st_config,
        )
    if layout == "model2vec":
        # model2vec layout (also when it ships a modules.json): its config decides normalization, and the
        # unknown token is dropped, per-token weights apply and `mapping` maps token ids to rows.
        config_path = folder / "config.json"
        config: Any = read_json(config_path) if present(config_path) else {}
        if not isinstance(config, dict):
            raise ModelFormatError(f"{config_path} must hold a JSON object")
        # model2vec's default, whatever a modules.json says; null is falsy there too
        norm = config.get("normalize")
        if norm is None:
            norm = False
        if not isinstance(norm, bool):
            raise ModelFormatError(f"{config_path}: 'normalize' must be true, false or null, got {norm!r}")
        mapping, weights = tensors["mapping"], tensors["weights"]
        try:  # the constructor's own rule (_inputs.count), named by the file here
            max_length = _inputs.count("'max_length'", config.get("max_length", MODEL2VEC_MAX_LENGTH))
        except (TypeError, InvalidInputError) as e:
            raise ModelFormatError(f"{config_path}: {e}") from None
        return LoadedModel(
            tokenizer_json=tokenizer_json,
            embeddings=table,
            normalize=norm,
            weights=None if weights is None else weights.astype(np.float32, copy=False),
            mapping=None if mapping is None else mapping.astype(np.int64, copy=False),
            drop_unknown=True,
            max_length=max_length,
            truncation="model2vec",
            weights_path=weights_path,
            tokenizer_path=tokenizer_path,
            info={"format": "model2vec", "config": config, "source": str(folder)},
            **st_config,
        )
    return LoadedModel(
        tokenizer_json=tokenizer_json,
        embeddings=table,
        normalize=normalize,
        scales=tensors["scales"],
        weights_path=weights_path,
        tokenizer_path=tokenizer_path,
        info={"format": "sentence-transformers", "source": str(folder)},
        **st_config,
    )


# ---------------------------------------------------------------------------------------------- writing


FORMATS = ("sentence-transformers", "model2vec")


MODEL_ENTRIES = frozenset({
    "README.md", "modules.json", "config_sentence_transformers.json", "config.json", WEIGHTS_FILE, TOKENIZER_FILE,
    "0_StaticEmbedding", "1_Normalize", ".gitattributes", ".DS_Store", ".cache",
})
"""What a static model folder holds beside its modules' own folders: the files staticemb, Sentence Transformers
and model2vec write, a Hub download's ``.gitattributes`` (and the ``.cache`` that ``hf download --local-dir``
leaves), and the macOS Finder's ``.DS_Store``. A save replaces a folder of its format only when it holds nothing
else (another entry would be deleted with it)."""

MODULE_FOLDER_ENTRIES = frozenset({WEIGHTS_FILE, TOKENIZER_FILE, "config.json", ".DS_Store"})
"""What a module's own folder (``0_StaticEmbedding``, ``1_Normalize``) holds in a model that a save may replace."""

TRAINING_ENTRIES = frozenset({"training_log.json", "checkpoints"})
"""What a training run adds to its model folder: the trainer's next run into the folder may replace it (and keeps
the checkpoints); a plain save may not (it would delete them)."""


def _module_entries(folder: Path) -> set[str]:
    """The top-level entries that ``modules.json`` names as module folders."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        return {Path(m["path"]).parts[0] for m in modules if isinstance(m.get("path"), str) and Path(m["path"]).parts}
    except (OSError, ValueError, TypeError, AttributeError, KeyError):
        return set()


def _shown(names: Sequence[str]) -> str:
    return ", ".join(sorted(names)[:5]) + (", …" if len(names) > 5 else "")


def _other_entries(folder: Path, entries: Sequence[str], allowed: frozenset[str]) -> list[str]:
    """What a model folder holds beyond its model (``MODEL_ENTRIES``, ``allowed``, its modules' folders and what
    those hold, ``MODULE_FOLDER_ENTRIES``): the entries, and ``module/entry`` within a module's folder."""
    modules = _module_entries(folder)
    others = set(entries) - MODEL_ENTRIES - allowed - modules
    for name in sorted((modules | {"0_StaticEmbedding", "1_Normalize"}) & set(entries)):
        module = folder / name
        if module.is_dir() and not module.is_symlink():
            others |= {f"{name}/{p.name}" for p in module.iterdir() if p.name not in MODULE_FOLDER_ENTRIES}
    return sorted(others)


def describe_folder(folder: Path, format: str, allowed: frozenset[str] = frozenset()) -> str | None:
    """``None`` when ``folder`` is empty or holds a static model of ``format`` and nothing else (what a save in
    that format may replace; ``allowed`` names more top-level entries it may replace); otherwise a few words
    saying what it holds."""
    entries = [p.name for p in folder.iterdir()]
    if not entries:
        return None
    try:
        kind = read_folder(folder).info["format"]
    except Exception:  # anything that is not a loadable static model: say what it looks like
        kind = None
    if kind == format:
        others = _other_entries(folder, entries, allowed)
        return f"a {kind} model and other files ({_shown(others)})" if others else None
    if kind is not None:
        return f"a {kind} model"
    if "modules.json" in entries:
        try:
            first = _module_type(json.loads((folder / "modules.json").read_text(encoding="utf-8"))[0])
        except Exception:
            first = ""
        return f"a Sentence Transformers model whose first module is {first or 'unknown'}"
    if "config.json" in entries:
        return "a transformers or other model (config.json)"
    return f"files that are not a static model ({_shown(entries)})"


def _fsync(path: Path, *, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            _fsync(Path(dirpath) / name)
        _fsync(Path(dirpath), directory=True)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``). ``False`` when the platform or the
    file system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------- temporary files

# What a save writes beside its target is named ".{target}.{pid}.{host}.{random}.staticemb.tmp" (the old model,
# while a swap without an atomic exchange moves it aside: "...staticemb-old.tmp"): staticemb's, and whose. A
# process killed mid-save (SIGKILL, the OOM killer, a power cut) leaves it behind; the next save of the same
# target removes it once its writer is known to be gone.
_TEMP_SUFFIX, _OLD_SUFFIX = ".staticemb.tmp", ".staticemb-old.tmp"


def _host_tag() -> str:
    """This machine, in 8 hex digits (its host name's hash): a writer's process id means something only here."""
    return hashlib.sha256(socket.gethostname().encode("utf-8", "surrogateescape")).hexdigest()[:8]


_LIVE_TEMPS: set[str] = set()
"""The temporary names this process has made and not yet finished with: its own live saves (any thread's). An
entry named with this process's id but not in here was left by an earlier process that had the same id (a
container restarted after a kill runs its program as the same process id again)."""

_STEM_BYTES = 120


def _temp_stem(name: str) -> str:
    """The part of a temporary name that names its target: the target's name, or for a long one (the temporary
    adds ~50 characters, and a name has at most 255 bytes) its first characters and a hash of the whole."""
    if len(name.encode("utf-8", "surrogateescape")) <= _STEM_BYTES:
        return name
    head = name
    while len(head.encode("utf-8", "surrogateescape")) > _STEM_BYTES - 9:
        head = head[:-1]
    return f"{head}~{hashlib.sha256(name.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"


def temp_path(target: Path, *, old: bool = False) -> Path:
    """A fresh name beside ``target`` for what a save of it writes (``old``: where the old model is moved
    aside), naming this process and machine; live until :func:`done_with` is called on it."""
    suffix = _OLD_SUFFIX if old else _TEMP_SUFFIX
    name = f".{_temp_stem(target.name)}.{os.getpid()}.{_host_tag()}.{uuid.uuid4().hex[:12]}{suffix}"
    _LIVE_TEMPS.add(name)
    return target.with_name(name)


def done_with(*paths: Path | None) -> None:
    """This process has finished with these temporary names (renamed into place, removed, or given up)."""
    for path in paths:
        if path is not None:
            _LIVE_TEMPS.discard(path.name)


def _temp_pattern(name: str) -> re.Pattern[str]:
    return re.compile(re.escape(f".{_temp_stem(name)}.")
                      + r"(\d{1,10})\.([0-9a-f]{8})\.[0-9a-f]{12}\.staticemb(-old)?\.tmp")


def _writer_alive(host: str, pid: int, name: str) -> bool:
    """Whether the process that named the temporary entry ``name`` may still be writing it: always for another
    machine's (its processes cannot be seen from here) and on Windows (where ``os.kill(pid, 0)`` sends Ctrl-C
    instead of asking); for this process's id, while one of its threads' saves holds it (:data:`_LIVE_TEMPS`)."""
    if host != _host_tag() or os.name == "nt":
        return True
    if pid == os.getpid():
        return name in _LIVE_TEMPS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # another user's process (EPERM), or no such number here
        return True
    return True


def hold(path: Path) -> int | None:
    """Open ``path`` (a folder or a file, not followed if a symlink) and take a shared lock on it, which the
    kernel drops when this process ends however it ends: while it is held, no other save takes ``path`` for a
    dead writer's leftover. The descriptor to close when done, or ``None`` where it cannot be taken."""
    try:
        import fcntl

        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except (ImportError, OSError):
        return None
    for _ in range(100):  # another save may be looking at it this instant (see _held): a moment, never long
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            time.sleep(0.01)
            continue
        except OSError:
            pass  # a file system without locks: the writer's process id still protects it
        break
    return fd


def _release(fd: int | None) -> None:
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass


def _held(path: Path) -> bool:
    """Whether a live process holds ``path`` (see :func:`hold`). A writer in another process id namespace of
    this machine (a container sharing the folder) looks dead by its process id; its lock says otherwise."""
    try:
        import fcntl

        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except (ImportError, OSError):
        return False  # a symlink (the old target of a swap), or nothing there any more
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False  # no locks on this file system: the process id decides
    finally:
        os.close(fd)
    return False


def remove_stale_temps(target: Path, keep: Sequence[str] = ()) -> None:
    """Remove what saves of ``target`` killed part-way left beside it: entries named for ``target`` by
    :func:`temp_path` whose writer is gone (its process, on this machine, has ended and holds no lock on it),
    never a live writer's. Where the old model was moved aside and ``target`` is missing (a kill between the two
    renames of a swap without an atomic exchange), the old model is put back. ``keep`` entries (a training run's
    ``checkpoints``) that an interrupted swap had not yet moved into ``target`` are moved there first. Best
    effort: a leftover that cannot be removed is left, and never fails the save."""
    pattern = _temp_pattern(target.name)
    try:
        names = os.listdir(target.parent)
    except OSError:
        return
    found = [(m, name) for name in names if (m := pattern.fullmatch(name))]
    # The old model first: put back where the target is missing, before any other leftover is looked at.
    for match, name in sorted(found, key=lambda f: f[0].group(3) is None):
        path = target.parent / name
        try:
            if _writer_alive(match.group(2), int(match.group(1)), name) or _held(path):
                continue
            if match.group(3) and not os.path.lexists(target):
                os.rename(path, target)
                continue
            if path.is_dir() and not path.is_symlink() and target.is_dir():
                for entry in keep:
                    if os.path.lexists(path / entry) and not os.path.lexists(target / entry):
                        os.rename(path / entry, target / entry)
        except OSError:
            continue
        _remove(path)


def check_folder_target(target: Path, format: str, remedy: str, allowed: frozenset[str] = frozenset()) -> None:
    """Refuse (:class:`FileExistsError`, ending in ``remedy``) a ``target`` that a save in ``format`` may not
    replace: a file, or a folder holding anything but nothing or a static model of that format (and the
    top-level entries ``allowed`` names)."""
    if not target.exists():
        return
    if not target.is_dir():
        raise FileExistsError(f"{target} is a file, not a model folder; {remedy}")
    kind = describe_folder(target, format, allowed)
    if kind is not None:
        raise FileExistsError(f"{target} holds {kind}; a {format} save replaces only a folder that holds a "
                              f"{format} static model and nothing else: {remedy}")


def write_file(path: Path, write: Callable[[Any], None], *, binary: bool = False,
               temps_name: str | None = None) -> None:
    """Write a UTF-8 text file (``binary``: a file of bytes) atomically: ``write(f)`` fills a file beside
    ``path`` under a name of its own (:func:`temp_path`, opened with "x": never another writer's), which is
    flushed to disk and renamed into place. A crash, a kill or a writer running at once leaves the old file or a
    whole new one; the new file gets the umask's mode. What a killed writer left is removed by the next write of
    ``path`` (:func:`remove_stale_temps`), or, with ``temps_name``, by the next write in the same folder with
    the same ``temps_name`` (files each written once under a new name, such as cache shards, share one name for
    their temporaries so that a later write finds what a killed one left).

    A symlink is followed (its target is replaced, the link stays), and a path that is not a regular file
    (``/dev/stdout``, ``/dev/null``, a named pipe) is written into directly: renaming over it would replace
    the device or pipe with a file."""
    given = Path(path)
    kind, encoding = ("b", None) if binary else ("", "utf-8")
    fd = open_descriptor(given)
    if fd is not None:  # /dev/stdout, /dev/fd/N: written through the open file, at its offset (a ``>>`` appends)
        with os.fdopen(os.dup(fd), "w" + kind, encoding=encoding) as f:
            write(f)
        return
    # Judged on the path as given, through its links: a named pipe or a device is written into.
    if given.exists() and not given.is_file() and not given.is_dir():
        with open(given, "w" + kind, encoding=encoding) as f:
            write(f)
        return
    path = Path(os.path.realpath(given))
    named = path if temps_name is None else path.with_name(temps_name)
    remove_stale_temps(named)
    tmp = temp_path(named)
    lock = None
    try:
        with open(tmp, "x" + kind, encoding=encoding) as f:
            lock = hold(tmp)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        _release(lock)
        done_with(tmp)


_DESCRIPTOR = re.compile(r"/dev/(?:std(in|out|err)|fd/(\d+))|/proc/self/fd/(\d+)")


def open_descriptor(path: str | os.PathLike) -> int | None:
    """The descriptor number a path such as ``/dev/stdout``, ``/dev/fd/3`` or ``/proc/self/fd/3`` names, or
    ``None``: such a path is this process's open file (a pipe, a terminal, or a file a shell ``>>`` opened), to be
    written through, not replaced by a rename or reopened (which would truncate)."""
    found = _DESCRIPTOR.fullmatch(os.fspath(path))
    if found is None:
        return None
    if found.group(1):
        return ("in", "out", "err").index(found.group(1))
    return int(found.group(2) or found.group(3))


def save_target(target: str | os.PathLike) -> Path:
    """The absolute path a folder save writes: a trailing ``..`` resolved as the OS reads it (through symlinks;
    the temporary folder was made inside the target and the swap failed with EBUSY), anything else kept as given
    (``os.path.abspath`` would read ``link/../x`` as ``./x``, not as the OS does)."""
    path = Path(target).expanduser().absolute()
    return path.resolve() if path.name == ".." else path


def replaced_path(target: str | os.PathLike) -> Path:
    """Where the directory entry that a save of ``target`` replaces really is: its parent resolved, its last part
    not followed (a symlink there is replaced, not the folder it names)."""
    path = save_target(target)
    return Path(os.path.realpath(path.parent)) / path.name


def _check_not_the_working_directory(target: Path) -> None:
    """Refuse to replace the folder that holds this process's working directory: the swap deletes the old
    folder, and the process would be left in a deleted directory where every relative path fails."""
    try:
        # The last part is not followed: a symlink there is what the swap replaces, not the folder it names.
        cwd, real = Path(os.getcwd()), replaced_path(target)
    except OSError:
        return
    if cwd == real or real in cwd.parents:
        raise InvalidInputError(f"cannot save into {target}: it holds the working directory ({cwd}), which the "
                                "save would delete; save to another folder, or change directory first")


def write_folder(
    target: str | os.PathLike,
    write: Callable[[Path], None],
    *,
    format: str,
    overwrite: bool = False,
    keep: Sequence[str] = (),
) -> Path:
    """Write a model folder atomically: ``write(tmp)`` fills a fresh folder beside ``target``, every file is
    fsynced, then the folder is swapped in whole. A crash, kill or full disk at any moment leaves either the
    old folder or the new one, never a mix; the old files are unlinked, never truncated, so a live model that
    memory-maps them keeps working.

    ``target`` may be missing, empty or a static model of the same ``format``; anything else (a transformer,
    a static model of the other format, unrelated files) raises :class:`FileExistsError` unless
    ``overwrite=True``. ``keep`` names entries of the old folder (a training run's ``checkpoints``) moved into
    the new one just after the swap.

    The fresh folder is named for ``target``, this process and this machine (:func:`temp_path`): what a save
    killed part-way leaves beside ``target`` is removed by the next save of ``target`` once its process has
    ended, never while it runs (:func:`remove_stale_temps`).
    """
    target = save_target(target)
    remove_stale_temps(target, keep)  # first: it may put back the old model a killed save had moved aside
    if not overwrite:
        check_folder_target(target, format, "pass overwrite=True to replace the folder and everything in it")
    _check_not_the_working_directory(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # a file where a folder of the path must be
        blocking = next((p for p in (target.parent, *target.parent.parents) if p.exists() or p.is_symlink()),
                        target.parent)
        raise FileExistsError(f"cannot save to {target}: {blocking} is a file, not a folder") from None
    tmp = temp_path(target)
    os.mkdir(tmp)
    # Held until the end: the new folder, and the old one from the swap on, are this live save's, not leftovers.
    locks = [hold(tmp)]
    try:
        old: Path | None = None
        tmp_moved = False
        try:
            write(tmp)
            _fsync_tree(tmp)
            if not target.exists() and not target.is_symlink():
                try:
                    os.rename(tmp, target)
                    tmp_moved = True
                except OSError as e:  # another save's folder landed there just now: replaced below, as any
                    if e.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not target.is_dir():
                        raise
            if not tmp_moved:
                if not overwrite:  # what is there now: a folder may have landed while this save wrote its own
                    check_folder_target(target, format, "pass overwrite=True to replace the folder and "
                                        "everything in it")
                locks.append(hold(target))
                if _exchange(tmp, target):
                    old = tmp  # now the old model
                else:
                    # No atomic exchange here: for an instant between the two renames `target` is missing (the
                    # old model is at `old`, the new one at `tmp`; the next save puts the old one back).
                    old = temp_path(target, old=True)
                    os.rename(target, old)
                    os.rename(tmp, target)
        except BaseException:
            if old is not tmp:  # else the swap is done and `tmp` holds the old model, whose `keep` entries go below
                _remove(tmp)
                if old is not None and old.exists() and not target.exists():
                    os.rename(old, target)  # the second rename failed: put the old model back
            raise
        if old is not None:
            for name in keep:
                if (old / name).exists():
                    os.rename(old / name, target / name)
            _remove(old)
    finally:
        for lock in locks:
            _release(lock)
        done_with(tmp, old)
    _fsync(target.parent, directory=True)
    return target


CARD_FILE = "README.md"
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.S)


def card_base_model(folder: Path) -> str | None:
    """The ``base_model`` a folder's model card names in its front matter (the lineage a save carries on),
    or ``None``. Only a plain ``base_model: name`` line is read; a card that cannot be read names none."""
    path = folder / CARD_FILE
    if not path.is_file():  # missing, a folder, a FIFO or a device: nothing to read (and never block)
        return None
    try:
        with open(path, "rb") as f:
            text = f.read(65_536).decode("utf-8", errors="replace")
    except OSError:
        return None
    front = _FRONT_MATTER.match(text)
    found = front and re.search(r"^base_model:[ \t]*([^\s#\[\]{}]+)[ \t]*$", front.group(1), re.M)
    return found.group(1).strip("'\"") if found else None


@dataclass
class Card:
    """What a model card says of a model."""

    name: str
    format: str
    vocab_size: int
    dim: int
    dtype: str
    normalize: bool
    tokenizer_model: str
    max_length: int | None
    similarity_fn_name: str
    prompts: dict[str, str]
    base_model: str | None = None
    training: str | None = None
    truncate_dim: int | None = None
    """The width Sentence Transformers cuts the ``dim``-wide output to (``config_sentence_transformers.json``)."""


def model_card(card: Card) -> str:
    """The ``README.md`` written on save: front matter for the Hub, what the model is, how it was made (when
    known) and how to load it with staticemb, Sentence Transformers and model2vec (an int8 Sentence Transformers
    table, with its row scales, only staticemb loads: the card says so instead)."""
    front = ["library_name: staticemb", "tags:", "- static-embeddings", "- sentence-transformers",
             "- model2vec", "- sentence-similarity", "pipeline_tag: sentence-similarity"]
    if card.base_model:
        front.append(f"base_model: {card.base_model}")
    rows = [
        ("Format", f"{card.format} folder, written by staticemb"),
        ("Dimensions", f"{card.dim} (the leading columns can be kept alone: `dim=` / `truncate_dim=`)"
         if card.truncate_dim is None else
         f"{card.truncate_dim}: the first {card.truncate_dim} of the table's {card.dim} columns (`truncate_dim` "
         f"in `config_sentence_transformers.json`{', cut after the normalization' if card.normalize else ''})"),
        ("Vocabulary", f"{card.vocab_size:,} tokens ({card.tokenizer_model} tokenizer, `tokenizer.json`)"),
        ("Stored as", card.dtype),
        ("Normalized", "yes (L2)" if card.normalize else "no"),
        ("Maximum length", "none: every token is pooled" if card.max_length is None
         else f"{card.max_length} tokens"),
        ("Similarity", card.similarity_fn_name),
        ("Base model", f"`{card.base_model}`" if card.base_model else "not recorded"),
    ]
    prompts = {k: v for k, v in sorted(card.prompts.items()) if v}
    if prompts:
        rows.append(("Prompts", ", ".join(f"`{k}`: `{v!r}`" for k, v in prompts.items())))
    table = "\n".join(["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])
    training = card.training or (
        "Not recorded: this folder was saved by staticemb from a model whose training it was not told of."
    )
    others = f"""Sentence Transformers:

```python
from sentence_transformers import SentenceTransformer

model = SentenceTransformer("{card.name}")
embeddings = model.encode(["first text", "second text"])
```

model2vec:

```python
from model2vec import StaticModel

model = StaticModel.from_pretrained("{card.name}")
embeddings = model.encode(["first text", "second text"])
```"""
    cut = "" if card.truncate_dim is None else f", cut to its first {card.truncate_dim} values"
    if card.format == "Sentence Transformers" and card.dtype == "int8":
        # embedding.weight is int8 with one float32 scale per row in embedding.scales: Sentence Transformers
        # refuses an int8 table, model2vec reads it without its scales (wrong vectors).
        others = ("Sentence Transformers and model2vec cannot load this folder: its table is int8 with one scale "
                  "per row (`embedding.scales`), which only staticemb reads. For them, save a float16 or float32 "
                  "copy (`model.quantize(\"float16\").save(path)`).")
    text = f"""---
{chr(10).join(front)}
---

# {card.name}

A static embedding model: one table of token vectors, no transformer. A text's embedding is the mean of the
table rows of its tokens{", L2-normalized" if card.normalize else ""}{cut}.

{table}

## Training

{training}

## Usage

staticemb (Rust core, multithreaded):

```python
from staticemb import StaticModel

model = StaticModel.from_pretrained("{card.name}")
embeddings = model.encode(["first text", "second text"])
```

{others}
"""
    # A folder name that is not UTF-8 holds lone surrogates in Python (a byte 0xff is "\\udcff"), which UTF-8
    # cannot write: the card shows U+FFFD there.
    return re.sub("[\ud800-\udfff]", "\ufffd", text)


def write_sentence_transformers(
    target: str | os.PathLike,
    *,
    tensors: dict[str, np.ndarray],
    tokenizer_json: str,
    normalize: bool,
    st_config: dict[str, Any] | None = None,
    card: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a Sentence Transformers static folder (``modules.json``, ``0_StaticEmbedding/model.safetensors``
    and ``tokenizer.json``, ``1_Normalize`` when normalizing, the model ``card`` as ``README.md``) atomically,
    see :func:`write_folder`."""
    from safetensors.numpy import save_file

    def write(folder: Path) -> None:
        if card is not None:
            (folder / CARD_FILE).write_text(card, encoding="utf-8")
        module = folder / "0_StaticEmbedding"
        module.mkdir()
        save_file(tensors, str(module / WEIGHTS_FILE))
        (module / TOKENIZER_FILE).write_text(tokenizer_json, encoding="utf-8")
        modules = [
            {"idx": 0, "name": "0", "path": "0_StaticEmbedding", "type": "sentence_transformers.models.StaticEmbedding"}
        ]
        if normalize:
            (folder / "1_Normalize").mkdir()
            modules.append(
                {"idx": 1, "name": "1", "path": "1_Normalize", "type": "sentence_transformers.models.Normalize"}
            )
        (folder / "modules.json").write_text(json.dumps(modules, indent=2), encoding="utf-8")
        config: dict[str, Any] = {"prompts": {}, "default_prompt_name": None, "similarity_fn_name": "cosine"}
        config.update({k: v for k, v in (st_config or {}).items() if v is not None})
        (folder / "config_sentence_transformers.json").write_text(json.dumps(config, indent=2), encoding="utf-8")

    return write_folder(target, write, format="sentence-transformers", overwrite=overwrite)


def write_model2vec(
    target: str | os.PathLike,
    *,
    tensors: dict[str, np.ndarray],
    tokenizer_json: str,
    normalize: bool,
    max_length: int | None,
    st_config: dict[str, Any] | None = None,
    card: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a model2vec folder (``model.safetensors`` with ``embeddings`` and optional ``weights`` and
    ``mapping``, ``tokenizer.json``, ``config.json``, the ``modules.json`` model2vec writes so that Sentence
    Transformers loads it too, ``st_config`` as ``config_sentence_transformers.json`` when given, and the model
    ``card`` as ``README.md``) atomically, see :func:`write_folder`."""
    from safetensors.numpy import save_file

    embeddings = tensors["embeddings"]
    config: dict[str, Any] = {
        "max_length": max_length,
        "normalize": normalize,
        "embedding_dtype": np.dtype(embeddings.dtype).name,
    }
    if "mapping" in tensors:
        config["vocabulary_quantization"] = int(embeddings.shape[0])

    def write(folder: Path) -> None:
        if card is not None:
            (folder / CARD_FILE).write_text(card, encoding="utf-8")
        save_file(tensors, str(folder / WEIGHTS_FILE))
        (folder / TOKENIZER_FILE).write_text(tokenizer_json, encoding="utf-8")
        (folder / "config.json").write_text(json.dumps(config, indent=4), encoding="utf-8")
        modules = [{"idx": 0, "name": "0", "path": ".", "type": "sentence_transformers.models.StaticEmbedding"}]
        if normalize:
            (folder / "1_Normalize").mkdir()
            modules.append(
                {"idx": 1, "name": "1", "path": "1_Normalize", "type": "sentence_transformers.models.Normalize"}
            )
        (folder / "modules.json").write_text(json.dumps(modules, indent=4), encoding="utf-8")
        if st_config is not None:
            (folder / "config_sentence_transformers.json").write_text(json.dumps(st_config, indent=2),
                                                                      encoding="utf-8")

    return write_folder(target, write, format="model2vec", overwrite=overwrite)
