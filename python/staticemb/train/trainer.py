"""Trainer wiring: one training stage from a :class:`~staticemb.train.TrainConfig` on Sentence Transformers'
trainer, with the datasets it reads, the teacher embeddings it caches and the evaluators it runs."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
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
    ``log_history`` (losses, learning rates, evaluator scores).

    Under a launcher (``torchrun --nproc_per_node N -m staticemb train CONFIG``, ``accelerate launch
    --multi_gpu --num_processes N -m staticemb train CONFIG``) the N processes train one model data-parallel:
    DDP over NCCL on GPUs, over gloo on CPUs. ``config.batch_size`` stays the global batch (each process takes
    ``batch_size / N`` rows and MNRL gathers its in-batch negatives across processes), and only rank 0 logs
    progress and writes the output folder. A launch whose processes would not join one group is refused."""
    if isinstance(config, (str, os.PathLike)):
        config = TrainConfig.from_file(config)
    elif isinstance(config, Mapping):
        config = TrainConfig.from_dict(config)
    config.validate()
    from ..tasks import load_task

    for path in config.eval_tasks:  # read (and checked) before the datasets and any teacher are
        if load_task(path)["type"] not in EVALUATOR_TYPES:
            raise InvalidInputError(f"{path}: only {' and '.join(EVALUATOR_TYPES)} tasks can be evaluators")
    world_size = _launched_world_size()
    if config.batch_size % world_size:
        raise InvalidInputError(f"batch_size {config.batch_size} is the global batch and must split evenly over "
                                f"the {world_size} launched processes")
    per_device_batch = config.batch_size // world_size

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
    from transformers.training_args import ParallelMode

    # Without a GPU, accelerate sets up no process group for torchrun's ranks (PartialState._prepare_backend only
    # picks MULTI_CPU/gloo when told cpu=True): each rank would train its own copy. use_cpu=True tells it.
    cpu_ddp = world_size > 1 and not _has_ddp_accelerator(torch)
    bf16 = config.bf16
    if bf16 is None:
        bf16 = bool(not cpu_ddp and torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    out = Path(config.output_dir)
    has_eval = bool(config.eval_tasks)
    # Building the arguments sets up the devices and, under a launcher, joins the process group.
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=config.num_epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=per_device_batch,
        per_device_eval_batch_size=per_device_batch,
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
        dataloader_pin_memory=torch.cuda.is_available() and not cpu_ddp,
        disable_tqdm=False,
        use_cpu=cpu_ddp,
        ddp_backend="gloo" if cpu_ddp else None,
        ddp_find_unused_parameters=False,  # the table is the only parameter, used by every batch
        dataloader_drop_last=world_size > 1,  # what Sentence Transformers' trainer sets (and warns about) for DDP
    )
    if args.world_size != world_size or (world_size > 1 and args.parallel_mode != ParallelMode.DISTRIBUTED):
        raise InvalidInputError(
            f"the launcher started {world_size} process(es) but the trainer sees a world of {args.world_size} "
            f"({args.parallel_mode.value}): the processes would not train one model together. Launch with "
            f"`torchrun --nproc_per_node N -m staticemb train CONFIG` or `accelerate launch --multi_gpu "
            f"--num_processes N -m staticemb train CONFIG`, or run one process without WORLD_SIZE set")
    if world_size > 1:
        logger.info("rank %d of %d (%s backend on %s), %d rows a step on each, %d in all", args.process_index,
                    world_size, torch.distributed.get_backend(), args.device, per_device_batch, config.batch_size)

    module = _static_module(config.init, config.tokenizer, config.embedding_dim)
    model = SentenceTransformer(modules=[module], device=str(args.device))
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
            # One process per machine runs the teacher; the others then read its cache.
            with args.main_process_first(local=True, desc="teacher embeddings"):
                label = teacher_embeddings(str(config.teacher), ds[use[-1]], cache_dir=config.cache_dir)
            train[name] = ds.add_column("label", list(label))
    train_dataset = DatasetDict(train) if len(train) > 1 else next(iter(train.values()))

    if config.loss == "mnrl":
        # Across processes, every anchor is ranked against the positives of the whole global batch, as in one.
        base = MultipleNegativesRankingLoss(model, gather_across_devices=world_size > 1)
    else:
        base = similarity_distill_loss(model)
    loss = MatryoshkaLoss(model, base, matryoshka_dims=dims)

    evaluator = _evaluators(config.eval_tasks, dims)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train_dataset, loss=loss,
                                         evaluator=evaluator)
    resume = config.resume_from_checkpoint
    if resume is True and not any((out / "checkpoints").glob("checkpoint-*")):
        if trainer.is_world_process_zero():
            logger.warning("no checkpoint in %s to resume from; starting fresh", out / "checkpoints")
        resume = None
    trainer.train(resume_from_checkpoint=resume)
    if trainer.is_world_process_zero():
        if config.sif is not None:
            fold_sif_weights(module, _training_texts(train), config.sif)
        model.save(str(out))
        (out / "training_log.json").write_text(json.dumps(
            {"config": dataclasses.asdict(config), "world_size": args.world_size,
             "per_device_batch_size": args.per_device_train_batch_size,
             "log_history": trainer.state.log_history}, indent=1, default=str))
    # No rank returns (and exits) before rank 0 has written the folder.
    trainer.accelerator.wait_for_everyone()
    return out, trainer.state.log_history


