# Two commands matter: `make demo` (the pipeline on the embedded default) and `make test`
# (every test and check). Both create the virtual environment they need.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv lint typecheck test test-fast crash-trials demo dashboard bench bench-dbt deploy clean

help:
	@echo "make demo   run the whole pipeline on sample data, nothing but this machine"
	@echo "make test   lint, type-check and run every test"
	@echo "make dashboard  the Streamlit dashboard on localhost (the demo's warehouse by default)"
	@echo "make bench  extract throughput and memory at 1 GB and 4 GB (BENCH_MB=\"1000 4000\")"
	@echo "make bench-dbt  dbt: full build vs DuckDB's single pass, hourly runs vs full (BENCH_MILLION=1, or \"1 5\")"
	@echo "make deploy     set up Snowflake and deploy procedure, dbt project and tasks"
	@echo "make app-deploy the Native App instead: snow app deploy + snow app run (no AWS)"

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
	$(BIN)/ruff check snowpark tests bench tools
	$(BIN)/ruff format --check snowpark tests bench tools
	mkdir -p .local
	cd dbt && AMPLITUDE_WAREHOUSE=../.local/sqlfluff.duckdb ../$(BIN)/sqlfluff lint models tests
	# The Snowflake side: the models compiled for Snowflake on fakesnow (no account), as a
	# full build and as an incremental run compile them, linted in Snowflake's dialect.
	rm -rf .local/snowflake-compiled
	$(BIN)/python -m tools.fakesnow_shim .local/snowflake-compiled
	$(BIN)/sqlfluff lint --config dbt/.sqlfluff-snowflake .local/snowflake-compiled

typecheck: $(STAMP)
	$(BIN)/mypy

