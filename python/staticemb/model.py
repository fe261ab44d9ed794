"""The public model class."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from . import _core, _loading
from .errors import InvalidInputError, ModelFormatError, TokenIdError, TokenizerError
from .evaluation import cosine_scores

__all__ = ["StaticModel"]

DEFAULT_BATCH_SIZE = 16_384
"""Texts handed to the Rust core per call: large enough to keep every core busy, small enough that a progress
bar moves and Ctrl-C is honoured between calls."""


def _check_positive_int(name: str, value: Any, *, allow_none: bool = True) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be {'None or ' if allow_none else ''}an int, not {type(value).__name__}")
    if value < 1:
        raise InvalidInputError(f"{name} must be a positive integer, got {value}")
    return int(value)


def _as_text_list(texts: Any) -> list:
    """A list of texts, without copying the strings. A lone ``str`` is refused: encoding it character by
    character is never what was meant."""
    if isinstance(texts, (str, bytes)):
        raise TypeError(
            f"texts must be a list of str, not a single {type(texts).__name__}; to encode one text pass [text]"
        )
    if isinstance(texts, list):
        return texts
    if texts is None:
        raise TypeError("texts must be a list of str, not None")
    if isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            raise InvalidInputError(f"an array of texts must be 1-D, got shape {texts.shape}")
        return texts.tolist()
    if isinstance(texts, Iterable):
        return list(texts)
    raise TypeError(f"texts must be a list of str, not {type(texts).__name__}")


def _as_table(embeddings: Any) -> np.ndarray:
    """A C-contiguous 2-D table in a stored dtype staticemb pools natively (float32, float16, int8), copying
    only when the dtype must change (float64 and bfloat16 become float32)."""
    if hasattr(embeddings, "detach") and hasattr(embeddings, "cpu"):  # a torch tensor, without importing torch
        embeddings = embeddings.detach().cpu()
        if str(embeddings.dtype) not in ("torch.float32", "torch.float16", "torch.int8"):
            embeddings = embeddings.float()
        embeddings = embeddings.numpy()
    if not isinstance(embeddings, np.ndarray):
        raise TypeError(f"embeddings must be a 2-D NumPy array (or torch tensor), not {type(embeddings).__name__}")
    if embeddings.ndim != 2:
        raise InvalidInputError(f"embeddings must be 2-D (vocabulary x dimension), got shape {embeddings.shape}")
    if embeddings.shape[0] == 0 or embeddings.shape[1] == 0:
        raise InvalidInputError(f"embeddings must not be empty, got shape {embeddings.shape}")
    if embeddings.dtype not in (np.float32, np.float16, np.int8):
        if embeddings.dtype.kind != "f":
            raise TypeError(f"embeddings must hold floating-point values (or int8), not {embeddings.dtype}")
        embeddings = embeddings.astype(np.float32)
    if not embeddings.flags.c_contiguous:
        raise InvalidInputError(
            "embeddings must be C-contiguous (row-major); pass np.ascontiguousarray(embeddings) to copy it"
        )
    return embeddings


def quantize_table(table: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Quantize a float32 table: ``"float16"`` (rounded to nearest) or ``"int8"`` with one scale per row
    (``scale = max|row| / 127``, values rounded to nearest). Returns ``(values, scales or None)``."""
    table = np.asarray(table, dtype=np.float32)
    if dtype == "float32":
        return np.ascontiguousarray(table), None
    if dtype == "float16":
        return np.ascontiguousarray(table.astype(np.float16)), None
    if dtype == "int8":
        scales = np.abs(table).max(axis=1) / 127.0
        scales = np.where(scales > 0, scales, 1.0).astype(np.float32)
        values = np.clip(np.rint(table / scales[:, None]), -127, 127).astype(np.int8)
        return np.ascontiguousarray(values), scales
    raise InvalidInputError(f"dtype must be 'float32', 'float16' or 'int8', got {dtype!r}")


