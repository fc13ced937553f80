"""Every statement in sql/ parses as Snowflake SQL; what sqlglot only keeps as an opaque
command gets a stricter check here; and the task graph has the shape the pipeline needs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from tests.sql_scripts import SQL_DIR, render, scripts, statements

# Statement shapes sqlglot keeps as an opaque Command; each must match one of these.
COMMAND_SHAPES = [
    r"create role if not exists \w+\s+comment = '[^']+'",
    r"grant role \w+ to role \w+",
    r"grant ownership on (database|warehouse) \w+ to role \w+ copy current grants",
    r"grant select on future (tables|views) in schema \w+ to role \w+",
    r"grant (read on secret|usage on network rule) [\w.]+ to role \w+",
    r"grant operate, monitor on pipe [\w.]+ to role \w+",
    r"create or replace network rule \w+\s+mode = egress\s+type = host_port\s+"
    r"value_list = \('[\w.-]+:443'\)\s+comment = '(?:[^']|'')+'",
    r"create secret if not exists \w+\s+type = password\s+username = '[^']*'\s+"
    r"password = '[^']*'\s+comment = '[^']+'",
    r"create or replace external access integration \w+\s+allowed_network_rules = \([\w.]+\)\s+"
    r"allowed_authentication_secrets = \([\w.]+\)\s+enabled = true\s+comment = '[^']+'",
    r"create pipe if not exists [\w.]+\s+auto_ingest = true\s+comment = '[^']+'\s+as\s+"
    r"copy into .+",
    r"alter task if exists [\w.]+ suspend",
    r"drop (task|pipe) if exists [\w.]+",
    r"create or replace task \w+\s+warehouse = \w+\s+.*\bas\s+.+",
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
    assert "Idempotent" in text.split("\n\n")[0] or "Idempotent" in text[:1500]
    code = _code(text)
    assert code == code.lower(), "keywords and identifiers are lowercase"
    for create in re.findall(r"^\s*create\s[^\n]*", code, re.M):
        if "or replace" not in create and "if not exists" not in create:
            pytest.fail(f"create without `or replace` or `if not exists`: {create}")


def _code(text: str) -> str:
    """The SQL without comments, string literals and $$ bodies."""
    return re.sub(r"--[^\n]*|'(?:[^']|'')*'|\$\$.*?\$\$", "", text, flags=re.S)


def test_the_pipe_loads_events_with_file_metadata_and_never_the_quarantine() -> None:
    (pipe,) = [
        s.sql(dialect="snowflake")
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
    assert not re.fullmatch(pattern, "_quarantine/web/2026/01/26/05/web_0000_ab.rejected.jsonl")
    assert "create or replace pipe" not in _code(
        (SQL_DIR / "40_raw_table_and_pipe.sql").read_text()
    )


def _tasks() -> dict[str, dict[str, str | None]]:
    tasks: dict[str, dict[str, str | None]] = {}
    for statement in statements(SQL_DIR / "70_tasks.sql"):
        text = " ".join(statement.sql(dialect="snowflake").split())
        match = re.match(r"create or replace task (\w+) (.*?) as (.+)$", text, re.I)
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
            "body": body,
        }
    return tasks


def test_the_task_graph_has_one_scheduled_root_and_everything_hangs_off_it() -> None:
    tasks = _tasks()
    roots = [n for n, t in tasks.items() if t["schedule"]]
    assert roots == ["amplitude_pipeline_root"]
    assert tasks["amplitude_pipeline_root"]["schedule"].startswith("USING CRON ")  # type: ignore[union-attr]
    assert "ingest_amplitude()" in tasks["amplitude_pipeline_root"]["body"]  # type: ignore[operator]

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
    # dbt runs only after the pipe has drained, which runs after the export.
    assert tasks["amplitude_wait_for_pipe"]["after"] == "amplitude_pipeline_root"
    assert tasks["amplitude_dbt_build"]["after"] == "amplitude_wait_for_pipe"
    assert "execute dbt project" in tasks["amplitude_dbt_build"]["body"].lower()  # type: ignore[union-attr]
    assert "wait_for_pipe" in tasks["amplitude_wait_for_pipe"]["body"]  # type: ignore[operator]


def test_rendering_refuses_a_missing_variable() -> None:
    with pytest.raises(KeyError, match="warehouse"):
        render("use warehouse <% warehouse %>;", {})
