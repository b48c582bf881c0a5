# Two entry points matter: `make demo` (install + run the pipeline on local defaults)
# and `make test` (install + run the tests). Everything else is a convenience.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export BAMBOO_HOME ?= $(CURDIR)/.bamboo
export DAGSTER_HOME ?= $(BAMBOO_HOME)/dagster

.PHONY: install demo dev test lint bench mutation

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e ".[test]"
	mkdir -p "$(DAGSTER_HOME)"
	test -f "$(DAGSTER_HOME)/dagster.yaml" || cp deploy/local/dagster.yaml "$(DAGSTER_HOME)/dagster.yaml"

demo: install
	$(BIN)/python scripts/demo.py

dev: install
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000

test: install
	$(BIN)/ruff check bamboo_assets bamboo_assets_tests benchmarks scripts
	$(BIN)/ruff format --check bamboo_assets bamboo_assets_tests benchmarks scripts
	$(BIN)/python -m pytest

bench: install
	$(BIN)/pip install -q -e ".[bench]"
	$(BIN)/python -m benchmarks

# Mutation testing of the pure modules ([tool.mutmut] in pyproject.toml); CPU-bound, so the
# number of parallel mutants is kept small. `$(BIN)/mutmut results` lists the survivors.
MUTATION_CHILDREN ?= 2
mutation: install
	$(BIN)/pip install -q -e ".[test,mutation]"
	$(BIN)/mutmut run --max-children $(MUTATION_CHILDREN)