def _launched_world_size() -> int:
    """How many processes the launcher started, from the variables torchrun (``WORLD_SIZE``) or MPI set (the ones
    accelerate reads, in its order); 1 without a launcher. A launch that cannot work is refused here, before any
    work: a ``WORLD_SIZE`` above 1 with no rank, and ``accelerate launch --cpu --num_processes N``, which starts
    one process (accelerate's simple launcher starts N only through ``mpirun``)."""
    sizes = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
    ranks = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")
    fix = ("launch with `torchrun --nproc_per_node N -m staticemb train CONFIG` or `accelerate launch "
           "--multi_gpu --num_processes N -m staticemb train CONFIG` (on CPUs too)")
    world_size = 1
    for name in sizes:
        value = os.environ.get(name, "").strip()
        if value:
            try:
                world_size = int(value)
            except ValueError:
                raise InvalidInputError(f"{name}={value!r} is not a number of processes") from None
            if world_size < 1:
                raise InvalidInputError(f"{name}={value!r} is not a number of processes")
            if world_size > 1 and not any(os.environ.get(r, "").strip() for r in ranks):
                raise InvalidInputError(f"{name}={value} is set but no process rank is: this is not a launch of "
                                        f"{value} processes; {fix}, or unset {name}")
            return world_size
    if _env_flag("ACCELERATE_USE_CPU") and os.environ.get("MASTER_ADDR"):
        # prepare_simple_launcher_cmd_env sets MASTER_ADDR only for --num_processes/--num_machines above 1
        raise InvalidInputError(f"`accelerate launch --cpu` with several processes starts only one (without "
                                f"--mpirun_hostfile); {fix}, or drop --num_processes for one process")
    return world_size


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on", "y", "t")


def _has_ddp_accelerator(torch) -> bool:
    """Whether accelerate would run a launcher's processes on accelerators (CUDA, XPU, NPU, ...) with their own
    backend. Without one (a CPU-only machine, or only Apple's MPS, which accelerate does not distribute) the
    processes must be told to use the CPU, over gloo."""
    if torch.cuda.is_available():
        return True
    accelerator = getattr(torch, "accelerator", None)
    if accelerator is None or not accelerator.is_available():
        return False
    current = accelerator.current_accelerator()
    return current is not None and current.type not in ("cpu", "mps")


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


#: Texts embedded between two writes of the teacher cache: an interrupted run loses at most this many.
TEACHER_CHUNK = 4096
EVALUATOR_TYPES = ("retrieval", "bitext")
"""The task types a training run can evaluate on (as Sentence Transformers evaluators)."""


def teacher_fingerprint(teacher: str | os.PathLike) -> str:
    """The teacher cache's folder name for ``teacher``: for a local folder, a digest of the relative path and
    content of every file in it (hidden files and folders aside), so the name follows the model, not where it
    lies; for anything else (a Hub id), a digest of the name."""
    digest = hashlib.sha1(b"staticemb teacher cache 2\0")
    root = Path(teacher)
    if root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(root).parts))
        if not files:
            raise ValueError(f"the teacher folder {root} holds no files")
        for path in files:
            digest.update(path.relative_to(root).as_posix().encode("utf-8", "surrogatepass") + b"\0")
            content = hashlib.sha1()
            with open(path, "rb") as f:
                while block := f.read(1 << 20):
                    content.update(block)
            digest.update(content.digest())
    else:
        digest.update(b"name\0" + str(teacher).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]


