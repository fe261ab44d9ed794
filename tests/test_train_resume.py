"""Checkpoints, resuming and the final save of a training run, on a few real training steps: a resumed run is
always the same run (another run's checkpoints are refused, and a fresh run removes them), an interrupted
checkpoint is skipped, the model folder is swapped in whole, and ``output_dir`` is checked before any work."""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil

import numpy as np
import pytest
from staticemb import StaticModel
from staticemb.corpora import debian_descriptions
from staticemb.errors import InvalidInputError
from staticemb.train import train

pytestmark = [pytest.mark.reference, pytest.mark.corpus]  # Sentence Transformers, Debian text
for _name in ("sentence_transformers", "datasets"):
    if importlib.util.find_spec(_name) is None:
        pytest.skip(f"{_name} is not installed", allow_module_level=True)

RECORD = "staticemb_run.json"


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory):
    """512 real (short description, long description) pairs of English Debian packages."""
    rows = [d for d in debian_descriptions("en") if d.long and d.short][:512]
    path = tmp_path_factory.mktemp("data") / "debian-pairs.jsonl"
    path.write_text("".join(json.dumps({"anchor": d.short, "positive": d.long}) + "\n" for d in rows))
    return path


def _config(tmp_path, pairs_file, tokenizer, **kw):
    base = {
        "output_dir": str(tmp_path / "model"),
        "train_datasets": {"debian": str(pairs_file)},
        "tokenizer": str(tokenizer),
        "embedding_dim": 32,
        "matryoshka_dims": [16, 32],
        "batch_size": 32,
        "max_steps": 4,
        "logging_steps": 1,
        "save_steps": 2,
    }
    base.update(kw)
    return base


def _steps(log):
    return [e["step"] for e in log if "loss" in e]


def _lr_at(log, step):
    return next(e["learning_rate"] for e in log if "loss" in e and e["step"] == step)


def _checkpoints(out):
    return sorted(p.name for p in (out / "checkpoints").iterdir())


def test_resume_refuses_another_runs_checkpoints(tmp_path, pairs_file, bert_tokenizer_path):
    """``--resume`` once took the newest checkpoint whatever run saved it: with another learning rate it resumed
    the earlier run and saved its model (exit 0). Each checkpoint now holds its run's record: another config, a
    changed dataset file or a checkpoint without a record is refused, naming what differs."""
    data = tmp_path / "pairs.jsonl"
    shutil.copy(pairs_file, data)
    cfg = _config(tmp_path, data, bert_tokenizer_path)
    out, _ = train(cfg)
    assert _checkpoints(out) == ["checkpoint-2", "checkpoint-4"]
    saved = (out / "model.safetensors").read_bytes()

    with pytest.raises(InvalidInputError, match=r"checkpoint-4: it was saved by another run \(learning_rate 0.2 "
                                                r"there, 0.5 now\)"):
        train({**cfg, "learning_rate": 0.5, "resume_from_checkpoint": True})
    record = json.loads((out / "checkpoints" / "checkpoint-4" / RECORD).read_text())
    assert record["learning_rate"] == 0.2 and record["train_datasets.debian"]["path"] == str(data.resolve())
    with pytest.raises(InvalidInputError, match="embedding_dim 32 there, 16 now; learning_rate 0.2 there, 0.5 now"):
        train({**cfg, "learning_rate": 0.5, "embedding_dim": 16, "matryoshka_dims": [16, 32],
               "resume_from_checkpoint": True})
    other = tmp_path / "other.jsonl"
    shutil.copy(pairs_file, other)
    with pytest.raises(InvalidInputError, match=f"train_datasets.debian {data.resolve()} there, {other.resolve()} now"):
        train({**cfg, "train_datasets": {"debian": str(other)}, "resume_from_checkpoint": True})
    with data.open("a") as f:
        f.write(json.dumps({"anchor": "one more", "positive": "row appended after the run"}) + "\n")
    with pytest.raises(InvalidInputError, match=f"train_datasets.debian {data.resolve()} changed since"):
        train({**cfg, "resume_from_checkpoint": True})
    assert (out / "model.safetensors").read_bytes() == saved  # nothing was trained or saved
    # A checkpoint without a record (an older staticemb's) is not taken for this run's.
    for name in _checkpoints(out):
        (out / "checkpoints" / name / RECORD).unlink()
    with pytest.raises(InvalidInputError, match="checkpoint-4: it has no run record"):
        train({**cfg, "resume_from_checkpoint": True})


def test_a_fresh_run_removes_an_earlier_runs_checkpoints(tmp_path, pairs_file, bert_tokenizer_path, caplog):
    """The reviewer's case: a run with another learning rate stopped early left the first run's checkpoint-4
    beside its own checkpoint-2, and ``--resume`` continued from checkpoint-4, the other run. A run without
    --resume now starts clean, saying so, and resuming it continues its own checkpoint."""
    cfg = _config(tmp_path, pairs_file, bert_tokenizer_path)
    out, first = train(cfg)
    other = {**cfg, "learning_rate": 0.5}
    with caplog.at_level(logging.WARNING, logger="staticemb.train.trainer"):
        _, stopped = train({**other, "max_steps": 2})
    assert "removing the 2 checkpoint(s) (up to step 4) an earlier run left" in caplog.text
    assert _checkpoints(out) == ["checkpoint-2"]
    _, resumed = train({**other, "resume_from_checkpoint": True})
    assert _steps(resumed) == [1, 2, 3, 4]
    assert _lr_at(resumed, 2) == _lr_at(stopped, 2) == pytest.approx(2.5 * _lr_at(first, 2))
    assert json.loads((out / "training_log.json").read_text())["config"]["learning_rate"] == 0.5


