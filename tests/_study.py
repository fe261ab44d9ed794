"""Shared helper of the tests of training's search-time studies (``training.passage_scoring.Study``)."""

from __future__ import annotations

from typing import Any

from training.passage_scoring import MODELS


def study_row(study: Any, source: str, base: float, new: float, **values: float) -> dict[str, Any]:
    """A held-out source's row as ``study``'s command writes it, for both models at both widths: the base score
    (``study.scores[0]``) ``base``, the rule's score ``new``, every other score ``new - 0.1``, and each of
    ``values`` (``key=value``) as ``"<model> <key> <dim>"``."""
    row: dict[str, Any] = {"source": source, "stem": 0.8, "minilm": 0.85}
    for model in MODELS:
        for dim in ("1024", "256"):
            row.update({f"{model} {name} {dim}": new - 0.1 for name in study.scores})
            row.update({f"{model} {study.scores[0]} {dim}": base, f"{model} {study.rule} {dim}": new})
            row.update({f"{model} {key} {dim}": value for key, value in values.items()})
    return row
