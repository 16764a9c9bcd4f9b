# Fresh machine: `make run` sets up and builds the latest day; `make test` sets up and tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: setup setup-dev run test test-fast dev bench clean

# What runs the pipeline: no Spark, no test tools.
setup: $(VENV)/.installed

# Everything: the Spark engine and the test tools (pytest, moto, playwright).
setup-dev: $(VENV)/.installed-dev

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(DAGSTER_HOME)/dagster.yaml: deploy/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp deploy/dagster.yaml $@

run: setup $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/taar-assets run

test: setup-dev
	scripts/test-system-packages
	$(BIN)/python -m pytest

# The unit tests that need no pipeline run, Spark, S3 or browser: under a minute.
test-fast: setup-dev
	$(BIN)/python -m pytest taar_assets_tests/unit -m "not slow and not spark and not s3 and not gcs and not contract and not daemon and not ui"

# The UI and the daemon (sensors, schedules, backfills) on http://127.0.0.1:3000
dev: setup $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dg dev -h 127.0.0.1 -p 3000

bench: setup
	$(BIN)/python benchmarks/population.py --clients 100000 1000000 --engines local

clean:
	rm -rf data .dagster_home
