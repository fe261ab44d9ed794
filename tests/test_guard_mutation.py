"""Issue 8, point 4: a list that changes length during ``encode`` never yields rows that were not computed.

``encode`` must work on a snapshot of the texts taken when it is called: the result has one row per text of
that snapshot, and every row is exactly the vector of that text (``encode([text])``). Whatever the list does
afterwards (another thread pops or appends, a ``list`` subclass mutates itself when sliced or measured) cannot
leave rows of uninitialised memory (``np.empty``) or rows of other texts in the result.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from _hostile import tiny_model

N = 300
DIM = 16


@pytest.fixture(scope="module")
def model():
    return tiny_model(dim=DIM, seed=5)


def make_texts(n: int, tag: str = "t") -> list[str]:
    words = [
        "hello",
        "world",
        "static",
        "fast",
        "model",
        "text",
        "token",
        "data",
        "fox",
        "dog",
        "cafe",
        "save",
    ]
    # Every text is non-empty and distinct, so no row can be right by chance (an empty text is the zero vector).
    return [f"{tag}{i} {words[i % 12]} {words[(i * 7) % 12]} {'x' * (i % 5)}{i}" for i in range(n)]


@pytest.fixture(scope="module")
def singles(model):
    """text -> its vector, computed one text at a time."""
    cache: dict[str, np.ndarray] = {}

    def get(text: str) -> np.ndarray:
        if text not in cache:
            cache[text] = model.encode([text])[0]
        return cache[text]

    return get


def assert_rows_are(out: np.ndarray, universe: list[str], singles, *, rows: int | range):
    """``out`` is the encoding of ``universe[:m]`` with m == rows (or m in rows)."""
    m = out.shape[0]
    assert out.shape[1] == DIM
    if isinstance(rows, int):
        assert m == rows, f"{m} rows, expected {rows} (the length of the list when encode was called)"
    else:
        assert m in rows, f"{m} rows, expected between {rows.start} and {rows.stop - 1}"
    bad = [i for i in range(m) if not np.array_equal(out[i], singles(universe[i]))]
    assert not bad, (
        f"{len(bad)} of {m} rows are not the vector of their text (uncomputed or shifted rows), first at "
        f"{bad[:5]}: {out[bad[0]][:4]} != {singles(universe[bad[0]])[:4]}"
    )


class ShrinksWhenSliced(list):
    """Drops its second half the first time it is sliced (after returning the slice)."""

    def __getitem__(self, key):
        result = super().__getitem__(key)
        if isinstance(key, slice) and not getattr(self, "_done", False):
            self._done = True
            del self[len(self) // 2 :]
        return result


class GrowsWhenSliced(list):
    """Inserts texts at the front each time it is sliced, shifting every later text."""

    def __getitem__(self, key):
        result = super().__getitem__(key)
        if isinstance(key, slice):
            for _ in range(3):
                self.insert(0, "inserted text that was never there")
        return result


class EmptiesWhenSliced(list):
    def __getitem__(self, key):
        result = super().__getitem__(key)
        if isinstance(key, slice):
            self.clear()
        return result


class ShrinksWhenMeasured(list):
    """Every len() after the first drops the last text."""

    def __len__(self):
        n = super().__len__()
        if getattr(self, "_measured", False) and n:
            self.pop()
        self._measured = True
        return super().__len__()


class ShrinksWhileIterated(list):
    def __iter__(self):
        for i, item in enumerate(list.__iter__(self.copy())):
            if i == 5:
                del self[N // 2 :]
            yield item


@pytest.mark.parametrize("batch_size", [1, 7, 64])
@pytest.mark.parametrize("kind", [ShrinksWhenSliced, GrowsWhenSliced, EmptiesWhenSliced])
def test_list_that_changes_when_sliced(model, singles, kind, batch_size):
    texts = make_texts(N)
    items = kind(texts)
    out = model.encode(items, batch_size=batch_size)
    assert_rows_are(out, texts, singles, rows=N)


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_list_that_shrinks_when_measured(model, singles, batch_size):
    texts = make_texts(N)
    out = model.encode(ShrinksWhenMeasured(texts), batch_size=batch_size)
    # The snapshot is taken after one or two len() calls at most; its rows are all computed.
    assert_rows_are(out, texts, singles, rows=range(N - 2, N + 1))


@pytest.mark.parametrize("batch_size", [1, 64])
def test_list_that_shrinks_while_iterated(model, singles, batch_size):
    texts = make_texts(N)
    out = model.encode(ShrinksWhileIterated(texts), batch_size=batch_size)
    assert_rows_are(out, texts, singles, rows=range(0, N + 1))


@pytest.mark.parametrize("progress", [False, True])
def test_slicing_mutation_with_the_progress_bar(model, singles, progress):
    texts = make_texts(N)
    out = model.encode(ShrinksWhenSliced(texts), batch_size=10, show_progress_bar=progress)
    assert_rows_are(out, texts, singles, rows=N)


def _race(model, texts: list[str], mutate, *, batch_size: int, rounds: int = 1):
    """Encode ``texts`` while a second thread runs ``mutate(texts, stop)``; returns the output."""
    stop = threading.Event()
    started = threading.Event()

    def worker():
        started.set()
        mutate(texts, stop)

    t = threading.Thread(target=worker, daemon=True)
    t.start()
    started.wait()
    try:
        return model.encode(texts, batch_size=batch_size, num_threads=1)
    finally:
        stop.set()
        t.join()


def _popper(texts, stop):
    while not stop.is_set() and texts:
        try:
            texts.pop()
        except IndexError:
            break
        time.sleep(0)


@pytest.mark.parametrize("batch_size", [1, 3, 16])
def test_another_thread_pops_while_encoding(model, singles, batch_size):
    for _ in range(3):
        texts = make_texts(2_000)
        original = list(texts)
        out = _race(model, texts, _popper, batch_size=batch_size)
        assert_rows_are(out, original, singles, rows=range(0, len(original) + 1))


@pytest.mark.parametrize("batch_size", [1, 16])
def test_another_thread_appends_while_encoding(model, singles, batch_size):
    extra = make_texts(5_000, tag="extra")
    texts = make_texts(1_000)
    universe = texts + extra

    def appender(lst, stop):
        for e in extra:
            if stop.is_set():
                break
            lst.append(e)
            time.sleep(0)

    out = _race(model, texts, appender, batch_size=batch_size)
    assert_rows_are(out, universe, singles, rows=range(1_000, len(universe) + 1))


def test_another_thread_clears_while_encoding(model, singles):
    texts = make_texts(2_000)
    original = list(texts)

    def clearer(lst, stop):
        time.sleep(0.001)
        lst.clear()

    out = _race(model, texts, clearer, batch_size=2)
    assert_rows_are(out, original, singles, rows=range(0, len(original) + 1))
