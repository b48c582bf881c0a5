# Two entry points matter: `make demo` (install + run the pipeline on local defaults)
# and `make test` (install + run every test). Everything else is a convenience.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export BAMBOO_HOME ?= $(CURDIR)/.bamboo
export DAGSTER_HOME ?= $(BAMBOO_HOME)/dagster
# Bamboo reports each day's outcome itself: Dagster then needs one planned event per asset and
# run (not per asset and day) and can write materializations in batches (docs/configuration.md).
export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS ?= true
export DAGSTER_EVENT_BATCH_SIZE ?= 500

.PHONY: install demo dev test test-fast lint bench mutation

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Installed again only when the package's metadata changed (the install is editable: code
# changes need no install).
$(VENV)/.installed: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/pip install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed
	mkdir -p "$(DAGSTER_HOME)"
	test -f "$(DAGSTER_HOME)/dagster.yaml" || cp deploy/local/dagster.yaml "$(DAGSTER_HOME)/dagster.yaml"

demo: install
	$(BIN)/python scripts/demo.py

dev: install
	$(BIN)/dg dev -h 127.0.0.1 -p 3000

lint: install
	$(BIN)/ruff check bamboo_assets bamboo_assets_tests benchmarks scripts
	$(BIN)/ruff format --check bamboo_assets bamboo_assets_tests benchmarks scripts
	$(BIN)/dg check defs

# Everything: pure units, the warehouse, pipeline runs, failures, the UI, the browser and the
# compose deployment (which needs Docker: skipped without it unless BAMBOO_REQUIRE_DOCKER=1).
test: lint
	$(BIN)/python -m pytest

# The inner loop: everything that needs no Docker, no browser and no Dagster processes of its
# own, on both cores, with fewer examples per property.
test-fast: install
	$(BIN)/python -m pytest -n 2 --dist worksteal -m "not docker and not browser and not slow" \
		--hypothesis-profile=inner-loop

bench: install
	$(BIN)/pip install -q -e ".[bench]"
	$(BIN)/python -m benchmarks

# Mutation testing of the pure modules ([tool.mutmut] in pyproject.toml); CPU-bound, so the
# number of parallel mutants is kept small. `$(BIN)/mutmut results` lists the survivors.
MUTATION_CHILDREN ?= 2
mutation: install
	$(BIN)/pip install -q -e ".[test,mutation]"
	$(BIN)/mutmut run --max-children $(MUTATION_CHILDREN)
