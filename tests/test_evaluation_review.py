"""Evaluation against Sentence Transformers' own evaluators, on hostile task files, and on models whose vectors
are zero, NaN or infinite."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from staticemb.errors import InvalidInputError
from staticemb.evaluation import cosine_scores, knn_accuracy, multi_retrieval_metrics
from staticemb.tasks import Encoder, StaticEncoder, evaluate, load_task, open_model

TEXTS = json.loads((Path(__file__).parent / "fixtures" / "texts.json").read_text(encoding="utf-8"))


class ArrayEncoder(Encoder):
    """A model whose vector of a text is given by a function of the text (what a user's own Encoder does)."""

    kind = "custom"

    def __init__(self, vector, dims=(4,)) -> None:
        self.name, self.dims, self.vector = "custom", list(dims), vector

    def encode(self, texts):
        return np.array([self.vector(t) for t in texts], dtype=np.float32)


def _hashed(text: str, width: int = 4) -> np.ndarray:
    return np.random.default_rng(sum(map(ord, text)) + 7 * len(text)).normal(size=width)


def _prompted_copy(folder: Path, tmp_path: Path) -> Path:
    path = tmp_path / "prompted"
    shutil.copytree(folder, path)
    config_path = path / "config_sentence_transformers.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["prompts"] = {"query": "zyxqvw blorptastic frobnicated GizmoTron ", "document": ""}
    config_path.write_text(json.dumps(config), encoding="utf-8")
    return path


def _prompt_task() -> dict:
    words = "model table pools short sentences lower case text world".split()
    return {"type": "retrieval", "name": "prompted", "queries": words, "corpus": TEXTS[3:24],
            "relevant": [[i] for i in range(len(words))]}


# ------------------------------------------------------------------------------------------- the metrics


@pytest.mark.reference
def test_retrieval_metrics_equal_sentence_transformers_with_ties_duplicates_and_several_relevant():
    """Scores with many ties, queries with one to five relevant documents, one listed twice: staticemb's
    figures are InformationRetrievalEvaluator's, once its tie order (ascending corpus id) is made ours by
    giving relevant documents the ids that sort last."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    rng = np.random.default_rng(1)
    n_queries, n_docs = 30, 50
    scores = rng.integers(0, 6, size=(n_queries, n_docs)) / 5
    relevant = []
    for i in range(n_queries):
        rel = [int(j) for j in rng.choice(n_docs, size=int(rng.integers(1, 5)), replace=False)]
        scores[i, rel] += rng.integers(0, 6, size=len(rel)) / 5
        relevant.append(rel + rel[:1] if i % 3 == 0 else rel)  # an id listed twice counts once

    def doc_id(i: int, j: int) -> str:
        return ("b" if j in relevant[i] else "a") + f"{j:03d}"

    for k in (1, 3, 10):
        ours = multi_retrieval_metrics(scores, relevant, k=k)
        assert all(type(v) is float for v in ours.values())
        theirs: dict[str, list[float]] = {f"NDCG@{k}": [], f"MRR@{k}": [], "Recall@1": [], f"Recall@{k}": []}
        for i in range(n_queries):
            evaluator = InformationRetrievalEvaluator(
                {"q": "q"}, {doc_id(i, j): "d" for j in range(n_docs)}, {"q": {doc_id(i, j) for j in relevant[i]}},
                mrr_at_k=[k], ndcg_at_k=[k], accuracy_at_k=[1], precision_recall_at_k=sorted({1, k}),
                map_at_k=[k], write_csv=False)
            m = evaluator.compute_metrics([[{"corpus_id": doc_id(i, j), "score": float(scores[i, j])}
                                            for j in range(n_docs)]])
            for name, value in ((f"NDCG@{k}", m["ndcg@k"][k]), (f"MRR@{k}", m["mrr@k"][k]),
                                ("Recall@1", m["recall@k"][1]), (f"Recall@{k}", m["recall@k"][k])):
                theirs[name].append(value)
        for name, values in theirs.items():
            assert ours[name] == pytest.approx(float(np.mean(values)), abs=1e-12), (k, name)
        assert 0 < ours[f"NDCG@{k}"] < 1


def test_knn_ties_and_nan_go_against_the_right_label():
    """A test vector that matches nothing (zero: an empty text; or NaN) ties with every training vector. It
    was classified by the first k training rows, so the accuracy followed the order of the training file."""
    train = np.array([[1.0, 0.0], [0.9, 0.1], [0.8, 0.2], [0.0, 1.0], [0.1, 0.9], [0.2, 0.8]])
    labels = ["x", "x", "x", "y", "y", "y"]
    for vector in ([0.0, 0.0], [np.nan, np.nan], [np.nan, 1.0]):
        test = np.array([vector, vector])
        assert knn_accuracy(train, labels, test, ["x", "x"], k=5) == 0.0
        assert knn_accuracy(train[::-1], labels[::-1], test, ["y", "y"], k=1) == 0.0
    # Two training copies of one text, labelled differently: the test copy's nearest is the wrong one.
    twins = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    for order in (["a", "b", "b"], ["b", "a", "b"]):
        assert knn_accuracy(twins, order, np.array([[1.0, 0.0]]), ["a"], k=1) == 0.0
    # A NaN training vector is the farthest, never a neighbour chosen by its place in the file.
    nan_first = np.array([[np.nan, np.nan], [1.0, 0.0], [0.0, 1.0]])
    assert knn_accuracy(nan_first, ["b", "a", "b"], np.array([[1.0, 0.1]]), ["a"], k=1) == 1.0
    # Labels read as Python values: an int array's labels equal the same ints in a list.
    assert knn_accuracy(train, np.array([1, 1, 1, 2, 2, 2]), train[:2], [1, 1], k=3) == 1.0


# ------------------------------------------------------------------------------------------- the runner


def test_evaluate_refuses_nan_infinite_and_misshapen_vectors():
    """A model that gave NaN or infinite vectors was scored (NaN ranked last, the kNN vote by file order):
    classification 100% and bitext 100% for a model of nothing but NaN."""
    tasks = [
        {"type": "classification", "name": "topics", "train_texts": list("abcdef"), "train_labels": list("xxxyyy"),
         "test_texts": ["g", "h"], "test_labels": ["x", "x"]},
        {"type": "bitext", "name": "pairs", "source": ["one"], "target": ["un"]},
        {"type": "retrieval", "name": "search", "queries": ["q", "r"], "corpus": ["c", "d", "e"],
         "relevant": [[0], [1, 2]]},
        {"type": "wordsim", "name": "words", "pairs": [["a", "b", 1], ["a", "c", 2], ["b", "c", 3]]},
    ]
    for bad in (np.nan, np.inf, -np.inf):
        for task in tasks:
            first = (task.get("train_texts") or task.get("source") or task.get("queries") or ["a"])[0]
            encoder = ArrayEncoder(lambda t, bad=bad, first=first: np.where(t == first, bad, 1.0) * _hashed(t))
            with pytest.raises(InvalidInputError, match=rf"custom gave 1 of the \d+ \w+ of task '{task['name']}' "
                                                        r"a vector holding NaN or infinity \(the first: \w+\[0\]"):
                evaluate(encoder, [task])
    # Too few rows, or narrower than a width the encoder claims: it was sliced into a narrower score.
    for vector, dims in ((lambda t: _hashed(t, 2), (2, 4)), (lambda t: _hashed(t, 4), (4,))):
        encoder = ArrayEncoder(vector, dims)
        if dims == (4,):
            encoder.encode = lambda texts: np.ones((len(texts) - 1, 4), np.float32)  # type: ignore[method-assign]
        with pytest.raises(InvalidInputError, match=r"custom gave vectors of shape .* need one row per text, at "
                                                    r"least 4 wide"):
            evaluate(encoder, tasks[:1])
    # Finite vectors are scored, and the figures are plain floats.
    result = evaluate(ArrayEncoder(_hashed), tasks)
    for task in result["tasks"].values():
        assert all(type(v) is float and math.isfinite(v) for v in task["scores"]["4"].values())


def test_empty_texts_score_as_misses_not_by_file_order(tiny_st_folder):
    """A real static model gives an empty text the zero vector. Classified, it took the majority label of the
    first five training texts: here 100%, the training file's order, not the model's."""
    encoder = open_model(str(tiny_st_folder))
    train = [t for t in TEXTS[4:24] if t.strip()][:10]
    task = {"type": "classification", "name": "empty", "train_texts": train,
            "train_labels": ["x"] * 5 + ["y"] * 5, "test_texts": ["", " ", "\t"], "test_labels": ["x"] * 3}
    zero = encoder.encode(task["test_texts"])
    assert not zero.any()
    assert evaluate(encoder, [task])["tasks"]["empty"]["scores"]["16"]["accuracy"] == 0.0


def test_retrieval_encodes_with_the_query_and_document_prompts(tiny_st_folder, tmp_path):
    """Sentence Transformers' retrieval evaluator encodes queries with encode_query and the corpus with
    encode_document; evaluate used encode for both, so a model's query prompt was left out."""
    encoder = open_model(str(_prompted_copy(tiny_st_folder, tmp_path)))
    model, task = encoder.model, _prompt_task()
    got = evaluate(encoder, [task])["tasks"]["prompted"]["scores"]["16"]
    prompted = multi_retrieval_metrics(cosine_scores(model.encode_query(task["queries"], normalize=False),
                                                     model.encode_document(task["corpus"], normalize=False)),
                                       task["relevant"])
    plain = multi_retrieval_metrics(cosine_scores(model.encode(task["queries"], normalize=False),
                                                  model.encode(task["corpus"], normalize=False)), task["relevant"])
    assert got == pytest.approx(prompted) and got != pytest.approx(plain)

    class OwnPooling(StaticEncoder):  # as training/tf_saturation.py: its own encode, for every role
        def encode(self, texts):
            return self.model.encode(list(texts), normalize=False)

    own = evaluate(OwnPooling(model, "own"), [task])["tasks"]["prompted"]["scores"]["16"]
    assert own == pytest.approx(plain)


@pytest.mark.reference
def test_transformer_retrieval_equals_sentence_transformers_evaluator(tiny_st_folder, tmp_path):
    """The transformer baseline, prompts included, scores what InformationRetrievalEvaluator scores."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
    from staticemb.tasks import TransformerEncoder

    path = _prompted_copy(tiny_st_folder, tmp_path)
    task = _prompt_task()
    got = evaluate(TransformerEncoder(str(path), "st", device="cpu"), [task])["tasks"]["prompted"]["scores"]["16"]
    evaluator = InformationRetrievalEvaluator(
        {str(i): q for i, q in enumerate(task["queries"])}, {str(j): d for j, d in enumerate(task["corpus"])},
        {str(i): {str(j) for j in rel} for i, rel in enumerate(task["relevant"])},
        accuracy_at_k=[1], precision_recall_at_k=[1, 10], write_csv=False)
    theirs = evaluator(SentenceTransformer(str(path), device="cpu"))
    for ours, key in (("NDCG@10", "cosine_ndcg@10"), ("MRR@10", "cosine_mrr@10"), ("Recall@1", "cosine_recall@1"),
                      ("Recall@10", "cosine_recall@10")):
        assert got[ours] == pytest.approx(theirs[key], abs=1e-6), ours


# ------------------------------------------------------------------------------------------- task files


@pytest.mark.parametrize("task, message", [
    ({"type": "retrieval", "queries": ["q", "r"], "corpus": ["d", "e"], "relevant": [[0], []]},
     r"relevant\[1\] is an empty list"),
    ({"type": "retrieval", "queries": ["q", "r"], "corpus": ["d", "e"], "relevant": [[0], [-1]]},
     r"relevant\[1\] holds -1, not an index of the 2 corpus documents \(0 to 1\)"),
    ({"type": "retrieval", "queries": ["q"], "corpus": ["d", "e"], "relevant": [[True]]},
     r"relevant\[0\] holds True, not an index"),
    ({"type": "retrieval", "queries": ["q"], "corpus": ["d", "e"], "relevant": [[1.0]]},
     r"relevant\[0\] holds 1.0, not an index"),
    ({"type": "retrieval", "queries": ["q"], "corpus": ["d", "e"], "relevant": [[2]]},
     r"relevant\[0\] holds 2, not an index of the 2 corpus documents"),
    ({"type": "retrieval", "queries": ["q"], "corpus": ["d", "e"], "relevant": [1]},
     r"relevant\[0\] is 1, not a list"),
    ({"type": "retrieval", "queries": ["q"], "corpus": ["d"], "relevant": {"0": [0]}},
     r"'relevant' must hold one list per query: 1 queries, got dict"),
    ({"type": "classification", "train_texts": ["a", "b"], "train_labels": [0.0, 1.0], "test_texts": ["c"],
      "test_labels": [0.0]}, r"train_labels\[0\] is 0.0"),
    ({"type": "classification", "train_texts": ["a", "b"], "train_labels": ["x", "y"], "test_texts": ["c"],
      "test_labels": []}, r"one label per text: 1 test_texts, 0 test_labels"),
    ({"type": "bitext", "source": ["a", None], "target": ["b", "c"]}, r"source\[1\] is NoneType"),
    ({"type": "bitext", "source": ["a", "b"], "target": ["c"]}, r"2 source and 1 target texts"),
    ({"type": "wordsim", "pairs": [["a", "b", 5], ["a", "c", 5.0], ["b", "c", 5]]},
     r"every pair has the gold score 5: a rank correlation needs scores that differ"),
], ids=["empty-relevant", "negative-id", "bool-id", "float-id", "id-past-corpus", "id-not-in-list", "relevant-dict",
        "float-labels", "labels-short", "null-text", "unaligned-bitext", "constant-gold"])
def test_task_file_errors_name_the_file_and_the_field(tmp_path, task, message):
    path = tmp_path / "task.json"
    path.write_text(json.dumps(task), encoding="utf-8")
    with pytest.raises(InvalidInputError, match=rf"^{re.escape(str(path))}: .*{message}"):
        load_task(path)


@pytest.mark.parametrize("field, text", [
    ("queries", r'{"type": "retrieval", "queries": ["ok", "\ud800"], "corpus": ["d"], "relevant": [[0], [0]]}'),
    ("target", r'{"type": "bitext", "source": ["a"], "target": ["\udfff b"]}'),
    ("pair 1", r'{"type": "wordsim", "pairs": [["a", "b", 1], ["\ud83e", "c", 2]]}'),
], ids=["retrieval", "bitext", "wordsim"])
def test_lone_surrogates_are_named_at_load(tmp_path, tiny_st_folder, field, text):
    """JSON may escape a lone surrogate; the file loaded and the encoder refused it mid-run, naming neither
    the file nor the field ('texts[0] is not valid Unicode text')."""
    path = tmp_path / "task.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInputError, match=rf"^{re.escape(str(path))}: {field}.* not valid Unicode text"):
        load_task(path)


def test_a_task_file_with_a_byte_order_mark_loads(tmp_path):
    """Windows editors (Notepad) start UTF-8 files with a byte order mark; json refused the file ("Unexpected
    UTF-8 BOM")."""
    task = {"type": "bitext", "source": ["one", "two"], "target": ["un", "deux"]}
    path = tmp_path / "task.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(task).encode("utf-8"))
    assert load_task(path) == {**task, "name": "task"}


def test_markdown_table_keeps_a_pipe_or_line_break_in_a_name_inside_its_cell():
    """A task or model named with '|' (or a line break) split its cell and shifted every column after it."""
    from staticemb.tasks import markdown_table

    task = {"type": "bitext", "name": "en|fr\nnews", "source": ["one", "two"], "target": ["un", "deux"]}
    result = evaluate(ArrayEncoder(_hashed), [task])
    result["model"] = "mine|yours"
    table = markdown_table([result, result])
    lines = table.splitlines()
    assert len(lines) == 4
    assert {len(re.findall(r"(?<!\\)\|", line)) for line in lines} == {4}
    assert "en\\|fr news" in lines[0] and lines[2].startswith("| mine\\|yours | 4 |")


def test_a_metric_over_zero_queries_is_refused_not_reported():
    """A mean over nothing has no value: retrieval_metrics gave NaN (with a RuntimeWarning), the others 0.0,
    which reads as a model that got every query wrong."""
    from staticemb.evaluation import bitext_accuracy, retrieval_metrics

    docs = np.eye(3, dtype=np.float32)
    none = np.zeros((0, 3), np.float32)
    with pytest.raises(InvalidInputError, match="no queries to score"):
        retrieval_metrics(np.zeros((0, 3)), np.zeros(0, np.int64))
    with pytest.raises(InvalidInputError, match="no queries to score"):
        multi_retrieval_metrics(np.zeros((0, 3)), [])
    with pytest.raises(InvalidInputError, match="no test vectors to score"):
        knn_accuracy(docs, ["a", "b", "c"], none, [])
    with pytest.raises(InvalidInputError, match="no pairs to score"):
        bitext_accuracy(none, none)
    # One query is scored as before.
    assert retrieval_metrics(docs[:1], [0])["NDCG@10"] == 1.0 == multi_retrieval_metrics(docs[:1], [[0]])["NDCG@10"]
    assert knn_accuracy(docs, ["a", "b", "c"], docs[1:2], ["b"]) == 1.0 == bitext_accuracy(docs, docs)


def test_a_task_field_misspelt_in_case_or_separator_is_refused(tmp_path):
    """``Name`` was read as a note and the task took the file's stem as its name; ``test-texts`` made a
    classification task 'need' a field the file holds. Other keys stay the file's own notes."""
    bitext = {"type": "bitext", "source": ["one", "two"], "target": ["un", "deux"]}
    for key, value, meant in (("Name", "bitext-fr", "name"), ("TYPE", "bitext", "type"), ("Source", ["a"], "source")):
        path = tmp_path / f"{key}.json"
        path.write_text(json.dumps({**bitext, key: value}), encoding="utf-8")
        with pytest.raises(InvalidInputError, match=rf"^{re.escape(str(path))}: '{key}' is not a task field; "
                                                    rf"did you mean '{meant}'\?"):
            load_task(path)
    classification = {"type": "classification", "train_texts": ["a", "b"], "train_labels": ["x", "y"],
                      "test_labels": ["x"], "test-texts": ["c"]}
    path = tmp_path / "classification.json"
    path.write_text(json.dumps(classification), encoding="utf-8")
    with pytest.raises(InvalidInputError, match="'test-texts' is not a task field; did you mean 'test_texts'"):
        load_task(path)
    notes = {**bitext, "lang": "fr", "licence": "CC0", "queries note": "none", "Corpus": "a note"}
    path.write_text(json.dumps(notes), encoding="utf-8")
    assert load_task(path) == {**notes, "name": "classification"}


def test_a_document_given_twice_ties_with_its_copy_in_every_metric():
    """A float32 matrix product rounded a copy's cosine by its column: 0.9999999 against 0.99999994 for the same
    vector, so the relevant copy ranked first (MRR 1.0, not 0.5) and bitext counted a tie as a hit."""
    from staticemb.evaluation import bitext_accuracy, retrieval_metrics

    for seed in range(50):
        docs = np.random.default_rng(seed).standard_normal((15, 64)).astype(np.float32)
        docs[14] = docs[0]
        scores = cosine_scores(docs, docs)
        np.testing.assert_array_equal(scores[:, 0], scores[:, 14])
        for query in (0, 14):
            for relevant in (0, 14):
                assert retrieval_metrics(scores[query : query + 1], [relevant])["MRR@10"] == 0.5
        assert bitext_accuracy(docs, docs) == 13 / 15
        labels = ["a"] * 7 + ["b"] * 7 + ["c"]
        assert knn_accuracy(docs, labels, docs[14:], ["c"], k=1) == 0.0  # its copy of label "a" ties, and wins
