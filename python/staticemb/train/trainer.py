"""Trainer wiring: one training stage from a :class:`~staticemb.train.TrainConfig` on Sentence Transformers'
trainer, with the datasets it reads, the teacher embeddings it caches and the evaluators it runs."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._paths import data_dir
from ..errors import InvalidInputError
from .config import TrainConfig
from .distill import _device, _load_tokenizer
from .losses import similarity_distill_loss

logger = logging.getLogger(__name__)


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
            label = teacher_embeddings(str(config.teacher), ds[use[-1]], cache_dir=config.cache_dir)
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
                if not isinstance(rows[-1], dict):
                    raise InvalidInputError(f"{p}:{n} is not a JSON object")
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
    cache = Path(cache_dir) if cache_dir else data_dir() / "teacher-cache"
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


# ------------------------------------------------------------------------------------------------ models


def _static_module(init: str | None, tokenizer: str | None, embedding_dim: int):
    """A Sentence Transformers ``StaticEmbedding`` from a static model folder (any layout staticemb reads,
    quantized tables dequantized) or a tokenizer with a random table."""
    import torch
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    from tokenizers import Tokenizer

    if init is not None:
        from ..model import StaticModel

        sm = StaticModel.from_pretrained(init, normalize=False)
        if sm.drop_unknown:
            logger.warning("%s drops the unknown token (model2vec); training averages it like any token", init)
        tok = Tokenizer.from_str(sm.tokenizer.to_str())
        tok.no_padding()
        tok.no_truncation()
        weights = torch.from_numpy(np.array(sm._folded_table(), dtype=np.float32))
        return StaticEmbedding(tok, embedding_weights=weights, base_model=str(init))
    if tokenizer is None:
        raise InvalidInputError("a random table needs a 'tokenizer'")
    return StaticEmbedding(_load_tokenizer(tokenizer), embedding_dim=embedding_dim)


# ------------------------------------------------------------------------------------------------ evaluators


def _evaluators(task_paths: Sequence[str], dims: Sequence[int]):
    if not task_paths:
        return None
    from sentence_transformers.sentence_transformer.evaluation import (
        InformationRetrievalEvaluator,
        SequentialEvaluator,
        TranslationEvaluator,
    )

    from ..tasks import load_task

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
