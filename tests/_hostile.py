"""Shared helpers of the guard tests (``test_guard_*.py``, ``test_hostile_files.py``).

Everything here is light: tiny BERT-style tokenizers built with ``tokenizers`` from a vocabulary written
below, NumPy tables, hand-written ``.safetensors`` files and subprocess runners. No torch, no Sentence
Transformers, no model2vec.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import string
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

WORDS = [
    "the",
    "a",
    "an",
    "and",
    "of",
    "to",
    "in",
    "is",
    "it",
    "hello",
    "world",
    "say",
    "now",
    "new",
    "york",
    "cafe",
    "static",
    "embedding",
    "embeddings",
    "model",
    "models",
    "fast",
    "text",
    "texts",
    "token",
    "tokens",
    "foo",
    "bar",
    "ok",
    "pre",
    "post",
    "word",
    "words",
    "nothing",
    "here",
    "ca",
    "na",
    "ive",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "data",
    "file",
    "save",
    "load",
    "vector",
]
SUFFIXES = ["##s", "##ing", "##ed", "##er", "##ly", "##llo", "##lo", "##el", "##ive", "##fe", "##rld"]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

TEXTS = [
    "hello world",
    "The quick brown fox jumps over the lazy dog.",
    "static embedding models are fast",
    "Say HELLO now, new York!",
    "naïve café (résumé) -- ok?",
    "tokens, words and texts: 42 files saved",
    "unknownwordxyz qqq",
    "日本 data",
]


def bert_vocab(extra: list[str] = ()) -> dict[str, int]:
    """A small WordPiece vocabulary: specials, single characters (initial and ``##``), a few words."""
    pieces: list[str] = list(SPECIALS)
    chars = string.ascii_lowercase + string.digits + string.punctuation + "日本"
    pieces += list(chars) + ["##" + c for c in chars]
    pieces += WORDS + SUFFIXES + list(extra)
    vocab: dict[str, int] = {}
    for p in pieces:
        vocab.setdefault(p, len(vocab))
    return vocab


def bert_tokenizer(
    *, lowercase: bool = True, vocab: dict[str, int] | None = None, specials: bool = True
) -> Tokenizer:
    """BertNormalizer + BertPreTokenizer + WordPiece: the pipeline staticemb runs natively."""
    tok = Tokenizer(models.WordPiece(vocab or bert_vocab(), unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lowercase
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    if specials:
        tok.add_special_tokens(SPECIALS)
    return tok


def rows_for(tok: Tokenizer) -> int:
    return tok.get_vocab_size(with_added_tokens=True)


def table(rows: int, dim: int = 16, seed: int = 0, dtype=np.float32) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((rows, dim), dtype=np.float32) * 0.5).astype(dtype)


def tiny_model(
    *, dim: int = 16, seed: int = 0, normalize: bool = False, lowercase: bool = True, rows: int | None = None
):
    from staticemb import StaticModel

    tok = bert_tokenizer(lowercase=lowercase)
    return StaticModel(tok, table(rows or rows_for(tok), dim, seed), normalize=normalize)


# ---------------------------------------------------------------- safetensors by hand

ST_DTYPES = {
    "F32": np.float32,
    "F16": np.float16,
    "I8": np.int8,
    "I64": np.int64,
    "I32": np.int32,
    "U8": np.uint8,
}


def _dtype_name(a: np.ndarray) -> str:
    for name, dt in ST_DTYPES.items():
        if a.dtype == dt:
            return name
    raise ValueError(a.dtype)


def layout(tensors: dict[str, np.ndarray]) -> tuple[dict[str, Any], bytes]:
    """A valid header (tensors laid end to end in the given order) and the data section."""
    header: dict[str, Any] = {}
    chunks, pos = [], 0
    for name, arr in tensors.items():
        raw = np.ascontiguousarray(arr).tobytes()
        header[name] = {
            "dtype": _dtype_name(arr),
            "shape": list(arr.shape),
            "data_offsets": [pos, pos + len(raw)],
        }
        chunks.append(raw)
        pos += len(raw)
    return header, b"".join(chunks)


def pack(
    header: dict | str | bytes, data: bytes, *, header_len: int | None = None, pad: bool = True
) -> bytes:
    """``u64 little-endian header length + JSON header (space-padded to 8 bytes) + data``."""
    if isinstance(header, dict):
        header = json.dumps(header, separators=(",", ":"))
    raw = header.encode("utf-8") if isinstance(header, str) else header
    if pad and len(raw) % 8:
        raw += b" " * (8 - len(raw) % 8)
    n = len(raw) if header_len is None else header_len
    return (n % 2**64).to_bytes(8, "little") + raw + data


def safetensors_bytes(tensors: dict[str, np.ndarray]) -> bytes:
    return pack(*layout(tensors))


def read_header(path: Path) -> tuple[dict, bytes]:
    """The JSON header and the data section of a safetensors file."""
    raw = Path(path).read_bytes()
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


# ---------------------------------------------------------------- folders


def module_dir(folder: Path) -> Path:
    """The folder holding model.safetensors and tokenizer.json: the first module's path for a Sentence
    Transformers folder (read from modules.json), the folder itself otherwise."""
    folder = Path(folder)
    modules = folder / "modules.json"
    if modules.is_file():
        first = json.loads(modules.read_text())[0]
        return folder / (first.get("path") or ".")
    return folder


def weights_path(folder: Path) -> Path:
    return module_dir(folder) / "model.safetensors"


def save_st(
    folder: Path, *, dim: int = 16, seed: int = 0, normalize: bool = False, dtype: str = "float32"
) -> Path:
    """A Sentence Transformers static folder written by staticemb's own ``save``."""
    model = tiny_model(dim=dim, seed=seed, normalize=normalize)
    if dtype != "float32":
        model = model.quantize(dtype)
    model.save(folder)
    return Path(folder)


def write_m2v(
    folder: Path,
    *,
    dim: int = 16,
    seed: int = 1,
    normalize: bool = True,
    table_dtype=np.float32,
    mapping: bool = True,
    weights: bool = True,
    tensors: dict[str, np.ndarray] | None = None,
) -> Path:
    """A model2vec-layout folder written by hand: model.safetensors (``embeddings``, optional ``weights`` and
    ``mapping``), config.json and tokenizer.json at the top level."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tok = bert_tokenizer()
    n = rows_for(tok)
    if tensors is None:
        rows = n // 2 if mapping else n  # vocabulary quantization: fewer rows than token ids
        tensors = {"embeddings": table(rows, dim, seed, table_dtype)}
        if mapping:
            tensors["mapping"] = (np.arange(n, dtype=np.int64) * 7) % rows
        if weights:
            tensors["weights"] = np.linspace(0.5, 1.5, n, dtype=np.float32)
    (folder / "model.safetensors").write_bytes(safetensors_bytes(tensors))
    (folder / "tokenizer.json").write_text(tok.to_str(), encoding="utf-8")
    config = {
        "model_type": "model2vec",
        "architectures": ["StaticModel"],
        "hidden_dim": dim,
        "normalize": normalize,
    }
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def write_transformer(folder: Path, *, with_modules: bool = False) -> Path:
    """A (tiny, fake) BERT transformer folder: config.json + model.safetensors with BERT tensor names."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {
        "embeddings.word_embeddings.weight": table(rows_for(bert_tokenizer()), 8, 3),
        "embeddings.position_embeddings.weight": table(16, 8, 4),
        "encoder.layer.0.attention.self.query.weight": table(8, 8, 5),
        "pooler.dense.weight": table(8, 8, 6),
    }
    (folder / "model.safetensors").write_bytes(safetensors_bytes(tensors))
    (folder / "config.json").write_text(
        json.dumps(
            {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 8, "vocab_size": 100}
        )
    )
    (folder / "tokenizer.json").write_text(bert_tokenizer().to_str())
    if with_modules:
        modules = [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        ]
        (folder / "modules.json").write_text(json.dumps(modules))
        (folder / "1_Pooling").mkdir(exist_ok=True)
        (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 8}))
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path → bytes); directories as ``path/``."""
    folder = Path(folder)
    out: dict[str, bytes] = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        out[rel + "/" if p.is_dir() else rel] = b"" if p.is_dir() else p.read_bytes()
    return out


def copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return Path(dst)


# ---------------------------------------------------------------- processes


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["HF_HUB_OFFLINE"] = "1"
    e["TOKENIZERS_PARALLELISM"] = "false"
    e["PYTHONPATH"] = os.pathsep.join([str(TESTS), str(ROOT), e.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    e.pop("RAYON_NUM_THREADS", None)
    return e


def run_python(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (with this directory importable); returns the finished process."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(),
        cwd=str(TESTS),
    )


def popen_python(code: str, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        env=env(),
        cwd=str(TESTS),
        **kwargs,
    )


def describe(proc: subprocess.CompletedProcess) -> str:
    return (
        f"exit status {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
    )


def thread_count() -> int:
    """Threads of this process, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise RuntimeError("no Threads: line in /proc/self/status")


