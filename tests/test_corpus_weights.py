"""training/corpus_weights.py: SIF weights counted on the searched corpus, the report and the rule."""

from __future__ import annotations

import pytest
from staticemb import InvalidInputError

from training import corpus_weights as C


def _row(source, none, corpus, corpus_256=None, model="loso/x"):
    corpus_256 = corpus if corpus_256 is None else corpus_256
    row = {"model": model, "source": source, "stem": 0.8, "minilm": 0.85}
    for dim, shift in (("1024", 0.0), ("256", -0.01)):
        row[f"none {dim}"] = none + shift
        row[f"train 0.001 {dim}"] = none + 0.005 + shift
        row[f"corpus 0.001 {dim}"] = (corpus if dim == "1024" else corpus_256) + shift
        row[f"train 0.0001 {dim}"] = none + shift
        row[f"corpus 0.0001 {dim}"] = none - 0.01 + shift
    return row


def test_report_and_rule(monkeypatch):
    monkeypatch.setattr(C, "hardware", lambda: "a test machine")
    folds = [_row("debian", 0.70, 0.73), _row("pydoc", 0.46, 0.474)]
    text = C.render([_row("bbc", 0.7, 0.72, model=C.UNTRAINED)], folds, C.A_GRID, command="c", seconds=120)
    assert "| debian | 1024 | 70.0 | 70.5 (+0.5) | 73.0 (+3.0) | 70.0 (+0.0) | 69.0 (-1.0) | 80.0 | 85.0 |" in text
    assert "| debian | 256 | 69.0 | 69.5 (+0.5) | 72.0 (+3.0) |" in text
    assert "| **mean of 2** | 1024 | 58.0 | 58.5 (+0.5) | 60.2 (+2.2) |" in text
    assert "The untrained MiniLM distillation" in text and "| bbc | 1024 | 70.0 |" in text
    assert "**adopted**: at a=0.001, mean +2.2 at 1024-d and +2.2 at 256-d; smallest change at 1024-d +1.4 (pydoc)" \
        in text
    # A fold down by more than a point, a mean gain within a point, or none at 256-d: not adopted.
    assert C.decide([_row("debian", 0.70, 0.76), _row("pydoc", 0.46, 0.445)])[0] is False
    assert C.decide([_row("debian", 0.70, 0.705), _row("pydoc", 0.46, 0.465)])[0] is False
    assert C.decide([_row("debian", 0.70, 0.73, 0.70), _row("pydoc", 0.46, 0.49, 0.46)])[0] is False
    assert C.decide([]) == (False, "no held-out source was scored")
    assert "**not adopted**" in C.render([], [_row("debian", 0.70, 0.70)], C.A_GRID, command="c", seconds=1)


# ---------------------------------------------------------------- StaticModel.with_corpus_weights

KEYS = ["python", "rust", "vector", "embedding", "table", "token", "lunch", "file", "copy", "word", "case", "mode",
        "library", "model", "reader", "order"]
FILLERS = ["with", "this", "before", "after", "again"]


def _random_model(tokenizer_path, width=64, seed=3):
    import numpy as np
    from staticemb import StaticModel
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    table = np.random.default_rng(seed).normal(size=(tokenizer.get_vocab_size(), width)).astype(np.float32)
    return StaticModel(tokenizer, table, normalize=True)


def _docs(seed=5):
    import numpy as np

    rng = np.random.default_rng(seed)
    docs = []
    for key in KEYS:
        words = [key] + [f for f in FILLERS for _ in range(rng.integers(0, 7))]
        docs.append(" ".join(rng.permutation(words)))
    return docs


def test_corpus_weights_find_the_documents_that_the_corpus_filler_hides(tiny_tokenizer_path):
    """Every document is one key word among many filler words that the corpus repeats: unweighted, the
    fillers' rows drown the key; weighted by their rarity in the corpus, each key finds its document."""
    import numpy as np

    model, docs = _random_model(tiny_tokenizer_path), _docs()

    def top1(m):
        return float(np.mean(np.argmax(m.encode(KEYS) @ m.encode(docs).T, axis=1) == np.arange(len(KEYS))))

    weighted = model.with_corpus_weights(docs)
    assert top1(model) < 0.7 and top1(weighted) == 1.0
    # The fillers, frequent in this corpus, now weigh far less than the keys it uses once.
    ids = {w: model.tokenize([w])[0][0] for w in KEYS + FILLERS}
    w = weighted.__getstate__()["weights"]
    assert max(w[ids[f]] for f in FILLERS) < 0.1 * min(w[ids[k]] for k in KEYS)
    # A token the corpus never uses keeps weight 1; the original model is unchanged.
    assert w[model.tokenize(["lunch"])[0][0]] < 1 and w[model.tokenize(["benchmark"])[0][0]] == 1.0
    assert model.__getstate__()["weights"] is None