def teacher_embeddings(teacher: str, texts: Sequence[str], *, cache_dir: str | os.PathLike | None = None,
                       batch_size: int = 64, device: str | None = None, progress: bool = True) -> np.ndarray:
    """The teacher's normalized embeddings of ``texts`` (float32), cached on disk text by text.

    ``teacher`` is any Sentence Transformers model (a folder or a Hub id). The cache (``cache_dir``, default
    ``<data dir>/teacher-cache``) holds one folder per teacher of shards: ``<id>.npy`` (embeddings) and
    ``<id>.keys`` (the SHA-1 of each text, 20 bytes a row), written after every :data:`TEACHER_CHUNK` new texts,
    the keys last (a shard without them is ignored). So a later call reuses every text any earlier call
    embedded (a subset, a superset, another order), and an interrupted run resumes where it stopped. The
    folder is named by :func:`teacher_fingerprint`: a copy of the same teacher elsewhere shares it, and a
    teacher folder whose files change gets a new one instead of stale rows. ``progress`` shows a tqdm bar while
    the teacher embeds."""
    folder = (Path(cache_dir) if cache_dir else data_dir() / "teacher-cache") / teacher_fingerprint(teacher)
    folder.mkdir(parents=True, exist_ok=True)
    keys = [hashlib.sha1(t.encode("utf-8", "surrogatepass")).digest() for t in texts]
    rows: dict[bytes, np.ndarray] = {}
    for key_file in sorted(folder.glob("*.keys")):
        digests = key_file.read_bytes()
        try:
            emb = np.load(key_file.with_suffix(".npy"), mmap_mode="r")
        except (OSError, ValueError):
            continue
        if len(digests) % 20 or emb.ndim != 2 or emb.shape[0] != len(digests) // 20:
            logger.warning("ignoring the inconsistent teacher cache shard %s", key_file)
            continue
        for i in range(emb.shape[0]):
            rows[digests[20 * i:20 * i + 20]] = emb[i]
    missing = list({k: t for k, t in zip(keys, texts, strict=True) if k not in rows}.items())
    if missing:
        from sentence_transformers import SentenceTransformer
        from tqdm.auto import tqdm

        model = SentenceTransformer(str(teacher), device=device or _device())
        logger.info("embedding %d texts with the teacher %s (%d cached)", len(missing), teacher,
                    len(keys) - len(missing))
        with tqdm(total=len(missing), desc="teacher embeddings", unit="text", disable=not progress) as bar:
            for start in range(0, len(missing), TEACHER_CHUNK):
                chunk = missing[start:start + TEACHER_CHUNK]
                emb = model.encode([t for _, t in chunk], batch_size=batch_size, show_progress_bar=False,
                                   convert_to_numpy=True, normalize_embeddings=True).astype(np.float32)
                # One name per process: ranks of a multi-GPU run may write at once.
                shard = folder / f"{time.time_ns():x}-{os.getpid()}"
                partial = folder / f"{shard.name}.partial"
                with open(partial, "wb") as f:
                    np.save(f, emb)
                os.replace(partial, shard.with_suffix(".npy"))
                partial.write_bytes(b"".join(k for k, _ in chunk))
                os.replace(partial, shard.with_suffix(".keys"))
                rows.update((k, e) for (k, _), e in zip(chunk, emb, strict=True))
                bar.update(len(chunk))
    if not keys:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([np.asarray(rows[k], dtype=np.float32) for k in keys])


# ------------------------------------------------------------------------------------------------ models


def _training_texts(datasets: Mapping[str, Any]) -> list[str]:
    """Every distinct text of every text column of the stage's train datasets, in order of appearance."""
    texts: dict[str, None] = {}
    for ds in datasets.values():
        for column in ds.column_names:
            if column != "label":
                texts.update(dict.fromkeys(ds[column]))
    return list(texts)


def fold_sif_weights(module: Any, texts: Sequence[str], a: float) -> np.ndarray:
    """Scale row ``t`` of a ``StaticEmbedding``'s table by the SIF weight of token ``t`` counted on ``texts``
    (:mod:`staticemb.train.weighting`), in place; returns the weights."""
    import torch

    from .weighting import sif_weights, token_counts

    table = module.embedding.weight
    weights = sif_weights(token_counts(module.tokenizer, texts, vocab_size=table.shape[0]), a)
    logger.info("SIF weights (a = %g) from %d training texts: min %.3g, median %.3g", a, len(texts),
                float(weights.min()), float(np.median(weights)))
    with torch.no_grad():
        table.mul_(torch.from_numpy(weights).to(device=table.device, dtype=table.dtype)[:, None])
    return weights


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
            raise InvalidInputError(f"{path}: only {' and '.join(EVALUATOR_TYPES)} tasks can be evaluators")
    return SequentialEvaluator(evaluators)
