"""Every statement in sql/ parses as Snowflake SQL; what sqlglot only keeps as an opaque
command gets a stricter check here; the task graph has the shape the pipeline needs; the
deploy (Makefile) runs things in the order that makes the schedule start last."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlglot
import yaml
from sqlglot import exp

from tests.privilege_replay import makefile_list, normalize
from tests.sql_scripts import (
    ROOT,
    SQL_DIR,
    VARIABLES,
    render,
    scripts,
    split_statements,
    statements,
)

# Statement shapes sqlglot keeps as an opaque Command; each must match one of these.
COMMAND_SHAPES = [
    r"create role if not exists \w+\s+comment = '[^']+'",
    r"grant role \w+ to role \w+",
    r"grant ownership on (database|warehouse) \w+ to role \w+ copy current grants",
    r"grant select on (future|all) (tables|views) in schema [\w.]+ to role \w+",
    r"grant (read on secret|monitor on pipe|usage on procedure) [\w.()]+ to role \w+",
    r"create or alter network rule \w+\s+mode = egress\s+type = host_port\s+"
    r"value_list = \('[\w.-]+:443'\)\s+comment = '(?:[^']|'')+'",
    r"create secret if not exists \w+\s+type = password\s+username = '(?:[^'\\]|\\.)*'\s+"
    r"password = '(?:[^'\\]|\\.)*'\s+comment = '[^']+'",
    r"execute immediate \$\$ declare existing integer default 0; begin "
    r"show integrations like 'AMPLITUDE_EXPORT_ACCESS'; .* "
    r"create external access integration amplitude_export_access "
    r"allowed_network_rules = \([\w.]+\) allowed_authentication_secrets = \([\w.]+\) "
    r"enabled = true; end if; return existing; end; \$\$",
    r"alter external access integration \w+ set allowed_network_rules = \([\w.]+\)\s+"
    r"allowed_authentication_secrets = \([\w.]+\)\s+enabled = true\s+comment = '[^']+'",
    r"alter file format \w+ set compression = auto strip_outer_array = false comment = '[^']+'",
    r"create pipe if not exists [\w.]+\s+auto_ingest = true\s+comment = '[^']+'\s+as\s+"
    r"copy into .+",
    r"alter task (if exists )?[\w.]+ (suspend|resume)",
    r"drop (task|pipe|procedure) if exists [\w.]+(\((\w+(, )?)*\))?",
    r"create or replace task \w+\s+warehouse = \w+\s+.*\bas\s+.+",
    r"show tasks like 'AMPLITUDE_%' in schema [\w.]+",
    # sql/75-77: the alert, its channels (CREATE ALERT; CREATE NOTIFICATION INTEGRATION).
    r"create or replace alert \w+ warehouse = \w+ schedule = '\d+ minute' comment = '[^']+' "
    r"if \(exists \( select .+ \)\) then call [\w.]+\(\)",
    r"alter alert \w+ resume",
    r"create notification integration if not exists \w+ type = email enabled = true "
    r"allowed_recipients = \('[^']+'(, '[^']+')*\) comment = '[^']+'",
    r"alter notification integration \w+ set enabled = true "
    r"allowed_recipients = \('[^']+'(, '[^']+')*\)",
    r"create secret if not exists \w+ type = generic_string "
    r"secret_string = '(?:[^'\\]|\\.)*' comment = '[^']+'",
    r"create notification integration if not exists \w+ type = webhook enabled = true "
    r"webhook_url = 'https://hooks\.slack\.com/services/SNOWFLAKE_WEBHOOK_SECRET' "
    r"webhook_secret = [\w.]+ webhook_body_template = '[^']+' "
    r"webhook_headers = \('Content-Type' = 'application/json'\) comment = '[^']+'",
]


@pytest.mark.parametrize("path", scripts(), ids=lambda p: p.name)
def test_every_statement_parses_or_matches_a_known_shape(path: Path) -> None:
    for statement in statements(path):
        if isinstance(statement, exp.Command):
            text = " ".join(statement.sql(dialect="snowflake", comments=False).split())
            assert any(re.fullmatch(shape, text, re.S | re.I) for shape in COMMAND_SHAPES), text


@pytest.mark.parametrize("path", scripts(), ids=lambda p: p.name)
def test_scripts_are_lowercase_with_a_banner_and_choose_idempotence(path: Path) -> None:
    text = path.read_text()
    assert text.startswith("-- ====="), "every script opens with a banner"
    assert "Idempotent" in text[:2500]
    assert re.search(r"^-- Run as:", text, re.M), "the banner says which role runs it"
    code = _code(text)
    assert code == code.lower(), "keywords and identifiers are lowercase"
    for create in re.findall(r"^\s*create\s[^\n]*", code, re.M):
        if not re.search(r"or replace|if not exists|or alter", create):
            pytest.fail(f"create without `or replace`, `or alter` or `if not exists`: {create}")


def _code(text: str) -> str:
    """The SQL without comments, string literals and $$ bodies."""
    return re.sub(r"--[^\n]*|'(?:[^'\\]|''|\\.)*'|\$\$.*?\$\$", "", text, flags=re.S)


# What holds data or carries identity is never replaced: a replaced pipe reloads every file
# it already loaded, a replaced file format stops the pipe, a replaced integration changes
# the external id (storage) or unbinds the procedures (external access), a replaced secret
# loses a rotated key, replaced tables lose data.
NEVER_REPLACED = (
    "pipe",
    "file format",
    "stage",
    "storage integration",
    "external access integration",
    "network rule",
    "secret",
    "table",
    "schema",
    "database",
    "warehouse",
    "role",
)


@pytest.mark.parametrize("path", scripts(), ids=lambda p: p.name)
def test_what_holds_data_or_identity_is_never_replaced(path: Path) -> None:
    code = _code(path.read_text())
    for kind in NEVER_REPLACED:
        assert not re.search(rf"create or replace {kind}\b", code), f"{path.name}: {kind}"


def test_the_pipe_loads_events_with_file_metadata_and_never_the_quarantine() -> None:
    (pipe,) = [
        s.sql(dialect="snowflake", comments=False)
        for s in statements(SQL_DIR / "40_raw_table_and_pipe.sql")
        if isinstance(s, exp.Command) and "pipe if not exists" in s.sql().lower()
    ]
    copy_sql = pipe[pipe.lower().index("copy into") :]
    copy = sqlglot.parse_one(copy_sql, read="snowflake")
    assert isinstance(copy, exp.Copy)
    text = copy_sql.lower()
    for column in ("metadata$filename", "metadata$file_row_number", "metadata$start_scan_time"):
        assert column in text
    pattern = re.search(r"pattern = '([^']+)'", copy_sql).group(1)  # type: ignore[union-attr]
    assert re.fullmatch(pattern, "events/web/2026/01/26/05/web_20260126T05_0000_ab.json")
    assert re.fullmatch(pattern, "events/web/2026/01/26/05/web_20260126T05_0000_ab.json.gz")
    # The doctor's marker goes through the same pipe, under events/_doctor/.
    assert re.fullmatch(pattern, "events/_doctor/amplitude_doctor_20260126T050000_ab12.json")
    assert not re.fullmatch(pattern, "_quarantine/web/2026/01/26/05/web_0000_ab.rejected.jsonl")


def _tasks(path: Path = SQL_DIR / "70_tasks.sql") -> dict[str, dict[str, str | None]]:
    tasks: dict[str, dict[str, str | None]] = {}
    for raw in split_statements(render(path.read_text())):
        text = normalize(raw)
        match = re.match(r"create or replace task (\w+) (.*?) as (.+)$", text, re.I | re.S)
        if not match:
            continue
        name, options, body = match.groups()
        sqlglot.parse_one(body, read="snowflake")  # the task's statement parses too
        schedule = re.search(r"schedule = '([^']+)'", options)
        after = re.search(r"\bafter (\w+)", options)
        final = re.search(r"\bfinalize = (\w+)", options)
        tasks[name] = {
            "schedule": schedule.group(1) if schedule else None,
            "after": after.group(1) if after else None,
            "finalize": final.group(1) if final else None,
            "options": options,
            "body": body,
        }
    return tasks


def test_the_task_graph_has_one_scheduled_root_and_everything_hangs_off_it() -> None:
    tasks = _tasks()
    roots = [n for n, t in tasks.items() if t["schedule"]]
    assert roots == ["amplitude_pipeline_root"]
    assert tasks["amplitude_pipeline_root"]["schedule"].startswith("USING CRON ")  # type: ignore[union-attr]
    assert "ingest.ingest_amplitude()" in tasks["amplitude_pipeline_root"]["body"]  # type: ignore[operator]

    def reachable(name: str) -> bool:
        task = tasks[name]
        if name in roots:
            return True
        parent = task["after"] or task["finalize"]
        return parent is not None and reachable(parent)

    assert all(reachable(name) for name in tasks)
    finalizers = [n for n, t in tasks.items() if t["finalize"]]
    assert finalizers == ["amplitude_pipeline_finalizer"]
    assert tasks["amplitude_pipeline_finalizer"]["finalize"] == "amplitude_pipeline_root"
    # dbt runs only after every file of the run is loaded, which runs after the export.
    assert tasks["amplitude_wait_for_loads"]["after"] == "amplitude_pipeline_root"
    assert tasks["amplitude_dbt_build"]["after"] == "amplitude_wait_for_loads"
    assert "execute dbt project" in tasks["amplitude_dbt_build"]["body"].lower()  # type: ignore[union-attr]
    # Freshness runs beside the build, after the loads: stale data fails it, not the build.
    assert tasks["amplitude_source_freshness"]["after"] == "amplitude_wait_for_loads"
    assert "source freshness" in tasks["amplitude_source_freshness"]["body"]  # type: ignore[operator]
    assert "amplitude_wait_for_loads()" in tasks["amplitude_wait_for_loads"]["body"]  # type: ignore[operator]
    # Every procedure a task calls is one snowflake.yml deploys.
    entities = yaml.safe_load((ROOT / "snowflake.yml").read_text())["entities"]
    for task in tasks.values():
        call = re.search(r"call [\w.]+\.(\w+)\(", task["body"] or "")
        if call:
            assert call.group(1) in entities


def _option(options: str | None, name: str) -> str | None:
    found = re.search(rf"\b{name} = (\w+)", options or "", re.I)
    return found.group(1) if found else None


def test_no_task_of_the_graph_auto_suspends_and_only_the_root_retries() -> None:
    """Assumption from the docs, only an account shows it: SUSPEND_TASK_AFTER_NUM_FAILURES
    set on the root counts consecutive failed runs of any task of the graph (CREATE TASK),
    and since bundle 2023_08 every task defaults to 10 and is then FAILED_AND_AUTO_SUSPENDED
    (release-notes/bcr-bundles/2023_08/bcr-1412): 0 on each task keeps the schedule alive.
    TASK_AUTO_RETRY_ATTEMPTS is a root-only option (CREATE TASK). The finalizer's options
    are the alerts work's (its own test)."""
    tasks = _tasks()
    checked = {n: t for n, t in tasks.items() if not t["finalize"]}
    assert set(checked) >= {
        "amplitude_pipeline_root",
        "amplitude_wait_for_loads",
        "amplitude_dbt_build",
        "amplitude_source_freshness",
    }
    for name, task in checked.items():
        assert _option(task["options"], "suspend_task_after_num_failures") == "0", name
    assert _option(tasks["amplitude_pipeline_root"]["options"], "task_auto_retry_attempts") == "2"
    for name, task in checked.items():
        if name != "amplitude_pipeline_root":
            assert _option(task["options"], "task_auto_retry_attempts") is None, name


