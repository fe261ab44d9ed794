"""Evaluation tasks as plain JSON files, and one runner that scores any model on them.

A task file is a JSON object with a ``type``:

- ``retrieval``: ``queries`` (list of str), ``corpus`` (list of str), ``relevant`` (for each query, the list of
  relevant corpus indices). Scores NDCG@10, MRR@10, MAP@10, Recall@1, Recall@10.
- ``classification``: ``train_texts``, ``train_labels``, ``test_texts``, ``test_labels``. Scores the accuracy of a
  k-nearest-neighbour classifier (cosine, k = 5) on the frozen embeddings.
- ``bitext``: ``source`` and ``target``, aligned (``source[i]`` translates ``target[i]``). Scores bitext mining
  accuracy: how often the nearest target of a source is its translation.
- ``wordsim``: ``pairs``: ``[word1, word2, gold score]``. Scores Spearman's rho between cosine and gold.

Every task also has a ``name`` (by default the file's stem). Other keys are the file's own notes (a language, a
licence) and are not read, but one of the task's fields in other case or with ``-`` or a space for ``_``
(``Name``, ``test-texts``) is refused. :func:`evaluate` runs a static model at every Matryoshka width, a transformer
(any Sentence Transformers folder or Hub id) at its width, or BM25 (``"bm25"``, ``"bm25-stem"``: retrieval tasks only), so
baselines are scored on exactly the same splits. ``staticemb eval MODEL --tasks DIR`` is the command line.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import _inputs
from ._bm25 import BM25Index, snowball_stemmer
from ._paths import looks_like_local_path
from .errors import InvalidInputError, StaticembError
from .evaluation import (
    bitext_accuracy,
    cosine_scores,
    knn_accuracy,
    multi_retrieval_metrics,
    spearman,
)
from .search import unit_rows

TASK_TYPES = {
    "retrieval": ("queries", "corpus", "relevant"),
    "classification": ("train_texts", "train_labels", "test_texts", "test_labels"),
    "bitext": ("source", "target"),
    "wordsim": ("pairs",),
}
#: The headline metric of each task type.
MAIN_METRIC = {"retrieval": "NDCG@10", "classification": "accuracy", "bitext": "accuracy", "wordsim": "spearman"}
KNN_K = 5


def load_task(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check one task file: the fields its type needs, each of the right kind, aligned, and not empty
    (an empty task would be scored as 0 or NaN, not refused). Every problem is an
    :class:`~staticemb.errors.InvalidInputError` naming the file."""
    p = Path(path)
    task = _inputs.json_file(p, "task file")
    if not isinstance(task, dict) or not isinstance(task.get("type"), str) or task["type"] not in TASK_TYPES:
        raise InvalidInputError(f"{p}: a task needs a 'type' among {sorted(TASK_TYPES)}")
    _check_keys(p, task)
    missing = [k for k in TASK_TYPES[task["type"]] if k not in task]
    if missing:
        raise InvalidInputError(f"{p}: a {task['type']} task needs {missing}")
    task.setdefault("name", p.stem)
    if not isinstance(task["name"], str) or not task["name"]:
        raise InvalidInputError(f"{p}: 'name' must be a non-empty string")
    if _inputs.lone_surrogate(task["name"]) is not None:  # it names the results and their table, printed last
        raise InvalidInputError(f"{p}: 'name' {task['name']!r} is not valid Unicode text (a lone surrogate)")
    _CHECKS[task["type"]](p, task)
    return task


def _check_keys(p: Path, task: dict[str, Any]) -> None:
    """Refuse a key that is one of this task's fields in other case or with ``-`` or a space for ``_``
    (``Name``, ``test-texts``): the field meant by it would be missing, or, for ``name``, silently replaced by
    the file's stem."""
    own = {_fold(f): f for f in ("type", "name", *TASK_TYPES[task["type"]])}
    for key in task:
        field = own.get(_fold(key))
        if field is not None and key != field:
            raise InvalidInputError(f"{p}: {key!r} is not a task field; did you mean {field!r}?")


def _fold(key: str) -> str:
    return key.casefold().replace("-", "_").replace(" ", "_") if isinstance(key, str) else key