# ---------------------------------------------------------------- the hostile-file corpus (test_hostile_files.py)

CORPUS_BASES = ["st-f32", "st-int8", "m2v"]
CORPUS_FAMILIES = [
    "truncate",
    "append",
    "header-bytes",
    "header-length",
    "header-values",
    "tensors",
    "data-bytes",
    "delete",
    "json-garbage",
    "tokenizer-fields",
    "modules",
    "config",
    "links",
]

ALLOWED_ERRORS = ("ModelFormatError", "FileNotFoundError", "TokenizerError")


def build_base(name: str, folder: Path) -> Path:
    if name == "st-f32":
        tiny_model(dim=16, seed=1, normalize=True).save(folder)
    elif name == "st-int8":
        tiny_model(dim=16, seed=2).quantize("int8").save(folder)
    elif name == "m2v":
        write_m2v(folder, dim=16, table_dtype=np.float16)
    else:
        raise ValueError(name)
    return folder


def _json_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.json") if p.is_file())


def _weights(folder: Path) -> Path:
    return weights_path(folder)


def _header_info(folder: Path) -> tuple[int, int]:
    raw = _weights(folder).read_bytes()
    return int.from_bytes(raw[:8], "little"), len(raw)


def _truncate_at(n):
    def mutate(folder):
        path = _weights(folder)
        with open(path, "r+b") as f:
            f.truncate(n)

    return mutate


