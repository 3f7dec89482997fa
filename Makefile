# The front door. Every target builds its own virtual environment in .venv from the lock,
# requirements.lock; nothing is installed into the system Python.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
UV_VERSION := 0.13.9
UV := $(VENV)/lock-tools/bin/uv

.PHONY: all install lock demo test lint format bench bench-references clean

all: lint test

# Every dependency (runtime, the dev extra, the database drivers, DuckDB for the bench, and
# pip, setuptools and wheel for the build) at the version in the lock, each file checked
# against its hash; then safeguard itself, editable,
# with no dependency of its own fetched. Re-run whenever the lock or pyproject.toml changes.
# pip check fails when pyproject.toml asks for something the lock lacks: run `make lock`.
$(STAMP): $(LOCK) pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "safeguard needs Python 3.11 or newer (set PYTHON=python3.12 or similar)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@$(BIN)/python -m pip check || { echo 'pyproject.toml asks for more than $(LOCK) holds: run make lock' >&2; exit 1; }
	@touch $(STAMP)

install: $(STAMP)

# Refresh the lock after changing the dependencies in pyproject.toml: one universal lock
# (Windows, macOS, Linux; Python 3.11 and newer) of every dependency with the hashes of its
# files on PyPI, keeping each version already locked unless pyproject.toml rules it out.
# `make lock UPGRADE=1` moves every dependency to its newest allowed version instead.
# Review the diff and run `make test` (which installs the new lock) before committing it.
lock: $(UV)
	$(PYTHON) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], "pip", sep="\n")' \
		| $(UV) pip compile pyproject.toml - --extra dev --extra postgresql --extra sqlserver --extra bench --universal --python-version 3.11 \
		--generate-hashes --index-url https://pypi.org/simple --no-config \
		--custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade) --quiet -o $(LOCK)

$(UV):
	$(PYTHON) -m venv $(VENV)/lock-tools
	$(VENV)/lock-tools/bin/python -m pip install --quiet uv==$(UV_VERSION)

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
# Each safeguard figure is printed beside its reference (issue 16): polars reading the month's
# CSV as text and writing parquet, and DuckDB (the `bench` extra, in the lock;
# skipped, and said so, without it). `make bench-references` runs the two references alone.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

bench-references: $(STAMP)
	$(BIN)/python benchmarks/bench.py --only floor_write duckdb

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