def _texts(p: Path, task: dict[str, Any], key: str) -> list:
    value = task[key]
    if not isinstance(value, list):
        raise InvalidInputError(f"{p}: '{key}' must be a list of texts, not {type(value).__name__}")
    for i, t in enumerate(value):
        if not isinstance(t, str):
            raise InvalidInputError(f"{p}: '{key}' must be a list of texts, but {key}[{i}] is {type(t).__name__}")
    _unicode(p, value, key)
    return value


def _unicode(p: Path, texts: list[str], key: str) -> None:
    """JSON's ``\\ud800`` escapes make strings that are no Unicode text (a lone surrogate); the encoder would
    refuse one mid-run without naming the file, so it is named here."""
    try:
        "".join(texts).encode("utf-8")
    except UnicodeEncodeError:
        i = next(i for i, t in enumerate(texts) if not _encodes(t))
        raise InvalidInputError(f"{p}: {key}[{i}] is not valid Unicode text (it holds a lone surrogate code "
                                "point, from a \\ud800-style escape)") from None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _labels(p: Path, task: dict[str, Any], key: str) -> list:
    value = task[key]
    if not isinstance(value, list):
        raise InvalidInputError(f"{p}: '{key}' must be a list of labels (strings or integers), not "
                                f"{type(value).__name__}")
    for i, v in enumerate(value):
        if not isinstance(v, (str, int)) or isinstance(v, bool):
            raise InvalidInputError(f"{p}: '{key}' must be a list of labels (strings or integers), but {key}[{i}] "
                                    f"is {_short(v)}")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _empty(p: Path, kind: str, what: str) -> InvalidInputError:
    return InvalidInputError(f"{p}: the {kind} task is empty ({what}); an empty task cannot be scored")


def _check_retrieval(p: Path, task: dict[str, Any]) -> None:
    queries, corpus, relevant = _texts(p, task, "queries"), _texts(p, task, "corpus"), task["relevant"]
    if not isinstance(relevant, list) or len(relevant) != len(queries):
        got = f"{len(relevant)} lists" if isinstance(relevant, list) else type(relevant).__name__
        raise InvalidInputError(f"{p}: 'relevant' must hold one list per query: {len(queries)} queries, got {got}")
    if not queries or not corpus:
        raise _empty(p, "retrieval", "no queries" if not queries else "no corpus documents")
    n = len(corpus)
    for i, rel in enumerate(relevant):
        if not isinstance(rel, list) or not rel:
            what = "an empty list" if isinstance(rel, list) else f"{_short(rel)}, not a list"
            raise InvalidInputError(f"{p}: every query needs relevant indices into the corpus; relevant[{i}] is "
                                    f"{what}")
        for j in rel:
            if not isinstance(j, int) or isinstance(j, bool) or not 0 <= j < n:
                raise InvalidInputError(f"{p}: every query needs relevant indices into the corpus; relevant[{i}] "
                                        f"holds {_short(j)}, not an index of the {n} corpus documents (0 to {n - 1})")


def _check_classification(p: Path, task: dict[str, Any]) -> None:
    train, test = _texts(p, task, "train_texts"), _texts(p, task, "test_texts")
    for texts, key in ((train, "train_labels"), (test, "test_labels")):
        if len(texts) != len(_labels(p, task, key)):
            raise InvalidInputError(f"{p}: one label per text: {len(texts)} {key[:-7]}_texts, "
                                    f"{len(task[key])} {key}")
    if not train or not test:
        raise _empty(p, "classification", "no training texts" if not train else "no test texts")
    kinds = {type(v).__name__ for v in (*task["train_labels"], *task["test_labels"])}
    if len(kinds) > 1:  # 1 and "1" would never match (or, once NumPy turns a mix into strings, would)
        raise InvalidInputError(f"{p}: labels must be all strings or all integers, got a mix of {sorted(kinds)}")


def _check_bitext(p: Path, task: dict[str, Any]) -> None:
    source, target = _texts(p, task, "source"), _texts(p, task, "target")
    if len(source) != len(target):
        raise InvalidInputError(f"{p}: source and target must be aligned: {len(source)} source and "
                                f"{len(target)} target texts")
    if not task["source"]:
        raise _empty(p, "bitext", "no sentence pairs")


