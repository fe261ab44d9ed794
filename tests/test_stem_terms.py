"""training/stem_terms.py: tokens with the same stem matched exactly in the terms part, and the rule."""

from __future__ import annotations

import numpy as np

from training import stem_terms as T
from training.late_interaction import components


def test_word_start_tokens_share_a_class_by_stem_and_pieces_keep_their_own(tiny_st_folder):
    from staticemb import StaticModel

    tok = StaticModel.from_pretrained(tiny_st_folder).tokenizer
    vocab = tok.get_vocab()
    classes = T.stem_classes(tok)
    assert len(classes) == max(vocab.values()) + 1
    for a, b in (("test", "tests"), ("copy", "copying"), ("measur", "measures")):
        assert classes[vocab[a]] == classes[vocab[b]], (a, b)
    for a, b in (("test", "text"), ("model", "mode"), ("embed", "embedding"), ("word", "words")):
        same = a == "word"  # "word" and "words" share the stem "word"
        assert bool(classes[vocab[a]] == classes[vocab[b]]) is same, (a, b)
    pieces = [t for t in vocab if t.startswith("##")]
    assert pieces and len({int(classes[vocab[t]]) for t in pieces}) == len(pieces)
    assert not set(classes[vocab[t]] for t in pieces) & set(classes[vocab[t]] for t in vocab if not t.startswith("##"))


def test_terms_part_is_the_direct_computation_with_stem_matches(tiny_st_folder):
    from staticemb import SearchIndex, StaticModel

    model = StaticModel.from_pretrained(tiny_st_folder)
    docs = ["the tests copy every table", "a model measures rows", "", "python rust embedding",
            "sentences and words"]
    queries = ["test copying", "embed vectors", "", "word sentence model", "rust"]
    index = T.stem_index(model, docs, corpus_weights=False, passages=False)
    plain = SearchIndex(model, docs, corpus_weights=False, passages=False)
    got = components(index, queries)["terms"]
    classes = T.stem_classes(model.tokenizer)
    expected = np.zeros((len(queries), len(docs)))
    for i, q in enumerate(queries):
        q_ids = np.unique(plain._pooled_terms([q])[0])
        if not len(q_ids):
            continue
        q_rows = plain._term_rows(q_ids)
        weights = np.linalg.norm(q_rows, axis=1)
        q_unit = q_rows / weights[:, None]
        for j, d in enumerate(docs):
            d_ids = np.unique(plain._pooled_terms([d])[0])
            if not len(d_ids):
                continue
            d_rows = plain._term_rows(d_ids)
            cos = q_unit @ (d_rows / np.linalg.norm(d_rows, axis=1)[:, None]).T
            cos[classes[q_ids][:, None] == classes[d_ids][None, :]] = 1.0
            expected[i, j] = cos.max(axis=1) @ weights / weights.sum()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # "test" is not in document 0, "tests" is: the plain index matches it softly, the arm exactly.
    assert got[0, 0] > components(plain, queries)["terms"][0, 0]
    # The rest of the index is untouched.
    np.testing.assert_allclose(components(index, queries)["document"], components(plain, queries)["document"])


def test_rule_asks_for_half_a_point():
    def row(source, base, new):
        r = {"source": source, "stem": 0.8, "minilm": 0.85}
        for model in T.MODELS:
            for dim in ("1024", "256"):
                r.update({f"{model} doc+maxp+terms {dim}": base, f"{model} doc+maxp+terms-stem {dim}": new,
                          f"{model} terms-stem {dim}": new - 0.1})
        return r

    assert T.decide([row("debian", 0.70, 0.706), row("bbc", 0.80, 0.806)])[0] is True
    assert T.decide([row("debian", 0.70, 0.70), row("bbc", 0.80, 0.80)])[0] is False
