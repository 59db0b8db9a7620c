# neakta: two commands get a newcomer from clone to a working demo and green tests.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
DEVSTAMP = $(VENV)/.installed-dev

.PHONY: demo test lint typecheck unit bench sigmahq clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(STAMP)

demo: $(STAMP)
	$(BIN)/neakta demo

lint: $(DEVSTAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(DEVSTAMP)
	$(BIN)/mypy

unit: $(DEVSTAMP)
	$(BIN)/pytest -q

test: lint typecheck unit

bench: $(DEVSTAMP)
	$(BIN)/python -m benchmarks.compare
	$(BIN)/python -m benchmarks.pipeline
	NEAKTA_BENCH_PIPELINE_FAMILY=web NEAKTA_BENCH_CONSUMER_ROUNDS=0 $(BIN)/python -m benchmarks.pipeline
	NEAKTA_BENCH_PIPELINE_FAMILY=firewall NEAKTA_BENCH_CONSUMER_ROUNDS=0 $(BIN)/python -m benchmarks.pipeline
	$(BIN)/python -m benchmarks.correlation
	$(BIN)/python benchmarks/indicators.py --rounds 1
	$(BIN)/pytest benchmarks --benchmark-enable -q

# Measure against a local SigmaHQ checkout: make sigmahq SIGMAHQ=/path/to/sigma
sigmahq: $(STAMP)
	$(BIN)/neakta rules check --summary-only $(SIGMAHQ)/rules $(SIGMAHQ)/rules-emerging-threats $(SIGMAHQ)/rules-threat-hunting

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .benchmarks .neakta
