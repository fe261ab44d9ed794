"""training/search_languages.py: the task's pairs and the report (the scores are SearchIndex's, tested in
test_index.py)."""

from __future__ import annotations

from training import search_languages as S


def test_each_description_queries_its_own_summary_once(monkeypatch):
    from types import SimpleNamespace

    import staticemb.corpora as C

    pages = [SimpleNamespace(description=d, extract=e) for d, e in [
        ("planète naine", "Cérès est une planète naine."), ("", "no description"), ("no summary", " "),
        ("planète naine", "Éris est une autre planète naine."), ("astéroïde", "Cérès est une planète naine."),
        ("ville de France", "Paris est la capitale.")]]
    monkeypatch.setattr(C, "wikipedia_summaries", lambda lang: pages)
    queries, docs = S.task("fr")
    assert queries == ["planète naine", "ville de France"]
    assert docs == ["Cérès est une planète naine.", "Paris est la capitale."]


def test_report():
    rows = [{"language": "fr", "pairs": 8658, "plain": 0.398, "weights": 0.491, "passages": 0.542, "index": 0.649,
             "stem": 0.655, "fused": 0.702, "bm25": 0.668}]
    text = S.render(rows, command="python -m training.search_languages", seconds=120)
    assert "| fr | 8,658 | 39.8 | 49.1 | 54.2 | 64.9 | 65.5 | 70.2 | 66.8 |" in text and "no rule" in text
