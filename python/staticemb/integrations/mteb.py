"""Evaluate a staticemb model with `MTEB <https://github.com/embeddings-benchmark/mteb>`_ (mteb 2.x).

:class:`StaticMTEBEncoder` wraps a :class:`~staticemb.StaticModel` (or a folder / Hub id, loaded with
:meth:`StaticModel.from_pretrained <staticemb.StaticModel.from_pretrained>`) in mteb's encoder protocol
(``mteb.models.EncoderProtocol``, by subclassing ``mteb.models.abs_encoder.AbsEncoder``), so that ``mteb.evaluate``
runs it like mteb's own Sentence Transformers wrapper runs a ``SentenceTransformer``::

    import mteb
    from staticemb.integrations.mteb import StaticMTEBEncoder

    encoder = StaticMTEBEncoder("minishlab/potion-base-8M")
    results = mteb.evaluate(encoder, mteb.get_tasks(tasks=["NFCorpus"]))

What the encoder does, as ``mteb.models.SentenceTransformerEncoderWrapper`` does:

* reads the ``"text"`` column of mteb's batches (for a retrieval corpus mteb has already joined each
  document's title and body into it: ``"title body"``), and encodes all of them in one
  :meth:`~staticemb.StaticModel.encode` call, in order;
* picks the prompt as mteb does (``{task name}-{query|document}``, then the task name, then
  ``{task type}-{query|document}``, then the task type, then ``query`` / ``document``) among the model's
  :attr:`~staticemb.StaticModel.prompts` (or ``model_prompts`` given here); with none of these, queries go
  through :meth:`~staticemb.StaticModel.encode_query` and documents through
  :meth:`~staticemb.StaticModel.encode_document`, which use the model's ``"query"`` / ``"document"``
  prompts;
* scores with the model's own :meth:`~staticemb.StaticModel.similarity` and
  :meth:`~staticemb.StaticModel.similarity_pairwise` (its ``similarity_fn_name``);
* describes the model in :attr:`StaticMTEBEncoder.mteb_model_meta` (a ``mteb.models.ModelMeta``, built by
  :func:`static_model_meta`), which names the results folder in mteb's cache.

mteb's ``batch_size`` is a data-loading setting here: staticemb hands the texts to its Rust core in its own
batches (results do not depend on it); ``show_progress_bar`` and ``precision`` are passed on.

Needs mteb (Python 3.11 or newer): ``pip install "staticemb[mteb]"``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

try:
    from mteb.models import ModelMeta
    from mteb.models.abs_encoder import AbsEncoder, get_prompt_name
    from mteb.models.model_meta import ScoringFunction
    from mteb.types import PromptType
except ImportError as e:  # only a missing (or too old) mteb; a broken dependency of mteb raises as it is
    if (e.name or "mteb").partition(".")[0] != "mteb":
        raise
    raise ImportError(
        f'staticemb.integrations.mteb needs mteb 2.x ({e}); install it with: pip install "staticemb[mteb]"'
    ) from e

from ..model import StaticModel
from . import _check_options

if TYPE_CHECKING:
    from mteb.abstasks.task_metadata import TaskMetadata
    from mteb.types import Array, BatchedInput
    from torch.utils.data import DataLoader

__all__ = ["StaticMTEBEncoder", "static_model_meta"]

logger = logging.getLogger(__name__)

NO_NAME = "no_model_name/available"
"""mteb's name for a model it knows no name for (``ModelMeta.create_empty``)."""
FOLDER_FORMATS = ("sentence-transformers", "model2vec")
"""Model folders staticemb reads (their tables are ``.safetensors`` files)."""


def _hub_origin(info: dict[str, Any]) -> tuple[str, str] | None:
    """``(repo id, commit)`` of a model ``from_pretrained`` loaded from the Hugging Face Hub (its ``info``)."""
    if "hub_id" not in info:
        return None
    return info["hub_id"], info["revision"]


