"""training/loso.py: what each leave-one-source-out fold may train on, and its report."""

from __future__ import annotations

import json

import pytest
from staticemb import corpora

from training import datasets as D
from training import loso

pytestmark = pytest.mark.corpus  # the real corpora


@pytest.fixture(scope="module")
def src() -> D.Sources:
    return D.Sources()


@pytest.mark.parametrize("source", list(loso.SOURCES))
def test_a_fold_never_sees_its_held_out_source(src, source):
    try:
        held = loso.source_texts(src, source)
    except corpora.SourceMissingError as e:
        pytest.skip(f"source missing: {e}")
    pair_names, task = loso.SOURCES[source]
    # Every text of the source's test and dev tasks is held out of the fold ...
    for split in ("test", "dev"):
        t = D.load_task(task, split)
        assert set(t["queries"]) <= held and set(t["corpus"]) <= held
    # ... and every text of its training pairs too, in whichever pair set it would come.
    train = D.load_pairs(pair_names[0])
    assert {a for a, _ in train} <= held and {p for _, p in train} <= held
    unlabeled = D.load_unlabeled()
    texts, pair_sets, dev = loso.fold_inputs(source, src, unlabeled)
    assert not set(texts) & held and len(texts) < len(unlabeled)
    assert set(texts) == {t for t in unlabeled if t not in held}
    assert not set(pair_sets) & set(pair_names) and "en-wordnet" in pair_sets
    assert task not in dev and dev
    # Every other source keeps its pairs; a fold of every source (None) drops nothing.
    everything = loso.fold_inputs(None, src, unlabeled)
    assert everything[0] == unlabeled and everything[1] == list(loso.ENGLISH_PAIRS)
    assert set(everything[1]) - set(pair_sets) == set(pair_names)


def test_the_shipped_english_model_trains_on_what_a_fold_of_every_source_trains_on():
    # The folds measure the recipe that `make train-en` runs: the same pair sets, the same stage configs.
    config = json.loads((loso.CONFIGS / "en-retrieval.json").read_text(encoding="utf-8"))
    names = {path.rsplit("/", 1)[1].removesuffix(".jsonl") for path in config["train_datasets"].values()}
    assert names == set(loso.ENGLISH_PAIRS) == {n for n in D.PAIR_SETS if n.startswith("en-")}
    assert {pairs for pairs, _ in loso.SOURCES.values()} | {("en-wordnet",)} == {(n,) for n in names}


def test_report_table():
    rows = [
        {"source": "bbc", "1024": 0.90, "256": 0.89, "BM25": 0.91, "BM25 (stemmed)": 0.92, "all-MiniLM-L6-v2": 0.93},
        {"source": "pydoc", "1024": 0.70, "256": 0.69, "BM25": 0.60, "BM25 (stemmed)": 0.65, "all-MiniLM-L6-v2": 0.72},
    ]
    text = loso.render(rows, "python -m training.loso", 600)
    assert "| bbc | 90.0 | 89.0 | 98.9% | 91.0 | 92.0 | 93.0 | 96.8% | -2.0 |" in text
    assert "| pydoc | 70.0 | 69.0 | 98.6% | 60.0 | 65.0 | 72.0 | 97.2% | +5.0 |" in text
    assert "| **mean** | 80.0 | 79.0 | 98.8% | 75.5 | 78.5 | 82.5 | 97.0% | +1.5 |" in text
    assert "beats BM25 with stemming on 1 of 2 held-out sources" in text
    assert "`python -m training.loso` (10 min)" in text