def _append(extra: bytes):
    def mutate(folder):
        with open(_weights(folder), "ab") as f:
            f.write(extra)

    return mutate


def _set_byte(pos: int, value: bytes):
    def mutate(folder):
        path = _weights(folder)
        raw = bytearray(path.read_bytes())
        raw[pos : pos + 1] = value
        path.write_bytes(bytes(raw))

    return mutate


def _set_header_len(n: int):
    def mutate(folder):
        path = _weights(folder)
        raw = path.read_bytes()
        path.write_bytes((n % 2**64).to_bytes(8, "little") + raw[8:])

    return mutate


def _edit_header(fn):
    def mutate(folder):
        path = _weights(folder)
        header, data = read_header(path)
        fn(header)
        path.write_bytes(pack(header, data))

    return mutate


HEADER_VALUES = [
    None,
    True,
    "x",
    "",
    0,
    -1,
    1.5,
    2**64,
    2**70,
    [],
    {},
    [0],
    [-1, -1],
    [2**63, 2**63],
    [0.5, 1],
    ["a"],
    [[0]],
    [0, 0],
    [1, 1, 1],
    "F32",
    "I8",
    "F16",
    "BF16",
    "F64",
    "BOOL",
    "U8",
    "I64",
]

JSON_GARBAGE = {
    "empty": b"",
    "space": b" ",
    "garbage": b"garbage",
    "list-bomb": b"[" * 100_000,
    "object-bomb": b'{"a":' * 50_000,
    "deep-valid": b"[" * 3_000 + b"]" * 3_000,
    "null": b"null",
    "one": b"1",
    "minus": b"-1",
    "1e400": b"1e400",
    "list": b"[]",
    "object": b"{}",
    "string": b'"str"',
    "numbers": b"[1,2]",
    "true": b"true",
    "ff-fe": b"\xff\xfe\x00",
    "nul": b"\0" * 10,
    "NaN": b"NaN",
}


