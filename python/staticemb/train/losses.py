"""Losses for Sentence Transformers' trainer beyond its own (torch is imported when one is built)."""

from __future__ import annotations

from typing import Any


def similarity_distill_loss(model, *, scale: float = 1.0):
    """Teacher regression that does not care about widths: the student's in-batch cosine-similarity matrix is
    fitted (mean squared error) to the one the teacher's embeddings (the ``label`` column) give. Because it
    compares similarities, not coordinates, a 1024-d student learns from a 384-d teacher, and
    ``MatryoshkaLoss`` can wrap it (every truncated width is fitted to the same teacher similarities)."""
    import torch
    from torch import nn

    class SimilarityDistillLoss(nn.Module):
        def __init__(self, model, scale: float) -> None:
            super().__init__()
            self.model = model
            self.scale = scale

        def forward(self, sentence_features, labels):
            teacher = torch.nn.functional.normalize(labels.float(), dim=-1)
            target = teacher @ teacher.T
            off = ~torch.eye(target.shape[0], dtype=torch.bool, device=target.device)
            loss = 0.0
            feats = list(sentence_features)
            for features in feats:
                emb = self.model(features)["sentence_embedding"]
                emb = torch.nn.functional.normalize(emb.float(), dim=-1)
                sim = emb @ emb.T
                loss = loss + ((sim - target)[off] ** 2).mean()
            return self.scale * loss / len(feats)

        def get_config_dict(self) -> dict[str, Any]:
            return {"scale": self.scale}

        @property
        def citation(self) -> str:
            return ""

    return SimilarityDistillLoss(model, scale)
