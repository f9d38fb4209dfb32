# lexdpr — every target does its own setup, so a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SAMPLE := lexdpr/sample_data
DEMO   := out/demo

.PHONY: setup setup-services test test-slow bench lint demo clean

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

bench: setup
	$(BIN)/python benchmarks/data_stages.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

demo: $(STAMP)
	$(BIN)/lex-dpr data passages --src-dir $(SAMPLE) --out-law $(DEMO)/law_passages.jsonl --out-admin $(DEMO)/admin_passages.jsonl
	$(BIN)/lex-dpr data pairs --law $(DEMO)/law_passages.jsonl --admin $(DEMO)/admin_passages.jsonl \
		--prec-json-dir $(SAMPLE)/precedents --out $(DEMO)/pairs_train.jsonl --hn_per_q 8
	$(BIN)/lex-dpr data corpus --law $(DEMO)/law_passages.jsonl --admin $(DEMO)/admin_passages.jsonl \
		--prec $(DEMO)/prec_fallback_passages.jsonl --out $(DEMO)/merged_corpus.jsonl
	$(BIN)/lex-dpr eval --bm25 --pairs $(DEMO)/pairs_test.jsonl --corpus $(DEMO)/merged_corpus.jsonl

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
