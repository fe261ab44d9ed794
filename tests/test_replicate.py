"""training/replicate.py: the other documents' collections (disjoint, sized like the test split, none from the
test split, seeded) and the report."""

from __future__ import annotations

from staticemb.corpora import NewsArticle

from training import datasets as D
from training import replicate as R


def _sources(n: int = 400) -> D.Sources:
    return D.Sources(bbc=[NewsArticle("tech", f"{i:03}.txt", f"title {i}", f"body of article {i}") for i in range(n)])


def test_collections_are_disjoint_sized_and_outside_the_test_split():
    src = _sources()
    test = D.bbc_retrieval(src, "test")
    size = 30
    tasks = R.collections(src, "bbc", size, 4)
    assert len(tasks) == 4
    queries = [q for t in tasks for q in t["queries"]]
    corpus = [d for t in tasks for d in t["corpus"]]
    assert all(len(t["queries"]) == size for t in tasks)
    assert len(set(queries)) == len(queries) and len(set(corpus)) == len(corpus)
    assert not set(corpus) & set(test["corpus"])
    body = {a.title: a.body for a in src.bbc()}
    for t in tasks:  # each query's one relevant document is its own article's body
        assert all([t["corpus"][i] for i in r] == [body[q]] for q, r in zip(t["queries"], t["relevant"], strict=True))
    assert R.collections(src, "bbc", size, 4) == tasks  # seeded


def test_collections_never_more_than_the_splits_hold():
    src = _sources()
    others = sum(1 for a in src.bbc() if D.bbc_split(a.topic, a.name) != "test")
    assert len(R.collections(src, "bbc", 100, 1000)) == others // 100


def test_report():
    m = {"mean": -0.019, "low": -0.036, "high": -0.003, "p": 0.022, "wins": 32, "losses": 52, "n": 428}
    text = R.render([{"source": "bbc", "collection": "test split", "queries": 428, "index": 0.911, "bm25": 0.931,
                      "stats": m}], command="python -m training.replicate", seconds=600, resamples=10_000)
    assert "| bbc | test split | 428 | 91.1 | 93.1 | -1.9 | [-3.6, -0.3] | 0.022 | 32 / 52 |" in text
    assert "`python -m training.replicate` (10 min)" in text
