# Entry points (README): `make serve` runs the collector, `make test` runs the suite, `make bench`
# runs the benchmark suite (minutes; writes bench/results/latest.md). Everything installs into
# the project virtual environment .venv on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: serve test bench clean

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

test: $(VENV)/.dev-installed
	$(BIN)/ruff check collector exporter schema bench tests
	$(BIN)/python -m pytest

bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build dist *.egg-info
