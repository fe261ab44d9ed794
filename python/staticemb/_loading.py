"""Finding and reading model folders: Sentence Transformers static folders, model2vec folders, Hub ids."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import _safetensors
from .errors import ModelFormatError

# Files a static model needs; everything else in a Hub repository (ONNX exports, PyTorch pickles, …) is skipped.
_HUB_PATTERNS = ["*.json", "*.safetensors", "*/*.json", "*/*.safetensors", "README.md"]
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")


@dataclass
class LoadedModel:
    """What a folder holds, before it becomes a StaticModel."""

    tokenizer_json: str
    embeddings: np.ndarray
    normalize: bool
    weights: np.ndarray | None = None
    mapping: np.ndarray | None = None
    drop_unknown: bool = False
    scales: np.ndarray | None = None
    source: str = ""
    info: dict[str, Any] = field(default_factory=dict)


def resolve(path_or_id: str | os.PathLike, *, revision=None, token=None, cache_dir=None) -> Path:
    """A local folder as is; otherwise a Hugging Face Hub id, fetched (or found in the cache) with
    ``huggingface_hub.snapshot_download``. ``HF_HUB_OFFLINE=1`` makes this use the local cache only."""
    path = Path(os.fspath(path_or_id)).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ModelFormatError(f"{path} is a file; pass the model folder that contains it")
    text = os.fspath(path_or_id)
    if not _REPO_ID.match(text) or text.count("/") > 1:
        raise FileNotFoundError(f"no model folder at {text!r} (and it is not a Hugging Face Hub id)")
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency
        raise FileNotFoundError(f"no model folder at {text!r}, and huggingface_hub is not installed") from None
    try:
        folder = snapshot_download(
            repo_id=text, revision=revision, token=token, cache_dir=cache_dir, allow_patterns=_HUB_PATTERNS
        )
    except LocalEntryNotFoundError as e:
        raise FileNotFoundError(
            f"{text!r} is not a local folder and is not in the Hugging Face Hub cache, and the Hub cannot be "
            f"reached (offline mode or no network): {e}"
        ) from None
    except Exception as e:  # the Hub raises many types: network, auth, missing repo
        raise FileNotFoundError(f"could not load {text!r} from the Hugging Face Hub: {type(e).__name__}: {e}") from e
    return Path(folder)


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"{path.name} not found in {path.parent}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFormatError(f"{path} is not valid JSON: {e}") from None


def _tokenizer_json(folder: Path) -> str:
    path = folder / "tokenizer.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"tokenizer.json not found in {folder}: a static model folder needs the tokenizer that made its table"
        )
    return path.read_text(encoding="utf-8")


def _module_type(entry: dict) -> str:
    return str(entry.get("type", "")).rsplit(".", 1)[-1]


def read_folder(folder: Path) -> LoadedModel:
    """Read a Sentence Transformers static folder or a model2vec folder."""
    modules_path = folder / "modules.json"
    module_dir = folder
    normalize = False
    info: dict[str, Any] = {}
    if modules_path.is_file():
        modules = _read_json(modules_path)
        if not isinstance(modules, list) or not modules:
            raise ModelFormatError(f"{modules_path} must be a non-empty JSON list of modules")
        kinds = [_module_type(m) for m in modules]
        if kinds[0] != "StaticEmbedding":
            raise ModelFormatError(
                f"{folder} is a Sentence Transformers model whose first module is {kinds[0] or 'unknown'}, "
                "not StaticEmbedding: staticemb only runs static embedding models"
            )
        rest = [k for k in kinds[1:] if k != "Normalize"]
        if rest:
            raise ModelFormatError(
                f"{folder}: modules after StaticEmbedding must be Normalize only, found {', '.join(rest)}"
            )
        normalize = "Normalize" in kinds[1:]
        module_dir = folder / str(modules[0].get("path", "") or ".")
        info["format"] = "sentence-transformers"

    weights_path = module_dir / "model.safetensors"
    if not weights_path.is_file():
        raise FileNotFoundError(f"model.safetensors not found in {module_dir}")
    tensors = _safetensors.load(weights_path, names=["embedding.weight", "embedding.scales", "embeddings", "weights", "mapping"])
    tokenizer_json = _tokenizer_json(module_dir)

    if "embeddings" in tensors:
        # model2vec layout (also when it ships a modules.json): its config decides normalization, and the
        # unknown token is dropped, per-token weights apply and `mapping` maps token ids to rows.
        config_path = folder / "config.json"
        config = _read_json(config_path) if config_path.is_file() else {}
        normalize = bool(config.get("normalize", normalize))
        info = {"format": "model2vec", "config": config}
        return LoadedModel(
            tokenizer_json=tokenizer_json,
            embeddings=tensors["embeddings"],
            normalize=normalize,
            weights=tensors.get("weights"),
            mapping=tensors.get("mapping"),
            drop_unknown=True,
            source=str(folder),
            info=info,
        )
    if "embedding.weight" not in tensors:
        raise ModelFormatError(
            f"{weights_path} holds neither 'embedding.weight' (Sentence Transformers) nor 'embeddings' (model2vec)"
        )
    info.setdefault("format", "sentence-transformers")
    return LoadedModel(
        tokenizer_json=tokenizer_json,
        embeddings=tensors["embedding.weight"],
        normalize=normalize,
        scales=tensors.get("embedding.scales"),
        source=str(folder),
        info=info,
    )