def test_the_catch_up_task_runs_the_root_again_only_when_the_export_asked() -> None:
    """After the export and the dbt build (each load is built; a failed export, wait or
    build never reaches it), it reads the root's return value (an ancestor's, by name:
    sql-reference/functions/system_get_predecessor_return_value) and runs the root again
    when the summary's ``catch_up`` is set. Assumptions from the docs, only an account shows
    them: EXECUTE TASK starts one run of the root (sql-reference/sql/execute-task), and the
    default OVERLAP_POLICY = NO_OVERLAP schedules a root run only after the previous run's
    tasks have all finished (release-notes/2026/other/2026-03-13-tasks-overlap-policy). That
    a task of the running graph may execute its root is not documented: a refusal is caught
    and returned, never failing the graph."""
    from amplitude_ingest.domain import ExtractSummary

    tasks = _tasks()
    task = tasks["amplitude_catch_up"]
    after = re.search(r"\bafter (\w+(?:, \w+)*)", task["options"] or "")
    assert after is not None
    assert after.group(1) == "amplitude_dbt_build"
    body = " ".join((task["body"] or "").split())
    assert "catch_up" in ExtractSummary().as_dict()  # the key the procedure returns
    assert re.search(
        r"if \(coalesce\(try_parse_json\(system\$get_predecessor_return_value\("
        r"'AMPLITUDE_PIPELINE_ROOT'\)\):catch_up::boolean, false\)\) then "
        r"execute task AMPLITUDE\.ingest\.amplitude_pipeline_root;",
        body,
    ), body
    assert re.search(r"exception when other then return '[^']+' \|\| sqlerrm; end;", body)
    root = tasks["amplitude_pipeline_root"]["options"] or ""
    assert not re.search(r"allow_overlapping_execution|overlap_policy", root, re.I)


