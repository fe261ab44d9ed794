"""Data-parallel training under a launcher, on CPUs (gloo): ``torchrun --nproc_per_node 2 -m staticemb
train`` and ``accelerate launch --multi_gpu --num_processes 2 -m staticemb train`` train one model in two
processes, keep the config's batch as the global batch (the run matches one process with that batch), log
and save on rank 0 only; launches whose processes would train separate copies are refused in one line."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from staticemb import StaticModel
from staticemb.corpora import debian_descriptions
from staticemb.errors import InvalidInputError
from staticemb.train import train

pytestmark = [pytest.mark.reference, pytest.mark.corpus]  # torch, Sentence Transformers, Debian text
for _name in ("sentence_transformers", "datasets", "accelerate"):
    if importlib.util.find_spec(_name) is None:
        pytest.skip(f"{_name} is not installed", allow_module_level=True)

BIN = Path(sys.executable).parent
GLOBAL_BATCH = 64
STEPS = 4
LAUNCH_VARS = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
               "ACCELERATE_USE_CPU", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARS}
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1", **extra)
    return env


def _run(cmd: list[str], cwd: Path, timeout: float = 240,
         **env: str) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=_env(**env), capture_output=True, text=True, timeout=timeout)
    return proc, time.perf_counter() - start


def _torchrun(*args: str) -> list[str]:
    launcher = BIN / "torchrun"
    head = [str(launcher)] if launcher.exists() else [sys.executable, "-m", "torch.distributed.run"]
    return [*head, "--standalone", "--nproc_per_node", "2", *args]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("ddp")


@pytest.fixture(scope="module")
def pairs_file(workdir):
    """512 real (short description, long description) pairs of English Debian packages."""
    rows = [d for d in debian_descriptions("en") if d.long and d.short][:512]
    path = workdir / "pairs.jsonl"
    path.write_text("".join(json.dumps({"anchor": d.short, "positive": d.long}) + "\n" for d in rows))
    return path


@pytest.fixture(scope="module")
def init_folder(workdir, bert_tokenizer):
    """A seeded random 32-d table to start from: every run below starts from the same weights."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    weights = torch.randn(bert_tokenizer.get_vocab_size(), 32, generator=torch.Generator().manual_seed(7))
    path = workdir / "init"
    module = StaticEmbedding(bert_tokenizer, embedding_weights=weights)
    SentenceTransformer(modules=[module], device="cpu").save(str(path))
    return path


def _config(workdir: Path, pairs_file: Path, init_folder: Path, name: str, **kw) -> dict:
    # The plain batch sampler: a batch of 64 is the two batches of 32 the ranks take, so one process and two
    # processes see the same rows at every step.
    config = {
        "output_dir": str(workdir / name), "train_datasets": {"debian": str(pairs_file)},
        "init": str(init_folder), "matryoshka_dims": [16, 32], "batch_size": GLOBAL_BATCH, "max_steps": STEPS,
        "logging_steps": 1, "save_steps": 2, "batch_sampler": "batch_sampler",
    }
    config.update(kw)
    return config


def _write_config(workdir: Path, config: dict) -> Path:
    path = workdir / f"{Path(config['output_dir']).name}.json"
    path.write_text(json.dumps(config))
    return path


def _steps(log_history):
    return [e for e in log_history if "loss" in e]


@pytest.fixture(scope="module")
def torchrun_run(workdir, pairs_file, init_folder):
    config = _write_config(workdir, _config(workdir, pairs_file, init_folder, "torchrun"))
    proc, seconds = _run(_torchrun("-m", "staticemb", "train", str(config)), workdir)
    print(f"torchrun, 2 processes: {seconds:.1f} s")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return workdir / "torchrun", proc


def test_torchrun_trains_one_model_on_two_cpu_processes(torchrun_run, real_texts):
    from sentence_transformers import SentenceTransformer

    out, proc = torchrun_run
    record = json.loads((out / "training_log.json").read_text())
    assert record["world_size"] == 2
    assert record["per_device_batch_size"] == GLOBAL_BATCH // 2
    assert record["config"]["batch_size"] == GLOBAL_BATCH
    steps = _steps(record["log_history"])
    assert [e["step"] for e in steps] == list(range(1, STEPS + 1))
    # 512 rows in global batches of 64: 8 steps an epoch (a rank training alone on batches of 32 needs 16).
    assert steps[0]["epoch"] == pytest.approx(1 / 8)
    # Rank 0 alone logs: one line per step, not one per rank.
    logged = proc.stdout + proc.stderr
    assert logged.count("{'loss':") == STEPS, logged[-3000:]
    # One model folder, written once, with its checkpoints; no temporary files left from two writers.
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["checkpoint-2", "checkpoint-4"]
    assert [p.relative_to(out).as_posix() for p in out.glob("*.safetensors")] == ["model.safetensors"]
    assert not [p for p in out.rglob("*") if "tmp" in p.name.lower()]

    texts = real_texts[:300] + ["", "a", "naïve café"]
    ours = StaticModel.from_pretrained(out).encode(texts)
    theirs = SentenceTransformer(str(out), device="cpu").encode(texts, convert_to_numpy=True)
    assert ours.shape == (len(texts), 32)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_two_processes_match_one_with_the_global_batch(torchrun_run, workdir, pairs_file, init_folder,
                                                        real_texts):
    """MNRL ranks each anchor against the positives of the whole global batch (gathered across processes) and
    DDP averages the gradients: two processes of 32 rows train the same model as one process of 64."""
    out, _ = torchrun_run
    single, log = train(_config(workdir, pairs_file, init_folder, "single"))
    ddp = _steps(json.loads((out / "training_log.json").read_text())["log_history"])
    one = _steps(log)
    np.testing.assert_allclose([e["loss"] for e in ddp], [e["loss"] for e in one], rtol=1e-5)
    np.testing.assert_allclose([e["grad_norm"] for e in ddp], [e["grad_norm"] for e in one], rtol=1e-5)
    assert json.loads((single / "training_log.json").read_text())["world_size"] == 1
    texts = real_texts[:300]
    np.testing.assert_allclose(StaticModel.from_pretrained(out).encode(texts),
                               StaticModel.from_pretrained(single).encode(texts), atol=1e-5)