def _unknown_token_id(tokenizer: Tokenizer) -> int | None:
    """The unknown token's id, found the way model2vec finds it."""
    model = tokenizer.model
    if hasattr(model, "unk_token"):
        token = model.unk_token
        return None if token is None else tokenizer.token_to_id(token)
    return json.loads(tokenizer.to_str())["model"].get("unk_id")


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
        tokenizer: Tokenizer | Any,
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
                (BertNormalizer + BertPreTokenizer + WordPiece; the same ids, several times faster) and the
                ``tokenizers`` crate for everything else; ``"tokenizers"`` always uses the crate.
        """
        self._tokenizer, tokenizer_json = self._own_tokenizer(tokenizer)
        table = _as_table(embeddings)
        view = table.view()
        view.flags.writeable = False
        self._table = view
        # float16 tables cross into Rust as their bit patterns.
        self._core_table = view.view(np.uint16) if view.dtype == np.float16 else view
        self._scales = None
        if view.dtype == np.int8:
            s = np.ones(view.shape[0], np.float32) if scales is None else np.asarray(scales)
            if s.dtype.kind != "f":
                raise TypeError(f"scales must be a floating-point array, not {s.dtype}")
            s = np.ascontiguousarray(s, dtype=np.float32)
            if s.shape != (view.shape[0],):
                raise ModelFormatError(f"an int8 table of {view.shape[0]} rows needs {view.shape[0]} scales, got {s.shape}")
            self._scales = s
        elif scales is not None:
            raise InvalidInputError("scales apply to int8 tables only")
        self._normalize = bool(normalize)
        self._info = dict(info or {})

        mapping = None
        if token_mapping is not None:
            mapping = np.ascontiguousarray(np.asarray(token_mapping), dtype=np.int64)
            if mapping.ndim != 1:
                raise ModelFormatError(f"token_mapping must be 1-D, got shape {mapping.shape}")
        w = None
        if weights is not None:
            w = np.ascontiguousarray(np.asarray(weights), dtype=np.float32)
            if w.ndim != 1:
                raise ModelFormatError(f"weights must be 1-D, got shape {w.shape}")
        drop: list[int] = []
        if drop_unknown:
            unk = _unknown_token_id(self._tokenizer)
            if unk is not None:
                drop.append(int(unk))
        self._mapping, self._weights, self._drop = mapping, w, drop
        if tokenizer_backend not in ("auto", "tokenizers"):
            raise InvalidInputError(f"tokenizer_backend must be 'auto' or 'tokenizers', got {tokenizer_backend!r}")
        self._backend_request = tokenizer_backend
        try:
            # The Rust side switches padding and truncation off itself, so it can take the JSON as given.
            self._encoder = _core.TextEncoder(tokenizer_json, mapping, w, drop, tokenizer_backend == "auto")
        except TokenizerError as e:
            raise ModelFormatError(f"could not load the tokenizer: {e}") from None
        except InvalidInputError as e:
            raise ModelFormatError(str(e)) from None
        if self._encoder.required_rows > table.shape[0]:
            raise ModelFormatError(
                f"the tokenizer produces token ids up to {self._encoder.required_rows - 1} but the embedding table "
                f"has only {table.shape[0]} rows: the tokenizer and the table do not belong together"
            )
        self._dim = table.shape[1]
        if dim is not None:
            self._dim = self._resolve_dim(dim)

    @staticmethod
    def _own_tokenizer(tokenizer: Any) -> tuple[Tokenizer, str]:
        """A private copy of the tokenizer (padding and truncation off) and its ``tokenizer.json`` text."""
        if isinstance(tokenizer, str):
            json_text = tokenizer
        elif isinstance(tokenizer, Tokenizer):
            json_text = tokenizer.to_str()
        elif isinstance(getattr(tokenizer, "backend_tokenizer", None), Tokenizer):
            json_text = tokenizer.backend_tokenizer.to_str()
        else:
            raise TypeError(
                f"tokenizer must be a tokenizers.Tokenizer (or a fast transformers tokenizer), "
                f"not {type(tokenizer).__name__}"
            )
        try:
            tok = Tokenizer.from_str(json_text)
        except Exception as e:  # tokenizers raises a bare Exception for malformed JSON
            raise ModelFormatError(f"not a valid tokenizer.json: {e}") from None
        tok.no_padding()
        tok.no_truncation()
        return tok, json_text

    def __getstate__(self) -> dict[str, Any]:
        # The native encoder is rebuilt from the tokenizer on unpickling; the table travels as an array.
        return {
            "tokenizer": self._tokenizer.to_str(),
            "embeddings": np.asarray(self._table),
            "scales": self._scales,
            "normalize": self._normalize,
            "dim": self._dim,
            "weights": self._weights,
            "token_mapping": self._mapping,
            "drop_unknown": bool(self._drop),
            "tokenizer_backend": self._backend_request,
            "info": self._info,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        tokenizer, embeddings = state.pop("tokenizer"), state.pop("embeddings")
        self.__init__(tokenizer, embeddings, **state)

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
        own normalization setting and ``tokenizer_backend`` is passed to the constructor.
        """
        if isinstance(model, tuple):
            if len(model) != 2:
                raise TypeError("a model given as a tuple must be a (tokenizer, embeddings) pair")
            tokenizer, embeddings = model
            return cls(
                tokenizer,
                embeddings,
                normalize=bool(normalize),
                dim=dim,
                tokenizer_backend=tokenizer_backend,
                info={"format": "arrays"},
            )
        if _is_sentence_transformer(model):
            return cls._from_sentence_transformer(
                model, dim=dim, normalize=normalize, tokenizer_backend=tokenizer_backend
            )
        if not isinstance(model, (str, os.PathLike)):
            raise TypeError(
                "model must be a folder path, a Hub id, a SentenceTransformer or a (tokenizer, embeddings) pair, "
                f"not {type(model).__name__}"
            )
        folder = _loading.resolve(model, revision=revision, token=token, cache_dir=cache_dir)
        loaded = _loading.read_folder(folder)
        return cls(
            loaded.tokenizer_json,
            loaded.embeddings,
            normalize=loaded.normalize if normalize is None else bool(normalize),
            dim=dim,
            weights=loaded.weights,
            token_mapping=loaded.mapping,
            drop_unknown=loaded.drop_unknown,
            scales=loaded.scales,
            tokenizer_backend=tokenizer_backend,
            info={**loaded.info, "source": loaded.source},
        )

    @classmethod
    def _from_sentence_transformer(
        cls, st_model: Any, *, dim: int | None, normalize: bool | None, tokenizer_backend: str
    ) -> StaticModel:
        modules = list(st_model)
        first = modules[0] if modules else None
        if type(first).__name__ != "StaticEmbedding":
            raise ModelFormatError(
                f"the SentenceTransformer's first module is {type(first).__name__}, not StaticEmbedding"
            )
        rest = [type(m).__name__ for m in modules[1:] if type(m).__name__ != "Normalize"]
        if rest:
            raise ModelFormatError(f"modules after StaticEmbedding must be Normalize only, found {', '.join(rest)}")
        has_norm = len(modules) > 1
        weight = first.embedding.weight
        return cls(
            first.tokenizer,
            weight,
            normalize=has_norm if normalize is None else bool(normalize),
            dim=dim,
            tokenizer_backend=tokenizer_backend,
            info={"format": "sentence-transformers", "source": "SentenceTransformer object"},
        )

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
        return int(self._encoder.vocab_size)

    @property
    def tokenizer(self) -> Tokenizer:
        """The ``tokenizers.Tokenizer`` (padding and truncation off)."""
        return self._tokenizer

    @property
    def dtype(self) -> str:
        """How the table is stored: ``"float32"``, ``"float16"`` or ``"int8"`` (with one scale per row)."""
        return str(self._table.dtype)

    @property
    def nbytes(self) -> int:
        """Bytes of the stored table (and int8 row scales)."""
        return int(self._table.nbytes + (0 if self._scales is None else self._scales.nbytes))

    def dequantized(self) -> np.ndarray:
        """The table as float32 (a copy for quantized tables; the table itself otherwise), full width."""
        if self._scales is not None:
            return self._table.astype(np.float32) * self._scales[:, None]
        return self._table if self._table.dtype == np.float32 else self._table.astype(np.float32)

    def _folded_table(self) -> np.ndarray:
        """One float32 row per token id, full width, with model2vec's mapping and weights folded in: what a
        plain ``nn.EmbeddingBag`` needs to give this model's vectors."""
        table = self.dequantized()
        if self._mapping is not None:
            table = table[self._mapping]
        if self._weights is not None:
            table = table * self._weights[: table.shape[0], None]
        return table

    def quantize(self, dtype: str) -> StaticModel:
        """A copy of this model with its table stored as ``"float16"`` (half the memory) or ``"int8"`` (a quarter,
        one float32 scale per row); ``"float32"`` dequantizes. Pooling always accumulates in float32. The
        table keeps its full width, so Matryoshka ``dim`` still works."""
        values, scales = quantize_table(self.dequantized(), dtype)
        return StaticModel(
            self._tokenizer,
            values,
            normalize=self._normalize,
            dim=self._dim,
            weights=self._weights,
            token_mapping=self._mapping,
            drop_unknown=bool(self._drop),
            scales=scales,
            tokenizer_backend=self._backend_request,
            info={**self._info, "quantized": dtype},
        )

    @property
    def tokenizer_backend(self) -> str:
        """Which tokenizer runs: ``"native-wordpiece"`` (staticemb's own, for BERT-style tokenizers) or
        ``"tokenizers"`` (the Hugging Face ``tokenizers`` crate)."""
        return self._encoder.backend

    @property
    def normalize(self) -> bool:
        """Whether :meth:`encode` L2-normalizes by default."""
        return self._normalize

    @property
    def embeddings(self) -> np.ndarray:
        """The table as stored (read-only; float32, float16 or int8 — see :meth:`dequantized`), truncated to
        :attr:`dim` columns (a view, not a copy)."""
        return self._table[:, : self._dim]

    def __repr__(self) -> str:
        fmt = self._info.get("format", "arrays")
        return (
            f"StaticModel(vocab_size={self.vocab_size}, dim={self.dim}, full_dim={self.full_dim}, "
            f"normalize={self.normalize}, dtype={self.dtype!r}, format={fmt!r})"
        )

    # ------------------------------------------------------------------ encoding

    def _resolve_dim(self, dim: Any) -> int:
        if dim is None:
            return self._dim
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"dim must be None or an int, not {type(dim).__name__}")
        if not 1 <= dim <= self.full_dim:
            raise InvalidInputError(f"dim must be between 1 and the table width {self.full_dim}, got {dim}")
        return int(dim)

    def encode(
        self,
        texts: Sequence[str],
        *,
        dim: int | None = None,
        normalize: bool | None = None,
        batch_size: int | None = None,
        num_threads: int | None = None,
        show_progress_bar: bool = False,
    ) -> np.ndarray:
        """Embed texts.

        Args:
            texts: a list (or other iterable) of ``str``. A lone ``str`` is refused with ``TypeError``.
            dim: output width; only the first ``dim`` columns of the table are read (Matryoshka).
            normalize: L2-normalize each vector (after truncation); ``None`` uses the model's setting.
            batch_size: texts handed to the Rust core per call (default 16,384); the GIL is released during
                each call and Ctrl-C is honoured between calls.
            num_threads: ``None`` uses every core (or ``RAYON_NUM_THREADS``), ``1`` runs on the calling thread,
                ``n`` uses a shared pool of ``n`` threads.
            show_progress_bar: show a tqdm bar.

        Returns:
            A float32 array of shape ``(len(texts), dim)``. A text with no tokens gives a zero vector.
        """
        items = _as_text_list(texts)
        k = self._resolve_dim(dim)
        norm = self._normalize if normalize is None else bool(normalize)
        batch = _check_positive_int("batch_size", batch_size) or DEFAULT_BATCH_SIZE
        threads = _check_positive_int("num_threads", num_threads)
        n = len(items)
        out = np.empty((n, k), dtype=np.float32)
        if n == 0:
            return out
        if n <= batch and not show_progress_bar:
            self._encoder.encode_into(items, self._core_table, out, norm, threads, self._scales)
            return out
        from tqdm.auto import tqdm

        with tqdm(total=n, disable=not show_progress_bar, unit="text", desc="encode") as bar:
            for start in range(0, n, batch):
                chunk = items[start : start + batch]
                self._encoder.encode_into(
                    chunk, self._core_table, out[start : start + len(chunk)], norm, threads, self._scales
                )
                bar.update(len(chunk))
        return out

    def tokenize(self, texts: Sequence[str], *, num_threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of ``texts`` as ``(ids, offsets)``: flat uint32 ids and int64 bag start offsets, the input
        :meth:`embed_ids` takes. These are the tokenizer's ids (no special tokens), before model2vec's
        unknown-token drop. ``num_threads`` as in :meth:`encode`."""
        threads = _check_positive_int("num_threads", num_threads)
        return self._encoder.tokenize(_as_text_list(texts), threads)

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

        ``ids`` is a flat 1-D integer array (int32, uint32 or int64) of token ids; ``offsets`` a 1-D integer
        array with the start of each bag: ``offsets[0] == 0``, non-decreasing; bag ``i`` is
        ``ids[offsets[i]:offsets[i+1]]`` and the last bag runs to the end. Returns ``(len(offsets), dim)``
        float32. The model's token mapping, weights and unknown-token drop apply, as in :meth:`encode`.
        """
        ids_arr = self._int_array("ids", ids)
        off_arr = self._int_array("offsets", offsets)
        k = self._resolve_dim(dim)
        norm = self._normalize if normalize is None else bool(normalize)
        threads = _check_positive_int("num_threads", num_threads)
        out = np.empty((len(off_arr), k), dtype=np.float32)
        off64 = off_arr.astype(np.int64, copy=False)
        weights = None
        if self._mapping is not None or self._weights is not None or self._drop:
            ids_arr, off64, weights = self._apply_token_map(ids_arr, off64)
        _core.pool_into(self._core_table, ids_arr, off64, out, norm, threads, weights, self._scales)
        return out

    @staticmethod
    def _int_array(name: str, value: Any) -> np.ndarray:
        arr = value if isinstance(value, np.ndarray) else np.asarray(value)
        if isinstance(value, (list, tuple)) and len(value) == 0:
            arr = np.zeros(0, dtype=np.int64)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"{name} must be an integer array, not {arr.dtype}")
        if arr.ndim != 1:
            raise InvalidInputError(f"{name} must be 1-D, got shape {arr.shape}")
        if not arr.flags.c_contiguous:
            raise InvalidInputError(f"{name} must be C-contiguous; pass np.ascontiguousarray({name})")
        if arr.dtype not in (np.int32, np.uint32, np.int64):
            if arr.dtype.kind == "u" and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
                raise InvalidInputError(f"{name} holds values too large for int64")
            arr = arr.astype(np.int64)
        return arr

    def _apply_token_map(self, ids: np.ndarray, offsets: np.ndarray):
        """model2vec semantics for raw ids: drop the unknown token, map ids to rows, gather weights."""
        ids64 = ids.astype(np.int64, copy=False)
        _core.check_offsets(offsets, len(ids64))
        vocab = self.vocab_size
        if ids64.size and (ids64.min() < 0 or ids64.max() >= vocab):
            bad = int(np.flatnonzero((ids64 < 0) | (ids64 >= vocab))[0])
            raise TokenIdError(
                f"token id {int(ids64[bad])} at position {bad} is out of range for a vocabulary of {vocab} ids"
            )
        keep = np.ones(len(ids64), dtype=bool)
        for d in self._drop:
            keep &= ids64 != d
        kept_before = np.concatenate([[0], np.cumsum(keep)])
        new_offsets = kept_before[offsets].astype(np.int64)
        kept = ids64[keep]
        weights = None if self._weights is None else np.ascontiguousarray(self._weights[kept])
        rows = kept if self._mapping is None else self._mapping[kept]
        return np.ascontiguousarray(rows, dtype=np.int64), np.ascontiguousarray(new_offsets), weights

    def similarity(self, a: Any, b: Any | None = None) -> np.ndarray:
        """Cosine similarity matrix between two sets of embeddings (or texts, which are encoded first).

        ``a`` and ``b`` are 1-D or 2-D arrays (or lists of str); ``b`` defaults to ``a``. Returns a float32
        array of shape ``(len(a), len(b))``. A zero vector has similarity 0 with everything.
        """
        ea = self._as_vectors(a)
        return cosine_scores(ea, ea if b is None else self._as_vectors(b))

    def _as_vectors(self, x: Any) -> np.ndarray:
        if isinstance(x, str):
            x = [x]
        if isinstance(x, list) and (not x or isinstance(x[0], str)):
            return self.encode(x)
        arr = np.asarray(x, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2:
            raise InvalidInputError(f"embeddings must be 1-D or 2-D, got shape {arr.shape}")
        return arr

    # ------------------------------------------------------------------ saving

    def save(self, path: str | os.PathLike) -> Path:
        """Write a Sentence Transformers static folder that ``SentenceTransformer(path)`` loads unchanged.

        The table is written at :attr:`dim` columns, in its stored dtype. model2vec token mappings and weights
        are folded into the table (one row per token id); model2vec's unknown-token drop has no Sentence
        Transformers equivalent, so a reloaded model averages the unknown token like every other. The
        tokenizer is written with padding and truncation off. Returns the folder.

        An int8 model is written as ``embedding.weight`` (int8) plus ``embedding.scales`` (float32, one per
        row): staticemb loads it, Sentence Transformers cannot (quantize to ``"float16"`` or dequantize for
        that).
        """
        from safetensors.numpy import save_file

        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        module = folder / "0_StaticEmbedding"
        module.mkdir(exist_ok=True)
        if self._mapping is None and self._weights is None:
            tensors = {"embedding.weight": np.ascontiguousarray(self._table[:, : self._dim])}
            if self._scales is not None:
                tensors["embedding.scales"] = self._scales
        else:
            values, scales = quantize_table(self._folded_table()[:, : self._dim], self.dtype)
            tensors = {"embedding.weight": values}
            if scales is not None:
                tensors["embedding.scales"] = scales
        save_file(tensors, str(module / "model.safetensors"))
        (module / "tokenizer.json").write_text(self._tokenizer.to_str(), encoding="utf-8")
        modules = [
            {"idx": 0, "name": "0", "path": "0_StaticEmbedding", "type": "sentence_transformers.models.StaticEmbedding"}
        ]
        if self._normalize:
            (folder / "1_Normalize").mkdir(exist_ok=True)
            modules.append({"idx": 1, "name": "1", "path": "1_Normalize", "type": "sentence_transformers.models.Normalize"})
        (folder / "modules.json").write_text(json.dumps(modules, indent=2), encoding="utf-8")
        config = {"prompts": {}, "default_prompt_name": None, "similarity_fn_name": "cosine"}
        (folder / "config_sentence_transformers.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        return folder


def _is_sentence_transformer(obj: Any) -> bool:
    st = sys.modules.get("sentence_transformers")
    if st is None:
        return False
    cls = getattr(st, "SentenceTransformer", None)
    return cls is not None and isinstance(obj, cls)