def test_plot(tmp_path):
    rows = [
        {"source": s, "1024": 0.8, "256": 0.78, "BM25": 0.7, "BM25 (stemmed)": 0.72, "all-MiniLM-L6-v2": 0.85}
        for s in loso.SOURCES
    ]
    loso.plot(rows, tmp_path / "figures" / "loso.png")
    assert (tmp_path / "figures" / "loso.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bm25_negatives_are_hard_and_never_the_positive():
    import bm25s
    import numpy as np
    import Stemmer

    from training import hard_negatives as hn

    try:
        descriptions = corpora.debian_descriptions("en")[:3000]
    except corpora.SourceMissingError as e:
        pytest.skip(f"source missing: {e}")
    pairs = [(d.short, d.long) for d in descriptions if d.short.strip() and d.long.strip()]
    # A near-duplicate of a positive (one word added) must not be taken for a negative of it, nor it of that.
    a, p = pairs[0]
    pairs.append((a + " tool", p + " Extra"))
    out = hn.mine(pairs)
    assert [(r["anchor"], r["positive"]) for r in out] == pairs
    assert out[0]["negative"] != out[-1]["positive"] and out[-1]["negative"] != out[0]["positive"]
    positives = {p for _, p in pairs}
    stemmer = Stemmer.Stemmer("english")
    docs = sorted(positives)
    index = {d: i for i, d in enumerate(docs)}
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(docs, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    below_margin = harder = 0
    for r in out[:300]:
        assert r["negative"] in positives and r["negative"] not in (r["anchor"], r["positive"])
        query = bm25s.tokenize([r["anchor"]], stopwords="en", stemmer=stemmer, return_ids=False,
                               show_progress=False)[0]
        scores = retriever.get_scores(query)
        neg, pos = scores[index[r["negative"]]], scores[index[r["positive"]]]
        below_margin += bool(0 < neg < hn.MARGIN * pos)
        harder += bool(neg > np.quantile(scores, 0.99))
    # Nearly every anchor gets a mined negative: scored below its positive, and among the top 1% of documents.
    assert below_margin > 0.8 * 300 and harder > 0.8 * 300


def test_a_finished_fold_keeps_its_models_and_drops_its_checkpoints(tmp_path, monkeypatch):
    """``train_fold`` with the trainer faked: both stages run in order, each from the last one's output; once the
    fold is written its checkpoints are gone, and a second call reuses the final model without training."""
    import staticemb.train

    calls = []

    def fake_train(config):
        out = tmp_path / config["output_dir"]
        calls.append((out.name, config["init"]))
        (out / "checkpoints" / "checkpoint-1").mkdir(parents=True)
        (out / "modules.json").write_text("[]")

    monkeypatch.setattr(staticemb.train, "train", fake_train)
    monkeypatch.setenv("MINILM", str(tmp_path / "teacher"))  # the configs name their teacher through it
    monkeypatch.setenv("STATICEMB_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(loso, "fold_inputs", lambda source, src, texts: (["a text"], ["en-wordnet"], ["retrieval-bbc"]))
    monkeypatch.setattr(loso, "regression_texts", lambda config: 1)
    monkeypatch.setattr(loso, "distilled", lambda models, teacher: models / "en-distilled-1024")
    monkeypatch.setattr(D, "task_path", lambda name, split="test": tmp_path / f"{name}.json")
    monkeypatch.setattr(D, "pairs_path", lambda name: tmp_path / f"{name}.jsonl")
    final = loso.train_fold("debian", models=tmp_path, src=None, teacher="t", refresh=False)
    fold = tmp_path / "loso" / "debian"
    assert final == fold / "model"
    assert calls == [("regressed", str(tmp_path / "en-distilled-1024")), ("model", str(fold / "regressed"))]
    assert (final / "modules.json").is_file() and (fold / "regressed" / "modules.json").is_file()
    assert not (final / "checkpoints").exists() and not (fold / "regressed" / "checkpoints").exists()
    assert json.loads((fold / "fold.json").read_text())["held_out"] == "debian"
    assert loso.train_fold("debian", models=tmp_path, src=None, teacher="t", refresh=False) == final
    assert len(calls) == 2


def test_a_second_stage_variant_starts_from_the_folds_regressed_table(tmp_path, monkeypatch):
    """``second_stage`` with the trainer faked: the fold is made first, the variant trains from the fold's
    regressed table on the files ``datasets`` names for the fold's pair sets, records itself, drops its
    checkpoints, and is reused on a second call."""
    import staticemb.train

    calls = []

    def fake_train(config):
        out = tmp_path / config["output_dir"]
        calls.append((out.name, config["init"], config["train_datasets"]))
        (out / "checkpoints" / "checkpoint-1").mkdir(parents=True)
        (out / "modules.json").write_text("[]")

    monkeypatch.setattr(staticemb.train, "train", fake_train)
    monkeypatch.setenv("MINILM", str(tmp_path / "teacher"))
    monkeypatch.setenv("STATICEMB_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(loso, "fold_inputs", lambda source, src, texts: (["a text"], ["en-wordnet", "en-bbc"],
                                                                          ["retrieval-pydoc"]))
    monkeypatch.setattr(loso, "regression_texts", lambda config: 1)
    monkeypatch.setattr(loso, "distilled", lambda models, teacher: models / "en-distilled-1024")
    monkeypatch.setattr(D, "task_path", lambda name, split="test": tmp_path / f"{name}.json")
    monkeypatch.setattr(D, "pairs_path", lambda name: tmp_path / f"{name}.jsonl")
    seen = []

    def datasets(pair_sets):
        seen.append(pair_sets)
        return {f"x-{n}": tmp_path / f"x-{n}.jsonl" for n in pair_sets}

    model = loso.second_stage("debian", "x", datasets, models=tmp_path, src=None, teacher="t", refresh=False)
    fold = tmp_path / "loso" / "debian"
    assert model == fold / "model-x" and seen == [["en-wordnet", "en-bbc"]]
    assert [c[:2] for c in calls] == [("regressed", str(tmp_path / "en-distilled-1024")),
                                      ("model", str(fold / "regressed")), ("model-x", str(fold / "regressed"))]
    assert calls[-1][2] == {"x-en-wordnet": str(tmp_path / "x-en-wordnet.jsonl"),
                            "x-en-bbc": str(tmp_path / "x-en-bbc.jsonl")}
    record = json.loads((fold / "fold-x.json").read_text())
    assert record["held_out"] == "debian" and record["pair_sets"] == ["x-en-bbc", "x-en-wordnet"]
    assert not (model / "checkpoints").exists()
    assert loso.second_stage("debian", "x", datasets, models=tmp_path, src=None, teacher="t",
                             refresh=False) == model and len(calls) == 3
