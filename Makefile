# The front door. Every target builds its own virtual environment in .venv from pyproject.toml;
# nothing is installed into the system Python.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: all install demo test lint format bench clean

all: lint test

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "safeguard needs Python 3.11 or newer (set PYTHON=python3.12 or similar)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The demo: simulate the synthetic authority Demoshire, write its monthly extracts to
# data/raw, ingest them into data/processed and print October 2015's headline figures.
# Nothing real is involved; it refuses to write into folders holding anything else.
demo: $(STAMP)
	$(BIN)/safeguard demo

test: $(STAMP)
	$(BIN)/python -m pytest -q || [ $$? -eq 5 ]  # 5 = no tests collected: not a failure

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

# Scales 1, 10 and 100 (a county, the largest authority, a regional consortium): about 25
# minutes and 5 GB of generated data under data/bench (kept for the next run). Writes
# BENCHMARKS.md, benchmarks/results.json and benchmarks/scaling.svg.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
