"""Trainer wiring: one training stage from a :class:`~staticemb.train.TrainConfig` on Sentence Transformers'
trainer, with the datasets it reads, the teacher embeddings it caches and the evaluators it runs."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import time
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import _io
from .._inputs import lone_surrogate
from .._paths import data_dir
from ..errors import InvalidInputError
from .config import DEFAULT_EMBEDDING_DIM, MATRYOSHKA_DIMS, TrainConfig
from .distill import _check_source, _device, _load_tokenizer
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
    progress and writes the output folder. A launch whose processes would not join one group is refused.

    The model (with ``training_log.json``) is written into a folder beside ``output_dir`` and swapped in whole:
    an interrupted save leaves the previous folder as it was. ``output_dir`` may be missing, empty, a Sentence
    Transformers static model (replaced) or hold only ``checkpoints``; anything else, and a folder that is (or
    holds) one of the run's inputs, is refused before any work. Checkpoints stay in ``output_dir/checkpoints``
    across the swap, each with the run's record (:func:`_run_record`): a resumed run continues the latest
    complete checkpoint of the same run (other runs' are refused, incomplete ones skipped with a warning), a
    fresh run first removes the checkpoints of earlier runs."""
    if isinstance(config, (str, os.PathLike)):
        config = TrainConfig.from_file(config)
    elif isinstance(config, Mapping):
        config = TrainConfig.from_dict(config)
    config.validate()
    for what in ("init", "teacher"):  # a missing model is named before any data is read
        if getattr(config, what) is not None:
            _check_source(what, getattr(config, what))
    out = _check_output_dir(config)
    from ..tasks import check_distinct_names, load_task

    tasks = [load_task(path) for path in config.eval_tasks]  # read (and checked) before the datasets and teacher
    for path, task in zip(config.eval_tasks, tasks, strict=True):
        if task["type"] not in EVALUATOR_TYPES:
            raise InvalidInputError(f"{path}: only {' and '.join(EVALUATOR_TYPES)} tasks can be evaluators")
    check_distinct_names(config.eval_tasks, tasks)  # each names its metrics in the training log
    init = _load_init(config.init, config.embedding_dim) if config.init is not None else None
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
    from transformers.trainer_utils import set_seed
    from transformers.training_args import ParallelMode

    # Without a GPU, accelerate sets up no process group for torchrun's ranks (PartialState._prepare_backend only
    # picks MULTI_CPU/gloo when told cpu=True): each rank would train its own copy. use_cpu=True tells it.
    cpu_ddp = world_size > 1 and not _has_ddp_accelerator(torch)
    bf16 = config.bf16
    if bf16 is None:
        bf16 = bool(not cpu_ddp and torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    elif bf16 and not cpu_ddp:  # under a CPU launcher (use_cpu) Transformers runs bfloat16 on the CPU
        from transformers.utils import is_torch_bf16_gpu_available

        if not is_torch_bf16_gpu_available():
            raise InvalidInputError("bf16: true needs an accelerator that supports bfloat16 (CUDA, XPU, NPU, ...), "
                                    "and this run has none; set bf16 to null (chosen for the machine) or false")
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
        save_total_limit=None,  # the record callback rotates, once the newest checkpoint has its record
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

    set_seed(config.seed)  # before a random table (a tokenizer= config) is drawn: the trainer seeds only later
    module = _static_module(init, config.init, config.tokenizer, config.embedding_dim or DEFAULT_EMBEDDING_DIM)
    model = SentenceTransformer(modules=[module], device=str(args.device))
    width = module.get_embedding_dimension()
    dims = sorted({int(d) for d in config.matryoshka_dims if int(d) <= width} | {width}, reverse=True)
    past = sorted({int(d) for d in config.matryoshka_dims if int(d) > width})
    if past and sorted(config.matryoshka_dims) != sorted(MATRYOSHKA_DIMS):  # the recipe's list fits any table
        # A config made for a wider table runs over a narrower init (the widths it can have); said, not silent.
        warnings.warn(f"matryoshka_dims {past} are wider than the model's {width} columns: training at {dims}",
                      stacklevel=2)

    train = {}
    for name, path in config.train_datasets.items():
        raw = _read_dataset(path, config.loss)
        cols = raw.column_names
        if config.loss == "mnrl":
            use = [c for c in ("anchor", "positive", "negative") if c in cols]
            if use[:2] != ["anchor", "positive"]:
                raise InvalidInputError(f"dataset {name} ({path}) needs 'anchor' and 'positive' columns for mnrl "
                                        f"(it has {cols})")
            train[name] = _text_columns(raw, path, use, config.max_rows, config.seed)
            _check_negatives(train[name], name, path, use, config.batch_sampler == "no_duplicates", per_device_batch)
        else:
            use = ["text"] if "text" in cols else ["anchor", "positive"]
            if not set(use) <= set(cols):
                raise InvalidInputError(f"dataset {name} ({path}) needs a 'text' column, or 'anchor' and "
                                        f"'positive', for distill (it has {cols})")
            ds = _text_columns(raw, path, use, config.max_rows, config.seed)
            _check_negatives(ds, name, path, use, config.batch_sampler == "no_duplicates", per_device_batch)
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
    record = _run_record(config, width)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train_dataset, loss=loss,
                                         evaluator=evaluator,
                                         callbacks=[_record_callback(record, config.save_total_limit)])
    # Every process reads the checkpoints (and refuses the same way) before rank 0 removes any.
    resume, stale, notes = _plan_checkpoints(out / "checkpoints", config.resume_from_checkpoint, record)
    trainer.accelerator.wait_for_everyone()
    if trainer.is_world_process_zero():
        for note in notes:
            logger.warning("%s", note)
        for path in stale:
            shutil.rmtree(path, ignore_errors=True)
        if config.resume_from_checkpoint is True and resume is not None and _saved_record(Path(resume)) is None:
            _write_record(Path(resume), record)  # a complete checkpoint of this run whose record was cut off
    trainer.accelerator.wait_for_everyone()
    before = _fingerprint(module.embedding.weight)
    try:
        trainer.train(resume_from_checkpoint=resume)
    finally:
        _close_progress_bars(trainer)
    if _fingerprint(module.embedding.weight) == before:
        raise InvalidInputError(
            f"training left the table as it started ({trainer.state.global_step} step(s), the learning rate "
            f"{config.learning_rate} after a warmup of {config.warmup_ratio:g} of them), so nothing was saved to "
            f"{out}: give more rows than batch_size ({config.batch_size}), or lower warmup_ratio")
    bad = int((~torch.isfinite(module.embedding.weight)).sum())  # on every rank: each holds the same table
    if bad:
        raise InvalidInputError(
            f"training diverged: the trained table holds {bad} values that are not finite (NaN or inf), so it was "
            f"not saved to {out}; lower the learning_rate ({config.learning_rate}) or check the datasets")
    if trainer.is_world_process_zero():
        if config.sif is not None:
            fold_sif_weights(module, _training_texts(train), config.sif)
        used = {"embedding_dim": width, "matryoshka_dims": dims}  # what ran: the init's width, dims up to it
        log = {"config": {**dataclasses.asdict(config), **used}, "world_size": args.world_size,
               "per_device_batch_size": args.per_device_train_batch_size,
               "log_history": trainer.state.log_history}
        _save_model(out, model, json.dumps(log, indent=1, default=str))
    # No rank returns (and exits) before rank 0 has written the folder.
    trainer.accelerator.wait_for_everyone()
    return Path(config.output_dir), trainer.state.log_history


