"""training/search_readmes.py: the pairs' filter, the installed distributions' READMEs, and the report."""

from __future__ import annotations

from training import search_readmes as R


def test_pairs_keep_long_enough_distinct_ones():
    long = " ".join(["word"] * 40)
    queries, docs = R._pairs([("A fast   hash function", long + " one"), ("too short", long + " two"),
                              ("A fast hash function", long + " three"), ("Parses TOML files", "short readme"),
                              ("Parses TOML files quickly", long + " one"), ("Reads and writes CSV", long + " four")])
    assert queries == ["A fast hash function", "Reads and writes CSV"]
    assert docs == [long + " one", long + " four"]


def test_installed_distributions_give_summary_readme_pairs():
    queries, docs = R.python_readmes()
    assert len(queries) == len(docs) > 0  # pytest, numpy... are installed with READMEs
    assert all(len(q.split()) >= R.MIN_SUMMARY_WORDS and len(d.split()) >= R.MIN_README_WORDS
               for q, d in zip(queries, docs, strict=True))
    assert len(set(queries)) == len(queries)


def test_report():
    row = {"task": "python", "pairs": 194, "plain": 0.774, "weights": 0.828, "passages": 0.878, "index": 0.904,
           "tf": 0.912, "stem": 0.907, "fused": 0.921, "bm25": 0.885,
           "vs bm25": {"mean": 0.019, "low": -0.01, "high": 0.049},
           "fused vs bm25": {"mean": 0.036, "low": 0.01, "high": 0.062}}
    text = R.render([row], command="python -m training.search_readmes", seconds=50)
    assert ("| python | 194 | 77.4 | 82.8 | 87.8 | 90.4 | 91.2 | 90.7 | 92.1 | 88.5 | — | +1.9 [-1.0, +4.9] | "
            "+3.6 [+1.0, +6.2] |") in text