def _replace_json(rel: str, content):
    def mutate(folder):
        path = folder / rel
        if callable(content):
            path.write_bytes(content(path.read_bytes()))
        else:
            path.write_bytes(content)

    return mutate


def _tokenizer_path(folder: Path) -> Path:
    return module_dir(folder) / "tokenizer.json"


def _tokenizer_edit(keys: tuple, value, *, delete: bool = False):
    def mutate(folder):
        path = _tokenizer_path(folder)
        data = json.loads(path.read_text())
        node = data
        for k in keys[:-1]:
            node = node[k]
        if delete:
            node.pop(keys[-1], None)
        else:
            node[keys[-1]] = value
        path.write_text(json.dumps(data))

    return mutate


def _added(id_, content="zz", **kw):
    return {
        "id": id_,
        "content": content,
        "single_word": False,
        "lstrip": False,
        "rstrip": False,
        "normalized": True,
        "special": False,
        **kw,
    }


TOKENIZER_EDITS = {
    "vocab-empty": (("model", "vocab"), {}),
    "vocab-list": (("model", "vocab"), []),
    "vocab-only-unk": (("model", "vocab"), {"[UNK]": 0}),
    "vocab-huge-id": (("model", "vocab"), {"[UNK]": 10**9, "a": 1}),
    "vocab-id-beyond-u32": (("model", "vocab"), {"[UNK]": 2**40, "a": 1}),
    "vocab-negative-id": (("model", "vocab"), {"[UNK]": 0, "a": -1}),
    "vocab-string-id": (("model", "vocab"), {"[UNK]": "x"}),
    "vocab-duplicate-ids": (("model", "vocab"), {"[UNK]": 0, "a": 0, "b": 0}),
    "unk-missing-from-vocab": (("model", "unk_token"), "nope"),
    "unk-null": (("model", "unk_token"), None),
    "unk-int": (("model", "unk_token"), 5),
    "model-type-unknown": (("model", "type"), "Nope"),
    "model-type-bpe": (("model", "type"), "BPE"),
    "model-type-unigram": (("model", "type"), "Unigram"),
    "model-type-wordlevel": (("model", "type"), "WordLevel"),
    "max-chars-negative": (("model", "max_input_chars_per_word"), -1),
    "max-chars-zero": (("model", "max_input_chars_per_word"), 0),
    "max-chars-huge": (("model", "max_input_chars_per_word"), 10**20),
    "prefix-empty": (("model", "continuing_subword_prefix"), ""),
    "prefix-null": (("model", "continuing_subword_prefix"), None),
    "normalizer-null": (("normalizer",), None),
    "normalizer-int": (("normalizer",), 5),
    "normalizer-unknown": (("normalizer",), {"type": "Nope"}),
    "normalizer-precompiled-empty": (("normalizer",), {"type": "Precompiled", "precompiled_charsmap": ""}),
    "normalizer-precompiled-short": (
        ("normalizer",),
        {"type": "Precompiled", "precompiled_charsmap": "AAAA"},
    ),
    "normalizer-precompiled-bad-trie": (
        ("normalizer",),
        {"type": "Precompiled", "precompiled_charsmap": "AAAAAA=="},
    ),
    "normalizer-bert-string-flag": (("normalizer", "lowercase"), "yes"),
    "normalizer-replace-bad-regex": (
        ("normalizer",),
        {"type": "Replace", "pattern": {"Regex": "("}, "content": "x"},
    ),
    "pre-tokenizer-null": (("pre_tokenizer",), None),
    "pre-tokenizer-unknown": (("pre_tokenizer",), {"type": "Nope"}),
    "pre-tokenizer-bad-regex": (
        ("pre_tokenizer",),
        {"type": "Split", "pattern": {"Regex": "("}, "behavior": "Isolated", "invert": False},
    ),
    "added-huge-id": (("added_tokens",), [_added(10**9)]),
    "added-id-beyond-u32": (("added_tokens",), [_added(2**40)]),
    "added-negative-id": (("added_tokens",), [_added(-1)]),
    "added-empty-content": (("added_tokens",), [_added(5, content="")]),
    "added-string": (("added_tokens",), "x"),
    "added-empty-object": (("added_tokens",), [{}]),
    "added-duplicate": (("added_tokens",), [_added(5, "dup"), _added(6, "dup")]),
    "truncation-negative": (
        ("truncation",),
        {"max_length": -1, "stride": 0, "strategy": "LongestFirst", "direction": "Right"},
    ),
    "padding-garbage": (("padding",), {"strategy": "Nope"}),
    "decoder-int": (("decoder",), 5),
    "post-processor-int": (("post_processor",), 5),
    "version-future": (("version",), "9.9"),
    "version-int": (("version",), 5),
}