def test_corpus_weights_scale_rows_and_share_the_table(tiny_tokenizer_path, tmp_path):
    import numpy as np
    from staticemb import StaticModel
    from staticemb.train.weighting import sif_weights, token_counts

    model, docs = _random_model(tiny_tokenizer_path), _docs()
    weighted = model.with_corpus_weights(docs, a=1e-2)
    sif = sif_weights(token_counts(model, docs, vocab_size=model.vocab_size), 1e-2)
    folded = StaticModel(model.tokenizer, model.embeddings * sif[:, None], normalize=True)
    texts = docs + KEYS + ["", "a text with words the corpus never used: benchmark library"]
    np.testing.assert_allclose(weighted.encode(texts), folded.encode(texts), atol=1e-6)
    assert np.shares_memory(weighted.embeddings, model.embeddings)  # one float32 per token id, not a table
    # Saved as a Sentence Transformers folder, the weights are folded into the table and load back.
    weighted.save(tmp_path / "m")
    np.testing.assert_allclose(StaticModel.from_pretrained(tmp_path / "m").encode(texts), weighted.encode(texts),
                               atol=1e-6)


def test_corpus_weights_multiply_a_model2vec_models_own_weights(tiny_tokenizer_path):
    import numpy as np
    from staticemb import StaticModel

    base = _random_model(tiny_tokenizer_path)
    own = np.random.default_rng(9).uniform(0.5, 2.0, base.vocab_size + 3).astype(np.float32)
    model = StaticModel(base.tokenizer, base.embeddings, weights=own)
    docs = _docs()
    combined = model.with_corpus_weights(docs).__getstate__()["weights"]
    alone = base.with_corpus_weights(docs).__getstate__()["weights"]
    np.testing.assert_allclose(combined[:base.vocab_size], own[:base.vocab_size] * alone, rtol=1e-6)
    np.testing.assert_array_equal(combined[base.vocab_size:], own[base.vocab_size:])


@pytest.mark.parametrize(("corpus", "a", "error", "match"), [
    (["some text"], 0, InvalidInputError, "SIF coefficient must be a positive finite number"),
    (["some text"], -1e-3, InvalidInputError, "SIF coefficient"),
    (["some text"], float("nan"), InvalidInputError, "SIF coefficient"),
    (["some text"], True, InvalidInputError, "SIF coefficient"),
    (["some text"], "1e-3", InvalidInputError, "SIF coefficient"),
    ([], 1e-3, InvalidInputError, "corpus is empty"),
    (None, 1e-3, TypeError, "not None"),
    ("one text", 1e-3, TypeError, "not a single str"),
    (["text", None], 1e-3, TypeError, "str"),
])
def test_corpus_weights_refuse_bad_input(tiny_tokenizer_path, corpus, a, error, match):
    model = _random_model(tiny_tokenizer_path)
    with pytest.raises(error, match=match):
        model.with_corpus_weights(corpus, a=a)


def test_corpus_weights_show_progress_on_request(tiny_tokenizer_path, capsys):
    import numpy as np

    model, docs = _random_model(tiny_tokenizer_path), _docs()
    quiet = model.with_corpus_weights(docs).__getstate__()["weights"]
    assert "count tokens" not in capsys.readouterr().err
    shown = model.with_corpus_weights(docs, show_progress_bar=True).__getstate__()["weights"]
    assert "count tokens" in capsys.readouterr().err
    np.testing.assert_array_equal(quiet, shown)
    with pytest.raises((TypeError, InvalidInputError), match="show_progress_bar"):
        model.with_corpus_weights(docs, show_progress_bar="yes")