# One pytest worker per core (pytest-xdist); a file's tests stay on one worker, so a
# module's fixture (a dbt build, a browser, a server) is set up once. PYTEST_WORKERS=0
# runs them in this process.
PYTEST_WORKERS ?= auto
test: lint typecheck $(SNOW_STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

# The full crash trials: 20 kills on the local stage and 10 on S3 (moto), seeds printed.
crash-trials: $(STAMP)
	CRASH_TRIALS=20 CRASH_TRIALS_S3=10 $(BIN)/pytest -p no:randomly -s tests/e2e/test_crash_trials.py

test-fast: $(STAMP)
	$(BIN)/pytest tests/unit

demo: $(STAMP)
	$(BIN)/python -m amplitude_laptop.demo

# The Streamlit dashboard against a laptop warehouse: DASHBOARD_DIR holds warehouse.duckdb
# and state/ (the ledger: hours and runs): the demo's by default; `make dashboard
# DASHBOARD_DIR=.local` for the folders `amplitude-ingest run` uses.
DASHBOARD_DIR ?= .local/demo
DASHBOARD_PORT ?= 8501
dashboard: $(STAMP)
	AMP_WAREHOUSE=$(DASHBOARD_DIR)/warehouse.duckdb AMP_STATE_DIR=$(DASHBOARD_DIR)/state \
		$(BIN)/streamlit run snowpark/amplitude_dashboard/streamlit_app.py \
		--server.address 127.0.0.1 --server.port $(DASHBOARD_PORT) --server.headless true \
		--browser.gatherUsageStats false --client.toolbarMode minimal

BENCH_MB ?= 1000 4000
bench: $(STAMP)
	$(BIN)/python bench/bench_extract.py --megabytes $(BENCH_MB)

BENCH_MILLION ?= 1
bench-dbt: $(STAMP)
	$(BIN)/python bench/bench_dbt.py --million $(BENCH_MILLION)

# ---- deploy to Snowflake -----------------------------------------------------------
# `make deploy` sets Snowflake up in order and idempotently (SQL set-up, the procedures,
# the dbt project, the task graph, the health views), then runs `make doctor` and resumes
# the schedule only when every check passes; FORCE_RESUME=1 resumes it anyway. README,
# "Deploy to Snowflake", is the checklist. Needs a Snowflake CLI connection
# (SNOWFLAKE_CONNECTION) whose user has ACCOUNTADMIN, and AMP_API_KEY / AMP_SECRET_KEY in
# the environment (they become the secret the first time: sql/20_external_access.sql).
# tests/unit/test_privileges.py replays the SQL in exactly this order.
SNOWFLAKE_CONNECTION ?= default
AMPLITUDE_DATABASE ?= AMPLITUDE
AMPLITUDE_WAREHOUSE ?= AMPLITUDE_WH
AMPLITUDE_REGION ?= us
AMPLITUDE_HOST ?= $(if $(filter eu,$(AMPLITUDE_REGION)),analytics.eu.amplitude.com,amplitude.com)
AMPLITUDE_PROJECT ?= default
SCHEDULE_CRON ?= 15 * * * *
# Without --dbt-version the project object gets dbt Core 1.9.4 and EXECUTE DBT PROJECT
# runs that; dbt/dbt_project.yml requires >= 1.10 (snow dbt deploy; dbt Projects on
# Snowflake: supported dbt Core versions).
DBT_VERSION ?= 1.10.15
# 1: resume the schedule even when `make doctor` fails (you know why, and accept it).
FORCE_RESUME ?= 0
S3_URL ?= $(error set S3_URL, e.g. s3://my-bucket/amplitude/)
S3_ROLE_ARN ?= $(error set S3_ROLE_ARN, the IAM role Snowflake assumes for the bucket)
ADMIN_ROLE := AMPLITUDE_ADMIN
PIPELINE_ROLE := AMPLITUDE_PIPELINE
READER_ROLE := AMPLITUDE_READER
# Owns the Streamlit dashboard (readers get USAGE on it only): sql/00, 90, 91.
DASHBOARD_ROLE := AMPLITUDE_DASHBOARD
SNOW_CONN := -c $(SNOWFLAKE_CONNECTION)
BASE_VARS = -D admin_role=$(ADMIN_ROLE) -D pipeline_role=$(PIPELINE_ROLE) \
	-D reader_role=$(READER_ROLE) -D dashboard_role=$(DASHBOARD_ROLE) \
	-D database=$(AMPLITUDE_DATABASE) \
	-D warehouse=$(AMPLITUDE_WAREHOUSE) -D "schedule_cron=$(SCHEDULE_CRON)"
SETUP_VARS = $(BASE_VARS) -D amplitude_host=$(AMPLITUDE_HOST) \
	-D amplitude_region=$(AMPLITUDE_REGION) -D amplitude_project=$(AMPLITUDE_PROJECT) \
	-D s3_url=$(S3_URL) -D s3_role_arn=$(S3_ROLE_ARN) -D dbt_version=$(DBT_VERSION)
# The deploy order: SETUP_SQL, then the procedures and the dbt project, then GRAPH_SQL,
# then DASHBOARD_SQL, the Streamlit app and DASHBOARD_ACCESS_SQL, then the doctor, then
# RESUME_SQL.
SETUP_SQL := 00_roles 10_warehouse_database 20_external_access 30_storage \
	40_raw_table_and_pipe 50_ledger_and_settings 55_forget 60_retired_objects
GRAPH_SQL := 70_tasks 75_alerts 85_health_views
# The alert channels (`make deploy-alerts`): email when ALERT_EMAILS is set, the webhook
# when AMP_ALERT_WEBHOOK_SECRET is in the environment.
ALERT_SQL := 76_alert_email 77_alert_webhook
DASHBOARD_SQL := 90_dashboard
DASHBOARD_ACCESS_SQL := 91_dashboard_access
RESUME_SQL := 80_resume_tasks
DBT_PROFILES := .local/snowflake-dbt
# `snow snowpark build` looks packages up in Snowflake's Anaconda channel with a query,
# which needs a warehouse: give it one, and the role that may use it.
SNOW_AS_PIPELINE = $(SNOW_CONN) --role $(PIPELINE_ROLE) --warehouse $(AMPLITUDE_WAREHOUSE)

.PHONY: deploy deploy-setup deploy-code deploy-graph deploy-dashboard deploy-alerts doctor resume teardown

deploy: deploy-setup deploy-code deploy-graph deploy-dashboard
	@if $(MAKE) --no-print-directory doctor; then \
		$(MAKE) --no-print-directory resume; \
	elif [ "$(FORCE_RESUME)" = 1 ]; then \
		echo "make doctor failed; FORCE_RESUME=1, so the schedule is resumed anyway."; \
		$(MAKE) --no-print-directory resume; \
	else \
		echo "make doctor failed: the schedule stays suspended. Fix what it printed, then"; \
		echo "run 'make doctor' and 'make resume' (or 'make deploy FORCE_RESUME=1')."; \
		exit 1; \
	fi

# Before any script runs: a re-deploy with another S3_URL or S3_ROLE_ARN than the storage
# integration and stage were made for stops here, naming the difference and the commands
# that move the deployment deliberately (amplitude_laptop/deploy_check.py; sql/30 keeps
# both `if not exists`, so going on would half-apply the change).
deploy-setup: $(SNOW_STAMP)
	@test -n "$$AMP_API_KEY" -a -n "$$AMP_SECRET_KEY" || \
		(echo "AMP_API_KEY and AMP_SECRET_KEY must be set (the secret is created from them)"; exit 2)
	PYTHONPATH=snowpark $(SNOW_VENV)/bin/python -m amplitude_laptop.deploy_check \
		--s3-url '$(S3_URL)' --s3-role-arn '$(S3_ROLE_ARN)' --database $(AMPLITUDE_DATABASE) \
		-- $(SNOW) sql $(SNOW_CONN) --role accountadmin
	for f in $(SETUP_SQL); do $(SNOW) sql $(SNOW_CONN) -f sql/$$f.sql $(SETUP_VARS) || exit 1; done

deploy-code: $(SNOW_STAMP)
	# snowflake.yml ships the package folder whole: leave no bytecode in it.
	find snowpark/amplitude_ingest -name __pycache__ -prune -exec rm -rf {} +
	$(SNOW) snowpark build $(SNOW_AS_PIPELINE) --env AMPLITUDE_DATABASE=$(AMPLITUDE_DATABASE)
	$(SNOW) snowpark deploy --replace $(SNOW_AS_PIPELINE) \
		--env AMPLITUDE_DATABASE=$(AMPLITUDE_DATABASE)
	mkdir -p $(DBT_PROFILES)
	printf 'amplitude:\n  target: prod\n  outputs:\n    prod:\n      type: snowflake\n      account: unused\n      user: unused\n      role: %s\n      warehouse: %s\n      database: %s\n      schema: ANALYTICS\n      threads: 4\n' \
		$(PIPELINE_ROLE) $(AMPLITUDE_WAREHOUSE) $(AMPLITUDE_DATABASE) > $(DBT_PROFILES)/profiles.yml
	$(SNOW) dbt deploy amplitude_dbt --source dbt --profiles-dir $(DBT_PROFILES) \
		--dbt-version $(DBT_VERSION) $(SNOW_AS_PIPELINE) \
		--database $(AMPLITUDE_DATABASE) --schema INGEST

deploy-graph: $(SNOW_STAMP)
	for f in $(GRAPH_SQL); do $(SNOW) sql $(SNOW_CONN) -f sql/$$f.sql $(BASE_VARS) || exit 1; done

# The dashboard: its schema and grants (sql/90), then the Streamlit app of snowflake.yml,
# created and owned by the dashboard role (the app runs with its owner's rights and its
# owner may edit it), then USAGE on the app for the reader role (sql/91). Open it in
# Snowsight (Projects > Streamlit) or at the URL the CLI prints; grant the reader role to
# the people who should see it.
deploy-dashboard: $(SNOW_STAMP)
	for f in $(DASHBOARD_SQL); do $(SNOW) sql $(SNOW_CONN) -f sql/$$f.sql $(BASE_VARS) || exit 1; done
	$(SNOW) streamlit deploy amplitude_dashboard --replace $(SNOW_CONN) --role $(DASHBOARD_ROLE) \
		--warehouse $(AMPLITUDE_WAREHOUSE) --env AMPLITUDE_DATABASE=$(AMPLITUDE_DATABASE) \
		--env AMPLITUDE_WAREHOUSE=$(AMPLITUDE_WAREHOUSE)
	for f in $(DASHBOARD_ACCESS_SQL); do $(SNOW) sql $(SNOW_CONN) -f sql/$$f.sql $(BASE_VARS) || exit 1; done

# The alert channels (README, "Alerts"), after `make deploy`. Email: ALERT_EMAILS, a
# comma-separated list of verified addresses of users of this account (not a secret). The
# webhook: the secret part of its URL in the environment, never on the command line:
#   export AMP_ALERT_WEBHOOK_SECRET=T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX
ALERT_EMAILS ?=
deploy-alerts: $(SNOW_STAMP)
	@test -n "$(ALERT_EMAILS)" -o -n "$$AMP_ALERT_WEBHOOK_SECRET" || \
		(echo "set ALERT_EMAILS=a@example.com,... and/or export AMP_ALERT_WEBHOOK_SECRET"; exit 2)
	@if [ -n "$(ALERT_EMAILS)" ]; then \
		$(SNOW) sql $(SNOW_CONN) -f sql/76_alert_email.sql $(BASE_VARS) \
			-D "alert_emails=$(ALERT_EMAILS)" || exit 1; fi
	@if [ -n "$$AMP_ALERT_WEBHOOK_SECRET" ]; then \
		$(SNOW) sql $(SNOW_CONN) -f sql/77_alert_webhook.sql $(BASE_VARS) || exit 1; fi

# Every check of amplitude_doctor() (amplitude_ingest/in_snowflake/doctor.py): what is wrong and the
# command that fixes it. Exits non-zero when a check fails. From a worksheet:
#   call amplitude.ingest.amplitude_doctor();
# TEST_ALERT=1 also sends a test message to every alert channel that is set.
TEST_ALERT ?= 0
doctor: $(SNOW_STAMP)
	$(SNOW) sql $(SNOW_AS_PIPELINE) \
		-q "call $(AMPLITUDE_DATABASE).ingest.amplitude_doctor(strict => true, test_alert => $(if $(filter 1,$(TEST_ALERT)),true,false))"

resume: $(SNOW_STAMP)
	for f in $(RESUME_SQL); do $(SNOW) sql $(SNOW_CONN) -f sql/$$f.sql $(BASE_VARS) || exit 1; done

# Drops the database (raw events, ledger, marts), the warehouse, integrations and roles.
teardown: $(SNOW_STAMP)
	@test "$(CONFIRM)" = "$(AMPLITUDE_DATABASE)" || \
		(echo "teardown drops database $(AMPLITUDE_DATABASE) and its data: run it with CONFIRM=$(AMPLITUDE_DATABASE)"; exit 2)
	$(SNOW) sql $(SNOW_CONN) -f sql/99_teardown.sql $(BASE_VARS)

# ---- the Native App (README, "Deploy as a Native App") ------------------------------
# The second deploy form: no AWS account, no SQL run by hand. `snow app deploy` creates
# the application package and uploads app/, the shipped package and the Streamlit to its
# stage (snowflake.yml: amplitude_connector_pkg); `snow app run` installs the app from
# those files, or upgrades it in place when it exists (amplitude_connector). Then, in
# Snowsight, approve the app specification, set the key pair and start the schedule
# (app/README.md). AMPLITUDE_APP_ROLE needs CREATE APPLICATION PACKAGE and CREATE
# APPLICATION on the account (ACCOUNTADMIN has both); AMPLITUDE_WAREHOUSE is any warehouse
# it may use (the setup script runs on it).
AMPLITUDE_APP_PACKAGE ?= amplitude_connector_pkg
AMPLITUDE_APP ?= amplitude_connector
AMPLITUDE_APP_ROLE ?= ACCOUNTADMIN
APP_ENV = --env AMPLITUDE_APP_PACKAGE=$(AMPLITUDE_APP_PACKAGE) --env AMPLITUDE_APP=$(AMPLITUDE_APP) \
	--env AMPLITUDE_APP_ROLE=$(AMPLITUDE_APP_ROLE) --env AMPLITUDE_WAREHOUSE=$(AMPLITUDE_WAREHOUSE)

.PHONY: app-bundle app-deploy app-teardown

# The bundle `snow app deploy` would upload, in output/deploy; no account needed
# (tests/integration/test_native_app_bundle.py checks its tree).
app-bundle: $(SNOW_STAMP)
	find snowpark/amplitude_ingest -name __pycache__ -prune -exec rm -rf {} +
	$(SNOW) app bundle $(APP_ENV)

app-deploy: $(SNOW_STAMP)
	# snowflake.yml ships the package folder whole: leave no bytecode in it.
	find snowpark/amplitude_ingest -name __pycache__ -prune -exec rm -rf {} +
	$(SNOW) app deploy $(SNOW_CONN) $(APP_ENV)
	$(SNOW) app run $(SNOW_CONN) $(APP_ENV)

# Drops the app (its raw table, ledger and staged files with it) and the package.
app-teardown: $(SNOW_STAMP)
	@test "$(CONFIRM)" = "$(AMPLITUDE_APP)" || \
		(echo "app-teardown drops app $(AMPLITUDE_APP) and its data: run it with CONFIRM=$(AMPLITUDE_APP)"; exit 2)
	$(SNOW) app teardown --cascade $(SNOW_CONN) $(APP_ENV)

clean:
	rm -rf .local bench/out output