def _close_progress_bars(trainer: Any) -> None:
    """Close the bars of Transformers' progress callback, which closes them when training ends but not when it is
    cut short (Ctrl-C, an error): the open bar was drawn again when the process exited, below the error."""
    from transformers.trainer_callback import ProgressCallback

    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, ProgressCallback):
            for name in ("prediction_bar", "training_bar"):
                bar = getattr(callback, name, None)
                if bar is not None:
                    bar.close()
                    setattr(callback, name, None)


def _fingerprint(weight: Any) -> tuple[float, float]:
    """The sum and the sum of squares of a table's values, in float64, a block of rows at a time: equal before
    and after training only if no value moved."""
    import torch

    total = squares = 0.0
    with torch.no_grad():
        for block in weight.detach().split(65_536):
            values = block.to(torch.float64)
            total += float(values.sum())
            squares += float((values * values).sum())
    return total, squares


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


# ------------------------------------------------------------------------------------------------ output


def _check_output_dir(config: TrainConfig) -> Path:
    """``config.output_dir`` as an absolute path, once checked to be a folder the trained model may replace whole:
    missing, empty, a Sentence Transformers static model or only a run's ``checkpoints``. Refused (before any
    work): anything else, a folder under a file (the trainer failed to make it once the data was read and the
    teacher had run), a folder that holds the working directory (the final save refused it, after training),
    a folder that is the ``init``, ``tokenizer`` or ``teacher`` folder or lies inside one, a folder holding one
    of the run's inputs (the swap would delete it), and a ``cache_dir`` that is a file."""
    from .._io import _check_not_the_working_directory, remove_stale_temps, save_target

    out = Path(config.output_dir).expanduser().absolute()
    _check_not_the_working_directory(save_target(out))
    # A final save killed part-way may have left the run's checkpoints (or the old model) beside the folder:
    # back in place before the resume looks for them.
    remove_stale_temps(save_target(out), ("checkpoints",))
    for ancestor in out.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise InvalidInputError(f"output_dir {out} cannot be made: {ancestor} is a file, not a folder")
            break
    if config.loss == "distill" and config.cache_dir and Path(config.cache_dir).expanduser().is_file():
        raise InvalidInputError(f"cache_dir {config.cache_dir} is a file, not a folder for the teacher embeddings")
    real = out.resolve()
    inputs = [("init", config.init), ("tokenizer", config.tokenizer), ("teacher", config.teacher),
              ("cache_dir", config.cache_dir), *((f"train_datasets.{k}", v) for k, v in config.train_datasets.items()),
              *(("eval task", t) for t in config.eval_tasks)]
    for what, spec in inputs:
        path = Path(spec).expanduser() if spec else None
        if path is None or not path.exists() and what != "cache_dir":  # not a local path (a Hub id), or missing
            continue
        path = path.resolve()
        if what in ("init", "tokenizer", "teacher") and path.is_dir() and real.is_relative_to(path):
            where = "is" if real == path else "lies inside"
            raise InvalidInputError(f"output_dir {out} {where} the {what} folder {spec}: the trained model would "
                                    "replace it; choose another output_dir")
        if path.is_relative_to(real):
            raise InvalidInputError(f"the {what} {spec} lies inside output_dir {out}, which the trained model "
                                    "replaces whole; choose another output_dir")
    _check_replaceable(out, "choose another output_dir")
    return out