def content_revision(model: StaticModel) -> str:
    """``"content-<32 hex digits>"``: a digest of everything that makes ``model``'s vectors (its tokenizer, table,
    row scales, token weights and mapping, and its settings): the same for one folder however it is loaded
    (memory-mapped or not, in any process, after pickling), and different for any two models whose vectors can
    differ. (A model built from a ``SentenceTransformer`` object may serialize its tokenizer differently from
    the folder's file: a different digest, so at worst a cache miss.)"""
    state = model.__getstate__()
    state.pop("info")  # where it was loaded from; not what it computes
    digest = hashlib.blake2b(digest_size=16)
    for key in sorted(state):
        value = state[key]
        digest.update(key.encode() + b"\0")
        if isinstance(value, np.ndarray):
            digest.update(f"{value.dtype.str}{value.shape}".encode())
            digest.update(np.ascontiguousarray(value).data)
        else:
            digest.update(value if isinstance(value, bytes) else repr(value).encode())
        digest.update(b"\0")
    return f"content-{digest.hexdigest()}"


def static_model_meta(
    model: StaticModel,
    *,
    name: str | None = None,
    revision: str | None = None,
    truncate_dim: int | None = None,
    prompts: dict[str, str] | None = None,
    experiment_kwargs: dict[str, Any] | None = None,
) -> ModelMeta:
    """mteb's description of a static model, from what the model itself knows (nothing is fetched).

    Args:
        model: the model.
        name: its name, ``"organization/model_name"`` as mteb requires (it names the results folder). By
            default the Hub id the model was downloaded from, else mteb's ``"no_model_name/available"``.
        revision: its revision; by default the Hub commit the model was downloaded at, else
            ``"content-<digest>"``, a digest of what makes its vectors (tokenizer, table, weights and
            settings), so that two unnamed local models never share mteb's cached results.
        truncate_dim: the width the vectors are cut to at encoding, if they are.
        prompts: the prompts used, if not the model's own.
        experiment_kwargs: more settings that change the vectors, recorded by mteb.

    The parameters are the table's entries (rows x full width, all of them embedding parameters),
    ``memory_usage_mb`` the bytes the table takes as stored (float32, float16 or int8 with row scales),
    ``embed_dim`` the width the vectors have, ``max_tokens`` the model's :attr:`~staticemb.StaticModel.max_length`
    (infinite when it keeps every token), ``adapted_from`` the base model a saved folder's card names. What
    the model cannot tell (release date, languages, license, training data) is left unknown (``None``).

    Settings that make the vectors differ from the stored model's (a Matryoshka ``dim`` or ``truncate_dim``,
    a quantized copy, ``experiment_kwargs``) go in ``experiment_kwargs``, which mteb turns into a folder of
    their own in its results cache: results of differently configured runs of one model never overwrite, or
    stand in for, one another.
    """
    info: dict[str, Any] = getattr(model, "_info", {})
    origin = _hub_origin(info)
    if name is None and origin is not None:
        name = origin[0]
    from_hub = origin is not None and name == origin[0]
    if revision is None and origin is not None and from_hub:
        revision = origin[1]
    if revision is None:
        revision = content_revision(model)
    settings: dict[str, Any] = {}
    if truncate_dim is not None:
        settings["truncate_dim"] = truncate_dim
    elif model.truncate_dim is not None:
        settings["truncate_dim"] = model.truncate_dim
    elif model.dim != model.full_dim:
        settings["dim"] = model.dim
    if info.get("quantized"):
        settings["quantized"] = info["quantized"]
    settings.update(experiment_kwargs or {})
    width = settings.get("truncate_dim", model.dim)
    n_parameters = int(model.embeddings.shape[0]) * model.full_dim  # every row, full width
    used_prompts = dict(model.prompts) if prompts is None else prompts
    base_model = info.get("base_model")  # the Hub id it was loaded from, or the one its model card names
    return ModelMeta(
        loader=StaticMTEBEncoder if from_hub else None,
        name=name or NO_NAME,
        revision=revision,
        release_date=None,
        languages=None,
        n_parameters=n_parameters,
        n_embedding_parameters=n_parameters,
        memory_usage_mb=round(model.nbytes / 2**20, 3),
        max_tokens=float("inf") if model.max_length is None else float(model.max_length),
        embed_dim=width,
        license=None,
        open_weights=None,
        public_training_code=None,
        public_training_data=None,
        framework=["NumPy", "safetensors"] if info.get("format") in FOLDER_FORMATS else ["NumPy"],
        similarity_fn_name=ScoringFunction.from_str(model.similarity_fn_name),
        use_instructions=any(used_prompts.values()),
        training_datasets=None,
        modalities=["text"],
        model_type=["dense"],
        adapted_from=base_model if isinstance(base_model, str) and base_model != name else None,
        experiment_kwargs=settings or None,
    )