def _check_wordsim(p: Path, task: dict[str, Any]) -> None:
    pairs = task["pairs"]
    if not isinstance(pairs, list):
        raise InvalidInputError(f"{p}: 'pairs' must be a list of [word1, word2, score]")
    for n, pair in enumerate(pairs):
        if not (isinstance(pair, list) and len(pair) == 3 and isinstance(pair[0], str) and isinstance(pair[1], str)
                and _finite_number(pair[2])):
            raise InvalidInputError(f"{p}: pair {n} is not [word1, word2, score]: {_short(pair)}")
        if not (_encodes(pair[0]) and _encodes(pair[1])):
            raise InvalidInputError(f"{p}: pair {n} holds a word that is not valid Unicode text (a lone surrogate "
                                    "code point, from a \\ud800-style escape)")
    if not pairs:
        raise _empty(p, "wordsim", "no pairs")
    if len(pairs) < 2:
        raise InvalidInputError(f"{p}: a wordsim task needs at least 2 pairs for a rank correlation")
    if len({float(pair[2]) for pair in pairs}) == 1:
        raise InvalidInputError(f"{p}: every pair has the gold score {pairs[0][2]!r}: a rank correlation needs "
                                "scores that differ")


def _finite_number(x: Any) -> bool:
    """An int or float (not a bool) with a finite float value (an int too large for a float is not)."""
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return False
    try:
        return math.isfinite(float(x))
    except OverflowError:
        return False


_CHECKS: dict[str, Callable[[Path, dict[str, Any]], None]] = {
    "retrieval": _check_retrieval,
    "classification": _check_classification,
    "bitext": _check_bitext,
    "wordsim": _check_wordsim,
}


def check_distinct_names(files: Sequence[str | os.PathLike], tasks: Sequence[dict[str, Any]]) -> None:
    """Refuse two tasks of one name: their results (and a training run's metrics) would overwrite each other."""
    seen: dict[str, str | os.PathLike] = {}
    for f, t in zip(files, tasks, strict=True):
        if t["name"] in seen:
            raise InvalidInputError(f"two tasks are named {t['name']!r}: {seen[t['name']]} and {f}; give one a "
                                    "'name' of its own")
        seen[t["name"]] = f


