"""training/unknown_terms.py: the old rule it measures against (the unknown token matched as a term) differs from
the index only where a query or a document pools the unknown token, the [UNK] counts, and the report."""

from __future__ import annotations

import numpy as np
from staticemb import SearchIndex, StaticModel

from training import unknown_terms as U


def test_the_old_rule_differs_only_where_the_unknown_token_is(bert_tokenizer, table):
    model = StaticModel(bert_tokenizer, table)
    docs = ["\u2603 a snowman in winter", "a cat sat on the mat", "\U0001F980 the crab of rust", "plain words"]
    queries = ["\u732b", "crab", "cat mat", "winter \u2603"]
    now = SearchIndex(model, docs).scores(queries)
    before = U.MatchesUnknown(model, docs).scores(queries)
    # Queries and documents without [UNK] score alike (a document's [UNK] could be a query token's closest match).
    np.testing.assert_array_equal(now[1:3][:, [1, 3]], before[1:3][:, [1, 3]])
    # The old rule: the query's [UNK] matched the documents' exactly.
    assert (before[0, [0, 2]] > now[0, [0, 2]] + 0.3).all()
    assert U.holding_unknown(model, queries) == 2 and U.holding_unknown(model, docs) == 2


def test_report():
    m = {"now": 0.403, "before": 0.4029, "changed": 1, "largest": 0.069}
    row = {"source": "rustdoc", "queries": 875, "documents": 943, "unknown_queries": 6, "unknown_documents": 37,
           "lead": {1024: m, 256: m}, "fold": {1024: m, 256: m}}
    text = U.render([row], command="python -m training.unknown_terms", seconds=60)
    assert "| rustdoc | 875 (6) | 943 (37) | lead | 1024 | 40.30 | 40.29 | +0.010 | 1 | 6.9 |" in text
    assert text.count("| rustdoc |") == 4