class StaticMTEBEncoder(AbsEncoder):
    """A staticemb model as an mteb encoder (``mteb.models.EncoderProtocol``).

    Args:
        model: a :class:`~staticemb.StaticModel`, or what :meth:`StaticModel.from_pretrained
            <staticemb.StaticModel.from_pretrained>` loads (a folder or a Hub id).
        revision: the Hub revision to load (a ``model`` given as a Hub id); mteb records the commit it resolved
            to (or this revision, for a model not from the Hub cache).
        device: staticemb encodes on the CPU; another device is ignored, with a warning.
        model_prompts: prompts to use instead of the model's own, keyed as mteb keys them (a task name, a
            task type, ``"query"``, ``"document"``, or ``"{task name or type}-{query|document}"``).
        name: the name mteb records (``"organization/model_name"``); see :func:`static_model_meta`.
        truncate_dim: cut every vector to this many dimensions (Sentence Transformers' ``truncate_dim``).
        normalize_embeddings: L2-normalize every vector (a model that normalizes already does).
        num_threads: threads for :meth:`~staticemb.StaticModel.encode` (``None``: every core).
        quantized: store the table as ``"float16"`` or ``"int8"`` (:meth:`~staticemb.StaticModel.quantize`).
        embed_dim: mteb's name for the width (``ModelMeta.load_model(embed_dim=...)``): a ``truncate_dim`` when
            it differs from the model's.
        **kwargs: passed to :meth:`StaticModel.from_pretrained <staticemb.StaticModel.from_pretrained>`
            (``dim``, ``normalize``, ``truncate_dim``, ``cache_dir``, …) when ``model`` is loaded here.

    An encode option (``truncate_dim``, ``normalize_embeddings``, ``num_threads``) that
    :meth:`~staticemb.StaticModel.encode` refuses is refused here, with its error.

    ``truncate_dim``, ``normalize_embeddings``, ``model_prompts`` and the loading options that change the
    vectors are recorded in ``mteb_model_meta.experiment_kwargs``, so that mteb keeps their results apart.
    """

    mteb_model_meta: ModelMeta

    def __init__(
        self,
        model: StaticModel | str | os.PathLike[str],
        revision: str | None = None,
        *,
        device: str | None = None,
        model_prompts: dict[str, str] | None = None,
        name: str | None = None,
        truncate_dim: int | None = None,
        normalize_embeddings: bool = False,
        num_threads: int | None = None,
        quantized: str | None = None,
        embed_dim: int | None = None,
        **kwargs: Any,
    ) -> None:
        if device is not None and str(device) != "cpu":
            warnings.warn(
                f"staticemb encodes on the CPU; device={device!r} is ignored", RuntimeWarning, stacklevel=2
            )
        settings: dict[str, Any] = {}
        if isinstance(model, StaticModel):
            if kwargs:
                raise TypeError(
                    f"loading options ({', '.join(sorted(kwargs))}) apply to a model loaded here, "
                    "not to a StaticModel"
                )
            self.model = model
        else:
            self.model = StaticModel.from_pretrained(model, revision=revision, **kwargs)
            if name is None and isinstance(model, str) and not Path(model).expanduser().exists():
                name = model if "/" in model else None  # a Hub id; from_pretrained found it
            if kwargs.get("normalize") is not None:
                settings["normalize"] = bool(kwargs["normalize"])
        if quantized is not None:  # recorded by static_model_meta, from the copy's info
            self.model = self.model.quantize(quantized)
        if embed_dim is not None and truncate_dim is None and embed_dim != self.model.get_sentence_embedding_dimension():
            truncate_dim = embed_dim  # mteb's name for the width, as its Sentence Transformers wrapper reads it
        if normalize_embeddings:
            settings["normalize_embeddings"] = True
        if model_prompts is not None:
            settings["model_prompts"] = dict(model_prompts)
        self.truncate_dim = truncate_dim
        self.normalize_embeddings = normalize_embeddings
        self.num_threads = num_threads
        _check_options(self.model, self)  # before mteb records a truncate_dim the first encode would refuse
        self._explicit_prompts = model_prompts is not None
        self.model_prompts = dict(model_prompts if model_prompts is not None else self.model.prompts)
        origin = _hub_origin(getattr(self.model, "_info", {}))
        self.mteb_model_meta = static_model_meta(
            self.model,
            name=name,
            revision=revision if origin is None else None,  # a Hub model: the commit it was loaded at
            truncate_dim=truncate_dim,
            prompts=self.model_prompts,
            experiment_kwargs=settings,
        )

    def __repr__(self) -> str:
        return f"StaticMTEBEncoder({self.mteb_model_meta.name!r}, {self.model!r})"

    def encode(
        self,
        inputs: DataLoader[BatchedInput],
        *,
        task_metadata: TaskMetadata,
        hf_split: str,
        hf_subset: str,
        prompt_type: PromptType | None = None,
        **kwargs: Any,
    ) -> Array:
        """Embed the ``"text"`` of every batch of ``inputs``, in order: a ``(n, dim)`` float32 array (int8,
        uint8 or packed bits with a ``precision`` other than float32)."""
        texts: list[str] = []
        for batch in inputs:
            if "text" not in batch:
                raise ValueError(
                    f"{task_metadata.name}: staticemb embeds text, but this task gives {sorted(batch)}"
                )
            texts.extend(batch["text"])

        prompts = self.model_prompts or {}
        prompt_name = get_prompt_name(prompts, task_metadata, prompt_type)
        prompt = prompts[prompt_name] if prompt_name is not None else None
        if prompt is None and self._explicit_prompts:
            prompt = ""  # model_prompts replace the model's own prompts, as in mteb's Sentence Transformers wrapper
        if prompt_name is not None:
            logger.info("task %s, %s: prompt %r = %r", task_metadata.name, prompt_type, prompt_name, prompt)

        options: dict[str, Any] = {
            "prompt": prompt,
            "truncate_dim": self.truncate_dim,
            "normalize_embeddings": self.normalize_embeddings,
            "num_threads": self.num_threads,
        }
        if "show_progress_bar" in kwargs:
            options["show_progress_bar"] = kwargs["show_progress_bar"]
        if "precision" in kwargs:
            options["precision"] = kwargs["precision"]
        if prompt_type == PromptType.query:
            out = self.model.encode_query(texts, **options)
        elif prompt_type == PromptType.document:
            out = self.model.encode_document(texts, **options)
        else:
            out = self.model.encode(texts, **options)
        return np.asarray(out)

    def similarity(self, embeddings1: Array, embeddings2: Array) -> Array:
        """All-pairs scores with the model's :attr:`~staticemb.StaticModel.similarity_fn_name`: a
        ``(len(embeddings1), len(embeddings2))`` float32 array."""
        return self.model.similarity(embeddings1, embeddings2)

    def similarity_pairwise(self, embeddings1: Array, embeddings2: Array) -> Array:
        """The score of each pair ``(embeddings1[i], embeddings2[i])``: a float32 array."""
        return self.model.similarity_pairwise(embeddings1, embeddings2)