def load_tasks(paths: Sequence[str | os.PathLike], only: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Tasks from files and folders (every ``*.json`` in a folder, sorted), optionally only those named. Two
    tasks with the same name are refused (their results would overwrite each other)."""
    files: list[Path] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            files.extend(sorted(p.glob("*.json")))
        else:
            files.append(p)
    tasks = [load_task(f) for f in files]
    check_distinct_names(files, tasks)
    if only:
        wanted = set(only)
        unmatched = sorted(w for w in wanted if not any(w in (t["name"], t["type"]) for t in tasks))
        if unmatched:
            raise InvalidInputError(f"no task or task type is named {', '.join(map(repr, unmatched))} in "
                                    f"{[str(p) for p in paths]}")
        tasks = [t for t in tasks if t["name"] in wanted or t["type"] in wanted]
    if not tasks:
        raise InvalidInputError(f"no tasks found in {[str(p) for p in paths]}" + (f" named {list(only)}" if only else ""))
    return tasks


def check_widths(dims: Sequence[int]) -> list[int]:
    """Matryoshka widths to score: a non-empty list of positive integers, returned sorted without repeats."""
    if isinstance(dims, (str, bytes)) or not isinstance(dims, Sequence) or not dims:
        raise InvalidInputError(f"widths must be a non-empty list of positive integers, not {dims!r}")
    for d in dims:
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool) or d <= 0:
            raise InvalidInputError(f"widths must be positive integers, got {list(dims)}")
    return sorted({int(d) for d in dims})


# ------------------------------------------------------------------------------------------------ models


class Encoder:
    """What :func:`evaluate` needs from a model: a name, a kind, its widths and ``encode`` (one row per text, at
    least as wide as its widest width).

    Retrieval encodes queries with ``encode_query`` and the corpus with ``encode_document`` (by default
    ``encode``), as Sentence Transformers' retrieval evaluator does, so a model's query and document prompts
    (or routes) count. A subclass of :class:`StaticEncoder` or :class:`TransformerEncoder` that replaces
    ``encode`` alone (its own pooling, say) is used for queries and documents as well."""

    name: str
    kind: str
    dims: list[int]

    def encode(self, texts: Sequence[str]) -> np.ndarray:  # full width, float32
        raise NotImplementedError

    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)

    def encode_document(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)


class _ModelEncoder(Encoder):
    """An encoder around a model with ``encode``, ``encode_query`` and ``encode_document`` methods of its own."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self._model_encode(texts, "encode")

    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        return self._by_role(texts, "encode_query")

    def encode_document(self, texts: Sequence[str]) -> np.ndarray:
        return self._by_role(texts, "encode_document")

    def _by_role(self, texts: Sequence[str], how: str) -> np.ndarray:
        """``texts`` through the model's ``how`` (``"encode_query"``, ``"encode_document"``), unless a subclass
        replaced ``encode``: then through that."""
        if type(self).encode is not _ModelEncoder.encode:
            return self.encode(texts)
        return self._model_encode(texts, how)

    def _model_encode(self, texts: Sequence[str], how: str) -> np.ndarray:
        raise NotImplementedError


class StaticEncoder(_ModelEncoder):
    kind = "static"

    def __init__(self, model, name: str, dims: Sequence[int] | None = None) -> None:
        self.model = model
        self.name = name
        full = model.full_dim
        widths = _matryoshka_widths(full) if dims is None else check_widths(dims)
        past = [d for d in widths if d > full]
        if past:  # as encode(dim=...) refuses it; scoring dropped them and showed the full width in their place
            raise InvalidInputError(f"dims {','.join(map(str, past))}: {name} is a {full}-d model; a width must be "
                                    f"between 1 and its table width {full}")
        self.dims = widths

    def _model_encode(self, texts, how):
        return getattr(self.model, how)(list(texts), normalize=False, dim=self.model.full_dim)


class TransformerEncoder(_ModelEncoder):
    kind = "transformer"

    def __init__(self, path: str, name: str, batch_size: int = 64, device: str | None = None) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(path), device=device)
        self.name = name
        self.dims = [int(self.model.get_embedding_dimension())]
        self.batch_size = batch_size

    def _model_encode(self, texts, how):
        return getattr(self.model, how)(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                        show_progress_bar=len(texts) > 2000).astype(np.float32)


class BM25Scorer(Encoder):
    """Okapi BM25 (the ``bm25s`` package, English stop words removed): a lexical baseline for retrieval. With
    ``stem``, every token is reduced by the Snowball English stemmer (``PyStemmer``) first, as strong lexical
    baselines do (``"bm25-stem"``)."""

    kind = "bm25"

    def __init__(self, name: str | None = None, *, stem: bool = False) -> None:
        import bm25s  # noqa: F401 - fail early with a clear ImportError

        self.stem = stem
        if stem:
            snowball_stemmer("english", "stem")  # fail early too
        self.name = name or ("BM25 (stemmed)" if stem else "BM25")
        self.dims = [0]

    def scores(self, queries: Sequence[str], corpus: Sequence[str]) -> np.ndarray:
        return BM25Index(corpus, stemmer="english" if self.stem else None, stopwords="english",
                         option="stem").scores(queries)

    def encode(self, texts):
        raise InvalidInputError("BM25 scores query-document pairs; it has no embeddings")

    encode_query = encode_document = encode


def _matryoshka_widths(full: int) -> list[int]:
    widths = [w for w in (32, 64, 128, 256, 512, 1024) if w < full]
    return widths + [full]


def open_model(spec: str, *, name: str | None = None, dims: Sequence[int] | None = None,
               device: str | None = None) -> Encoder:
    """``"bm25"``, a static model (any folder or Hub id :meth:`StaticModel.from_pretrained` reads), or else a
    Sentence Transformers model. A folder that is a static model but does not load (a corrupt or missing file)
    raises the static loader's error; it is not retried as a transformer."""
    if spec.lower() in ("bm25", "bm25-stem"):
        return BM25Scorer(name, stem=spec.lower() == "bm25-stem")
    from .model import StaticModel

    label = name or Path(spec).name or spec
    try:
        model = StaticModel.from_pretrained(spec, normalize=False)
    except (StaticembError, OSError, ValueError):
        if not _may_be_transformer(spec):
            raise
        return TransformerEncoder(spec, label, device=device)
    return StaticEncoder(model, label, dims)


