# Entry points (README): `make serve` runs the collector, `make test` runs the suite, `make bench`
# runs the benchmark suite (minutes; writes bench/results/latest.md), `make cluster` starts a local
# ClickHouse cluster and PostgreSQL for storage.engine: clickhouse (docs/deployment.md). Everything installs into
# the project virtual environment .venv on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: serve test typecheck bench cluster clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.collector-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[collector]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.collector-installed

serve: $(VENV)/.collector-installed
	$(BIN)/kate serve

test: $(VENV)/.dev-installed typecheck
	$(BIN)/ruff check collector exporter schema bench scripts tests
	$(BIN)/python -m pytest

# mypy --strict over the three packages as they are imported (kate.*): package-dir maps those
# names from the top-level folders, so mypy reads them through a tree of links under build/.
TYPECHECK_TREE := build/typecheck/kate
typecheck: $(VENV)/.dev-installed
	@mkdir -p $(TYPECHECK_TREE)
	@for package in collector exporter schema; do ln -sfn ../../../$$package $(TYPECHECK_TREE)/$$package; done
	cd build/typecheck && $(abspath $(BIN))/mypy --config-file $(abspath pyproject.toml) -p kate.collector -p kate.exporter -p kate.schema

cluster: $(VENV)/.collector-installed
	@mkdir -p build
	$(BIN)/python -m scripts.local_cluster --shards 2 --config-out build/cluster.yaml

bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build dist *.egg-info