def test_accelerate_launch_multi_gpu_runs_gloo_on_cpus(torchrun_run, workdir, pairs_file, init_folder):
    """``accelerate launch --multi_gpu`` goes through torch.distributed.run, so on a CPU-only machine it
    starts N processes too (``--cpu`` does not: it starts one, see the refusal below); they train the same
    model."""
    launcher = BIN / "accelerate"
    if not launcher.exists():
        pytest.skip("no accelerate command beside this Python")
    config = _write_config(workdir, _config(workdir, pairs_file, init_folder, "accelerate"))
    proc, seconds = _run([str(launcher), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines",
                          "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port",
                          "0", "-m", "staticemb", "train", str(config)], workdir)
    print(f"accelerate launch, 2 processes: {seconds:.1f} s")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    record = json.loads((workdir / "accelerate" / "training_log.json").read_text())
    assert (record["world_size"], record["per_device_batch_size"]) == (2, GLOBAL_BATCH // 2)
    reference = json.loads((torchrun_run[0] / "training_log.json").read_text())
    np.testing.assert_allclose([e["loss"] for e in _steps(record["log_history"])],
                               [e["loss"] for e in _steps(reference["log_history"])], rtol=1e-5)


# ------------------------------------------------------------------------------------------------ refusals


def _one_line_refusal(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("staticemb train: "), proc.stderr[-3000:]
    for needle in needles:
        assert needle in lines[0]


def test_world_size_without_a_launcher_is_refused(workdir, pairs_file, init_folder):
    config = _write_config(workdir, _config(workdir, pairs_file, init_folder, "no-launcher"))
    proc, seconds = _run([sys.executable, "-m", "staticemb", "train", str(config)], workdir, timeout=60,
                         WORLD_SIZE="2")
    _one_line_refusal(proc, "WORLD_SIZE=2", "torchrun --nproc_per_node N")
    assert not (workdir / "no-launcher").exists()
    assert seconds < 30  # refused before torch is imported


def test_accelerate_cpu_with_several_processes_is_refused(workdir, pairs_file, init_folder):
    """``accelerate launch --cpu --num_processes 2`` runs its simple launcher: one process (N only through
    ``mpirun`` with ``--mpirun_hostfile``), given ``ACCELERATE_USE_CPU`` and ``MASTER_ADDR``/``MASTER_PORT``
    but no rank or world size (accelerate/utils/launch.py, prepare_simple_launcher_cmd_env). That process's
    environment is the one here."""
    config = _write_config(workdir, _config(workdir, pairs_file, init_folder, "accelerate-cpu"))
    proc, _ = _run([sys.executable, "-m", "staticemb", "train", str(config)], workdir, timeout=60,
                   ACCELERATE_USE_CPU="True", MASTER_ADDR="127.0.0.1", MASTER_PORT="29500")
    _one_line_refusal(proc, "--mpirun_hostfile", "accelerate launch --multi_gpu --num_processes N")
    assert not (workdir / "accelerate-cpu").exists()


def test_global_batch_must_split_over_the_processes(workdir, pairs_file, init_folder, monkeypatch):
    for name in LAUNCH_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(InvalidInputError, match="global batch and must split evenly over the 2"):
        train(_config(workdir, pairs_file, init_folder, "odd", batch_size=63))


def test_processes_that_would_train_alone_are_refused(workdir, pairs_file, init_folder):
    """The launch this module fixes, as it was: torchrun's ranks on a machine where accelerate is not told to
    use the CPU (here: told there is an accelerator) each get a world of one. They stop before training."""
    wrapper = workdir / "as_if_an_accelerator.py"
    wrapper.write_text(
        "import sys\n"
        "from staticemb.train import trainer\n"
        "trainer._has_ddp_accelerator = lambda torch: True\n"
        "from staticemb.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n")
    config = _write_config(workdir, _config(workdir, pairs_file, init_folder, "alone"))
    proc, _ = _run(_torchrun(str(wrapper), "train", str(config)), workdir)
    assert proc.returncode != 0
    refusals = [line for line in proc.stderr.splitlines() if line.startswith("staticemb train: ")]
    # one line from each rank that gets there before torchrun stops the rest
    assert refusals, proc.stderr[-3000:]
    assert all("would not train one model together" in line and "torchrun" in line for line in refusals)
    assert not (workdir / "alone" / "model.safetensors").exists()
    assert not (workdir / "alone" / "checkpoints").exists()
