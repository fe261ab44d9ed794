"""The public model class: :class:`StaticModel`.

Arguments are checked once in :mod:`staticemb._inputs`; files are read and written by :mod:`staticemb._io`;
the work runs in the native :class:`staticemb._core.Model`, built once per model.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import _core, _inputs, _io
from ._quantize import PRECISIONS, check_finite, model2vec_int8, quantize_embeddings, quantize_table
from .errors import InvalidInputError, ModelFormatError, TokenizerError
from .evaluation import cosine_scores

__all__ = ["StaticModel"]

TRUNCATIONS = ("right", "left", "model2vec")
MODEL2VEC_MAX_LENGTH = 512
"""model2vec's ``max_length`` when a folder's ``config.json`` does not set one."""

_UNSET: Any = object()
_NO_EFFECT = frozenset({"use_multiprocessing", "multiprocessing_threshold"})
"""encode() arguments of model2vec (its process pool) that change how the work is spread, never the vectors:
accepted, with no effect (staticemb's threads do the spreading)."""

_TEXT_NAMES = ("inputs", "sentences")
"""The texts argument's names in Sentence Transformers (``inputs``, formerly ``sentences``) and model2vec
(``sentences``), accepted by keyword beside staticemb's ``texts``."""


def _texts_argument(texts: Any, kwargs: dict[str, Any], method: str) -> Any:
    """The texts a call was given, positionally, as ``texts=`` or by a reference library's name (taken out of
    ``kwargs``); exactly one of them."""
    given = (["texts"] if texts is not _UNSET else []) + [name for name in _TEXT_NAMES if name in kwargs]
    if len(given) > 1:
        raise TypeError(f"{method}() got the texts more than once: {', '.join(given)}")
    if not given:
        raise TypeError(f"{method}() missing the texts to encode (the first argument)")
    return texts if texts is not _UNSET else kwargs.pop(given[0])


DEFAULT_BATCH_SIZE = 16_384
"""Texts handed to the Rust core per call: large enough to keep every core busy, small enough that a progress
bar moves and Ctrl-C is honoured between calls."""


class _TokenizerLoadError(ModelFormatError):
    """The tokenizer definition could not be loaded (from_pretrained adds the file's path)."""


def _tokenizer_json(tokenizer: Any) -> str | bytes:
    """The ``tokenizer.json`` text of a ``tokenizers.Tokenizer``, a fast ``transformers`` tokenizer or a
    JSON string (``str``, or UTF-8 ``bytes`` as read from a file: a 250k-piece vocabulary is 17 MB of UTF-8
    but up to four times that as a Python ``str``). Its validity is checked once, by the Rust core, when the
    model is built."""
    if isinstance(tokenizer, (str, bytes)):
        return tokenizer
    backend = tokenizer if hasattr(tokenizer, "to_str") else getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or not callable(getattr(backend, "to_str", None)):
        raise TypeError(
            "tokenizer must be a tokenizers.Tokenizer (or a fast transformers tokenizer, or a tokenizer.json "
            f"string), not {type(tokenizer).__name__}"
        )
    if getattr(backend, "encode_special_tokens", False) is True:  # a runtime setting its JSON does not carry
        raise InvalidInputError(
            "the tokenizer has encode_special_tokens=True (transformers: split_special_tokens=True), which "
            "tokenizer.json cannot carry, so staticemb would match its special tokens; set it to False, or pass a "
            "tokenizer without special tokens in the text"
        )
    return str(backend.to_str())


def _as_table(embeddings: Any) -> np.ndarray:
    """The table in a dtype staticemb pools natively (float32, float16, int8), converting only when the dtype
    must change (float64 and bfloat16 become float32). Shape and layout are the binding's to check."""
    if hasattr(embeddings, "detach") and hasattr(embeddings, "cpu"):  # a torch tensor, without importing torch
        embeddings = embeddings.detach().cpu()
        if str(embeddings.dtype) not in ("torch.float32", "torch.float16", "torch.int8"):
            embeddings = embeddings.float()
        embeddings = embeddings.numpy()
    if not isinstance(embeddings, np.ndarray):
        raise TypeError(f"embeddings must be a 2-D NumPy array (or torch tensor), not {type(embeddings).__name__}")
    if embeddings.dtype not in (np.float32, np.float16, np.int8):
        if embeddings.dtype.kind != "f":
            raise TypeError(f"embeddings must hold floating-point values (or int8), not {embeddings.dtype}")
        embeddings = embeddings.astype(np.float32)
    if embeddings.ndim != 2:
        raise InvalidInputError(f"embeddings must be 2-D (vocabulary x dimension), got shape {embeddings.shape}")
    if not embeddings.flags.c_contiguous:
        raise InvalidInputError(
            "embeddings must be C-contiguous (row-major); pass np.ascontiguousarray(embeddings) to copy it"
        )
    return embeddings


SAVE_FORMATS = ("sentence-transformers", "model2vec")


def _bad_format(format: Any) -> InvalidInputError:
    return InvalidInputError(f"format must be 'sentence-transformers' or 'model2vec', got {format!r}")


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


def _load_dim(dim: Any, dimensionality: Any) -> Any:
    """``from_pretrained``'s width: ``dim``, or model2vec's name for it, ``dimensionality`` (checked, as ``dim``
    is, by the model it is given to)."""
    if dimensionality is None:
        return dim
    if dim is not None and dim != dimensionality:
        raise InvalidInputError(f"dim={dim!r} and dimensionality={dimensionality!r} disagree: they name the same "
                                "width (dimensionality is model2vec's name); give one")
    return dimensionality


def _vector(name: str, value: Any, kind: str) -> np.ndarray | None:
    """model2vec's per-token ``weights`` (float) or ``token_mapping`` (integer), as a 1-D array."""
    if value is None:
        return None
    arr = np.asarray(value)
    if kind == "i" and arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array, not {arr.dtype}")
    if kind == "f" and arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a numeric array, not {arr.dtype}")
    if arr.ndim != 1:
        raise ModelFormatError(f"{name} must be 1-D, got shape {arr.shape}")
    if kind == "i" and arr.dtype == np.uint64 and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
        i = int(arr.argmax())  # int64 would wrap it to a negative row
        raise ModelFormatError(f"{name}[{i}] = {int(arr[i])} is not a valid row index")
    # A copy, as the core keeps one: a caller changing its array later must not reach only some of the paths.
    return np.array(arr, dtype=np.int64 if kind == "i" else np.float32, order="C", copy=True)


class StaticModel:
    """A static embedding model: a tokenizer and one table of token vectors.

    A text's embedding is the mean of the table rows of its tokens (tokenized without special tokens,
    truncation or padding), optionally L2-normalized. A text with no tokens (the empty string, or only
    whitespace) gets the zero vector; normalization leaves it zero.

    Build one with :meth:`from_pretrained` (a folder, a Hub id, a ``SentenceTransformer`` or a
    ``(tokenizer, array)`` pair) or directly::

        model = StaticModel(tokenizer, embeddings, normalize=True)
        vectors = model.encode(["first text", "second text"], dim=256)

    The table is kept as one C-contiguous float32 NumPy array that the Rust core reads in place (memory-mapped
    when loaded from a float32 ``.safetensors`` file). Matryoshka truncation (``dim``) gathers only the first
    ``dim`` columns of each row, so a 256-d encode reads a quarter of the memory of a 1024-d one.
    """

    def __init__(
        self,
        tokenizer: Any,
        embeddings: np.ndarray | Any,
        *,
        normalize: bool = False,
        dim: int | None = None,
        weights: np.ndarray | None = None,
        token_mapping: np.ndarray | None = None,
        drop_unknown: bool = False,
        scales: np.ndarray | None = None,
        tokenizer_backend: str = "auto",
        info: dict[str, Any] | None = None,
        prompts: dict[str, str] | None = None,
        default_prompt_name: str | None = None,
        similarity_fn_name: str | None = None,
        truncate_dim: int | None = None,
        max_length: int | None = None,
        truncation: str = "right",
    ) -> None:
        """Wrap a tokenizer and a table.

        Args:
            tokenizer: a ``tokenizers.Tokenizer`` (or a ``transformers`` fast tokenizer, or a
                ``tokenizer.json`` string).
            embeddings: a 2-D array, one row per token id (or per mapped row, see ``token_mapping``): float32,
                float16 or int8 are pooled as stored (accumulating in float32); other floats become float32.
            normalize: L2-normalize embeddings by default.
            dim: default output width (Matryoshka truncation); ``None`` uses the full table width.
            weights: model2vec per-token weights, indexed by token id: each row is scaled before the mean.
            token_mapping: model2vec's token id → table row mapping (vocabulary quantization).
            drop_unknown: drop the unknown token before pooling, as model2vec does.
            scales: one float32 scale per row of an int8 table (row value = scale * int8 value); ``None``
                means 1 (model2vec's int8 tables are averaged as they are).
            tokenizer_backend: ``"auto"`` uses staticemb's native WordPiece for BERT-style tokenizers
                (BertNormalizer + BertPreTokenizer + WordPiece), its native Unigram for SentencePiece ones
                (Precompiled/NFKC-style normalizers + Metaspace + Unigram) and its native byte-level BPE for
                GPT-2-style ones (ByteLevel + BPE) — the same ids, about ten times faster — and the
                ``tokenizers`` crate for everything else; ``"tokenizers"`` always uses the crate.
            prompts, default_prompt_name, similarity_fn_name, truncate_dim: as in Sentence Transformers.
            max_length: the most tokens a text keeps by default (``None``: every token, staticemb's default).
            truncation: which tokens ``max_length`` keeps: ``"right"`` (the first), ``"left"`` (the last), or
                ``"model2vec"`` (model2vec's: the text is first cut to ``max_length`` times the vocabulary's
                median token length in characters, then the first ``max_length`` tokens are kept).
        """
        self._tokenizer_json = _tokenizer_json(tokenizer)
        self._tokenizer_obj: Any = None
        table = _as_table(embeddings)
        # A base-class view: an ndarray subclass's view() or __array_finalize__ never gets hold of it (to change
        # its dtype or shape under the model).
        view = np.ndarray.view(table, np.ndarray)
        view.flags.writeable = False
        self._table = view
        self._normalize = _inputs.flag("normalize", normalize, default=False)
        drop = _inputs.flag("drop_unknown", drop_unknown, default=False)
        self._info = dict(info or {})
        self._scales: np.ndarray | None = None
        if view.dtype == np.int8:
            # model2vec's int8 tables are averaged as stored: no scales means a scale of 1 for every row.
            sc = np.ones(view.shape[0], np.float32) if scales is None else np.asarray(scales)
            if sc.dtype.kind != "f":
                raise TypeError(f"scales must be a floating-point array, not {sc.dtype}")
            # A copy (one float a row): scales are checked once, so the caller's array must not change them.
            self._scales = np.array(sc, dtype=np.float32, order="C", copy=True)
        elif scales is not None:
            raise InvalidInputError("scales apply to int8 tables only")
        self._mapping = _vector("token_mapping", token_mapping, "i")
        self._weights = _vector("weights", weights, "f")
        if tokenizer_backend not in ("auto", "tokenizers"):
            raise InvalidInputError(f"tokenizer_backend must be 'auto' or 'tokenizers', got {tokenizer_backend!r}")
        self._backend_request = tokenizer_backend
        try:
            self._native = _core.Model(
                self._tokenizer_json,
                view.view(np.uint16) if view.dtype == np.float16 else view,  # float16 crosses as its bits
                scales=self._scales,
                mapping=self._mapping,
                weights=self._weights,
                drop_unknown=drop,
                native=tokenizer_backend == "auto",
            )
        except TokenizerError as e:
            raise _TokenizerLoadError(f"could not load the tokenizer: {e}") from None
        self._dim = _inputs.dim(dim, full=self.full_dim, default=self.full_dim)
        self._prompts = {**_io.DEFAULT_PROMPTS, **_inputs.prompts(prompts)}
        self._default_prompt_name = self._checked_prompt_name(default_prompt_name, self._prompts)
        self._similarity_fn_name = _inputs.similarity_fn_name(similarity_fn_name)
        self.truncate_dim = truncate_dim  # checked by its setter
        self._max_length = _inputs.count("max_length", max_length)
        if truncation not in TRUNCATIONS:
            raise InvalidInputError(f"truncation must be one of {', '.join(TRUNCATIONS)}, got {truncation!r}")
        self._truncation = truncation

    def __getstate__(self) -> dict[str, Any]:
        # The native encoder is rebuilt from the tokenizer on unpickling; the table travels as an array.
        return {
            "tokenizer": self._tokenizer_json,
            "embeddings": np.asarray(self._table),
            "scales": self._scales,
            "normalize": self._normalize,
            "dim": self._dim,
            "weights": self._weights,
            "token_mapping": self._mapping,
            "drop_unknown": self.drop_unknown,
            "tokenizer_backend": self._backend_request,
            "info": self._info,
            "prompts": _inputs.prompts(self._prompts),  # checked: the dict is the user's to change
            "default_prompt_name": self._default_prompt_name,
            "similarity_fn_name": self._similarity_fn_name,
            "truncate_dim": self._truncate_dim,
            "max_length": self._max_length,
            "truncation": self._truncation,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        tokenizer, embeddings = state.pop("tokenizer"), state.pop("embeddings")
        StaticModel.__init__(self, tokenizer, embeddings, **state)
        self._prompts = dict(state["prompts"] or {})  # exactly as they were (the constructor adds the defaults)

    # ------------------------------------------------------------------ loading

    @classmethod
    def from_pretrained(
        cls,
        model: str | os.PathLike | Any,
        *,
        dim: int | None = None,
        normalize: bool | None = None,
        revision: str | None = None,
        token: str | bool | None = None,
        cache_dir: str | os.PathLike | None = None,
        tokenizer_backend: str = "auto",
        mmap: bool = True,
        truncate_dim: int | None = None,
        subfolder: str | None = None,
        max_length: int | None = _UNSET,
        dimensionality: int | None = None,
        quantize_to: str | None = None,
        vocabulary_quantization: int | None = None,
        force_download: bool = False,
    ) -> StaticModel:
        """Load a static model.

        ``model`` is one of:

        * a Sentence Transformers static folder (``modules.json`` → ``StaticEmbedding`` with
          ``model.safetensors`` holding ``embedding.weight`` and ``tokenizer.json``, optionally followed by
          ``Normalize``);
        * a model2vec folder (``model.safetensors`` holding ``embeddings`` — float32, float16 or int8 — and
          optional ``weights`` and ``mapping``; ``config.json``; ``tokenizer.json``), run with model2vec's
          semantics: the unknown token is dropped, per-token weights and the mapping apply;
        * a Hugging Face Hub id (``"org/name"``), fetched with ``huggingface_hub`` into its cache (``revision``,
          ``token`` and ``cache_dir`` are passed on; ``HF_HUB_OFFLINE=1`` uses the cache only);
        * a ``SentenceTransformer`` whose first module is ``StaticEmbedding`` (the table is shared, not copied);
        * a ``(tokenizer, embeddings)`` pair.

        ``dim`` sets the default output width (Matryoshka truncation), ``normalize`` overrides the model's
        own normalization setting and ``tokenizer_backend`` is passed to the constructor. As in model2vec,
        ``subfolder`` loads the model from a folder inside the given folder or Hub repository, and ``max_length``
        overrides the folder's cap on the tokens pooled per text (``None``: none; see :meth:`with_options`).

        model2vec's other loading options give model2vec's vectors: ``dimensionality`` is ``dim``;
        ``quantize_to`` (``"float16"``, ``"float32"``, ``"float64"`` or ``"int8"``) stores the table as model2vec
        does (``"int8"``: one scale for the whole table, so vectors come out in its units, where
        :meth:`quantize` keeps a scale per row and the magnitudes; ``"float64"`` is kept as float32);
        ``vocabulary_quantization=n`` clusters the table's rows into ``n`` (scikit-learn's k-means, with
        model2vec's settings) and maps every token to its cluster; ``force_download`` fetches a Hub model again
        even where it is cached. They apply in model2vec's order: clusters, then dtype, then width.

        ``mmap=True`` (the default) memory-maps ``model.safetensors``: loading is instant and processes share
        the pages. Like any memory map (``numpy.memmap``, ``safetensors``), truncating or rewriting the file
        in place while the model lives kills the process with SIGBUS; ``mmap=False`` reads the table into
        memory instead. staticemb's own :meth:`save` never modifies a file in place.

        Corrupt or inconsistent files raise :class:`~staticemb.errors.ModelFormatError` naming the file.
        """
        dim = _load_dim(dim, dimensionality)
        if quantize_to is not None:
            quantize_to = _inputs.model2vec_dtype(quantize_to)
        clusters = _inputs.count("vocabulary_quantization", vocabulary_quantization)
        refetch = _inputs.flag("force_download", force_download, default=False)

        def finish(made: StaticModel) -> StaticModel:
            made = made._model2vec_quantized(clusters, quantize_to)
            return made if max_length is _UNSET else made.with_options(max_length=max_length)

        if isinstance(model, tuple) or _is_sentence_transformer(model):
            if subfolder is not None:
                raise InvalidInputError("subfolder names a folder inside a model folder or Hub repository; "
                                        f"it does not apply to a {type(model).__name__}")
            if isinstance(model, tuple):
                if len(model) != 2:
                    raise TypeError("a model given as a tuple must be a (tokenizer, embeddings) pair")
                tokenizer, embeddings = model
                made = cls(
                    tokenizer,
                    embeddings,
                    normalize=_inputs.flag("normalize", normalize, default=False),
                    dim=dim,
                    tokenizer_backend=tokenizer_backend,
                    info={"format": "arrays"},
                    truncate_dim=truncate_dim,
                )
            else:
                made = cls._from_sentence_transformer(
                    model, dim=dim, normalize=normalize, tokenizer_backend=tokenizer_backend,
                    truncate_dim=truncate_dim
                )
            return finish(made)
        text = _inputs.model_path(model)
        use_mmap = _inputs.flag("mmap", mmap, default=True)
        folder, root = _io.resolve(text, revision=revision, token=token, cache_dir=cache_dir, subfolder=subfolder,
                                   force_download=refetch)
        loaded = _io.read_folder(folder, mmap=use_mmap)
        if not Path(text).expanduser().is_dir():  # a Hub id: snapshot_download's folder is named by the commit
            loaded.info.update(hub_id=text, revision=root.name, base_model=text)
            if folder != root:
                loaded.info["subfolder"] = folder.relative_to(root).as_posix()
        elif base_model := _io.card_base_model(folder):
            loaded.info["base_model"] = base_model
        try:
            model = cls(
                loaded.tokenizer_json,
                loaded.embeddings,
                normalize=loaded.normalize if normalize is None else normalize,
                dim=dim,
                weights=loaded.weights,
                token_mapping=loaded.mapping,
                drop_unknown=loaded.drop_unknown,
                scales=loaded.scales,
                tokenizer_backend=tokenizer_backend,
                info=loaded.info,
                prompts=loaded.prompts,
                default_prompt_name=loaded.default_prompt_name,
                similarity_fn_name=loaded.similarity_fn_name,
                # The saved width, unless a truncate_dim (Sentence Transformers' rule) or a dim is given.
                truncate_dim=(
                    truncate_dim if truncate_dim is not None
                    else None if dim is not None
                    else _below_width(loaded.truncate_dim, loaded.embeddings.shape[1])
                ),
                max_length=loaded.max_length,
                truncation=loaded.truncation,
            )
        except _TokenizerLoadError as e:
            raise ModelFormatError(f"{loaded.tokenizer_path}: {e}") from None
        except ModelFormatError as e:  # the tokenizer and the tensors do not fit together
            raise ModelFormatError(f"{loaded.weights_path}: {e}") from None
        if loaded.info["format"] == "sentence-transformers":
            model._adopt_file_truncation()
        return finish(model)

    def _model2vec_quantized(self, clusters: int | None, dtype: str | None) -> StaticModel:
        """This model after model2vec's ``vocabulary_quantization`` (``clusters``) and ``quantize_to``
        (``dtype``), in model2vec's order; itself when neither is given."""
        model = self
        if clusters is not None:
            model = model._vocabulary_quantized(clusters)
        stored = np.dtype(model._table.dtype).name
        if dtype is None or dtype == stored or (dtype == "float64" and stored == "float32"):
            return model  # model2vec leaves a table of the dtype asked for as it is
        if dtype == "int8":
            # The scale is the largest magnitude of the rows a token can reach (rows past the vocabulary,
            # which model2vec's own tables never have, serve none).
            used = len(model._table) if model._mapping is not None else min(len(model._table), model.vocab_size)
            values = model2vec_int8(model._table, used)
            return model._copy(embeddings=values, scales=np.ones(len(values), dtype=np.float32),
                               info={**model._info, "quantized": "int8"})
        # float64 is pooled as float32, as staticemb pools every float table.
        return model.quantize("float16" if dtype == "float16" else "float32")

    def _vocabulary_quantized(self, clusters: int) -> StaticModel:
        """model2vec's vocabulary quantization: the table's rows clustered by k-means into ``clusters`` rows, each
        token mapped to its cluster's row and weighed by its own row's norm (or by the weights it has)."""
        if self._mapping is not None:
            raise InvalidInputError("vocabulary_quantization: this model's vocabulary is already quantized (its "
                                    "tokens map to shared rows); load the model it was made from")
        if len(self._table) != self.vocab_size:
            raise InvalidInputError(f"vocabulary_quantization clusters one row per token, and this table has "
                                    f"{len(self._table)} rows for {self.vocab_size} token ids")
        if self._table.dtype == np.int8:
            raise InvalidInputError("vocabulary_quantization clusters a float table, and this one is int8; "
                                    "cluster the float model, then quantize_to='int8'")
        if clusters > len(self._table):
            raise InvalidInputError(f"vocabulary_quantization must be at most the table's {len(self._table)} rows, "
                                    f"got {clusters}")
        rows = np.asarray(self._table)
        check_finite(rows, "clustered")
        try:
            from sklearn.cluster import KMeans
        except ImportError:
            raise ImportError("vocabulary_quantization needs scikit-learn's k-means: pip install scikit-learn "
                              "(or staticemb[quantization])") from None
        # model2vec's arithmetic, in the table's own dtype: without weights, a row's norm is its weight and the
        # rows are clustered by direction.
        weights = self._weights
        if weights is None:
            with np.errstate(all="ignore"):
                weights = np.linalg.norm(rows, axis=1) + 1e-32
                points = (rows / weights[:, None]).astype(np.float32)
            if not (np.isfinite(points).all() and np.isfinite(weights).all()):
                # A zero row (the 1e-32 is 0 in float16) or a norm past the dtype's range, where model2vec
                # fails: the same arithmetic in float64.
                wide = np.linalg.norm(rows.astype(np.float64), axis=1) + 1e-32
                points = (rows / wide[:, None]).astype(np.float32)
                with np.errstate(over="ignore"):
                    weights = wide.astype(np.float32)
                if not np.isfinite(weights).all():
                    i = int(np.flatnonzero(~np.isfinite(weights))[0])
                    raise InvalidInputError(f"vocabulary_quantization: row {i}'s norm ({wide[i]:.3g}) is beyond "
                                            "float32, the weight it would become")
        else:
            points = rows.astype(np.float32)
        kmeans = KMeans(n_clusters=clusters, random_state=42, init="random").fit(points)
        centers = np.ascontiguousarray(kmeans.cluster_centers_.astype(self._table.dtype))
        return self._copy(embeddings=centers, scales=None, weights=weights, token_mapping=kmeans.predict(points),
                          info={**self._info, "vocabulary_quantization": clusters})

    def _adopt_file_truncation(self) -> None:
        """Truncate as Sentence Transformers does with this tokenizer.json: its own truncation, if any."""
        found = self._native.file_truncation
        if found is not None and found[0] == 0:
            raise ModelFormatError(
                "tokenizer.json truncates every text to 0 tokens (truncation.max_length is 0): every vector "
                "would be zero; remove the truncation or give it a positive max_length"
            )
        if found is not None:
            self._max_length, self._truncation = found[0], ("left" if found[1] else "right")

    @classmethod
    def _from_sentence_transformer(
        cls,
        st_model: Any,
        *,
        dim: int | None,
        normalize: bool | None,
        tokenizer_backend: str,
        truncate_dim: int | None,
    ) -> StaticModel:
        modules = list(st_model)
        kinds = [_io.module_kind(f"{type(m).__module__}.{type(m).__qualname__}") for m in modules]
        first: Any = modules[0] if modules else None
        if not kinds or kinds[0] != "StaticEmbedding":
            raise ModelFormatError(
                f"the SentenceTransformer's first module is {kinds[0] if kinds else 'missing'}, not Sentence "
                "Transformers' StaticEmbedding"
            )
        rest = [kind for kind in kinds[1:] if kind != "Normalize"]
        if rest:
            raise ModelFormatError(
                f"modules after StaticEmbedding must be Sentence Transformers' Normalize only, found {', '.join(rest)}"
            )
        has_norm = any(
            _io.normalizes_sentence(
                getattr(m, "module_input_name", "sentence_embedding"), getattr(m, "module_output_name", None)
            )
            for m in modules[1:]
        )
        weight = first.embedding.weight
        model = cls(
            first.tokenizer,
            weight,
            normalize=_inputs.flag("normalize", normalize, default=has_norm),
            dim=dim,
            tokenizer_backend=tokenizer_backend,
            info={"format": "sentence-transformers", "source": "SentenceTransformer object"},
            prompts=dict(getattr(st_model, "prompts", None) or {}),
            default_prompt_name=getattr(st_model, "default_prompt_name", None),
            similarity_fn_name=getattr(st_model, "_similarity_fn_name", None),
            truncate_dim=(
                truncate_dim if truncate_dim is not None
                else None if dim is not None
                else _below_width(getattr(st_model, "truncate_dim", None), int(weight.shape[1]))
            ),
        )
        if getattr(st_model, "prompts", None) is not None:
            model._prompts = dict(st_model.prompts)  # as they are there (the empty defaults too, or not)
        model._adopt_file_truncation()
        return model

    # ------------------------------------------------------------------ properties

    @property
    def dim(self) -> int:
        """Default output width (the table width unless truncated with ``dim=`` at load)."""
        return self._dim

    @property
    def full_dim(self) -> int:
        """Width of the stored table."""
        return int(self._table.shape[1])

    @property
    def vocab_size(self) -> int:
        """Number of token ids the tokenizer can produce."""
        return int(self._native.vocab_size)

    @property
    def tokenizer(self) -> Any:
        """The ``tokenizers.Tokenizer`` (padding and truncation off), built on first use, for reading: encoding
        never uses it (the Rust core holds its own), nor does :meth:`save`, so changing it changes neither."""
        if self._tokenizer_obj is None:
            self._tokenizer_obj = self._fresh_tokenizer()
        return self._tokenizer_obj

    def _fresh_tokenizer(self) -> Any:
        """A new ``tokenizers.Tokenizer`` of the model's own definition, padding and truncation off."""
        from tokenizers import Tokenizer

        try:
            text = self._tokenizer_json
            tok = Tokenizer.from_str(text.decode("utf-8") if isinstance(text, bytes) else text)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:  # the tokenizers package may raise a PanicException (a BaseException)
            raise ModelFormatError(f"the tokenizers package cannot load this tokenizer: {e}") from None
        tok.no_padding()
        tok.no_truncation()
        return tok

    @property
    def dtype(self) -> str:
        """How the table is stored: ``"float32"``, ``"float16"`` or ``"int8"`` (with one scale per row)."""
        return str(self._table.dtype)

    @property
    def nbytes(self) -> int:
        """Bytes of the stored table (and int8 row scales)."""
        return int(self._table.nbytes + (0 if self._scales is None else self._scales.nbytes))

    def dequantized(self) -> np.ndarray:
        """The table as float32 (a copy for quantized tables; a read-only view of the table otherwise), full
        width."""
        if self._scales is not None:
            return self._table.astype(np.float32) * self._scales[:, None]
        return self._table.view() if self._table.dtype == np.float32 else self._table.astype(np.float32)

    def _folded_table(self) -> np.ndarray:
        """One float32 row per token id, full width, with model2vec's mapping and weights folded in: what a
        plain ``nn.EmbeddingBag`` needs to give this model's vectors."""
        v = self.vocab_size  # entries and rows past the vocabulary serve no token
        table = self.dequantized()
        table = table[: v] if self._mapping is None else table[self._mapping[: v]]
        if self._weights is not None:
            table = table * self._weights[: v, None]
        return table

    def quantize(self, dtype: str) -> StaticModel:
        """A copy of this model with its table stored as ``"float16"`` (half the memory) or ``"int8"`` (a quarter,
        one float32 scale per row); ``"float32"`` dequantizes. Pooling always accumulates in float32. The
        table keeps its full width, so Matryoshka ``dim`` still works."""
        values, scales = quantize_table(self.dequantized(), dtype)
        return self._copy(embeddings=values, scales=scales, info={**self._info, "quantized": dtype})

    def with_corpus_weights(
        self, corpus: Sequence[str], *, a: float = 1e-3, show_progress_bar: bool | None = None
    ) -> StaticModel:
        """A copy of this model that weighs each token by its rarity in ``corpus``, the documents you will search,
        as BM25 weighs a term by its rarity in its collection.

        Token ``t`` gets the SIF weight ``a / (a + p_t)``, ``p_t`` its share of the corpus's tokens (a token the
        corpus never uses: 1), on top of any weights the model already has; each text's mean is then weighted, so
        the corpus's own frequent words ("package" in package descriptions, "returns" in docstrings) count less.
        Encode the documents **and the queries** with the copy. The table is shared, not copied (the weights are
        one float32 per token id); :meth:`save` folds them into the table. What it adds on sources a model never
        trained on: ``training/RESULTS-corpus-weights.md``.

        Args:
            corpus: the documents (a list of str), counted as :meth:`encode` pools them by default: the
                default prompt prepended (so a prompt's tokens, in every text, weigh little), :attr:`max_length`
                applied, model2vec's unknown token left out.
            a: the SIF smoothing coefficient (positive; smaller weighs frequent tokens down harder).
            show_progress_bar: show a tqdm bar while the corpus is counted.
        """
        from .train.weighting import check_coefficient, sif_weights, token_counts

        coefficient = check_coefficient(a)
        progress = _inputs.flag("show_progress_bar", show_progress_bar, default=False)
        items = _inputs.texts(corpus)
        if not items:
            raise InvalidInputError("corpus is empty: corpus weights need the documents to count tokens in")
        vocab = self.vocab_size
        bar: Any = contextlib.nullcontext()
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(items), unit="text", desc="count tokens")
        with bar as shown:
            weights = sif_weights(token_counts(self, items, vocab_size=vocab, progress=shown, pooled=True),
                                  coefficient)
        if self._weights is not None:
            weights = np.concatenate([self._weights[:vocab] * weights, self._weights[vocab:]]).astype(np.float32)
        return self._copy(weights=weights, info={**self._info, "corpus_weights": {"a": coefficient, "texts": len(items)}})

    def with_options(
        self,
        *,
        normalize: bool = _UNSET,
        dim: int | None = _UNSET,
        max_length: int | None = _UNSET,
        truncation: str = _UNSET,
        drop_unknown: bool = _UNSET,
        truncate_dim: int | None = _UNSET,
        similarity_fn_name: str | None = _UNSET,
        prompts: dict[str, str] | None = _UNSET,
        default_prompt_name: str | None = _UNSET,
        tokenizer_backend: str = _UNSET,
    ) -> StaticModel:
        """A copy of this model with the given constructor options changed (see :class:`StaticModel`); the table,
        weights and mapping are shared, not copied, and every option not named is kept.

        The options are checked as the constructor checks them, and :meth:`save` writes the new ones. For
        example, a model2vec model that went through a Sentence Transformers folder (which pools the unknown
        token and keeps the first 512 tokens) saves as model2vec again, with model2vec's vectors, after
        ``model.with_options(drop_unknown=True, max_length=512, truncation="model2vec")``.
        """
        given = {
            "normalize": normalize,
            "dim": dim,
            "max_length": max_length,
            "truncation": truncation,
            "drop_unknown": drop_unknown,
            "truncate_dim": truncate_dim,
            "similarity_fn_name": similarity_fn_name,
            "prompts": prompts,
            "default_prompt_name": default_prompt_name,
            "tokenizer_backend": tokenizer_backend,
        }
        return self._copy(**{name: value for name, value in given.items() if value is not _UNSET})

    def _copy(self, **changes: Any) -> StaticModel:
        """A new model with every constructor option of this one (so a copy never forgets one) but ``changes``;
        the prompts as they are unless ``changes`` names them (then as the constructor takes them)."""
        state = {**self.__getstate__(), **changes}
        model = StaticModel(state.pop("tokenizer"), state.pop("embeddings"), **state)
        if "prompts" not in changes:
            model._prompts = dict(self._prompts)
        return model

    @property
    def tokenizer_backend(self) -> str:
        """Which tokenizer runs: ``"native-wordpiece"`` (staticemb's own, for BERT-style WordPiece),
        ``"native-unigram"`` (staticemb's own, for SentencePiece Unigram with Metaspace: XLM-R, T5-style and
        Llama-style byte-fallback vocabularies), ``"native-bytelevel-bpe"`` (staticemb's own, for GPT-2-style
        byte-level BPE) or ``"tokenizers"`` (the Hugging Face ``tokenizers`` crate, for every other
        configuration). The native pipelines give exactly the crate's ids."""
        return str(self._native.backend)

    @property
    def drop_unknown(self) -> bool:
        """Whether the unknown token is dropped before pooling (model2vec semantics)."""
        return self._native.dropped_unknown is not None

    @property
    def normalize(self) -> bool:
        """Whether :meth:`encode` L2-normalizes by default. Settable, as in model2vec (``model.normalize = True``),
        and written by :meth:`save`."""
        return self._normalize

    @normalize.setter
    def normalize(self, value: bool) -> None:
        self._normalize = _inputs.flag("normalize", value, default=False)

    @property
    def embeddings(self) -> np.ndarray:
        """The table as stored (read-only; float32, float16 or int8 — see :meth:`dequantized`), truncated to
        :attr:`dim` columns (a view, not a copy)."""
        return self._table[:, : self._dim]

    # model2vec's names for what the model holds, read-only, with model2vec's values.

    @property
    def embedding(self) -> np.ndarray:
        """model2vec's name for :attr:`embeddings`."""
        return self.embeddings

    @property
    def embedding_dtype(self) -> str:
        """The table's storage dtype: ``"float32"``, ``"float16"`` or ``"int8"`` (model2vec's name)."""
        return np.dtype(self._table.dtype).name

    @property
    def vocabulary_quantization(self) -> int | None:
        """The number of rows the tokens share when the vocabulary is quantized (tokens mapped to rows), else
        ``None``, as in model2vec."""
        shared = self._mapping is not None or len(self._table) != self.vocab_size
        return int(len(self._table)) if shared else None

    @property
    def token_mapping(self) -> np.ndarray | None:
        """model2vec's token id → table row mapping, or ``None`` (a read-only view)."""
        return None if self._mapping is None else _read_only(self._mapping)

    @property
    def weights(self) -> np.ndarray | None:
        """The per-token weights that scale each token's row before the mean (model2vec's, or
        :meth:`with_corpus_weights`'), or ``None`` (a read-only view)."""
        return None if self._weights is None else _read_only(self._weights)

    @property
    def tokens(self) -> tuple[str, ...]:
        """The vocabulary's tokens in id order, added tokens included (model2vec's ``tokens``)."""
        vocab = self.tokenizer.get_vocab()
        return tuple(sorted(vocab, key=vocab.__getitem__))

    def __repr__(self) -> str:
        fmt = self._info.get("format", "arrays")
        return (
            f"StaticModel(vocab_size={self.vocab_size}, dim={self.dim}, full_dim={self.full_dim}, "
            f"normalize={self.normalize}, dtype={self.dtype!r}, format={fmt!r})"
        )

    # ------------------------------------------------------------------ encoding

    def encode(
        self,
        texts: Any = _UNSET,
        prompt_name: str | None = None,
        prompt: str | None = None,
        batch_size: int | None = None,
        show_progress_bar: bool | None = None,
        output_value: str = "sentence_embedding",
        precision: str = "float32",
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        device: str | None = None,
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
        pool: None = None,
        chunk_size: int | None = None,
        *,
        dim: int | None = None,
        normalize: bool | None = None,
        num_threads: int | None = None,
        max_length: int | None = _UNSET,
        **kwargs: Any,
    ) -> Any:
        """Embed texts: ``SentenceTransformer.encode``'s call, with the same meaning and return types, plus
        staticemb's own ``dim``, ``normalize`` and ``num_threads``.

        Args:
            texts: one ``str`` (gives a 1-D vector) or a list (or other ordered iterable) of ``str``, snapshotted
                at the call: changing the list from another thread meanwhile does not change the result. A set
                or a dict is refused with ``TypeError``. Also accepted by Sentence Transformers' name
                ``inputs=`` (or its older ``sentences=``, model2vec's).
            prompt_name: a key of :attr:`prompts`; its prompt is prepended to every text. ``None`` uses
                :attr:`default_prompt_name` when set. ``"query"`` and ``"document"`` are empty prompts where
                the model has none of that name, as in Sentence Transformers.
            prompt: a prompt string to prepend (wins over ``prompt_name``).
            batch_size: texts encoded per batch (default 16,384; a batch also holds at most 8 MiB of text,
                unless one text alone is longer); the GIL is released during each batch, and Ctrl-C and the
                progress bar are handled between batches.
            show_progress_bar: show a tqdm bar.
            output_value: ``"sentence_embedding"`` (the only output of a static model).
            precision: ``"float32"``, ``"int8"``, ``"uint8"``, ``"binary"`` or ``"ubinary"``: Sentence
                Transformers' ``quantize_embeddings`` on the result (int8/uint8 ranges from the batch itself;
                use :func:`staticemb.quantize_embeddings` with ``calibration_embeddings`` to fix them).
            convert_to_numpy: return a NumPy array (the default); with ``False`` or ``None`` (and no tensor) a
                list of torch tensors, as Sentence Transformers does (it reads ``None`` as false).
            convert_to_tensor: return one torch tensor (torch is imported only then).
            device: ``None``, ``"cpu"`` or ``"cpu:N"`` (staticemb runs on the CPU; anything else is refused).
            normalize_embeddings: ``True`` L2-normalizes the output (after truncation); ``False`` leaves the
                model's own normalization as it is, as in Sentence Transformers.
            truncate_dim: Sentence Transformers' truncation: the model's output (:attr:`dim` wide, normalized
                first if the model normalizes) cut to ``truncate_dim`` columns, at most :attr:`dim`. ``None`` uses
                the model's :attr:`truncate_dim`.
            pool, chunk_size: Sentence Transformers' process pool, which a static model does not use: ``pool``
                must be ``None``; ``chunk_size`` has no effect (``num_threads`` spreads the work). Neither have
                its ``task`` (it picks a route, and a static model has none) and model2vec's
                ``use_multiprocessing`` and ``multiprocessing_threshold``. ``processing_kwargs`` must be empty: it
                ignores them for a static model, so ``{"text": {"max_length": 8}}`` would not cut (pass
                ``max_length=8``).
            dim: staticemb's Matryoshka width: only the first ``dim`` columns of the table are read, and
                normalization (if any) applies to the truncated vector. Not combinable with ``truncate_dim``.
            normalize: ``True``/``False`` force normalization on or off; ``None`` uses the model's setting.
            num_threads: ``None`` uses every core (or ``RAYON_NUM_THREADS``), ``1`` runs on the calling thread,
                ``n`` uses a shared pool of ``n`` threads (up to :func:`staticemb.max_threads`; a few pools
                are cached and the least recently used is freed).
            max_length: the most tokens each text keeps, as :attr:`max_length` (the default) says: a model2vec
                folder keeps its ``config.json`` ``max_length`` (512 when absent) with model2vec's cut, a
                Sentence Transformers folder the truncation of its ``tokenizer.json``; ``None`` pools every token.

        Returns:
            A ``(len(texts), width)`` array (float32, also for a float16 table, where Sentence Transformers and
            model2vec return float16; int8/uint8 for quantized precisions), one vector for a single ``str``, or
            torch tensors as requested. A text with no tokens gives a zero vector.
        """
        texts = _texts_argument(texts, kwargs, "encode")
        task = kwargs.pop("task", None)
        if task is not None and not isinstance(task, str):
            raise TypeError(f"task must be a str or None, not {type(task).__name__}")
        if kwargs.pop("processing_kwargs", None):
            raise InvalidInputError("processing_kwargs do not apply to a static model (Sentence Transformers ignores "
                                    "them for one); pass max_length= to cut texts")
        unused = sorted(set(kwargs) - _NO_EFFECT) + (["pool"] if pool is not None else [])
        if unused:
            raise InvalidInputError(f"encode() got arguments that a static model does not use: {', '.join(unused)}")
        if device is not None and not re.fullmatch(r"cpu(:\d+)?", str(device)):
            raise InvalidInputError(f"staticemb encodes on the CPU; device must be None or 'cpu', got {device!r}")
        if output_value not in _inputs.OUTPUT_VALUES:
            raise InvalidInputError(
                f"output_value must be 'sentence_embedding' for a static model, got {output_value!r}"
            )
        if precision is None:  # Sentence Transformers reads it as float32
            precision = "float32"
        if precision not in PRECISIONS:
            raise InvalidInputError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        single = isinstance(texts, str)
        items = _inputs.texts([texts] if single else texts)
        text = self._resolve_prompt(_inputs.prompt(prompt, "prompt"), _inputs.prompt(prompt_name, "prompt_name"))
        if text:
            items = [text + t if isinstance(t, str) else t for t in items]
        cap = self._max_length if max_length is _UNSET else _inputs.count("max_length", max_length)
        if cap is not None and self._truncation == "model2vec":
            chars = cap * self._native.median_token_chars
            items = [t[:chars] if isinstance(t, str) else t for t in items]
        force_norm = _inputs.flag("normalize_embeddings", normalize_embeddings, default=False)
        norm = _inputs.flag("normalize", normalize, default=self._normalize or force_norm)
        if normalize is False and force_norm:
            raise InvalidInputError("normalize=False contradicts normalize_embeddings=True")
        cut = self._checked_truncate_dim(truncate_dim)
        if cut is not None and dim is not None:
            raise InvalidInputError("pass dim (staticemb's Matryoshka width) or truncate_dim, not both")
        if cut is None and dim is None:
            cut = self._truncate_dim
        slice_after = None
        if cut is None:
            k = _inputs.dim(dim, full=self.full_dim, default=self._dim)
        elif norm and not force_norm and normalize is None:
            # Sentence Transformers normalizes the model's whole output (its Normalize module), then truncates:
            # the model's output is dim wide, as in the folder save() writes.
            k, slice_after = self._dim, cut
        else:
            k = cut
        batch = _inputs.count("batch_size", batch_size) or DEFAULT_BATCH_SIZE
        threads = _inputs.num_threads(num_threads)
        progress = _inputs.flag("show_progress_bar", show_progress_bar, default=False)
        out = self._encode_rows(items, k, norm, batch, threads, progress, cap)
        if slice_after is not None:
            out = np.ascontiguousarray(out[:, :slice_after])
        if precision != "float32":  # no texts give (0, width) of the precision's type and width too
            out = quantize_embeddings(out, precision)
        # Sentence Transformers reads convert_to_numpy=None as false (a list of tensors): so does staticemb.
        if convert_to_tensor or not _inputs.flag("convert_to_numpy", convert_to_numpy, default=False):
            import torch

            result: Any = torch.from_numpy(out) if convert_to_tensor else list(torch.from_numpy(out))
            return result[0] if single else result
        return out[0] if single else out

    def encode_as_sequence(
        self,
        texts: Any = _UNSET,
        *,
        max_length: int | None = None,
        dim: int | None = None,
        num_threads: int | None = None,
        **kwargs: Any,
    ) -> np.ndarray | list[np.ndarray]:
        """Per-token vectors: for each text, the ``(n_tokens, width)`` float32 array of the rows that
        :meth:`encode` averages (model2vec's mapping, weights and unknown-token drop applied), as model2vec's
        ``encode_as_sequence``. A single ``str`` gives one array, a list a list of arrays; a text with no tokens
        gives a ``(0, width)`` array.

        As in model2vec, the model's own :attr:`max_length` does not apply here: only an explicit
        ``max_length`` truncates (with the model's truncation rule, see :meth:`encode`). ``dim`` reads only the
        first ``dim`` columns. model2vec's ``batch_size``, ``show_progress_bar``, ``use_multiprocessing`` and
        ``multiprocessing_threshold`` are accepted and have no effect (tokenization runs on ``num_threads``
        Rust threads; the vectors are gathered in one vectorised pass).
        """
        texts = _texts_argument(texts, kwargs, "encode_as_sequence")
        unknown = set(kwargs) - {"batch_size", "show_progress_bar", "use_multiprocessing", "multiprocessing_threshold"}
        if unknown:
            raise InvalidInputError(f"encode_as_sequence() got unexpected arguments: {', '.join(sorted(unknown))}")
        if kwargs.get("batch_size") is not None:
            _inputs.count("batch_size", kwargs["batch_size"])  # no effect, but checked as encode checks it
        single = isinstance(texts, str)
        items = _inputs.texts([texts] if single else texts)
        cap = _inputs.count("max_length", max_length)
        k = _inputs.dim(dim, full=self.full_dim, default=self._dim)
        threads = _inputs.num_threads(num_threads)
        ids, counts = self._pooled_ids(items, cap, threads)
        vectors = self._token_rows(ids, k)
        result = np.split(vectors, np.cumsum(counts)[:-1]) if len(items) else []
        return result[0] if single else result

    def _default_pooled_ids(self, items: list, threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_pooled_ids` of ``items`` as :meth:`encode` pools them when given no options: the default prompt
        prepended, :attr:`max_length` applied (what corpus weights and the search index's terms count)."""
        prompt = self._resolve_prompt(None, None)
        if prompt:
            items = [prompt + t if isinstance(t, str) else t for t in items]
        return self._pooled_ids(items, self._max_length, threads)

    def _pooled_ids(self, items: list, cap: int | None, threads: int | None) -> tuple[np.ndarray, np.ndarray]:
        """The token ids each text pools, concatenated, and how many each text has: ``max_length`` ``cap``
        applied with the model's truncation rule, the dropped unknown token left out."""
        if cap is not None and self._truncation == "model2vec":
            chars = cap * self._native.median_token_chars
            items = [t[:chars] if isinstance(t, str) else t for t in items]
        ids, offsets = self._native.tokenize(items, threads)
        bounds = np.append(offsets, len(ids))
        lengths = np.diff(bounds)
        keep = np.ones(len(ids), dtype=bool)
        if cap is not None and len(ids):
            position = np.arange(len(ids)) - np.repeat(bounds[:-1], lengths)
            if self._truncation == "left":
                position = np.repeat(lengths, lengths) - 1 - position
            keep &= position < cap
        if self._native.dropped_unknown is not None:
            keep &= ids != self._native.dropped_unknown
        owner = np.repeat(np.arange(len(items), dtype=np.int64), lengths)
        counts = np.bincount(owner[keep], minlength=len(items)).astype(np.int64)
        return ids[keep], counts

    def _token_rows(self, ids: np.ndarray, k: int) -> np.ndarray:
        """The first ``k`` columns of the rows that :meth:`encode` pools for token ids ``ids`` (mapping, row
        scales and weights applied), float32."""
        rows = ids if self._mapping is None else self._mapping[ids]
        vectors = np.asarray(self._table[rows, :k], dtype=np.float32)
        if self._scales is not None:
            vectors *= self._scales[rows, None]
        if self._weights is not None:
            vectors *= self._weights[ids, None]
        return vectors

    def _encode_rows(
        self, items: list, k: int, norm: bool, batch: int, threads: int | None, progress: bool, cap: int | None
    ) -> np.ndarray:
        keep_end = self._truncation == "left"
        if not progress:
            return self._native.encode(items, k, norm, threads, cap, keep_end, batch)
        from tqdm.auto import tqdm

        with tqdm(total=len(items), unit="text", desc="encode") as bar:
            return self._native.encode(items, k, norm, threads, cap, keep_end, batch, bar.update)

    def _resolve_prompt(self, prompt: str | None, prompt_name: str | None) -> str | None:
        if prompt is not None:
            if prompt_name is not None:  # Sentence Transformers' rule and its warning, word for word
                logging.getLogger(__name__).warning(
                    "Provide either a `prompt`, a `prompt_name`, or neither, but not both. "
                    "Ignoring the `prompt_name` in favor of `prompt`."
                )
            return prompt
        if prompt_name is not None:
            if prompt_name not in self._prompts:
                raise InvalidInputError(
                    f"prompt name {prompt_name!r} is not one of this model's prompts {sorted(self._prompts)}"
                )
            return _prompt_text(self._prompts, prompt_name)
        if self._default_prompt_name is not None and self._default_prompt_name in self._prompts:
            return _prompt_text(self._prompts, self._default_prompt_name)
        return None

    def encode_query(
        self, texts: Any = _UNSET, prompt_name: str | None = None, prompt: str | None = None, *args: Any,
        **kwargs: Any
    ) -> Any:
        """:meth:`encode` for search queries, as Sentence Transformers does: the ``"query"`` prompt, when
        :attr:`prompts` has one (every model has, empty unless configured) and no ``prompt_name`` or ``prompt``
        is given; it wins over :attr:`default_prompt_name`. Every other argument, positional or by name, is
        :meth:`encode`'s."""
        if prompt_name is None and prompt is None and "query" in self._prompts:
            prompt_name = "query"
        return self.encode(texts, prompt_name, prompt, *args, **kwargs)

    def encode_document(
        self, texts: Any = _UNSET, prompt_name: str | None = None, prompt: str | None = None, *args: Any,
        **kwargs: Any
    ) -> Any:
        """:meth:`encode` for documents, as Sentence Transformers does: the first of the ``"document"``,
        ``"passage"`` and ``"corpus"`` prompts that :attr:`prompts` has, when no ``prompt_name`` or ``prompt``
        is given. Every model has a ``"document"`` prompt (empty unless configured), so a ``"passage"`` prompt is
        used only when named, or after ``model.prompts = {...}`` without a ``"document"``. Every other argument,
        positional or by name, is :meth:`encode`'s."""
        if prompt_name is None and prompt is None:
            prompt_name = next((p for p in ("document", "passage", "corpus") if p in self._prompts), None)
        return self.encode(texts, prompt_name, prompt, *args, **kwargs)

    @staticmethod
    def _checked_prompt_name(name: Any, prompts: dict[str, str]) -> str | None:
        if name is not None and (not isinstance(name, str) or name not in prompts):
            raise InvalidInputError(f"default_prompt_name {name!r} is not one of the prompts {sorted(prompts)}")
        return name

    @property
    def prompts(self) -> dict[str, str]:
        """Named prompts (``config_sentence_transformers.json``'s ``prompts``, with Sentence Transformers'
        empty ``"query"`` and ``"document"`` where the model has none), saved back by :meth:`save`. As in
        Sentence Transformers, the model's own dict: ``model.prompts["query"] = "query: "`` changes a prompt, and
        ``model.prompts = {...}`` (checked as the constructor checks it) replaces them all, kept as given."""
        return self._prompts

    @prompts.setter
    def prompts(self, value: Mapping[str, str] | None) -> None:
        prompts = _inputs.prompts(value)
        if self._default_prompt_name is not None and self._default_prompt_name not in prompts:
            raise InvalidInputError(
                f"the prompts must keep default_prompt_name {self._default_prompt_name!r}; set "
                "default_prompt_name first"
            )
        self._prompts = prompts

    @property
    def default_prompt_name(self) -> str | None:
        """The prompt :meth:`encode` uses when given none. Settable, to a key of :attr:`prompts` or ``None``."""
        return self._default_prompt_name

    @default_prompt_name.setter
    def default_prompt_name(self, value: str | None) -> None:
        self._default_prompt_name = self._checked_prompt_name(value, self._prompts)

    @property
    def similarity_fn_name(self) -> str:
        """The function :meth:`similarity` uses: ``"cosine"`` (default), ``"dot"``, ``"euclidean"`` or
        ``"manhattan"`` (the last two as negative distances, as in Sentence Transformers). Settable, as there
        (a name or Sentence Transformers' ``SimilarityFunction``)."""
        return self._similarity_fn_name or "cosine"

    @similarity_fn_name.setter
    def similarity_fn_name(self, value: str | None) -> None:
        self._similarity_fn_name = _inputs.similarity_fn_name(value)

    @property
    def max_seq_length(self) -> float | int:
        """Sentence Transformers' name: the most tokens a text keeps, ``math.inf`` when it keeps every token (a
        static model has no limit of its own). Read-only, as Sentence Transformers' ``StaticEmbedding``; use
        ``encode(..., max_length=n)`` or :meth:`with_options` for a limit. A folder whose ``tokenizer.json``
        truncates reports that limit here, where Sentence Transformers reports ``inf`` but keeps as many tokens:
        the vectors are the same, the number here is the one that holds."""
        return math.inf if self._max_length is None else self._max_length

    @max_seq_length.setter
    def max_seq_length(self, value: Any) -> None:
        raise AttributeError(
            "max_seq_length cannot be set on a static model (as in Sentence Transformers); pass "
            "encode(..., max_length=n), set model.max_length = n, or use model.with_options(max_length=n)"
        )

    @property
    def max_length(self) -> int | None:
        """The most tokens a text keeps when :meth:`encode` is given no ``max_length`` (``None``: all). Settable,
        as in model2vec (``model.max_length = 256``; the :attr:`truncation` rule is kept), and written by
        :meth:`save`."""
        return self._max_length

    @max_length.setter
    def max_length(self, value: int | None) -> None:
        self._max_length = _inputs.count("max_length", value)

    @property
    def truncation(self) -> str:
        """Which tokens :attr:`max_length` keeps: ``"right"`` (the first), ``"left"`` (the last) or ``"model2vec"``
        (model2vec's: the text cut to ``max_length`` times the vocabulary's median token length in characters,
        then the first ``max_length`` tokens)."""
        return self._truncation

    def get_sentence_embedding_dimension(self) -> int:
        """The width :meth:`encode` gives by default (:attr:`truncate_dim`, else :attr:`dim`), as Sentence
        Transformers' method of that name."""
        return self._truncate_dim if self._truncate_dim is not None else self._dim

    def get_embedding_dimension(self) -> int:
        """:meth:`get_sentence_embedding_dimension` by Sentence Transformers' newer name."""
        return self.get_sentence_embedding_dimension()

    @property
    def truncate_dim(self) -> int | None:
        """The ``truncate_dim`` :meth:`encode` uses when given none (Sentence Transformers' meaning), or ``None``.

        Settable, as in Sentence Transformers (``model.truncate_dim = 256``), and checked as the constructor
        checks it. Like there, the change is the model's, seen by every thread that shares it; for a copy with
        its own width use :meth:`with_options`, for a block of code :meth:`truncate_embeddings`."""
        return self._truncate_dim

    @truncate_dim.setter
    def truncate_dim(self, value: int | None) -> None:
        self._truncate_dim = self._checked_truncate_dim(value)

    def _checked_truncate_dim(self, value: Any) -> int | None:
        """A ``truncate_dim`` (the model's, or one call's): ``None`` or a width that cuts the model's output,
        which is :attr:`dim` wide (a wider one would read columns that the model's folder does not hold)."""
        if value is None:
            return None
        cut = _inputs.dim(value, full=self.full_dim, default=0, name="truncate_dim")
        if cut > self._dim:
            raise InvalidInputError(
                f"truncate_dim must be between 1 and the model's width dim={self._dim}, got {cut}: truncate_dim "
                f"cuts the model's {self._dim}-d output; give one up to {self._dim}, or None "
                f"(model.with_options(dim=..., truncate_dim=...) changes both at once)"
            )
        return cut

    @contextlib.contextmanager
    def truncate_embeddings(self, truncate_dim: int | None) -> Iterator[None]:
        """Sentence Transformers' context manager: :attr:`truncate_dim` is ``truncate_dim`` inside the block and
        what it was before after it (also when the block raises)."""
        before = self._truncate_dim
        self.truncate_dim = truncate_dim
        try:
            yield
        finally:
            self._truncate_dim = before

    @contextlib.contextmanager
    def truncate_sentence_embeddings(self, truncate_dim: int | None) -> Iterator[None]:
        """Sentence Transformers' older name of :meth:`truncate_embeddings`; it warns as there."""
        import warnings

        warnings.warn("The `truncate_sentence_embeddings` method has been renamed to `truncate_embeddings`.",
                      FutureWarning, stacklevel=3)
        with self.truncate_embeddings(truncate_dim):
            yield

    def tokenize(self, texts: Sequence[str], *, num_threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of ``texts`` as ``(ids, offsets)``: flat uint32 ids and int64 bag start offsets, the input
        :meth:`embed_ids` takes. These are the tokenizer's ids (no special tokens), before model2vec's
        unknown-token drop. ``num_threads`` as in :meth:`encode`."""
        items = _inputs.texts(texts)
        return self._native.tokenize(items, _inputs.num_threads(num_threads))

    def embed_ids(
        self,
        ids: np.ndarray | Sequence[int],
        offsets: np.ndarray | Sequence[int],
        *,
        dim: int | None = None,
        normalize: bool | None = None,
        num_threads: int | None = None,
    ) -> np.ndarray:
        """Pool pre-tokenized input, in the ``torch.nn.EmbeddingBag`` convention.

        ``ids`` is a flat 1-D integer array (int32, uint32 or int64; other integer types are widened) of the
        tokenizer's ids; ``offsets`` a 1-D integer array with the start of each bag: ``offsets[0] == 0``,
        non-decreasing; bag ``i`` is ``ids[offsets[i]:offsets[i+1]]`` and the last bag runs to the end.
        Returns ``(len(offsets), dim)`` float32. The model's token mapping, weights and unknown-token drop
        apply, as in :meth:`encode`. Malformed offsets raise ``InvalidInputError``, ids outside the vocabulary
        ``TokenIdError``.
        """
        ids_arr = _inputs.ids_array(ids)
        off_arr = _inputs.offsets_array(offsets)
        k = _inputs.dim(dim, full=self.full_dim, default=self._dim)
        norm = _inputs.flag("normalize", normalize, default=self._normalize)
        threads = _inputs.num_threads(num_threads)
        return self._native.embed_ids(ids_arr, off_arr, k, norm, threads)

    def similarity(self, a: Any, b: Any | None = None) -> np.ndarray:
        """Similarity matrix between two sets of embeddings (or texts, which are encoded first), with
        :attr:`similarity_fn_name`.

        ``a`` and ``b`` are 1-D or 2-D arrays or tensors (or a str, or lists of str); ``b`` defaults to ``a``.
        Returns a float32 NumPy array of shape ``(len(a), len(b))`` (Sentence Transformers returns a torch
        tensor of the same values). Under cosine a zero vector has similarity 0 with everything.
        """
        ea = self._as_vectors(a)
        eb = ea if b is None else self._as_vectors(b)
        fn = self.similarity_fn_name
        if fn == "cosine":
            return cosine_scores(ea, eb)
        if ea.shape[1] != eb.shape[1]:
            raise InvalidInputError(f"cannot compare vectors of width {ea.shape[1]} and {eb.shape[1]}")
        if fn == "dot":
            return ea @ eb.T
        return _negative_distances(ea, eb, 2 if fn == "euclidean" else 1)

    def similarity_pairwise(self, a: Any, b: Any) -> np.ndarray:
        """Similarity of each pair ``(a[i], b[i])`` with :attr:`similarity_fn_name`: a float32 array of
        ``len(a)`` values. One vector (1-D, or a single row) is compared with every row of the other set, as
        Sentence Transformers broadcasts it."""
        ea, eb = self._as_vectors(a), self._as_vectors(b)
        if ea.shape[1] == eb.shape[1] and 1 in (len(ea), len(eb)):
            ea, eb = np.broadcast_arrays(ea, eb)
        if ea.shape != eb.shape:
            raise InvalidInputError(f"pairwise similarity needs two sets of the same shape, got {ea.shape} and {eb.shape}")
        fn = self.similarity_fn_name
        if fn == "cosine":
            from .search import unit_rows

            return (unit_rows(ea) * unit_rows(eb)).sum(axis=1).astype(np.float32)
        if fn == "dot":
            return (ea * eb).sum(axis=1)
        order = 2 if fn == "euclidean" else 1
        return -np.linalg.norm(ea - eb, ord=order, axis=-1).astype(np.float32)

    def _as_vectors(self, x: Any) -> np.ndarray:
        if isinstance(x, str):
            x = [x]
        if isinstance(x, list) and (not x or isinstance(x[0], str)):
            return np.asarray(self.encode(x))
        if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor, without importing torch
            x = x.detach().cpu().float().numpy()
        arr = np.asarray(x, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2:
            raise InvalidInputError(f"embeddings must be 1-D or 2-D, got shape {arr.shape}")
        return arr

    # ------------------------------------------------------------------ saving

    def save(
        self,
        path: str | os.PathLike,
        model_name: str | None = None,
        create_model_card: bool | None = None,
        *,
        format: str = "sentence-transformers",
        overwrite: bool = False,
        model_card: bool | None = None,
    ) -> Path:
        """Write the model as a folder that its library loads unchanged, and staticemb loads back with the same
        vectors. Returns the folder. ``model_name`` and ``create_model_card`` are Sentence Transformers' names,
        in its order: the name the model card gives the model (the folder's name by default) and
        ``model_card``.

        ``format="sentence-transformers"`` (the default) writes a Sentence Transformers static folder for
        ``SentenceTransformer(path)``: the table at :attr:`dim` columns in its stored dtype, with model2vec
        token mappings and weights folded in (one row per token id). model2vec's unknown-token drop has no
        Sentence Transformers equivalent, so a reloaded model averages the unknown token like every other; nor
        has model2vec's cut of a long text in characters before its ``max_length`` tokens
        (``truncation="model2vec"``), so a reloaded model cuts at ``max_length`` tokens (``"right"``). An
        int8 model is written as ``embedding.weight`` (int8) plus ``embedding.scales`` (float32, one per row):
        staticemb loads it, Sentence Transformers cannot (quantize to ``"float16"`` or dequantize for that); an
        int8 table with a mapping or weights to fold in, or a float16 table with weights, is written folded as
        float32 (quantizing or rounding it again would move the vectors).

        ``format="model2vec"`` writes a folder for ``model2vec.StaticModel.from_pretrained(path)``: the table at
        :attr:`dim` columns (:attr:`truncate_dim` columns when set: model2vec has no ``truncate_dim``, and the
        cut table gives the same vectors unless the model normalizes, which is then refused with
        ``InvalidInputError``) with the mapping and weights kept as they are. model2vec always drops the unknown
        token, so a model that pools it is refused (``InvalidInputError``), and so is a model with a
        :attr:`max_length` whose truncation is not ``"model2vec"`` (model2vec cuts the text in characters
        first), and a model whose :attr:`default_prompt_name` prepends a prompt (model2vec has no prompts); the
        prompts and :attr:`similarity_fn_name` are kept in ``config_sentence_transformers.json``, which staticemb
        and Sentence Transformers read and model2vec ignores. An int8 table with row scales other than 1 is
        written dequantized as float32 (model2vec has no row scales).

        The save is atomic: the whole folder is written beside ``path`` and swapped in, so a crash, a kill or
        a full disk leaves the old model or the new one, never a mix, and a live model that memory-maps the old
        files keeps working. ``path`` may be missing, empty or hold a static model of the same format and nothing
        else; a folder holding anything else (a transformer, the other format, other files beside a model or in
        its modules' folders, a training run's ``checkpoints`` and ``training_log.json``) raises
        :class:`FileExistsError` unless ``overwrite=True``, which replaces the folder and all it holds.

        ``model_card=True`` (the default, also for ``None``) also writes a ``README.md``: Hub front matter (``library_name``, tags,
        ``base_model`` when known: the Hub id it was loaded from, or the one its own card named), the
        dimensions, tokenizer, normalization and maximum length, how it was trained when staticemb made it
        (:func:`staticemb.train.distill`), and how to load it with staticemb, Sentence Transformers and model2vec
        (for an int8 Sentence Transformers folder, that only staticemb loads it).
        """
        # A copy sharing the table: the checks and the files read one set of options, whatever another thread
        # sets on this model meanwhile (max_length, normalize, prompts).
        return self._copy()._save(path, model_name, create_model_card, format=format, overwrite=overwrite,
                                  model_card=model_card)

    def _save(self, path: str | os.PathLike, model_name: str | None, create_model_card: bool | None, *,
              format: str, overwrite: bool, model_card: bool | None) -> Path:
        replace = _inputs.flag("overwrite", overwrite, default=False)
        write_card = _inputs.flag("model_card", model_card, default=True)
        if create_model_card is not None:  # Sentence Transformers' name for model_card
            named = _inputs.flag("create_model_card", create_model_card, default=True)
            if model_card is not None and named != write_card:
                raise InvalidInputError(f"create_model_card={create_model_card!r} and model_card={model_card!r} "
                                        "disagree: create_model_card is Sentence Transformers' name for model_card")
            write_card = named
        if model_name is not None and not isinstance(model_name, str):
            raise TypeError(f"model_name must be a str or None, not {type(model_name).__name__}")
        if model_name is not None and not _card_safe(model_name):
            raise InvalidInputError(f"model_name names the model in its card's code examples: one printable line "
                                    f"without quotes, backslashes or backticks, got {model_name!r}")
        if format == "sentence-transformers":
            tensors = self._sentence_transformers_tensors()
            # The card describes the table as written (an int8 table folded with weights is written as float32).
            card = (self._model_card(Path(path), format, tensors["embedding.weight"], model_name) if write_card
                    else None)
            return _io.write_sentence_transformers(
                path,
                tensors=tensors,
                tokenizer_json=self._tokenizer_json_for_sentence_transformers(),
                normalize=self._normalize,
                st_config={
                    "prompts": _inputs.prompts(self._prompts),  # checked: the dict is the user's to change
                    "default_prompt_name": self._default_prompt_name,
                    "similarity_fn_name": self._similarity_fn_name,
                    "truncate_dim": self._truncate_dim,
                },
                card=card,
                overwrite=replace,
            )
        if format == "model2vec":
            tensors = self._model2vec_tensors()
            card = self._model_card(Path(path), format, tensors["embeddings"], model_name) if write_card else None
            return _io.write_model2vec(
                path,
                tensors=tensors,
                tokenizer_json=self._fresh_tokenizer().to_str(),
                normalize=self._normalize,
                max_length=self._max_length,
                st_config=self._model2vec_st_config(),
                card=card,
                overwrite=replace,
            )
        raise _bad_format(format)

    def save_pretrained(
        self,
        path: str | os.PathLike,
        model_name: str | None = None,
        *,
        subfolder: str | None = None,
        create_model_card: bool = True,
        format: str | None = None,
        overwrite: bool = False,
    ) -> Path:
        """:meth:`save` under the name model2vec and Sentence Transformers give it, in the format of the folder
        the model was loaded from (a model2vec folder is written back as one, any other model as a Sentence
        Transformers folder) unless ``format`` says. ``subfolder`` (model2vec's) writes the model into that
        folder inside ``path``. Returns the folder written."""
        chosen = format if format is not None else (
            "model2vec" if self._info.get("format") == "model2vec" else "sentence-transformers")
        inner = _io._subfolder_path(subfolder)
        target = Path(path) if inner is None else Path(path) / inner
        return self.save(target, model_name, create_model_card, format=chosen, overwrite=overwrite)

    def push_to_hub(
        self,
        repo_id: str,
        *,
        token: str | None = None,
        private: bool | None = None,
        subfolder: str | None = None,
        commit_message: str | None = None,
        revision: str | None = None,
        create_pr: bool = False,
        exist_ok: bool = True,
        replace_model_card: bool = False,
        format: str | None = None,
    ) -> str:
        """Upload the model to a Hugging Face Hub repository, created if it does not exist, as
        :meth:`save_pretrained` writes it (``format``: the loaded folder's by default); returns the commit's URL
        (the pull request's with ``create_pr=True``). The options are those of Sentence Transformers' and
        model2vec's ``push_to_hub``, by name: ``subfolder`` uploads into that folder of the repository,
        ``revision`` to that branch (created if needed). A model card is written unless the repository already
        has one and ``replace_model_card`` is false. ``exist_ok=False`` refuses a repository that exists
        (Sentence Transformers' default; model2vec pushes into it, as the default here does)."""
        from huggingface_hub import HfApi
        from huggingface_hub.utils import HFValidationError, validate_repo_id

        if not isinstance(repo_id, str):
            raise TypeError(f"repo_id must be a str ('user/name' or 'name'), not {type(repo_id).__name__}")
        try:
            validate_repo_id(repo_id)
        except HFValidationError as e:
            raise InvalidInputError(f"repo_id must name a Hub repository ('user/name'): {e}") from None
        if format is not None and format not in SAVE_FORMATS:  # before the repository is created
            raise _bad_format(format)
        inner = _io._subfolder_path(subfolder)
        pr = _inputs.flag("create_pr", create_pr, default=False)
        replace_card = _inputs.flag("replace_model_card", replace_model_card, default=False)
        existing = _inputs.flag("exist_ok", exist_ok, default=True)
        if private is not None:
            private = _inputs.flag("private", private, default=False)
        api = HfApi(token=token)
        repo_id = api.create_repo(repo_id=repo_id, private=private, exist_ok=existing or pr, repo_type="model").repo_id
        if revision is not None:
            api.create_branch(repo_id=repo_id, branch=revision, exist_ok=True)
        card_path = "README.md" if inner is None else f"{inner}/README.md"
        try:
            write_card = replace_card or not api.file_exists(repo_id, card_path, revision=revision)
        except Exception as e:  # the Hub could not say: keep whatever card may be there
            logging.getLogger(__name__).warning(
                "could not check %s for an existing %s (%s: %s); no model card is written",
                repo_id, card_path, type(e).__name__, e)
            write_card = False
        with tempfile.TemporaryDirectory() as tmp:
            folder = self.save_pretrained(Path(tmp) / "model", repo_id, create_model_card=write_card, format=format)
            done = api.upload_folder(repo_id=repo_id, folder_path=folder, path_in_repo=inner,
                                     commit_message=commit_message or "Add a staticemb model", revision=revision,
                                     create_pr=pr)
        return str(done.pr_url if pr else done.commit_url)

    def _model_card(self, path: Path, format: str, table: np.ndarray, model_name: str | None = None) -> str:
        try:
            tokenizer_model = str(json.loads(self._tokenizer_json)["model"]["type"])
        except (ValueError, KeyError, TypeError):
            tokenizer_model = "unknown"
        st = format == "sentence-transformers"
        # The folder's name (bytes that are no UTF-8 shown as U+FFFD) unless it would break the card's code lines.
        shown = os.fsencode(path.name).decode("utf-8", "replace")
        return _io.model_card(
            _io.Card(
                name=model_name or (shown if _card_safe(shown) else "model"),
                format="Sentence Transformers" if st else "model2vec",
                vocab_size=self.vocab_size,
                dim=int(table.shape[1]),  # as written: a model2vec table is cut to truncate_dim
                # Sentence Transformers reads truncate_dim from the folder; a model2vec table is already cut.
                truncate_dim=self._truncate_dim if st and self._truncate_dim != table.shape[1] else None,
                dtype=str(table.dtype),
                normalize=self._normalize,
                tokenizer_model=tokenizer_model,
                max_length=self._max_length,
                similarity_fn_name=self.similarity_fn_name,
                prompts=self._prompts,
                base_model=self._info.get("base_model"),
                training=self._info.get("training"),
            )
        )

    def _tokenizer_json_for_sentence_transformers(self) -> str:
        """The tokenizer with no padding, truncated as :attr:`max_length` says (Sentence Transformers reads the
        truncation from tokenizer.json; model2vec's text cut has no equivalent there, its token cap does)."""
        tok = self._fresh_tokenizer()
        if self._max_length is None:
            return str(tok.to_str())
        tok.enable_truncation(self._max_length, direction="left" if self._truncation == "left" else "right")
        return str(tok.to_str())

    def _sentence_transformers_tensors(self) -> dict[str, np.ndarray]:
        if self._mapping is None and self._weights is None:
            v = self.vocab_size  # rows past the vocabulary serve no token
            tensors = {"embedding.weight": np.ascontiguousarray(self._table[:v, : self._dim])}
            if self._scales is not None:
                tensors["embedding.scales"] = np.ascontiguousarray(self._scales[:v])
            return tensors
        # A table folded with weights would be rounded a second time (float16) or quantized again with new row
        # scales (int8): the vectors would move. The folded table is written as float32 then; a mapping alone only
        # copies rows, which keep their dtype.
        folded = self._folded_table()[:, : self._dim]
        dtype = self.dtype
        if dtype == "int8" or dtype == "float16" and self._weights is not None:
            dtype = "float32"
        values, scales = quantize_table(folded, dtype)
        tensors = {"embedding.weight": values}
        if scales is not None:
            tensors["embedding.scales"] = scales
        return tensors

    def _model2vec_st_config(self) -> dict[str, Any] | None:
        """The prompts and similarity function, for a model2vec folder's ``config_sentence_transformers.json``
        (model2vec ignores it; staticemb and Sentence Transformers read it); ``None`` when there are none to keep."""
        prompts = _inputs.prompts(self._prompts)  # checked: the dict is the user's to change
        if not any(prompts.values()) and self._similarity_fn_name is None:
            return None
        return {
            "prompts": prompts,
            "default_prompt_name": self._default_prompt_name,  # an empty prompt here: see _model2vec_tensors
            "similarity_fn_name": self._similarity_fn_name,
        }

    def _model2vec_tensors(self) -> dict[str, np.ndarray]:
        if self._resolve_prompt(None, None):
            raise InvalidInputError(
                f"model2vec has no prompts, but this model prepends its default prompt "
                f"{self._default_prompt_name!r} to every text: saving it as a model2vec folder would change its "
                f"vectors; save it as 'sentence-transformers', or take model.with_options(default_prompt_name=None) "
                f"(its other prompts are kept, for encode_query, encode_document and prompt_name=)"
            )
        if not self.drop_unknown and self._unknown_in_vocabulary():
            raise InvalidInputError(
                "model2vec drops the unknown token before pooling, but this model pools it: saving it as a "
                "model2vec folder would change its vectors; save it as 'sentence-transformers', or take "
                "model.with_options(drop_unknown=True) (which changes the vectors of texts with an unknown token)"
            )
        if self._max_length is not None and self._truncation != "model2vec":
            raise InvalidInputError(
                f"model2vec cuts a text to max_length × the median token length in characters before it keeps "
                f"its first max_length tokens, but this model keeps its "
                f"{'last' if self._truncation == 'left' else 'first'} {self._max_length} tokens: saving it as a "
                f"model2vec folder would change its vectors; save it as "
                f"'sentence-transformers', or take model.with_options(max_length={self._max_length}, truncation='model2vec') "
                f"(texts past the cap then get model2vec's cut) or model.with_options(max_length=None)"
            )
        width = self._dim
        if self._truncate_dim is not None and self._truncate_dim < self._dim:
            if self._normalize:
                raise InvalidInputError(
                    f"model2vec normalizes the mean of the table columns it holds, but this model normalizes its "
                    f"{self._dim}-d vector and then keeps its first {self._truncate_dim} values (truncate_dim): "
                    f"saving it as a model2vec folder would change its vectors; save it as "
                    f"'sentence-transformers' (which keeps truncate_dim), or take "
                    f"model.with_options(dim={self._truncate_dim}, truncate_dim=None) (its vectors are then the "
                    f"normalized mean of the first {self._truncate_dim} columns)"
                )
            # Unnormalized, the first truncate_dim values of the mean are the mean of the first truncate_dim
            # columns: the cut table gives model2vec (and staticemb, loading it) this model's vectors.
            width = self._truncate_dim
        v = self.vocab_size  # model2vec wants one row (or mapping entry) per token, no more
        table = self._table[:, :width] if self._mapping is not None else self._table[:v, :width]
        if self._scales is not None and not np.all(self._scales == 1.0):
            table = self.dequantized()[: len(table), :width]
        tensors = {"embeddings": np.ascontiguousarray(table)}
        if self._weights is not None:
            tensors["weights"] = np.ascontiguousarray(self._weights[:v])
        if self._mapping is not None:
            tensors["mapping"] = np.ascontiguousarray(self._mapping[:v])
        return tensors

    def _unknown_in_vocabulary(self) -> bool:
        """Whether the tokenizer has an unknown token (the one model2vec drops)."""
        return self._native.unknown_token is not None


def _card_safe(name: str) -> bool:
    """Whether ``name`` can stand in the model card's heading and code lines as it is: one printable line without
    quotes, backslashes or backticks."""
    return bool(name.strip()) and name.isprintable() and not any(c in name for c in '"\\`')


_DISTANCE_ELEMENTS = 1 << 22
"""The most differences :func:`_negative_distances` holds at a time (16 MiB of float32)."""


def _negative_distances(a: np.ndarray, b: np.ndarray, order: int) -> np.ndarray:
    """``-||a[i] - b[j]||`` (``order`` 1 or 2) as a float32 ``(len(a), len(b))`` array, a block of pairs at a
    time: the differences of every pair at once would take ``len(a) × len(b) × width`` floats."""
    out = np.empty((len(a), len(b)), np.float32)
    width = max(a.shape[1], 1)
    cols = max(1, _DISTANCE_ELEMENTS // width)
    rows = max(1, _DISTANCE_ELEMENTS // (width * min(max(len(b), 1), cols)))
    for i in range(0, len(a), rows):
        for j in range(0, len(b), cols):
            diff = a[i:i + rows, None, :] - b[None, j:j + cols, :]
            out[i:i + rows, j:j + cols] = -np.linalg.norm(diff, ord=order, axis=-1)
    return out


def _prompt_text(prompts: dict[str, Any], name: str) -> str:
    """``prompts[name]``, which must be a str (the dict is the user's to change, as in Sentence Transformers)."""
    text = prompts[name]
    if not isinstance(text, str):
        raise TypeError(f"prompts[{name!r}] must be a str, not {type(text).__name__}")
    return text


def _below_width(truncate_dim: int | None, width: int) -> int | None:
    """A model's own ``truncate_dim`` (saved, or a SentenceTransformer's): one at or past the table's width cuts
    nothing in Sentence Transformers, so it is no truncation here."""
    return None if truncate_dim is None or truncate_dim >= width else truncate_dim


def _is_sentence_transformer(obj: Any) -> bool:
    st = sys.modules.get("sentence_transformers")
    if st is None:
        return False
    cls = getattr(st, "SentenceTransformer", None)
    return cls is not None and isinstance(obj, cls)