def test_the_finalizer_merges_each_tasks_last_attempt() -> None:
    body = _tasks()["amplitude_pipeline_finalizer"]["body"] or ""
    # A Snowflake Scripting block: the run record first, then the load-history snapshot.
    assert re.match(r"execute immediate \$\$\s+begin\s+merge into ", body, re.I)
    assert re.search(r"begin transaction;\s+delete from [\w.]+amplitude_load_history;", body, re.I)
    # The tasks a run should have had: the graph itself, from its root.
    assert "information_schema.task_dependents(" in body.lower()
    assert re.search(
        r"partition by history\.name order by history\.attempt_number desc", body, re.I
    )
    assert "to_varchar(history.graph_run_group_id)" in body.lower()


def test_the_resume_script_resumes_the_finalizer_then_the_graph_and_lists_them() -> None:
    texts = [
        normalize(s)
        for s in split_statements(render((SQL_DIR / "80_resume_tasks.sql").read_text()))
    ]
    order = [t for t in texts if not t.startswith("use ")]
    assert order == [
        "alter task if exists amplitude_pipeline_root suspend",
        "alter task amplitude_pipeline_finalizer resume",
        "select system$task_dependents_enable('AMPLITUDE.ingest.amplitude_pipeline_root')",
        "show tasks like 'AMPLITUDE_%' in schema AMPLITUDE.ingest",
    ]