@pytest.mark.parametrize("damage", ["state", "weights"])
def test_resume_skips_an_interrupted_checkpoint(tmp_path, pairs_file, bert_tokenizer_path, caplog, damage):
    """A checkpoint cut short by Ctrl-C or kill -9 while it was written (its trainer_state.json, written last,
    missing; its weights cut in half) broke --resume. The latest complete checkpoint is taken instead, with a
    warning, and the incomplete one removed. (A whole checkpoint without its run record is taken:
    tests/test_train_review.py.)"""
    cfg = _config(tmp_path, pairs_file, bert_tokenizer_path)
    out, _ = train(cfg)
    last = out / "checkpoints" / "checkpoint-4"
    if damage == "state":
        (last / "trainer_state.json").unlink()
    else:
        weights = last / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(InvalidInputError, match="checkpoint-4: it is not a complete checkpoint"):
        train({**cfg, "max_steps": 6, "resume_from_checkpoint": str(last)})
    with caplog.at_level(logging.WARNING, logger="staticemb.train.trainer"):
        _, log = train({**cfg, "max_steps": 6, "resume_from_checkpoint": True})
    assert f"skipping the incomplete checkpoint {last}" in caplog.text
    assert _steps(log) == [1, 2, 3, 4, 5, 6]  # from checkpoint-2's state, not again from step 1
    assert _checkpoints(out) == ["checkpoint-4", "checkpoint-6"]
    assert (last / "trainer_state.json").is_file() and (last / RECORD).is_file()


def test_the_final_save_is_swapped_in_whole(tmp_path, pairs_file, bert_tokenizer_path, monkeypatch):
    """Sentence Transformers' save writes file by file into the folder: Ctrl-C (or kill -9) in the middle left an
    unloadable folder in place of a good model. The model is written beside it and swapped in whole: an
    interrupted save leaves the previous model, and the checkpoints survive the swap."""
    from sentence_transformers.sentence_transformer.modules import static_embedding

    cfg = _config(tmp_path, pairs_file, bert_tokenizer_path, max_steps=2)
    out, _ = train(cfg)
    texts = ["a small test", "Real-time strategy game of ancient warfare", "naïve café"]
    before = StaticModel.from_pretrained(out).encode(texts)
    real = static_embedding.save_safetensors_file

    def interrupted(state, path, *args, **kwargs):
        real(state, path, *args, **kwargs)
        if "checkpoint-" not in str(path):  # the final save: cut short, then Ctrl-C
            with open(path, "r+b") as f:
                f.truncate(1000)
            raise KeyboardInterrupt

    monkeypatch.setattr(static_embedding, "save_safetensors_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train({**cfg, "learning_rate": 0.5})
    np.testing.assert_array_equal(StaticModel.from_pretrained(out).encode(texts), before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary folder left
    assert _checkpoints(out) == ["checkpoint-2"]
    monkeypatch.undo()
    train({**cfg, "learning_rate": 0.5})
    after = StaticModel.from_pretrained(out).encode(texts)
    assert np.abs(after - before).max() > 1e-3
    assert _checkpoints(out) == ["checkpoint-2"] and json.loads(
        (out / "checkpoints" / "checkpoint-2" / RECORD).read_text())["learning_rate"] == 0.5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_output_dir_is_checked_before_any_work(tmp_path, bert_tokenizer_path, tiny_st_folder):
    """An unrelated folder, the teacher's folder and the init folder were overwritten by the trained model. They
    are refused before any data or model is read (the dataset here does not exist)."""
    missing = str(tmp_path / "missing.jsonl")
    base = {"train_datasets": {"d": missing}, "tokenizer": str(bert_tokenizer_path), "max_steps": 1}
    unrelated = tmp_path / "notes"
    unrelated.mkdir()
    (unrelated / "README.md").write_text("my notes\n")
    (unrelated / "modules.json").write_text("[]\n")
    with pytest.raises(FileExistsError, match="notes holds .*choose another output_dir"):
        train({**base, "output_dir": str(unrelated)})
    assert sorted(p.name for p in unrelated.iterdir()) == ["README.md", "modules.json"]

    init = tmp_path / "init"
    shutil.copytree(tiny_st_folder, init)
    with pytest.raises(InvalidInputError, match="output_dir .*init is the init folder"):
        train({**base, "tokenizer": None, "init": str(init), "output_dir": str(init)})
    with pytest.raises(InvalidInputError, match="lies inside the init folder"):
        train({**base, "tokenizer": None, "init": str(init), "output_dir": str(init / "trained")})
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    (teacher / "config.json").write_text("{}")
    with pytest.raises(InvalidInputError, match="is the teacher folder"):
        train({**base, "loss": "distill", "teacher": str(teacher), "output_dir": str(teacher)})
    with pytest.raises(InvalidInputError, match=r"train_datasets.d .*pairs.jsonl lies inside output_dir"):
        (tmp_path / "out").mkdir()
        (tmp_path / "out" / "pairs.jsonl").write_text("{}\n")
        train({**base, "train_datasets": {"d": str(tmp_path / "out" / "pairs.jsonl")},
               "output_dir": str(tmp_path / "out")})
    assert not (init / "trained").exists() and sorted(p.name for p in teacher.iterdir()) == ["config.json"]
