# Rapport — the two commands a new machine needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
## pytest on every core, a test file per worker (files share their module fixtures); PYTEST_ARGS= for one process.
PYTEST_ARGS ?= -n auto --dist loadfile

.PHONY: run test lint bench demo clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## Create the venv, migrate the SQLite database, load the demo retailer if empty, serve the app.
run: $(STAMP)
	$(BIN)/rapport db upgrade
	$(BIN)/rapport demo --if-empty
	$(BIN)/rapport serve

## The whole suite: lint, types, tests on SQLite and PostgreSQL.
test: $(STAMP)
	$(BIN)/ruff check src tests migrations $(wildcard bench)
	$(BIN)/mypy
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests migrations $(wildcard bench)
	$(BIN)/ruff format --check src tests migrations $(wildcard bench)

## Benchmarks against the issue targets; results land in bench/results/.
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
