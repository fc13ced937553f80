# Two commands matter: `make demo` (the pipeline on the embedded default) and `make test`
# (every test and check). Both create the virtual environment they need.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv lint typecheck test test-fast demo bench bench-dbt clean

help:
	@echo "make demo   run the whole pipeline on sample data, nothing but this machine"
	@echo "make test   lint, type-check and run every test"
	@echo "make bench  measure extract throughput and memory (BENCH_MB=1000 by default)"
	@echo "make bench-dbt  time a full vs an incremental dbt build (BENCH_MILLION=2)"

$(STAMP): requirements/dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check snowpark tests bench
	$(BIN)/ruff format --check snowpark tests bench
	cd dbt && AMPLITUDE_WAREHOUSE=../.local/sqlfluff.duckdb ../$(BIN)/sqlfluff lint models tests

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest

test-fast: $(STAMP)
	$(BIN)/pytest tests/unit

demo: $(STAMP)
	$(BIN)/python -m amplitude_embedded.demo

BENCH_MB ?= 1000
bench: $(STAMP)
	$(BIN)/python bench/bench_extract.py --megabytes $(BENCH_MB)

BENCH_MILLION ?= 2
bench-dbt: $(STAMP)
	$(BIN)/python bench/bench_dbt.py --million $(BENCH_MILLION)

clean:
	rm -rf .local bench/out