def test_settings_a_user_tunes_are_never_overwritten_by_a_deploy() -> None:
    merges = [
        normalize(s)
        for s in split_statements(render((SQL_DIR / "50_ledger_and_settings.sql").read_text()))
        if normalize(s).startswith("merge into amplitude_ingest_settings")
    ]
    assert len(merges) == 2
    deployment, tunables = merges
    assert "when matched then update" in deployment
    assert "when matched" not in tunables
    for name in ("concurrency", "lag_hours", "time_budget_seconds", "wait_timeout_seconds"):
        assert f"('{name}'," in tunables
        assert f"('{name}'," not in deployment
    for name in ("stage", "ledger_table", "raw_table", "region", "s3_url", "dbt_version"):
        assert f"('{name}'," in deployment
    # Names are fully qualified: no procedure depends on the caller's current schema.
    assert "('stage', 'AMPLITUDE.INGEST.AMPLITUDE_STAGE')" in deployment


def test_rendering_refuses_a_missing_variable() -> None:
    with pytest.raises(KeyError, match="warehouse"):
        render("use warehouse <% warehouse %>;", {})


@pytest.mark.parametrize(
    "value",
    [
        "plain0123abcdef",
        "it's",
        "back\\slash",
        "\\'; drop database amplitude; --",
        "ünïcødé $$ <% x %>",
    ],
)
def test_secret_values_are_escaped_into_their_string_literal(value: str) -> None:
    """The literal in sql/20 decodes back to exactly the value, whatever it holds."""
    variables = {**VARIABLES, "ctx.env.AMP_API_KEY": value, "ctx.env.AMP_SECRET_KEY": value}
    rendered = render((SQL_DIR / "20_external_access.sql").read_text(), variables)
    (secret,) = [s for s in split_statements(rendered) if "create secret" in s]
    literals = re.findall(r"(username|password) = '((?:[^'\\]|\\.)*)'", secret)
    assert [name for name, _ in literals] == ["username", "password"]
    for _, literal in literals:
        assert re.sub(r"\\(.)", r"\1", literal) == value


