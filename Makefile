# lexdpr — every target does its own setup, so a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := out/demo

.PHONY: setup setup-services test test-slow bench lint demo images manifests clean

setup: $(STAMP) setup-services

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

# Ceph RGW (a real S3 server), PostgreSQL (multi-machine sweep storage) and helm (chart tests);
# each script skips with a message when not root or when the binaries are already there.
setup-services:
	bash scripts/install-ceph.sh
	bash scripts/install-postgres.sh
	bash scripts/install-helm.sh

# As root, setup installs Ceph and PostgreSQL, so a missing server must fail its tests rather than skip them.
REQUIRE_S3 := $(shell [ "$$(id -u)" = 0 ] && echo 1 || echo 0)

test: setup
	LEXDPR_REQUIRE_S3=$(REQUIRE_S3) LEXDPR_REQUIRE_POSTGRES=$(REQUIRE_S3) $(BIN)/pytest -q

test-slow: setup
	$(BIN)/pytest -q -m slow

# Every benchmark, each printing its figures: about an hour on 2 idle cores (train_quality alone ~25 min).
bench: setup
	$(BIN)/python benchmarks/data_stages.py
	$(BIN)/python benchmarks/sweep_overhead.py
	$(BIN)/python benchmarks/sweep_bayes_vs_random.py
	$(BIN)/python benchmarks/pipeline_s3_overhead.py
	$(BIN)/python benchmarks/train_speed.py
	$(BIN)/python benchmarks/train_quality.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The main job end to end on the bundled sample: passages → pairs → corpus → a 2-trial sweep → train-best on
# train+valid → test metrics against BM25 and the zero-shot base model → merged model (offline base model).
demo: $(STAMP)
	$(BIN)/lex-dpr pipeline run --local --sample --storage $(DEMO)

# The stage images (CPU and CUDA variants), built and pushed with docker or podman where one is installed;
# IMAGE_REPOSITORY=registry.example.com/lexdpr picks the registry (see images/build.sh).
images:
	bash images/build.sh --push

# The generated Kubernetes files (manifests/katib-experiment.yaml, manifests/config.yaml, the chart's files/ and
# its schema's time zones), written by the one renderer in lexdpr/kube/; a test fails when they are stale.
manifests: $(STAMP)
	$(BIN)/python -m lexdpr.kube.manifests

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
