# Two commands matter: `make demo` (the pipeline on the embedded default) and `make test`
# (every test and check). Both create the virtual environment they need.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv lint typecheck test test-fast demo bench bench-dbt deploy clean

help:
	@echo "make demo   run the whole pipeline on sample data, nothing but this machine"
	@echo "make test   lint, type-check and run every test"
	@echo "make bench  measure extract throughput and memory (BENCH_MB=1000 by default)"
	@echo "make bench-dbt  dbt: full build vs DuckDB's single pass, hourly runs vs full (BENCH_MILLION=1)"
	@echo "make deploy     set up Snowflake and deploy procedure, dbt project and tasks"

# The Snowflake CLI pins its own versions of snowpark and the connector: its own venv.
SNOW_VENV := .venv-snow
SNOW := $(SNOW_VENV)/bin/snow
SNOW_STAMP := $(SNOW_VENV)/.installed
# The new Snowpark build keeps artifact destinations (amplitude_ingest/ inside the zip).
export SNOWFLAKE_CLI_FEATURES_ENABLE_SNOWPARK_GLOB_SUPPORT := true

$(SNOW_STAMP): requirements/snow.lock
	$(PYTHON) -m venv $(SNOW_VENV)
	$(SNOW_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/snow.lock
	touch $(SNOW_STAMP)

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
	mkdir -p .local
	cd dbt && AMPLITUDE_WAREHOUSE=../.local/sqlfluff.duckdb ../$(BIN)/sqlfluff lint models tests
	# The Snowflake side: the models compiled for Snowflake on fakesnow (no account), as a
	# full build and as an incremental run compile them, linted in Snowflake's dialect.
	rm -rf .local/snowflake-compiled
	$(BIN)/python -m tests.fakesnow_shim .local/snowflake-compiled
	$(BIN)/sqlfluff lint --config dbt/.sqlfluff-snowflake .local/snowflake-compiled

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck $(SNOW_STAMP)
	$(BIN)/pytest

test-fast: $(STAMP)
	$(BIN)/pytest tests/unit

demo: $(STAMP)
	$(BIN)/python -m amplitude_embedded.demo

BENCH_MB ?= 1000
bench: $(STAMP)
	$(BIN)/python bench/bench_extract.py --megabytes $(BENCH_MB)

BENCH_MILLION ?= 1
bench-dbt: $(STAMP)
	$(BIN)/python bench/bench_dbt.py --million $(BENCH_MILLION)

# ---- deploy to Snowflake -----------------------------------------------------------
# Everything in order, idempotently: SQL set-up, the procedure, the dbt project, the
# tasks. Needs a Snowflake CLI connection (SNOWFLAKE_CONNECTION, see README) and, for the
# secret, AMP_API_KEY and AMP_SECRET_KEY in the environment.
SNOWFLAKE_CONNECTION ?= default
AMPLITUDE_DATABASE ?= AMPLITUDE
AMPLITUDE_WAREHOUSE ?= AMPLITUDE_WH
AMPLITUDE_REGION ?= us
AMPLITUDE_HOST ?= $(if $(filter eu,$(AMPLITUDE_REGION)),analytics.eu.amplitude.com,amplitude.com)
AMPLITUDE_PROJECT ?= default
SCHEDULE_CRON ?= 15 * * * *
S3_URL ?= $(error set S3_URL, e.g. s3://my-bucket/amplitude/)
S3_ROLE_ARN ?= $(error set S3_ROLE_ARN, the IAM role Snowflake assumes for the bucket)
SNOW_CONN := -c $(SNOWFLAKE_CONNECTION)
SQL_VARS = -D admin_role=AMPLITUDE_ADMIN -D pipeline_role=AMPLITUDE_PIPELINE \
	-D reader_role=AMPLITUDE_READER -D database=$(AMPLITUDE_DATABASE) \
	-D warehouse=$(AMPLITUDE_WAREHOUSE) -D amplitude_host=$(AMPLITUDE_HOST) \
	-D amplitude_region=$(AMPLITUDE_REGION) -D amplitude_project=$(AMPLITUDE_PROJECT) \
	-D s3_url=$(S3_URL) -D s3_role_arn=$(S3_ROLE_ARN) -D "schedule_cron=$(SCHEDULE_CRON)"
SETUP_SQL := 00_roles 10_warehouse_database 20_external_access 30_storage \
	40_raw_table_and_pipe 50_ledger_and_settings 60_pipe_wait
DBT_PROFILES := .local/snowflake-dbt

deploy: $(SNOW_STAMP)
	@test -n "$$AMP_API_KEY" -a -n "$$AMP_SECRET_KEY" || \
		(echo "AMP_API_KEY and AMP_SECRET_KEY must be set (the secret is created from them)"; exit 2)
	for f in $(SETUP_SQL); do $(SNOW) sql $(SNOW_CONN) -f sql/$$f.sql $(SQL_VARS) || exit 1; done
	$(SNOW) snowpark build $(SNOW_CONN)
	$(SNOW) snowpark deploy --replace $(SNOW_CONN) --role AMPLITUDE_PIPELINE \
		--env AMPLITUDE_DATABASE=$(AMPLITUDE_DATABASE)
	mkdir -p $(DBT_PROFILES)
	printf 'amplitude:\n  target: prod\n  outputs:\n    prod:\n      type: snowflake\n      account: unused\n      user: unused\n      role: AMPLITUDE_PIPELINE\n      warehouse: %s\n      database: %s\n      schema: ANALYTICS\n      threads: 4\n' \
		$(AMPLITUDE_WAREHOUSE) $(AMPLITUDE_DATABASE) > $(DBT_PROFILES)/profiles.yml
	$(SNOW) dbt deploy amplitude_dbt --source dbt --profiles-dir $(DBT_PROFILES) $(SNOW_CONN) \
		--role AMPLITUDE_PIPELINE --database $(AMPLITUDE_DATABASE) --schema INGEST
	for f in 70_tasks 85_health_view 80_resume_tasks; do \
		$(SNOW) sql $(SNOW_CONN) -f sql/$$f.sql $(SQL_VARS) || exit 1; done

clean:
	rm -rf .local bench/out output