def _check_replaceable(out: Path, remedy: str) -> None:
    """Refuse (:class:`FileExistsError`) an ``out`` that a Sentence Transformers save may not replace; a folder
    holding only ``checkpoints`` (an interrupted run's, no model yet) may be, and so may an earlier run's model
    with its ``training_log.json`` and ``checkpoints``."""
    from .._io import TRAINING_ENTRIES, check_folder_target

    if out.is_dir() and [p.name for p in out.iterdir()] == ["checkpoints"] and (out / "checkpoints").is_dir():
        return
    check_folder_target(out, "sentence-transformers", remedy, allowed=TRAINING_ENTRIES)


def _save_model(out: Path, model: Any, training_log: str) -> None:
    """Save ``model`` (Sentence Transformers' own save) and ``training_log.json`` with
    :func:`staticemb._io.write_folder`: written beside ``out``, fsynced and swapped in whole, so an interruption or
    a crash at any moment leaves the previous ``out`` or the new one, never a mix. The previous folder's
    ``checkpoints`` move into the new one just after the swap."""
    # Still a folder the model may replace: training took a while.
    _check_replaceable(out, "the model was not saved; move that folder away and train again")

    def write(tmp: Path) -> None:
        model.save(str(tmp))
        (tmp / "training_log.json").write_text(training_log, encoding="utf-8")

    _io.write_folder(out, write, format="sentence-transformers", overwrite=True, keep=("checkpoints",))


# ------------------------------------------------------------------------------------------------ checkpoints

#: The run's record, written into every checkpoint (see :func:`_run_record`).
RUN_RECORD = "staticemb_run.json"
#: The config fields a resumed run may change: how long it runs, how often it logs, evaluates and saves, what it
#: evaluates on, and where its output and caches are (and ``sif``, applied after training). Every other field,
#: and the dataset files, must be the checkpoint's own.
RESUMABLE_FIELDS = frozenset({
    "output_dir", "resume_from_checkpoint", "max_steps", "num_epochs", "eval_tasks", "eval_steps", "save_steps",
    "save_total_limit", "logging_steps", "dataloader_num_workers", "bf16", "cache_dir", "sif"})
_CHECKPOINT = re.compile(r"checkpoint-(\d+)")


def _run_record(config: TrainConfig, width: int) -> dict[str, Any]:
    """What makes a run, as JSON values: the config's fields but :data:`RESUMABLE_FIELDS` (local ``init``,
    ``tokenizer`` and ``teacher`` paths resolved), ``embedding_dim`` as the ``width`` that is trained (the init's,
    or the random table's) and, for each training dataset, its resolved path with the size and modification time
    of its file (or of every file in its folder)."""
    record: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.name in RESUMABLE_FIELDS or f.name == "train_datasets":
            continue
        if f.name in ("init", "tokenizer", "teacher") and value is not None and Path(value).expanduser().exists():
            value = str(Path(value).expanduser().resolve())
        record[f.name] = width if f.name == "embedding_dim" else value
    for name, spec in sorted(config.train_datasets.items()):
        path = Path(spec).expanduser().resolve()
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        stats = {p.relative_to(path).as_posix() if path.is_dir() else "": p.stat() for p in files if p.exists()}
        record[f"train_datasets.{name}"] = {
            "path": str(path), "files": {k: [st.st_size, st.st_mtime_ns] for k, st in stats.items()}}
    return json.loads(json.dumps(record))  # tuples as lists, as the record reads back


