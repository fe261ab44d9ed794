"""Training static embedding models, delegated to Sentence Transformers.

Three entry points, each also a CLI command (``staticemb distill``, ``staticemb train CONFIG``):

- :func:`distill` makes an initial table from a transformer teacher. With the teacher's own tokenizer it runs
  model2vec's distillation; with another tokenizer (say a multilingual one) it embeds every vocabulary entry with
  the teacher, applies PCA and SIF weights counted on a corpus. The table can be widened past the teacher's
  width (the extra dimensions start as small noise) and is scaled to unit RMS, the scale of the published
  recipe's random ``nn.EmbeddingBag`` init, so that the recipe's learning rate keeps its meaning.
- :func:`train` runs one training stage from a :class:`TrainConfig`: ``StaticEmbedding`` with
  ``MatryoshkaLoss`` around either ``MultipleNegativesRankingLoss`` (``loss="mnrl"``, the published recipe:
  batch 2048, lr 0.2, warmup 0.1, one epoch, ``NO_DUPLICATES`` batches, ``PROPORTIONAL`` multi-dataset
  sampling) or :func:`similarity_distill_loss` (``loss="distill"``: teacher regression on unlabeled text, where
  the teacher embeddings are computed once and cached). Evaluators run during training, checkpoints are saved
  and can be resumed, and the same code runs on a CPU, on one GPU (bf16) and on several GPUs
  (``accelerate launch -m staticemb train CONFIG`` or ``torchrun --nproc_per_node N -m staticemb train CONFIG``).

To fit a model to a kind of document without labels, :func:`write_crop_pairs` (``staticemb crops``) cuts one
inverse-cloze pair (a passage -> the rest) out of each long document, for a stage's ``train_datasets``
(``staticemb train CONFIG --set train_datasets.NAME=PAIRS.jsonl``); with a transformer teacher,
:func:`teacher_passage_pairs` (``staticemb crops --teacher MODEL``) cuts out the sentence the teacher finds closest
to its document instead, a second set of pairs to train on beside the random crops, and
:func:`lead_passage_pairs` (``--lead``) the document's first such sentence, with no teacher.

One module per job: :mod:`.config` (the config and its ``$VAR`` expansion), :mod:`.crops`, :mod:`.distill`,
:mod:`.losses` and :mod:`.trainer` (datasets, teacher embeddings, evaluators, the trainer). Sentence Transformers, ``datasets``,
``torch`` and model2vec are imported only when these functions run, so ``import staticemb.train`` stays light.
"""

from __future__ import annotations

from .config import MATRYOSHKA_DIMS, TrainConfig, default_data_dir
from .crops import crop_pairs, lead_passage_pairs, teacher_passage_pairs, write_crop_pairs
from .distill import demo_model, distill
from .losses import similarity_distill_loss
from .trainer import teacher_embeddings, train

__all__ = [
    "MATRYOSHKA_DIMS",
    "TrainConfig",
    "crop_pairs",
    "default_data_dir",
    "demo_model",
    "distill",
    "lead_passage_pairs",
    "similarity_distill_loss",
    "teacher_embeddings",
    "teacher_passage_pairs",
    "train",
    "write_crop_pairs",
]