def _may_be_transformer(spec: str) -> bool:
    """Whether a ``spec`` that staticemb could not load as a static model may still be a Sentence Transformers
    model: a folder whose ``modules.json`` starts with another module than ``StaticEmbedding`` (or, without
    one, a Hugging Face transformer's ``config.json``), or a Hub id."""
    p = Path(spec).expanduser()
    if not p.exists():
        return not looks_like_local_path(spec)
    if not p.is_dir():
        return False
    try:
        if (p / "modules.json").is_file():
            first = json.loads((p / "modules.json").read_text(encoding="utf-8"))[0]
            return not str(first.get("type", "")).endswith("StaticEmbedding")
        config = json.loads((p / "config.json").read_text(encoding="utf-8"))
        return config.get("model_type") not in (None, "model2vec")
    except (OSError, ValueError, LookupError, TypeError, AttributeError):
        return False  # unreadable: the static loader's error says what is wrong


# ------------------------------------------------------------------------------------------------ runner


def evaluate(encoder: Encoder, tasks: Sequence[dict[str, Any]], *, speed_texts: Sequence[str] | None = None,
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Score ``encoder`` on every task at every width it offers.

    Returns ``{"model", "kind", "dims", "tasks": {name: {"type", "size", "scores": {dim: {metric: value}}}},
    "speed": {"texts", "seconds", "texts_per_s"}}``; widths are strings (JSON keys). BM25 skips every task but
    retrieval. ``speed_texts`` are encoded once more, timed, for the speed figure. A model that gives a NaN or
    infinite vector, or too few or too narrow rows, is refused with the task and text named; a zero vector (an
    empty text) is scored, and loses every tie (see :mod:`staticemb.evaluation`).
    """
    out: dict[str, Any] = {"model": encoder.name, "kind": encoder.kind, "dims": encoder.dims, "tasks": {}}
    for task in tasks:
        if encoder.kind == "bm25" and task["type"] != "retrieval":
            continue
        if progress:
            progress(f"{encoder.name}: {task['name']}")
        t0 = time.perf_counter()
        scores = _score_task(encoder, task)
        out["tasks"][task["name"]] = {"type": task["type"], "size": _size(task), "scores": scores,
                                      "seconds": round(time.perf_counter() - t0, 3)}
    if speed_texts and encoder.kind != "bm25":
        texts = list(speed_texts)
        encoder.encode(texts[: min(64, len(texts))])  # warm up
        t0 = time.perf_counter()
        encoder.encode(texts)
        dt = time.perf_counter() - t0
        out["speed"] = {"texts": len(texts), "seconds": dt, "texts_per_s": len(texts) / dt}
    return out


def _size(task: dict[str, Any]) -> int:
    return len(task.get("queries") or task.get("test_texts") or task.get("source") or task.get("pairs") or [])


def _vectors(encoder: Encoder, task: dict[str, Any], what: str, texts: Sequence[str],
             how: str = "encode") -> np.ndarray:
    """``encoder``'s vectors of a task's texts (``what`` names them), checked: one finite row per text, as wide
    as the widest width. A NaN or infinite vector is refused rather than scored: no rule for ranking NaN gives
    a score that says anything about the model, and a wrong shape would be sliced into a wrong score."""
    v = np.asarray(getattr(encoder, how)(texts), dtype=np.float32)
    need = max(encoder.dims)
    if v.ndim != 2 or v.shape[0] != len(texts) or v.shape[1] < need:
        raise InvalidInputError(f"{encoder.name} gave vectors of shape {v.shape} for the {len(texts)} {what} of "
                                f"task {task['name']!r}; need one row per text, at least {need} wide")
    bad = np.flatnonzero(~np.isfinite(v).all(axis=1))
    if len(bad):
        i = int(bad[0])
        raise InvalidInputError(f"{encoder.name} gave {len(bad)} of the {len(texts)} {what} of task "
                                f"{task['name']!r} a vector holding NaN or infinity (the first: {what}[{i}], "
                                f"{_short(texts[i])}); a score computed from it would be meaningless")
    return v


def _score_task(encoder: Encoder, task: dict[str, Any]) -> dict[str, dict[str, float]]:
    kind = task["type"]
    if isinstance(encoder, BM25Scorer):
        s = encoder.scores(task["queries"], task["corpus"])
        return {"0": multi_retrieval_metrics(s, task["relevant"])}
    if kind == "retrieval":
        q = _vectors(encoder, task, "queries", task["queries"], "encode_query")
        d = _vectors(encoder, task, "corpus", task["corpus"], "encode_document")
        return {str(w): multi_retrieval_metrics(cosine_scores(q[:, :w], d[:, :w]), task["relevant"])
                for w in encoder.dims}
    if kind == "classification":
        a = _vectors(encoder, task, "train_texts", task["train_texts"])
        b = _vectors(encoder, task, "test_texts", task["test_texts"])
        return {str(w): {"accuracy": knn_accuracy(a[:, :w], task["train_labels"], b[:, :w], task["test_labels"],
                                                  k=KNN_K)} for w in encoder.dims}
    if kind == "bitext":
        a, b = _vectors(encoder, task, "source", task["source"]), _vectors(encoder, task, "target", task["target"])
        return {str(w): {"accuracy": bitext_accuracy(a[:, :w], b[:, :w])} for w in encoder.dims}
    pairs = task["pairs"]
    words = sorted({p[0] for p in pairs} | {p[1] for p in pairs})
    index = {w: i for i, w in enumerate(words)}
    e = _vectors(encoder, task, "words", words)
    gold = [float(p[2]) for p in pairs]
    result = {}
    for w in encoder.dims:
        v = unit_rows(e[:, :w])  # a zero vector (a word the model does not know) has cosine 0 with every word
        cos = np.array([float(v[index[p[0]]] @ v[index[p[1]]]) for p in pairs])
        result[str(w)] = {"spearman": spearman(cos, gold)}
    return result


def main_score(result: dict[str, Any], task: str, dim: str | int | None = None) -> float | None:
    """The headline metric of one task in an :func:`evaluate` result, at ``dim`` (default: the widest)."""
    entry = result["tasks"].get(task)
    if entry is None:
        return None
    scores = entry["scores"]
    key = str(dim) if dim is not None else max(scores, key=int)
    if key not in scores:
        return None
    return scores[key][MAIN_METRIC[entry["type"]]]


def percent(value: float | None) -> str:
    """A score as a table cell: percent with one decimal, ``—`` when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{100 * value:.1f}"


def markdown_table(results: Sequence[dict[str, Any]], dims: Sequence[int] | None = None, *,
                   tasks: Sequence[str] | None = None, mean: bool = False, widest_only: bool = False) -> str:
    """One row per model and width, one column per task (its headline metric, in %).

    ``tasks`` picks and orders the columns (default: every task, in order of appearance); models with none of
    them are left out. ``mean`` adds the mean over the columns (``—`` unless the model ran every one).
    ``dims`` limits the widths shown for static models; ``widest_only`` shows each model's widest only."""
    wanted = tasks if tasks is not None else list(dict.fromkeys(n for r in results for n in r["tasks"]))
    names = [t for t in wanted if any(t in r["tasks"] for r in results)]
    header = ["model", "dim", *map(_cell, names)] + (["mean"] if mean else [])
    lines = ["| " + " | ".join(header) + " |", "|---|---:|" + "---:|" * (len(header) - 2)]
    for r in results:
        if not any(t in r["tasks"] for t in names):
            continue
        if widest_only:
            widths = [max(r["dims"])]
        else:
            widths = [d for d in r["dims"] if dims is None or r["kind"] != "static" or d in dims] or r["dims"][-1:]
        for w in widths:
            values = [main_score(r, t, w) for t in names]
            row = [_cell(r["model"]), "—" if w == 0 else str(w), *map(percent, values)]
            if mean:
                known = [v for v in values if v is not None]
                row.append(percent(sum(known) / len(known) if len(known) == len(values) else None))
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _cell(text: str) -> str:
    """A name as one table cell: a ``|`` would end the cell, a line break the row."""
    return " ".join(str(text).split()).replace("|", "\\|")