def _modules(content):
    def mutate(folder):
        (folder / "modules.json").write_text(json.dumps(content))

    return mutate


def _st_module(path="0_StaticEmbedding", type_="sentence_transformers.models.StaticEmbedding"):
    return {"idx": 0, "name": "0", "path": path, "type": type_}


MODULES_VARIANTS = {
    "path-parent": [_st_module("..")],
    "path-outside": [_st_module("../x")],
    "path-etc": [_st_module("/etc")],
    "path-empty": [_st_module("")],
    "path-dot": [_st_module(".")],
    "path-int": [_st_module(5)],
    "path-null": [_st_module(None)],
    "path-missing-dir": [_st_module("9_Nothing")],
    "type-transformer": [_st_module(type_="sentence_transformers.models.Transformer")],
    "type-missing": [{"idx": 0, "path": "0_StaticEmbedding"}],
    "type-int": [_st_module(type_=5)],
    "empty-list": [],
    "list-of-ints": [1],
    "dense-after": [
        _st_module(),
        {"idx": 1, "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    ],
    "two-static": [_st_module(), _st_module()],
    "normalize-first": [{"idx": 0, "path": "1_Normalize", "type": "sentence_transformers.models.Normalize"}],
    "object": {"0": _st_module()},
}

CONFIG_VARIANTS = {
    "normalize-string": {"normalize": "false"},
    "normalize-null": {"normalize": None},
    "normalize-int": {"normalize": 1},
    "normalize-list": {"normalize": [True]},
    "list": [],
    "string": "x",
    "no-normalize": {},
}


def corpus_cases(base: str, folder: Path) -> dict[str, list[tuple[str, Any]]]:
    """Every mutation of one base folder, by family: ``{family: [(case name, mutate(folder)), ...]}``."""
    hl, size = _header_info(folder)
    header, _ = read_header(_weights(folder))
    cases: dict[str, list[tuple[str, Any]]] = {f: [] for f in CORPUS_FAMILIES}

    offsets = sorted(
        {
            0,
            1,
            4,
            7,
            8,
            9,
            8 + hl // 2,
            8 + hl - 1,
            8 + hl,
            8 + hl + 1,
            8 + hl + 4,
            8 + hl + (size - 8 - hl) // 2,
            size - 4,
            size - 1,
        }
    )
    cases["truncate"] = [(f"at-{n}", _truncate_at(n)) for n in offsets if 0 <= n < size]
    cases["append"] = [
        (f"{len(x)}-bytes", _append(x)) for x in (b"\0", b"\0" * 7, b"\0" * 8, b"\0" * 4096, b"{}")
    ]

    fills = [b'"', b"{", b"}", b"[", b"0", b"9", b"-", b"\xff", b" ", b",", b":", b"e", b"\0"]
    cases["header-bytes"] = [(f"pos-{p}", _set_byte(p, fills[p % len(fills)])) for p in range(0, 8 + hl, 2)]

    cases["header-length"] = [
        (f"len-{n}", _set_header_len(n))
        for n in (0, 1, 2, hl - 1, hl + 1, hl + 8, size - 8, size, 2**32, 2**63, 2**64 - 1)
    ]

    names = [k for k in header if k != "__metadata__"]
    for t in names:
        for field in ("dtype", "shape", "data_offsets"):
            for i, v in enumerate(HEADER_VALUES):
                cases["header-values"].append(
                    (
                        f"{t}.{field}={v!r}"[:80] + f"#{i}",
                        _edit_header(lambda h, t=t, f=field, v=v: h[t].__setitem__(f, v)),
                    )
                )
            cases["header-values"].append(
                (f"{t}.{field}-missing", _edit_header(lambda h, t=t, f=field: h[t].pop(f)))
            )
    cases["header-values"] += [
        ("metadata-int", _edit_header(lambda h: h.__setitem__("__metadata__", {"format": 1}))),
        ("metadata-list", _edit_header(lambda h: h.__setitem__("__metadata__", ["x"]))),
        ("metadata-null", _edit_header(lambda h: h.__setitem__("__metadata__", None))),
    ]

    for t in names:
        cases["tensors"] += [
            (f"drop-{t}", _edit_header(lambda h, t=t: h.pop(t))),
            (f"rename-{t}", _edit_header(lambda h, t=t: h.__setitem__(t + "_x", h.pop(t)))),
            (f"alias-{t}", _edit_header(lambda h, t=t: h.__setitem__("alias", dict(h[t])))),
            (f"entry-list-{t}", _edit_header(lambda h, t=t: h.__setitem__(t, [1, 2, 3]))),
            (f"entry-extra-field-{t}", _edit_header(lambda h, t=t: h[t].__setitem__("extra", 1))),
        ]
    cases["tensors"].append(("no-tensors", _edit_header(lambda h: [h.pop(k) for k in list(h)])))

    data_start = 8 + hl
    cases["data-bytes"] = [
        ("first-ff", _set_byte(data_start, b"\xff")),
        ("last-ff", _set_byte(size - 1, b"\xff")),
        ("middle-ff", _set_byte(data_start + (size - data_start) // 2, b"\xff")),
        (
            "all-nan",
            lambda f: _weights(f).write_bytes(
                _weights(f).read_bytes()[:data_start] + b"\xff" * (size - data_start)
            ),
        ),
    ]

    for p in sorted(folder.rglob("*"), reverse=True):
        rel = p.relative_to(folder).as_posix()
        cases["delete"].append(
            (rel, lambda f, rel=rel: shutil.rmtree(f / rel) if (f / rel).is_dir() else (f / rel).unlink())
        )

    for p in _json_files(folder):
        rel = p.relative_to(folder).as_posix()
        for gname, content in JSON_GARBAGE.items():
            cases["json-garbage"].append((f"{rel}:{gname}", _replace_json(rel, content)))
        cases["json-garbage"] += [
            (f"{rel}:utf-16", _replace_json(rel, lambda b: b.decode("utf-8").encode("utf-16"))),
            (f"{rel}:half", _replace_json(rel, lambda b: b[: len(b) // 2])),
            (f"{rel}:trailing-garbage", _replace_json(rel, lambda b: b + b" garbage")),
        ]

    for name, (keys, value) in TOKENIZER_EDITS.items():
        cases["tokenizer-fields"].append((name, _tokenizer_edit(keys, value)))
    for key in ("model", "normalizer", "pre_tokenizer", "added_tokens", "version"):
        cases["tokenizer-fields"].append((f"remove-{key}", _tokenizer_edit((key,), None, delete=True)))

    if base.startswith("st"):
        cases["modules"] = [(name, _modules(content)) for name, content in MODULES_VARIANTS.items()]
        cases["config"] = [
            (f"st-config:{name}", _replace_json("config_sentence_transformers.json", json.dumps(c).encode()))
            for name, c in CONFIG_VARIANTS.items()
        ]
    else:
        cases["modules"] = [(f"m2v-{name}", _modules(content)) for name, content in MODULES_VARIANTS.items()]
        cases["config"] = [
            (f"config:{name}", _replace_json("config.json", json.dumps(c).encode()))
            for name, c in CONFIG_VARIANTS.items()
        ]

    def _dangling(rel):
        def mutate(f):
            (f / rel).unlink()
            os.symlink(f / "does-not-exist", f / rel)

        return mutate

    def _dir_instead(rel):
        def mutate(f):
            (f / rel).unlink()
            (f / rel).mkdir()

        return mutate

    def _fifo(rel):
        def mutate(f):
            (f / rel).unlink()
            os.mkfifo(f / rel)

        return mutate

    def _loop(rel):
        def mutate(f):
            (f / rel).unlink()
            os.symlink(f / rel, f / rel)

        return mutate

    def _devnull(rel):
        def mutate(f):
            (f / rel).unlink()
            os.symlink("/dev/null", f / rel)

        return mutate

    for p in sorted(folder.rglob("*")):
        if p.is_file():
            rel = p.relative_to(folder).as_posix()
            for kind, make in (
                ("dangling", _dangling),
                ("dir", _dir_instead),
                ("fifo", _fifo),
                ("loop", _loop),
                ("devnull", _devnull),
            ):
                cases["links"].append((f"{rel}:{kind}", make(rel)))
    return cases


def run_case(folder: Path) -> dict[str, Any]:
    """Load ``folder`` and encode with it; the outcome as plain data."""
    from staticemb import StaticModel

    try:
        model = StaticModel.from_pretrained(folder)
        out = model.encode(TEXTS)
        assert out.shape == (len(TEXTS), model.dim), out.shape
        model.encode(TEXTS, dim=1, normalize=True, num_threads=2)
        return {"kind": "ok"}
    except BaseException as e:  # noqa: B036 - everything is recorded, the test decides
        if isinstance(e, KeyboardInterrupt):
            raise
        return {
            "kind": type(e).__name__,
            "mro": [c.__name__ for c in type(e).__mro__],
            "message": str(e)[:400],
        }


def corpus_main(workdir: str, results: str, start: str) -> None:
    """Child process entry point: run every case from index ``start`` on, one JSON line per case."""
    work = Path(workdir)
    start_at = int(start)
    index = 0
    with open(results, "a", buffering=1) as out:
        for base in CORPUS_BASES:
            pristine = work / f"base-{base}"
            if not pristine.exists():
                build_base(base, work / f"building-{base}")
                os.rename(work / f"building-{base}", pristine)
            families = corpus_cases(base, pristine)
            for family in CORPUS_FAMILIES:
                for name, mutate in families[family]:
                    if index >= start_at:
                        out.write(
                            json.dumps({"begin": index, "base": base, "family": family, "case": name}) + "\n"
                        )
                        case_dir = work / "case"
                        if case_dir.exists() or case_dir.is_symlink():
                            shutil.rmtree(case_dir)
                        shutil.copytree(pristine, case_dir, symlinks=True)
                        try:
                            mutate(case_dir)
                            outcome = run_case(case_dir)
                        except Exception as e:  # a mutation that cannot apply to this base
                            outcome = {"kind": "not-applicable", "message": f"{type(e).__name__}: {e}"}
                        out.write(
                            json.dumps(
                                {"end": index, "base": base, "family": family, "case": name, **outcome}
                            )
                            + "\n"
                        )
                    index += 1
        out.write(json.dumps({"done": index}) + "\n")


HUB_COMMIT = "0123456789abcdef0123456789abcdef01234567"


def hub_cache(cache: Path, repo_id: str, folder: Path, commit: str = HUB_COMMIT) -> Path:
    """``folder`` as huggingface_hub caches a download of ``repo_id`` under ``cache``: blobs, a snapshot of
    symlinks to them, refs/main. Returns the snapshot folder."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "blobs").mkdir(parents=True)
    for src in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = src.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        dst = repo / "snapshots" / commit / src.relative_to(folder)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(blob, dst.parent), dst)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return repo / "snapshots" / commit
