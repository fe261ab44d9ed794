"""One training stage as a :class:`TrainConfig`: read from JSON, ``$VAR`` expanded, checked once."""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import _inputs
from .._paths import data_dir
from ..errors import InvalidInputError
from .weighting import check_coefficient

MATRYOSHKA_DIMS = (32, 64, 128, 256, 512, 1024)
#: The width of a random table (``tokenizer=``) when ``embedding_dim`` is not given.
DEFAULT_EMBEDDING_DIM = 1024
_VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")
#: The config fields that map names to values (``--set FIELD.NAME=VALUE`` sets one entry).
_MAPPING_FIELDS = frozenset({"train_datasets"})


def default_data_dir() -> Path:
    """``$STATICEMB_DATA``, or ``~/.cache/staticemb`` (see :func:`staticemb.corpora.data_dir`), not created."""
    return data_dir(create=False)


@dataclass
class TrainConfig:
    """One training stage. Every field has the published recipe's value as its default.

    ``train_datasets`` maps a name to a JSONL file (or a saved ``datasets`` directory). For ``loss="mnrl"``
    each row holds ``anchor`` and ``positive`` (and optionally ``negative``); for ``loss="distill"`` each row
    holds ``text``, or ``anchor`` and ``positive``, in which case both are fitted to the teacher's embedding of
    ``positive`` (for a translation pair: the student learns to put the translation where the teacher puts the
    English). ``eval_tasks`` are retrieval or bitext task files (:mod:`staticemb.tasks`) turned into evaluators.
    """

    output_dir: str
    train_datasets: dict[str, str]
    #: A static model folder (staticemb, Sentence Transformers or model2vec) to start from ...
    init: str | None = None
    #: ... or a tokenizer (``tokenizer.json`` path or a folder holding one) for a random table of this width.
    tokenizer: str | None = None
    #: The random table's width (``None``: :data:`DEFAULT_EMBEDDING_DIM`). An ``init`` model keeps its own width:
    #: any other ``embedding_dim`` is refused before any work (it was ignored), the init's own is accepted.
    embedding_dim: int | None = None
    loss: str = "mnrl"
    teacher: str | None = None
    matryoshka_dims: Sequence[int] = MATRYOSHKA_DIMS
    #: The global batch: rows per optimizer step over all processes. Under a launcher of N processes
    #: (``torchrun --nproc_per_node N``) each takes ``batch_size / N`` rows (``batch_size`` must split evenly)
    #: and MNRL ranks each anchor against the positives of the whole global batch, as on one device.
    batch_size: int = 2048
    learning_rate: float = 0.2
    warmup_ratio: float = 0.1
    num_epochs: float = 1.0
    max_steps: int = -1
    #: Rows kept per dataset (a seeded shuffle, then the first ``max_rows``); ``None`` keeps all.
    max_rows: int | None = None
    batch_sampler: str = "no_duplicates"
    multi_dataset_batch_sampler: str = "proportional"
    eval_tasks: list[str] = field(default_factory=list)
    #: Steps between evaluations / checkpoints / log lines: a whole number, or a float below 1 for a fraction of
    #: the run.
    eval_steps: float = 0.25
    save_steps: float = 0.25
    save_total_limit: int | None = 2
    logging_steps: float = 0.05
    seed: int = 12
    #: ``True`` resumes from the last complete checkpoint in ``output_dir/checkpoints``, a path from that
    #: checkpoint; either must be this run's (same config but for the fields of ``trainer.RESUMABLE_FIELDS``,
    #: same dataset files), else the resume is refused. Without it a run starts fresh and first removes the
    #: checkpoints an earlier run left in ``output_dir/checkpoints``.
    resume_from_checkpoint: bool | str | None = None
    #: ``None`` picks bf16 when a CUDA GPU supports it.
    bf16: bool | None = None
    dataloader_num_workers: int = 0
    #: Where teacher embeddings are cached (default ``<data dir>/teacher-cache``).
    cache_dir: str | None = None
    #: After training, fold SIF weights ``a / (a + p_t)`` into the table (row ``t`` scaled), ``p_t`` being
    #: token ``t``'s share of the tokens of this stage's training texts (every text column of every train
    #: dataset, each distinct text once); ``None`` leaves the table as trained. See
    #: :mod:`staticemb.train.weighting`.
    sif: float | None = None

    @classmethod
    def from_file(cls, path: str | os.PathLike, **overrides: Any) -> TrainConfig:
        """Read a JSON config. String values may use ``$VAR`` / ``${VAR}`` (environment; ``STATICEMB_DATA``
        defaults to the data directory) and ``~``; relative paths stay relative to the working directory.
        ``overrides`` replace the file's values; a key ``"FIELD.NAME"`` sets one entry of a mapping field (say
        ``"train_datasets.mine"``: one more training dataset) and keeps the others."""
        path = Path(path)
        raw = _inputs.json_file(path, "training config")
        if not isinstance(raw, dict):
            raise InvalidInputError(f"training config {path} must hold a JSON object")
        raw.pop("_comment", None)
        for key, value in overrides.items():
            parent, dot, name = key.partition(".")
            if not dot:
                raw[key] = value
                continue
            if not parent or not name or parent not in _MAPPING_FIELDS:
                raise InvalidInputError(f"cannot set {key!r}: only the entries of {sorted(_MAPPING_FIELDS)} can be "
                                        "set one by one (FIELD.NAME=VALUE)")
            if not isinstance(raw.get(parent, {}), dict):
                raise InvalidInputError(f"cannot set {key!r}: {parent} in {path} is not a mapping")
            raw[parent] = {**raw.get(parent, {}), name: value}
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - names)
        if unknown:
            raise InvalidInputError(f"unknown training config keys {unknown}; known keys: {sorted(names)}")
        if "output_dir" not in raw or "train_datasets" not in raw:
            raise InvalidInputError("a training config needs 'output_dir' and 'train_datasets'")
        config = cls(**_expand(dict(raw)))
        config.validate()
        return config

    def validate(self) -> None:
        if (self.init is None) == (self.tokenizer is None):
            raise InvalidInputError("give exactly one of 'init' (a model folder) and 'tokenizer' (random init)")
        if self.loss not in ("mnrl", "distill"):
            raise InvalidInputError(f"loss must be 'mnrl' or 'distill', not {self.loss!r}")
        if self.loss == "distill" and not self.teacher:
            raise InvalidInputError("loss='distill' needs a 'teacher' model")
        if not isinstance(self.train_datasets, Mapping) or not self.train_datasets:
            raise InvalidInputError("'train_datasets' must map names to dataset files and not be empty")
        if not _is_int(self.batch_size) or self.batch_size < 2:
            raise InvalidInputError("batch_size must be an integer of at least 2 (in-batch negatives)")
        if (isinstance(self.matryoshka_dims, (str, bytes)) or not isinstance(self.matryoshka_dims, Sequence)
                or not self.matryoshka_dims
                or any(not _is_int(d) or d <= 0 for d in self.matryoshka_dims)):
            raise InvalidInputError(f"matryoshka_dims must be a list of positive integer widths, "
                                    f"not {self.matryoshka_dims!r}")
        if self.batch_sampler not in ("no_duplicates", "batch_sampler"):
            raise InvalidInputError("batch_sampler must be 'no_duplicates' or 'batch_sampler'")
        if self.multi_dataset_batch_sampler not in ("proportional", "round_robin"):
            raise InvalidInputError("multi_dataset_batch_sampler must be 'proportional' or 'round_robin'")
        if self.sif is not None:
            check_coefficient(self.sif)
        self._check_types()

    def _check_types(self) -> None:
        """Every other field's type and range, before any data is read (a wrong one used to surface deep in the
        trainer, or never: ``eval_tasks: "tasks/"`` was read a character at a time). Paths may be given as
        ``os.PathLike`` objects; they are kept as strings."""
        for name in ("output_dir", "init", "tokenizer", "teacher", "cache_dir", "resume_from_checkpoint"):
            if isinstance(getattr(self, name), os.PathLike):
                setattr(self, name, os.fspath(getattr(self, name)))
        if isinstance(self.train_datasets, Mapping):
            self.train_datasets = {k: os.fspath(v) if isinstance(v, os.PathLike) else v
                                   for k, v in self.train_datasets.items()}
        if isinstance(self.eval_tasks, list):
            self.eval_tasks = [os.fspath(t) if isinstance(t, os.PathLike) else t for t in self.eval_tasks]
        if not isinstance(self.output_dir, str) or not self.output_dir:
            raise InvalidInputError(f"output_dir must be a folder path (a non-empty string), not {self.output_dir!r}")
        for name, path in self.train_datasets.items():
            if not isinstance(name, str) or not isinstance(path, str) or not path:
                raise InvalidInputError(f"train_datasets must map names to file paths (strings), got "
                                        f"{name!r}: {path!r}")
        for name in ("init", "tokenizer", "teacher", "cache_dir"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise InvalidInputError(f"{name} must be a path or Hub id (a non-empty string) or null, not {value!r}")
        if self.embedding_dim is not None and (not _is_int(self.embedding_dim) or self.embedding_dim < 1):
            raise InvalidInputError(f"embedding_dim must be a positive integer or null, not {self.embedding_dim!r}")
        checks: list[tuple[str, bool, str]] = [
            ("learning_rate", _is_number(self.learning_rate) and self.learning_rate > 0, "a positive number"),
            ("warmup_ratio", _is_number(self.warmup_ratio) and 0 <= self.warmup_ratio < 1,
             "a share of the steps, at least 0 and below 1"),
            ("num_epochs", _is_number(self.num_epochs) and self.num_epochs > 0, "a positive number"),
            ("max_steps", _is_int(self.max_steps) and (self.max_steps == -1 or self.max_steps > 0),
             "a positive integer, or -1 for the epochs' steps"),
            ("max_rows", self.max_rows is None or _is_int(self.max_rows) and self.max_rows > 0,
             "a positive integer or null"),
            ("eval_steps", _is_steps(self.eval_steps), _STEPS),
            ("save_steps", _is_steps(self.save_steps), _STEPS),
            ("logging_steps", _is_steps(self.logging_steps), _STEPS),
            ("save_total_limit", self.save_total_limit is None
             or _is_int(self.save_total_limit) and self.save_total_limit > 0,
             "a positive integer, or null to keep every checkpoint"),
            ("seed", _is_int(self.seed) and 0 <= self.seed < 2**32, "an integer from 0 to 2**32 - 1 (NumPy's range)"),
            ("bf16", self.bf16 is None or isinstance(self.bf16, bool), "true, false or null"),
            ("dataloader_num_workers", _is_int(self.dataloader_num_workers) and self.dataloader_num_workers >= 0,
             "a non-negative integer"),
            ("resume_from_checkpoint", self.resume_from_checkpoint is None
             or isinstance(self.resume_from_checkpoint, (bool, str)), "true, false, a checkpoint path or null"),
        ]
        for name, ok, want in checks:
            if not ok:
                raise InvalidInputError(f"{name} must be {want}, not {getattr(self, name)!r}")
        if not isinstance(self.eval_tasks, list) or any(not isinstance(t, str) for t in self.eval_tasks):
            raise InvalidInputError(f"eval_tasks must be a list of task file paths, not {self.eval_tasks!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_STEPS = "a whole number of steps (1 or more), or a share of the run above 0 and below 1"


def _is_steps(value: Any) -> bool:
    """What Transformers' ``TrainingArguments`` takes for ``eval_steps``, ``save_steps`` and ``logging_steps``: a
    whole number of steps, or a float below 1 for a share of the run (``2.5`` passed here and failed there)."""
    return _is_number(value) and value > 0 and (value < 1 or float(value).is_integer())


def _expand(value: Any) -> Any:
    """``$VAR`` / ``${VAR}`` and ``~`` expanded in every string of a config value."""
    if isinstance(value, str):
        env = {**os.environ, "STATICEMB_DATA": str(default_data_dir())}  # as data_dir() reads it

        def sub(m: re.Match) -> str:
            name = m.group(1) or m.group(2)
            if name not in env:
                raise InvalidInputError(f"training config uses ${name}, which is not set")
            return env[name]

        return os.path.expanduser(_VAR.sub(sub, value))
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v) for v in value]
    return value
