"""Training static embedding models, delegated to Sentence Transformers.

Three entry points, each also a CLI command (``staticemb distill``, ``staticemb train CONFIG``):

- :func:`distill` makes an initial table from a transformer teacher. With the teacher's own tokenizer it runs
  model2vec's distillation; with another tokenizer (say a multilingual one) it embeds every vocabulary entry with
  the teacher, applies PCA and SIF weights counted on a corpus. The table can be widened past the teacher's
  width (the extra dimensions start as small noise) and is scaled to unit RMS, the scale of the published
  recipe's random ``nn.EmbeddingBag`` init, so that the recipe's learning rate keeps its meaning.
- :func:`train` runs one training stage from a :class:`TrainConfig`: ``StaticEmbedding`` with
  ``MatryoshkaLoss`` around either ``MultipleNegativesRankingLoss`` (``loss="mnrl"``, the published recipe:
  batch 2048, lr 0.2, warmup 0.1, one epoch, ``NO_DUPLICATES`` batches, ``PROPORTIONAL`` multi-dataset
  sampling) or :class:`SimilarityDistillLoss` (``loss="distill"``: teacher regression on unlabeled text, where
  the teacher embeddings are computed once and cached). Evaluators run during training, checkpoints are saved
  and can be resumed, and the same code runs on a CPU, on one GPU (bf16) and on several GPUs
  (``accelerate launch -m staticemb train CONFIG`` or ``torchrun --nproc_per_node N -m staticemb train CONFIG``).

Sentence Transformers, ``datasets``, ``torch`` and model2vec are imported only when these functions run, so
``import staticemb`` stays light.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InvalidInputError, ModelFormatError

logger = logging.getLogger(__name__)

MATRYOSHKA_DIMS = (32, 64, 128, 256, 512, 1024)
_VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def default_data_dir() -> Path:
    """``$STATICEMB_DATA``, or ``~/.cache/staticemb``: where datasets, teacher caches and models go."""
    return Path(os.environ.get("STATICEMB_DATA", Path.home() / ".cache" / "staticemb"))


# ------------------------------------------------------------------------------------------------ config


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
    embedding_dim: int = 1024
    loss: str = "mnrl"
    teacher: str | None = None
    matryoshka_dims: Sequence[int] = MATRYOSHKA_DIMS
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
    #: Steps between evaluations / checkpoints / log lines; a float below 1 is a fraction of the run.
    eval_steps: float = 0.25
    save_steps: float = 0.25
    save_total_limit: int = 2
    logging_steps: float = 0.05
    seed: int = 12
    #: ``True`` resumes from the last checkpoint in ``output_dir/checkpoints``, a path from that checkpoint.
    resume_from_checkpoint: bool | str | None = None
    #: ``None`` picks bf16 when a CUDA GPU supports it.
    bf16: bool | None = None
    dataloader_num_workers: int = 0
    #: Where teacher embeddings are cached (default ``<data dir>/teacher-cache``).
    cache_dir: str | None = None

    @classmethod
    def from_file(cls, path: str | os.PathLike, **overrides: Any) -> TrainConfig:
        """Read a JSON config. String values may use ``$VAR`` / ``${VAR}`` (environment; ``STATICEMB_DATA``
        defaults to the data directory) and ``~``; relative paths stay relative to the working directory."""
        path = Path(path)
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise InvalidInputError(f"training config not found: {path}") from None
        except json.JSONDecodeError as e:
            raise InvalidInputError(f"training config {path} is not valid JSON: {e}") from None
        if not isinstance(raw, dict):
            raise InvalidInputError(f"training config {path} must hold a JSON object")
        raw.pop("_comment", None)
        raw.update(overrides)
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
        if not self.train_datasets:
            raise InvalidInputError("'train_datasets' is empty")
        if self.batch_size < 2:
            raise InvalidInputError("batch_size must be at least 2 (in-batch negatives)")
        if not self.matryoshka_dims or any(int(d) <= 0 for d in self.matryoshka_dims):
            raise InvalidInputError("matryoshka_dims must be positive widths")
        if self.batch_sampler not in ("no_duplicates", "batch_sampler"):
            raise InvalidInputError("batch_sampler must be 'no_duplicates' or 'batch_sampler'")
        if self.multi_dataset_batch_sampler not in ("proportional", "round_robin"):
            raise InvalidInputError("multi_dataset_batch_sampler must be 'proportional' or 'round_robin'")


def _expand(value: Any) -> Any:
    if isinstance(value, str):
        env = {"STATICEMB_DATA": str(default_data_dir()), **os.environ}

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


# ------------------------------------------------------------------------------------------------ data


def _read_dataset(path: str):
    """Every column of a JSONL file (or a saved ``datasets`` folder), read once."""
    import datasets

    p = Path(path)
    if not p.exists():
        raise InvalidInputError(f"training dataset not found: {p}")
    if p.is_dir():
        return datasets.load_from_disk(str(p))
    rows = []
    with p.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise InvalidInputError(f"{p}:{n} is not a JSON line: {e}") from None
    if not rows:
        raise InvalidInputError(f"training dataset {p} is empty")
    return datasets.Dataset.from_dict({c: [r.get(c) for r in rows] for c in rows[0]})


def _text_columns(ds, path: str, columns: Sequence[str], max_rows: int | None, seed: int):
    """``columns`` of ``ds``, each checked to hold non-empty text, at most ``max_rows`` rows (seeded shuffle)."""
    ds = ds.select_columns(list(columns))
    for c in columns:
        for n, value in enumerate(ds[c], 1):
            if not isinstance(value, str) or not value.strip():
                raise InvalidInputError(f"{path}: row {n} has no text in column {c!r}")
    if max_rows is not None and len(ds) > max_rows:
        ds = ds.shuffle(seed=seed).select(range(max_rows))
    return ds


def teacher_embeddings(teacher: str, texts: Sequence[str], *, cache_dir: str | os.PathLike | None = None,
                       batch_size: int = 64, device: str | None = None) -> np.ndarray:
    """The teacher's normalized embeddings of ``texts`` (float32), cached on disk by teacher and text hash.

    ``teacher`` is any Sentence Transformers model (a folder or a Hub id)."""
    h = hashlib.sha1(str(teacher).encode())
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    cache = Path(cache_dir) if cache_dir else default_data_dir() / "teacher-cache"
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"{h.hexdigest()}.npy"
    if target.exists():
        return np.load(target)
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(teacher), device=device or _device())
    logger.info("embedding %d texts with the teacher %s", len(texts), teacher)
    emb = model.encode(list(texts), batch_size=batch_size, show_progress_bar=True, convert_to_numpy=True,
                       normalize_embeddings=True).astype(np.float32)
    tmp = target.with_suffix(f".{os.getpid()}.tmp.npy")  # one per process: ranks of a multi-GPU run race here
    np.save(tmp, emb)
    os.replace(tmp, target)
    return emb


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# ------------------------------------------------------------------------------------------------ losses


def similarity_distill_loss(model, *, scale: float = 1.0):
    """Teacher regression that does not care about widths: the student's in-batch cosine-similarity matrix is
    fitted (mean squared error) to the one the teacher's embeddings (the ``label`` column) give. Because it
    compares similarities, not coordinates, a 1024-d student learns from a 384-d teacher, and
    ``MatryoshkaLoss`` can wrap it (every truncated width is fitted to the same teacher similarities)."""
    import torch
    from torch import nn

    class SimilarityDistillLoss(nn.Module):
        def __init__(self, model, scale: float) -> None:
            super().__init__()
            self.model = model
            self.scale = scale

        def forward(self, sentence_features, labels):
            teacher = torch.nn.functional.normalize(labels.float(), dim=-1)
            target = teacher @ teacher.T
            off = ~torch.eye(target.shape[0], dtype=torch.bool, device=target.device)
            loss = 0.0
            feats = list(sentence_features)
            for features in feats:
                emb = self.model(features)["sentence_embedding"]
                emb = torch.nn.functional.normalize(emb.float(), dim=-1)
                sim = emb @ emb.T
                loss = loss + ((sim - target)[off] ** 2).mean()
            return self.scale * loss / len(feats)

        def get_config_dict(self) -> dict[str, Any]:
            return {"scale": self.scale}

        @property
        def citation(self) -> str:
            return ""

    return SimilarityDistillLoss(model, scale)


# ------------------------------------------------------------------------------------------------ models


def _load_tokenizer(spec: str):
    from tokenizers import Tokenizer

    p = Path(spec)
    if p.is_dir():
        candidates = [p / "tokenizer.json", p / "0_StaticEmbedding" / "tokenizer.json"]
        p = next((c for c in candidates if c.exists()), candidates[0])
    if p.exists():
        try:
            tok = Tokenizer.from_file(str(p))
        except Exception as e:  # noqa: BLE001 - the tokenizers library raises a bare Exception
            raise ModelFormatError(f"cannot read the tokenizer {p}: {e}") from None
    else:
        tok = Tokenizer.from_pretrained(spec)
    tok.no_padding()
    tok.no_truncation()
    return tok


def _static_module(init: str | None, tokenizer: str | None, embedding_dim: int):
    """A Sentence Transformers ``StaticEmbedding`` from a static model folder (any layout staticemb reads,
    quantized tables dequantized) or a tokenizer with a random table."""
    import torch
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    from tokenizers import Tokenizer

    if init is not None:
        from .model import StaticModel

        sm = StaticModel.from_pretrained(init, normalize=False)
        if sm._drop:
            logger.warning("%s drops the unknown token (model2vec); training averages it like any token", init)
        tok = Tokenizer.from_str(sm.tokenizer.to_str())
        tok.no_padding()
        tok.no_truncation()
        weights = torch.from_numpy(np.array(sm._folded_table(), dtype=np.float32))
        return StaticEmbedding(tok, embedding_weights=weights, base_model=str(init))
    tok = _load_tokenizer(tokenizer)
    return StaticEmbedding(tok, embedding_dim=embedding_dim)


# ------------------------------------------------------------------------------------------------ distill


def distill(teacher: str, *, tokenizer: str | None = None, dim: int | None = None, pca_dims: int | None = None,
            corpus: Sequence[str] | None = None, sif_coefficient: float = 1e-4, device: str | None = None,
            seed: int = 0, output: str | os.PathLike | None = None, batch_size: int = 256):
    """A static model distilled from a transformer ``teacher`` (a Sentence Transformers folder or Hub id).

    - ``tokenizer=None``: model2vec's distillation with the teacher's own tokenizer (PCA, Zipf/SIF weights);
      the table is put back on the teacher tokenizer's full vocabulary, so ids match the original tokenizer.
    - ``tokenizer=PATH``: every entry of that vocabulary (continuation markers stripped) is embedded by the
      teacher; PCA; SIF weights ``a / (a + p(token))`` with frequencies counted on ``corpus``.

    ``pca_dims`` (default: the teacher's width) keeps the leading principal components, which also orders the
    dimensions by variance as Matryoshka truncation wants. ``dim`` (default ``pca_dims``) widens the table with
    small noise columns for training to use. The table is scaled to unit RMS. Returns a
    :class:`staticemb.StaticModel`; ``output`` also saves it as a Sentence Transformers folder.
    """
    from .model import StaticModel

    rng = np.random.default_rng(seed)
    if tokenizer is None:
        table, tok = _distill_model2vec(teacher, pca_dims, device)
    else:
        table, tok = _distill_vocabulary(teacher, tokenizer, pca_dims, corpus, sif_coefficient, device,
                                         batch_size)
    table = table.astype(np.float32)
    rms = float(np.sqrt(np.mean(table**2))) or 1.0
    table /= rms
    if dim is not None and dim > table.shape[1]:
        extra = rng.normal(0.0, 0.1, size=(table.shape[0], dim - table.shape[1])).astype(np.float32)
        specials = _special_ids(tok)
        extra[specials] = 0.0
        table = np.concatenate([table, extra], axis=1)
    elif dim is not None and dim < table.shape[1]:
        table = np.ascontiguousarray(table[:, :dim])
    model = StaticModel.from_pretrained((tok.to_str(), table), normalize=False)
    if output is not None:
        model.save(output)
    return model


def _special_ids(tok) -> list[int]:
    return sorted(tok.token_to_id(t.content) for t in tok.get_added_tokens_decoder().values()
                  if t.special and tok.token_to_id(t.content) is not None)


def _distill_model2vec(teacher: str, pca_dims: int | None, device: str | None):
    from model2vec.distill import distill as m2v_distill

    from .model import StaticModel

    tok = _load_tokenizer(_teacher_tokenizer(teacher))
    m2v = m2v_distill(model_name=str(teacher), pca_dims=pca_dims or "auto", device=device or _device(),
                      quantize_to="float32")
    # model2vec's mapping and weights folded into one row per token of its (possibly pruned) vocabulary.
    emb = StaticModel(m2v.tokenizer, np.asarray(m2v.embedding, dtype=np.float32),
                      weights=getattr(m2v, "weights", None),
                      token_mapping=getattr(m2v, "token_mapping", None))._folded_table()
    m2v_vocab = m2v.tokenizer.get_vocab()
    table = np.zeros((tok.get_vocab_size(), emb.shape[1]), dtype=np.float32)
    for token, i in tok.get_vocab().items():
        j = m2v_vocab.get(token)
        if j is not None and j < len(emb):
            table[i] = emb[j]
    return table, tok


def _teacher_tokenizer(teacher: str) -> str:
    p = Path(teacher)
    if (p / "tokenizer.json").exists():
        return str(p / "tokenizer.json")
    if p.is_dir():
        raise ModelFormatError(f"the teacher folder {p} has no tokenizer.json")
    return str(teacher)


def _distill_vocabulary(teacher, tokenizer, pca_dims, corpus, sif_coefficient, device, batch_size):
    from sentence_transformers import SentenceTransformer

    tok = _load_tokenizer(tokenizer)
    vocab = tok.get_vocab()
    strings = [""] * len(vocab)
    prefix = getattr(tok.model, "continuing_subword_prefix", None) or ""
    for token, i in vocab.items():
        s = token
        if prefix and s.startswith(prefix):
            s = s[len(prefix):]
        strings[i] = s.replace("\u2581", " ").strip() or token
    model = SentenceTransformer(str(teacher), device=device or _device())
    emb = model.encode(strings, batch_size=batch_size, show_progress_bar=True, convert_to_numpy=True)
    emb = emb.astype(np.float64)
    emb -= emb.mean(axis=0)
    k = min(pca_dims or emb.shape[1], emb.shape[1])
    _, _, vt = np.linalg.svd(emb, full_matrices=False)
    table = emb @ vt[:k].T
    if corpus is not None:
        ids = [np.asarray(enc.ids, dtype=np.int64) for enc in tok.encode_batch(list(corpus), add_special_tokens=False)]
        counts = np.bincount(np.concatenate(ids) if ids else np.zeros(0, np.int64), minlength=len(vocab))
        counts = counts.astype(np.float64)
        p = counts / max(counts.sum(), 1.0)
        table *= (sif_coefficient / (sif_coefficient + p))[:, None]
    table[_special_ids(tok)] = 0.0
    return table.astype(np.float32), tok


# ------------------------------------------------------------------------------------------------ train


def train(config: TrainConfig | Mapping[str, Any] | str | os.PathLike):
    """Run one training stage (see :class:`TrainConfig`) and save the model to ``config.output_dir`` as a
    Sentence Transformers folder. Returns ``(model_path, trainer_state_log)`` where the log is the trainer's
    ``log_history`` (losses, learning rates, evaluator scores)."""
    if isinstance(config, (str, os.PathLike)):
        config = TrainConfig.from_file(config)
    elif isinstance(config, Mapping):
        config = TrainConfig.from_dict(config)
    config.validate()

    import torch
    from datasets import DatasetDict
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss, MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.trainer import SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.training_args import (
        BatchSamplers,
        MultiDatasetBatchSamplers,
        SentenceTransformerTrainingArguments,
    )

    module = _static_module(config.init, config.tokenizer, config.embedding_dim)
    model = SentenceTransformer(modules=[module], device="cuda" if torch.cuda.is_available() else "cpu")
    width = module.get_embedding_dimension()
    dims = sorted({int(d) for d in config.matryoshka_dims if int(d) <= width} | {width}, reverse=True)

    train = {}
    for name, path in config.train_datasets.items():
        raw = _read_dataset(path)
        cols = raw.column_names
        if config.loss == "mnrl":
            use = [c for c in ("anchor", "positive", "negative") if c in cols]
            if use[:2] != ["anchor", "positive"]:
                raise InvalidInputError(f"dataset {name} ({path}) needs 'anchor' and 'positive' columns for mnrl "
                                        f"(it has {cols})")
            train[name] = _text_columns(raw, path, use, config.max_rows, config.seed)
        else:
            use = ["text"] if "text" in cols else ["anchor", "positive"]
            if not set(use) <= set(cols):
                raise InvalidInputError(f"dataset {name} ({path}) needs a 'text' column, or 'anchor' and "
                                        f"'positive', for distill (it has {cols})")
            ds = _text_columns(raw, path, use, config.max_rows, config.seed)
            label = teacher_embeddings(config.teacher, ds[use[-1]], cache_dir=config.cache_dir)
            train[name] = ds.add_column("label", list(label))
    train_dataset = DatasetDict(train) if len(train) > 1 else next(iter(train.values()))

    if config.loss == "mnrl":
        base = MultipleNegativesRankingLoss(model)
    else:
        base = similarity_distill_loss(model)
    loss = MatryoshkaLoss(model, base, matryoshka_dims=dims)

    evaluator = _evaluators(config.eval_tasks, dims)
    bf16 = config.bf16
    if bf16 is None:
        bf16 = bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    out = Path(config.output_dir)
    has_eval = evaluator is not None
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=config.num_epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_steps=config.warmup_ratio,
        bf16=bf16,
        batch_sampler=BatchSamplers.NO_DUPLICATES if config.batch_sampler == "no_duplicates"
        else BatchSamplers.BATCH_SAMPLER,
        multi_dataset_batch_sampler=MultiDatasetBatchSamplers.PROPORTIONAL
        if config.multi_dataset_batch_sampler == "proportional" else MultiDatasetBatchSamplers.ROUND_ROBIN,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=config.eval_steps if has_eval else None,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        logging_steps=config.logging_steps,
        logging_first_step=True,
        seed=config.seed,
        report_to="none",
        dataloader_num_workers=config.dataloader_num_workers,
        dataloader_pin_memory=torch.cuda.is_available(),
        disable_tqdm=False,
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train_dataset, loss=loss,
                                         evaluator=evaluator)
    resume = config.resume_from_checkpoint
    if resume is True and not any((out / "checkpoints").glob("checkpoint-*")):
        logger.warning("no checkpoint in %s to resume from; starting fresh", out / "checkpoints")
        resume = None
    trainer.train(resume_from_checkpoint=resume)
    if trainer.is_world_process_zero():
        model.save(str(out))
        (out / "training_log.json").write_text(json.dumps(
            {"config": dataclasses.asdict(config), "log_history": trainer.state.log_history}, indent=1,
            default=str))
    return out, trainer.state.log_history


def _evaluators(task_paths: Sequence[str], dims: Sequence[int]):
    if not task_paths:
        return None
    from sentence_transformers.sentence_transformer.evaluation import (
        InformationRetrievalEvaluator,
        SequentialEvaluator,
        TranslationEvaluator,
    )

    from .tasks import load_task

    evaluators = []
    for path in task_paths:
        task = load_task(path)
        if task["type"] == "retrieval":
            queries = {str(i): q for i, q in enumerate(task["queries"])}
            corpus = {str(j): d for j, d in enumerate(task["corpus"])}
            relevant = {str(i): {str(j) for j in rel} for i, rel in enumerate(task["relevant"])}
            for d in (max(dims), min(256, max(dims))):
                evaluators.append(InformationRetrievalEvaluator(
                    queries, corpus, relevant, name=f"{task['name']}-{d}d", truncate_dim=d,
                    ndcg_at_k=[10], mrr_at_k=[10], accuracy_at_k=[1], precision_recall_at_k=[1],
                    map_at_k=[10], show_progress_bar=False))
        elif task["type"] == "bitext":
            evaluators.append(TranslationEvaluator(task["source"], task["target"], name=task["name"],
                                                   show_progress_bar=False))
        else:
            raise InvalidInputError(f"{path}: only retrieval and bitext tasks can be evaluators during training")
    return SequentialEvaluator(evaluators)