def test_the_deploy_order_resumes_the_schedule_last() -> None:
    setup, graph, dashboard, access, resume = (
        makefile_list(n)
        for n in ("SETUP_SQL", "GRAPH_SQL", "DASHBOARD_SQL", "DASHBOARD_ACCESS_SQL", "RESUME_SQL")
    )
    assert resume == ["80_resume_tasks"]
    assert "85_health_views" in graph
    assert "70_tasks" in graph
    assert dashboard == ["90_dashboard"]
    assert access == ["91_dashboard_access"]
    # The alert channels run on their own (`make deploy-alerts`), after the deploy.
    channels = makefile_list("ALERT_SQL")
    assert channels == ["76_alert_email", "77_alert_webhook"]
    assert "75_alerts" in graph
    every = setup + graph + dashboard + access + resume + channels
    assert {f"{n}.sql" for n in every} | {"99_teardown.sql"} == {p.name for p in scripts()}
    makefile = (ROOT / "Makefile").read_text()
    deploy = makefile[makefile.index("\ndeploy:") :]
    deploy = deploy[: deploy.index("\n\n")]
    assert deploy.index("doctor") < deploy.index("resume")
    assert "FORCE_RESUME" in deploy


def test_the_dbt_project_gets_the_dbt_version_the_project_requires() -> None:
    makefile = (ROOT / "Makefile").read_text()
    version = re.search(r"^DBT_VERSION \?= ([\d.]+)$", makefile, re.M).group(1)  # type: ignore[union-attr]
    assert "--dbt-version $(DBT_VERSION)" in makefile
    required = yaml.safe_load((ROOT / "dbt" / "dbt_project.yml").read_text())["require-dbt-version"]
    numbers = tuple(int(p) for p in version.split("."))
    for bound in required:
        op, target = re.match(r"([<>=]+)\s*([\d.]+)", bound).groups()  # type: ignore[union-attr]
        target_numbers = tuple(int(p) for p in target.split("."))
        assert {">=": numbers >= target_numbers, "<": numbers < target_numbers}[op], bound
    assert VARIABLES["dbt_version"] == version
    # snow snowpark build queries Snowflake's Anaconda channel: it needs a warehouse.
    assert re.search(r"snowpark build \$\(SNOW_AS_PIPELINE\)", makefile)
    assert "--warehouse $(AMPLITUDE_WAREHOUSE)" in makefile