def _record_difference(saved: Mapping[str, Any], record: Mapping[str, Any]) -> list[str]:
    """What differs between a checkpoint's run record and this run's, one phrase each."""
    out = []
    for key in sorted(set(saved) | set(record)):
        then, now = saved.get(key), record.get(key)
        if then == now:
            continue
        if not key.startswith("train_datasets."):
            out.append(f"{key} {then!r} there, {now!r} now")
        elif then is None or now is None:
            out.append(f"{key} {'only now' if then is None else 'only there'}")
        elif then.get("path") != now.get("path"):
            out.append(f"{key} {then.get('path')} there, {now.get('path')} now")
        else:
            out.append(f"{key} {now.get('path')} changed since (size or modification time)")
    return out


def _write_record(folder: Path, record: Mapping[str, Any]) -> None:
    _io.write_file(folder / RUN_RECORD, lambda f: f.write(json.dumps(record, indent=1)))


def _record_callback(record: Mapping[str, Any], limit: int | None = None) -> Any:
    """A trainer callback that writes ``record`` into each checkpoint's folder before the trainer saves into it
    (the step it saves at is known when the step ends), and again once it has, then keeps the newest ``limit``
    checkpoints (``None``: all). Written after the save only, an interruption between the two left a whole
    checkpoint without a record, which a resume would not take. Completeness is judged by the trainer's state
    file, written last (:func:`_checkpoint_problem`). The rotation is done here, not by Transformers (which
    deletes the older ones inside its save): an interrupted save keeps an older checkpoint to resume from."""
    from transformers import TrainerCallback

    class RecordRun(TrainerCallback):
        def _before_save(self, args, state, control):
            if control.should_save and state.is_world_process_zero:
                folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                folder.mkdir(parents=True, exist_ok=True)
                _write_record(folder, record)

        def on_step_end(self, args, state, control, **kwargs):
            self._before_save(args, state, control)
            return control

        def on_epoch_end(self, args, state, control, **kwargs):
            self._before_save(args, state, control)
            return control

        def on_save(self, args, state, control, **kwargs):
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if state.is_world_process_zero and folder.is_dir():
                _write_record(folder, record)
                if limit is not None:
                    found = sorted((int(m.group(1)), p) for p in folder.parent.iterdir()
                                   if p.is_dir() and (m := _CHECKPOINT.fullmatch(p.name)))
                    for step, old in found[:-limit]:
                        if step < state.global_step:
                            shutil.rmtree(old, ignore_errors=True)
            return control

    return RecordRun()


def _checkpoint_problem(folder: Path) -> str | None:
    """Why ``folder`` is not a complete checkpoint (a file the trainer reads to resume is missing or cut short:
    an interrupted save), or ``None``. The run record, written last, is checked by the caller."""
    try:
        state = json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
        if not isinstance(state, dict) or not isinstance(state.get("global_step"), int):
            return "trainer_state.json has no global_step"
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        if not isinstance(modules, list) or not modules:
            return "modules.json lists no module"
    except FileNotFoundError as e:
        return f"{Path(str(e.filename)).name} is missing"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return f"cannot read it ({e})"
    for name in ("optimizer.pt", "scheduler.pt"):
        if not (folder / name).is_file() or not zipfile.is_zipfile(folder / name):
            return f"{name} is {'cut short' if (folder / name).is_file() else 'missing'}"
    weights = sorted(folder.rglob("*.safetensors"))
    if not weights:
        return "it holds no model weights (*.safetensors)"
    for path in weights:
        if not _whole_safetensors(path):
            return f"{path.relative_to(folder)} is cut short"
    return None


def _continues(newer: Path, older: Path) -> bool:
    """Whether checkpoint ``newer``'s trainer state carries on from ``older``'s: a later step, the same batch
    size, and ``older``'s log (its losses, learning rates and scores, step by step) as the start of its own."""
    try:
        then = json.loads((older / "trainer_state.json").read_text(encoding="utf-8"))
        now = json.loads((newer / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    if not isinstance(then, dict) or not isinstance(now, dict):
        return False
    logs_then, logs_now = then.get("log_history"), now.get("log_history")
    return (isinstance(logs_then, list) and isinstance(logs_now, list) and logs_now[:len(logs_then)] == logs_then
            and now.get("train_batch_size") == then.get("train_batch_size")
            and isinstance(now.get("global_step"), int) and isinstance(then.get("global_step"), int)
            and now["global_step"] > then["global_step"])


def _whole_safetensors(path: Path) -> bool:
    """Whether a safetensors file is whole: the ``safetensors`` reader checks its size against its header (a save
    cut short fails that)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), "numpy"):
            return True
    except (OSError, SafetensorError):
        return False


def _saved_record(folder: Path) -> dict[str, Any] | None:
    try:
        saved = json.loads((folder / RUN_RECORD).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return saved if isinstance(saved, dict) else None


def _check_same_run(folder: Path, saved: Mapping[str, Any], record: Mapping[str, Any]) -> None:
    difference = _record_difference(saved, record)
    if difference:
        raise InvalidInputError(
            f"cannot resume from {folder}: it was saved by another run ({'; '.join(difference)}); resume with that "
            f"run's config and datasets, or train without --resume (resume_from_checkpoint) to start afresh, "
            f"which removes the checkpoints in {folder.parent}")


def _plan_checkpoints(folder: Path, resume: bool | str | None, record: Mapping[str, Any]):
    """``(checkpoint to resume from or None, checkpoints to remove, warnings)`` for a run whose checkpoints go to
    ``folder``. A fresh run (``resume`` unset) removes every checkpoint there: they are an earlier run's.
    ``resume=True`` takes the latest complete checkpoint of this run: newer incomplete ones (an interrupted
    save) are skipped with a warning and removed, and one saved by another run (another record) is refused.
    A complete checkpoint without a record (an earlier staticemb wrote the record after the save, and an
    interruption could fall between the two) newer than the latest recorded one of this run is taken when its
    training state carries on from that one's (:func:`_continues`; a fresh run leaves no other run's checkpoints
    beside this run's); the caller writes its record. An explicit path must be a complete checkpoint, and this
    run's if it has a record. Reads only: the caller removes and records."""
    found = sorted(((int(m.group(1)), p) for p in (folder.glob("checkpoint-*") if folder.is_dir() else ())
                    if p.is_dir() and (m := _CHECKPOINT.fullmatch(p.name))), reverse=True)
    if not resume:
        if not found:
            return None, [], []
        return None, [p for _, p in found], [
            f"removing the {len(found)} checkpoint(s) (up to step {found[0][0]}) an earlier run left in {folder}: "
            f"this run starts fresh (--resume, resume_from_checkpoint=true, continues a run instead)"]
    if resume is not True:
        path = Path(resume).expanduser()
        problem = _checkpoint_problem(path) if path.is_dir() else "no such folder"
        if problem:
            raise InvalidInputError(f"cannot resume from {path}: it is not a complete checkpoint ({problem})")
        saved = _saved_record(path)
        if saved is None:
            return str(path), [], [f"{path} has no run record ({RUN_RECORD}): resuming from it as asked, without "
                                   "checking that it was saved with this config and these datasets"]
        _check_same_run(path, saved, record)
        return str(path), [], []
    skipped: list[tuple[Path, str]] = []
    unrecorded: list[Path] = []  # complete checkpoints without a record, newest first
    for _, path in found:
        problem = _checkpoint_problem(path)
        saved = _saved_record(path) if problem is None else None
        if problem is None and saved is None:
            unrecorded.append(path)
            continue
        if saved is None:
            skipped.append((path, problem or ""))
            continue
        _check_same_run(path, saved, record)
        take = next((p for p in unrecorded if _continues(p, path)), path)
        notes = [] if take is path else [
            f"{take} has no run record ({RUN_RECORD}): its save was interrupted before the record was written. It "
            f"is complete and carries on from {path.name}, this run's, so the run resumes from it"]
        newer = unrecorded if take is path else unrecorded[:unrecorded.index(take)]
        skipped += [(p, f"no run record ({RUN_RECORD}), and it does not carry on from {path.name}") for p in newer]
        notes += [f"skipping the incomplete checkpoint {p} ({why}), an interrupted save; removing it"
                  for p, why in skipped]
        return str(take), [p for p, _ in skipped], notes
    if unrecorded:
        raise InvalidInputError(
            f"cannot resume from {unrecorded[0]}: it has no run record ({RUN_RECORD}), so it may be another run's "
            f"(an older staticemb saved it?); give its path as resume_from_checkpoint to resume from it anyway, "
            f"or train without --resume to start afresh")
    if not found:
        return None, [], [f"no checkpoint in {folder} to resume from; starting fresh"]
    return None, [p for p, _ in skipped], [
        f"no complete checkpoint in {folder} to resume from ({'; '.join(f'{p.name}: {why}' for p, why in skipped)});"
        " removing them and starting fresh"]


# ------------------------------------------------------------------------------------------------ data


#: The columns a training row may use; a JSONL file's other keys are ignored.
TEXT_COLUMNS = ("anchor", "positive", "negative", "text")


def _read_dataset(path: str, loss: str | None = None):
    """The text columns a ``loss`` reads (``"mnrl"``: anchor, positive and negative; ``"distill"``: text, else
    anchor and positive; ``None``: every one of :data:`TEXT_COLUMNS`) of a JSONL file, or every column of a saved
    ``datasets`` folder, read once. Every row must have those keys, each a valid Unicode string: anything else is
    refused naming ``file:line``, not filled in or dropped. Other keys (ids, scores, metadata, a column the loss
    does not read) are not looked at."""
    import datasets

    p = Path(path)
    if not p.exists():
        raise InvalidInputError(f"training dataset not found: {p}")
    if p.is_dir():
        try:
            loaded = datasets.load_from_disk(str(p))
        except (FileNotFoundError, ValueError) as e:
            raise InvalidInputError(f"training dataset {p} is a folder but not a saved datasets.Dataset "
                                    f"(Dataset.save_to_disk): {e}") from None
        except IndexError:  # what load_from_disk raises for a Dataset saved with no rows (no data file)
            if _saved_data_files(p) == []:
                raise InvalidInputError(f"training dataset {p} is empty (a saved Dataset with no rows)") from None
            raise
        if isinstance(loaded, datasets.DatasetDict):
            raise InvalidInputError(f"training dataset {p} is a DatasetDict of the splits {list(loaded)}, not one "
                                    f"Dataset: give one split's folder, such as {p / next(iter(loaded), 'train')}")
        return loaded
    rows: list[tuple[int, dict]] = []
    columns: dict[str, int] = {}  # each key -> the first line that has it
    keys: dict[str, None] = {}  # every key of every row, for messages
    with p.open("rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise InvalidInputError(f"{p}:{n} is not UTF-8 text ({e.reason} at byte {e.start} of the line); "
                                        "training datasets are UTF-8 JSONL") from None
            if n == 1:
                line = line.removeprefix("\ufeff")  # a byte order mark
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InvalidInputError(f"{p}:{n} is not a JSON line: {e}") from None
                if not isinstance(row, dict):
                    raise InvalidInputError(f"{p}:{n} is not a JSON object")
                keys.update(dict.fromkeys(row))
                row = {k: v for k, v in row.items() if k in TEXT_COLUMNS}  # other keys are never read
                for key in row:
                    columns.setdefault(key, n)
                rows.append((n, row))
    if not rows:
        raise InvalidInputError(f"training dataset {p} is empty")
    needs = {"mnrl": "'anchor' and 'positive' columns for mnrl",
             "distill": "a 'text' column, or 'anchor' and 'positive', for distill"}
    if loss in needs and not ({"anchor", "positive"} <= set(columns) or loss == "distill" and "text" in columns):
        raise InvalidInputError(f"training dataset {p} needs {needs[loss]} (its rows have {list(keys)})")
    read: list[str]
    if loss == "mnrl":
        read = [c for c in ("anchor", "positive", "negative") if c in columns]
    elif loss == "distill":
        read = ["text"] if "text" in columns else [c for c in ("anchor", "positive") if c in columns]
    else:
        read = list(columns)
    for n, row in rows:
        missing = next((c for c in read if c not in row), None)
        if missing is not None:
            raise InvalidInputError(f"{p}:{n} has no {missing!r}, which {p}:{columns[missing]} has: every row "
                                    "needs the same keys")
        for key in read:
            value = row[key]
            if not isinstance(value, str):
                raise InvalidInputError(f"{p}:{n}: {key!r} must be a text (a JSON string), not "
                                        f"{type(value).__name__}")
            if lone_surrogate(value) is not None:
                raise InvalidInputError(f"{p}:{n}: {key!r} is not valid Unicode text (it holds a lone "
                                        "surrogate escape, \\ud800 to \\udfff)")
    return datasets.Dataset.from_dict({c: [r[c] for _, r in rows] for c in sorted(read, key=lambda c: columns[c])})


def _saved_data_files(folder: Path) -> Any:
    """The data files a saved ``datasets.Dataset`` folder lists in its ``state.json`` (``None`` if unreadable)."""
    try:
        state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return state.get("_data_files") if isinstance(state, dict) else None


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


def _check_negatives(ds, name: str, path: str, columns: Sequence[str], no_duplicates: bool,
                     batch_size: int = 0) -> None:
    """Refuse a dataset whose batches cannot hold two rows: the in-batch negatives (MNRL) and the similarities
    (distillation) need two, and with one every step trains nothing (the loss is 0) or gives NaN. Batches
    without duplicates (``batch_sampler="no_duplicates"``) take a row only if none of its texts is in the batch:
    a column with one distinct text gives batches of one row. With them, warn when texts repeat more often than
    an epoch has batches (``batch_size`` rows each): a text fits once a batch, so its other rows are left out."""
    if len(ds) < 2:
        raise InvalidInputError(f"dataset {name} ({path}) has {len(ds)} row: training needs at least 2 rows a "
                                "batch (in-batch negatives)")
    if no_duplicates:
        for c in columns:
            if len(set(ds[c])) < 2:
                raise InvalidInputError(
                    f"dataset {name} ({path}): every row has the same {c!r} text, so batches without duplicates "
                    f"(batch_sampler 'no_duplicates') hold one row and train nothing; give at least 2 distinct "
                    f"{c!r} texts, or batch_sampler 'batch_sampler'")
        if batch_size:
            from collections import Counter

            rows_of = Counter(t for row in zip(*(ds[c] for c in columns), strict=True) for t in set(row))
            batches = -(-len(ds) // batch_size)
            left_out = sum(r - batches for r in rows_of.values() if r > batches)
            if left_out:
                text, most = rows_of.most_common(1)[0]
                logger.warning(
                    "dataset %s (%s): at least %d of its %d rows are left out of each epoch: batches without "
                    "duplicates hold a text once, an epoch has %d batches of %d rows, and some texts are in more "
                    "rows than that (%r in %d); de-duplicate those rows, lower batch_size, or use batch_sampler "
                    "'batch_sampler'", name, path, left_out, len(ds), batches, batch_size, text[:60], most)


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
    the teacher embeds.

    A shard that cannot be read, is cut short or holds rows that are not finite unit vectors (the rows are
    stored normalized: anything else is a corrupted file) is ignored with a warning, and its texts are embedded
    again into a new shard."""
    folder = (Path(cache_dir) if cache_dir else data_dir() / "teacher-cache") / teacher_fingerprint(teacher)
    keys = [hashlib.sha1(t.encode("utf-8", "surrogatepass")).digest() for t in texts]
    rows: dict[bytes, np.ndarray] = {}
    for key_file in sorted(folder.glob("*.keys")):
        try:
            digests = key_file.read_bytes()
            emb = np.load(key_file.with_suffix(".npy"), mmap_mode="r")
        except (OSError, ValueError) as e:
            problem: str | None = f"cannot be read ({e})"
        else:
            if len(digests) % 20 or emb.ndim != 2 or emb.shape[0] != len(digests) // 20:
                problem = "its keys and embeddings do not match (cut short?)"
            else:
                problem = _bad_teacher_rows(emb)
        if problem is not None:
            logger.warning("ignoring the teacher cache shard %s: %s; its texts are embedded again",
                           key_file.with_suffix(".npy"), problem)
            continue
        for i in range(emb.shape[0]):
            rows[digests[20 * i:20 * i + 20]] = emb[i]
    missing = list({k: t for k, t in zip(keys, texts, strict=True) if k not in rows}.items())
    if missing:
        from sentence_transformers import SentenceTransformer
        from tqdm.auto import tqdm

        model = SentenceTransformer(str(teacher), device=device or _device())
        folder.mkdir(parents=True, exist_ok=True)  # once the teacher loads: a missing one leaves no empty folder
        _remove_old_partials(folder)
        logger.info("embedding %d texts with the teacher %s (%d cached)", len(missing), teacher,
                    len(keys) - len(missing))
        with tqdm(total=len(missing), desc="teacher embeddings", unit="text", disable=not progress) as bar:
            for start in range(0, len(missing), TEACHER_CHUNK):
                chunk = missing[start:start + TEACHER_CHUNK]
                emb = model.encode([t for _, t in chunk], batch_size=batch_size, show_progress_bar=False,
                                   convert_to_numpy=True, normalize_embeddings=True).astype(np.float32)
                with np.errstate(all="ignore"):
                    norms = np.linalg.norm(emb.astype(np.float64), axis=1)
                # A zero or non-finite row is no embedding; a bfloat16 or float16 teacher's rows are unit length
                # only to its own precision (off by up to ~4e-3), so they are normalized again in float32.
                bad = ~np.isfinite(norms) | (norms < 0.5)
                if bad.any():  # checked before it is cached: a NaN label would turn the whole table NaN
                    text = chunk[int(np.flatnonzero(bad)[0])][1]
                    raise InvalidInputError(
                        f"the teacher {teacher} gives {int(bad.sum())} text(s) no embedding (NaN or a zero vector), "
                        f"the first {text[:80]!r}: it has no token the teacher knows; drop such texts from the "
                        "dataset")
                emb = (emb / norms[:, None]).astype(np.float32)
                # One name per process: ranks of a multi-GPU run may write at once. Each file is written
                # whole or not at all; the temporaries of a killed run are removed by the next shard's write.
                shard = folder / f"{time.time_ns():x}-{os.getpid()}"
                _write_shard(shard, emb, b"".join(k for k, _ in chunk))
                rows.update((k, e) for (k, _), e in zip(chunk, emb, strict=True))
                bar.update(len(chunk))
    if not keys:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([np.asarray(rows[k], dtype=np.float32) for k in keys])


_SHARD_TEMPS = "shard"
"""The name a teacher cache folder's shards share for their temporaries (see :func:`staticemb._io.write_file`)."""


def _write_shard(shard: Path, emb: np.ndarray, digests: bytes) -> None:
    """A teacher cache shard: its embeddings, then its keys (a shard without keys is ignored), each written whole
    or not at all, under temporary names that the next shard's write removes if this one is killed."""
    _io.write_file(shard.with_suffix(".npy"), lambda f: np.save(f, emb), binary=True, temps_name=_SHARD_TEMPS)
    _io.write_file(shard.with_suffix(".keys"), lambda f: f.write(digests), binary=True, temps_name=_SHARD_TEMPS)


_OLD_PARTIAL = re.compile(r"[0-9a-f]+-(\d+)\.partial")


def _remove_old_partials(folder: Path) -> None:
    """Remove the ``<time>-<pid>.partial`` files that versions before 2026-12-05 left when killed mid-shard
    (they were never removed), where their writer's process has ended."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        m = _OLD_PARTIAL.fullmatch(name)
        if m and not _io._writer_alive(_io._host_tag(), int(m.group(1)), name):
            (folder / name).unlink(missing_ok=True)


def _bad_teacher_rows(emb: np.ndarray) -> str | None:
    """Why a cache shard's rows are not the teacher's normalized embeddings, or ``None``."""
    if emb.dtype.kind != "f":
        return f"its rows are {emb.dtype}, not floats"
    with np.errstate(all="ignore"):
        rows = np.asarray(emb, dtype=np.float64)
        bad = ~np.isfinite(rows).all(axis=1) | (np.abs(np.linalg.norm(rows, axis=1) - 1.0) > 1e-3)
    if bad.any():
        return f"{int(bad.sum())} of its {len(bad)} rows are not finite unit vectors (corrupted)"
    return None


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


def _load_init(init: str, embedding_dim: int | None) -> Any:
    """The ``init`` model (any layout staticemb reads), read before any data. A run from it trains its table at
    its width, so an ``embedding_dim`` of another width is refused (it was ignored: a config saying 256 gave a
    model of the init's 1024). Cutting the table to fewer columns is not done for the user: only an init whose
    columns are in Matryoshka order (a PCA, a Matryoshka-trained model) keeps its meaning when cut."""
    from ..model import StaticModel

    model = StaticModel.from_pretrained(init, normalize=False)
    if embedding_dim is not None and embedding_dim != model.full_dim:
        raise InvalidInputError(
            f"embedding_dim {embedding_dim} does not match init {init}, a model of {model.full_dim} dimensions: a "
            f"run from init trains the init's own table (embedding_dim sets the width of a random table, "
            f"tokenizer=); drop embedding_dim, or start from an init of {embedding_dim} dimensions (staticemb "
            f"distill --dim {embedding_dim}); a model trained with Matryoshka widths is also used narrower with "
            f"dim= or truncate_dim=")
    return model


def _static_module(init: Any, init_name: str | None, tokenizer: str | None, embedding_dim: int):
    """A Sentence Transformers ``StaticEmbedding`` from the ``init`` model read by :func:`_load_init` (quantized
    tables dequantized) or, without one, a tokenizer with a random table of ``embedding_dim`` columns."""
    import torch
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    if init is not None:
        sm = init
        if sm.drop_unknown:
            logger.warning("%s drops the unknown token (model2vec); training averages it like any token", init_name)
        tok = sm._fresh_tokenizer()  # the model's own, not the object model.tokenizer lends out to read
        weights = torch.from_numpy(np.array(sm._folded_table(), dtype=np.float32))
        return StaticEmbedding(tok, embedding_weights=weights, base_model=str(init_name))
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
            for d in dict.fromkeys((max(dims), min(256, max(dims)))):  # one evaluator a width
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
