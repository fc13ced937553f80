"""The Native App's setup script (app/setup_script.sql) and manifest (app/manifest.yml),
statement by statement, offline.

* Every statement parses in Snowflake's dialect: sqlfluff's Snowflake dialect, or
  sqlglot into a real expression (not its opaque `Command`). A statement neither parses
  is one of DIALECT_GAPS, each named with the documentation page of its syntax; a gap
  no statement uses any more is stale and fails too.
* The setup script's restrictions (developer-guide/native-apps/creating-setup-script,
  versioned-schema) and the manifest's promises hold.
* The network rule's hosts equal the app specification's HOST_PORTS, region by region,
  and equal the hosts the shipped code calls (amplitude_ingest.config.Region).
* Every statement is safe to run again on upgrade, by the form chosen for its kind.

What only an account can show (that Snowflake accepts each statement in an app, that
the consumer's approval enables the integration) is listed in README.md, "What was
checked only offline"."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
import sqlfluff
import sqlglot
from sqlfluff.api.simple import APIParsingError
from sqlglot import exp

from amplitude_ingest.config import Region
from tests.native_app import (
    APP_DIR,
    grants,
    handlers,
    imports,
    manifest,
    normalize,
    procedures,
    setup_script,
    statements,
    streamlits,
)

# Statement shapes sqlfluff 4.4's Snowflake dialect does not parse and sqlglot keeps as an
# opaque Command: Snowflake syntax, checked against its reference page by eye, not bugs.
DIALECT_GAPS = {
    r"^create application role if not exists \w+$": "sql-reference/sql/create-application-role",
    r"^grant application role \w+ to application role \w+$": (
        "sql-reference/sql/grant-application-role"
    ),
    r"^grant .+ on (schema|table|view|procedure|streamlit) .+ to application role \w+$": (
        "sql-reference/sql/grant-privilege-application-role"
    ),
    r"^create or alter versioned schema \w+$": (
        "sql-reference/sql/create-schema (developer-guide/native-apps/versioned-schema)"
    ),
    r"^create secret if not exists [\w.]+ type = password ": "sql-reference/sql/create-secret",
    r"^create external access integration if not exists \w+ ": (
        "sql-reference/sql/create-external-access-integration"
    ),
    r"^alter external access integration \w+ set ": (
        "sql-reference/sql/alter-external-access-integration"
    ),
    r"^create or replace streamlit [\w.]+ from '/": "sql-reference/sql/create-streamlit",
}
# Statements inside a $$ body (Snowflake Scripting) sqlfluff does not parse; the body is
# parsed without them.
BODY_GAPS = {
    r"alter network rule [\w.]+\s+set value_list = \([^)]*\);": (
        "sql-reference/sql/alter-network-rule"
    ),
    r"alter application set specification \w+\s.*?;": (
        "sql-reference/sql/alter-application-set-app-spec"
    ),
}


def parses_with_sqlfluff(sql: str) -> bool:
    try:
        sqlfluff.parse(sql, dialect="snowflake")
    except APIParsingError:
        return False
    return True


def parses_with_sqlglot(sql: str) -> bool:
    try:
        tree = sqlglot.parse_one(sql, read="snowflake")
    except sqlglot.errors.ParseError:
        return False
    return not isinstance(tree, exp.Command)


def test_every_statement_parses_or_is_a_named_dialect_gap() -> None:
    used: set[str] = set()
    unparsed = []
    for raw in statements():
        if parses_with_sqlfluff(raw) or parses_with_sqlglot(raw):
            continue
        text = normalize(raw)
        gaps = [gap for gap in DIALECT_GAPS if re.match(gap, text)]
        if gaps:
            used.update(gaps)
        else:
            unparsed.append(text[:120])
    assert unparsed == [], "neither sqlfluff nor sqlglot parses these, and no gap names them"
    assert set(DIALECT_GAPS) == used, "a named gap no statement needs any more"


def sql_bodies() -> Iterator[tuple[str, str]]:
    for raw in statements():
        text = normalize(raw)
        for body in re.findall(r"\$\$(.*?)\$\$", raw, re.S):
            yield text[:60], body


def test_every_sql_body_parses_but_for_named_gaps() -> None:
    bodies = list(sql_bodies())
    # the region procedures, the forget's rows procedure and the finalizer task
    assert len(bodies) == 4
    used = set()
    for head, body in bodies:
        stripped = body
        for gap in BODY_GAPS:
            stripped, count = re.subn(gap, "", stripped, flags=re.S | re.I)
            if count:
                used.add(gap)
        assert parses_with_sqlfluff(stripped), head
    assert set(BODY_GAPS) == used


# ---- what a setup script may not contain ----------------------------------------------


def test_no_statement_a_setup_script_may_not_run() -> None:
    """creating-setup-script: no USE, nothing EXECUTE AS CALLER, IMPORTS only from files
    in the package, LOG_LEVEL / TRACE_LEVEL not set."""
    for raw in statements():
        text = normalize(raw)
        assert not re.match(r"^use\b", text), text
        assert "execute as caller" not in text, text
        assert not re.search(r"\b(log_level|trace_level)\s*=", text), text
    assert imports(), "no IMPORTS found: the reader of the script is broken"
    for path in imports():
        assert path.startswith("/"), f"IMPORTS from a named stage: {path}"
    for procedure in procedures().values():
        assert "execute as owner" in procedure.text, procedure.name


def test_versioned_schema_holds_code_only() -> None:
    """versioned-schema: tasks, application roles and state stay out of the versioned
    schema; it holds the procedures and the Streamlit."""
    texts = [normalize(raw) for raw in statements()]
    (versioned,) = [
        m.group(1) for t in texts if (m := re.match(r"^create or alter versioned schema (\w+)$", t))
    ]
    for text in texts:
        created = re.match(
            r"^create (?:or replace |or alter )?(\w+(?: \w+)*?) (?:if not exists )?([\w.]+)", text
        )
        if not created or created.group(1) in ("versioned schema", "schema"):
            continue
        kind, name = created.groups()
        in_versioned = name.startswith(f"{versioned}.")
        if kind in ("procedure", "streamlit"):
            assert in_versioned, f"{kind} {name} outside the versioned schema"
        else:
            assert not in_versioned, f"{kind} {name} in the versioned schema"
    roles = [re.match(r"^create application role if not exists ([\w.]+)$", t) for t in texts]
    assert all("." not in m.group(1) for m in roles if m), "an application role in a schema"


# ---- the manifest --------------------------------------------------------------------


def test_manifest_names_files_and_objects_that_exist() -> None:
    data = manifest()
    assert data["manifest_version"] == 2  # automated privileges and app specifications
    artifacts = data["artifacts"]
    assert setup_script().is_file()
    assert (APP_DIR / artifacts["readme"]).is_file()
    assert artifacts["default_streamlit"] in streamlits()


def test_every_lifecycle_callback_exists_and_is_granted_to_nobody() -> None:
    """callbacks: the specification callback is asynchronous and gets no status in its
    signature; callback procedures need no grant to any application role (the framework
    calls them), so none is granted: no consumer can fake an approval."""
    callbacks = manifest()["lifecycle_callbacks"]
    assert set(callbacks) == {"after_specification_change"}
    created = procedures()
    granted = {name.split("(")[0] for _, kind, name, _ in grants() if kind == "procedure"}
    for procedure in callbacks.values():
        assert procedure in created, f"callback {procedure} is not created by the setup script"
        assert created[procedure].arg_types == ()
        assert procedure not in granted


def test_the_manifest_asks_for_exactly_the_privileges_the_script_uses() -> None:
    asked = {next(iter(p)) for p in manifest()["privileges"]}
    text = " ".join(normalize(raw) for raw in statements())
    used = set()
    if re.search(r"create task if not exists [\w.]+ warehouse = ", text):
        used.add("EXECUTE TASK")  # tasks on a warehouse, not serverless (EXECUTE MANAGED TASK)
    if "create warehouse" in text:
        used.add("CREATE WAREHOUSE")
    if "create external access integration" in text:
        used.add("CREATE EXTERNAL ACCESS INTEGRATION")
    assert "execute managed task" not in text
    assert asked == used


# ---- external access --------------------------------------------------------------------


def region_branches() -> dict[str, tuple[list[str], list[str]]]:
    """region -> (network rule VALUE_LIST, specification HOST_PORTS) of each branch of
    code.amplitude_apply_region()."""
    body = procedures()["code.amplitude_apply_region"].body
    assert body is not None
    out = {}
    for region, branch in re.findall(
        r"if \(region = '(\w+)'\) then(.*?)(?=elseif|else )", body, re.S
    ):
        (rule,) = re.findall(r"value_list = \(([^)]*)\)", branch)
        (spec,) = re.findall(r"host_ports = \(([^)]*)\)", branch)
        out[region] = (re.findall(r"'([^']*)'", rule), re.findall(r"'([^']*)'", spec))
    return out


def test_host_ports_equal_the_network_rules_hosts_in_every_region() -> None:
    branches = region_branches()
    assert set(branches) == {region.value for region in Region}
    for region, (rule_hosts, spec_hosts) in branches.items():
        assert rule_hosts == spec_hosts, region
        # the host the shipped export client calls for that region, on HTTPS
        assert rule_hosts == [f"{urlparse(Region(region).base_url).hostname}:443"]


def test_the_rule_is_created_for_the_default_region() -> None:
    text = " ".join(normalize(raw) for raw in statements())
    created = re.search(r"create network rule if not exists \S+ .*?value_list = \(([^)]*)\)", text)
    assert created is not None
    defaults = dict(re.findall(r"\('(\w+)', '([^']*)'\)", text))
    rule_hosts, _ = region_branches()[defaults["region"]]
    assert re.findall(r"'([^']*)'", created.group(1)) == rule_hosts
    assert [f"{defaults['export_host']}:443"] == rule_hosts
    # the setup applies the region on install and on every upgrade
    assert "call code.amplitude_apply_region()" in [normalize(raw) for raw in statements()]


# ---- safe to run again ------------------------------------------------------------------

# The form each kind of statement takes, and why: what holds rows or state a consumer
# made (a key pair, a resumed schedule, a resized warehouse, staged files) is created
# `if not exists`; pure definitions are replaced; the versioned schema is `or alter`.
IDEMPOTENT_FORMS = [
    (r"^create application role if not exists ", "kept: its grants to consumer roles"),
    (r"^create or alter versioned schema ", "the documented form for a versioned schema"),
    (
        r"^create (schema|table|stage|file format|warehouse|secret|network rule|task)"
        r" if not exists ",
        "holds rows, files, a key pair or a schedule",
    ),
    (r"^create external access integration if not exists ", "procedures hold it"),
    (r"^create or replace (view|procedure|streamlit) ", "pure definition"),
    (r"^grant ", "granting again is a no-op"),
    (r"^alter (file format|external access integration|table) [\w.]+ set ", "sets the same values"),
    (r"^merge into [\w.]+ as target .* when not matched then insert ", "inserts missing rows only"),
    (r"^call code\.amplitude_apply_region\(\)$", "sets the hosts from the settings table"),
]


def test_every_statement_is_safe_to_run_again() -> None:
    for raw in statements():
        text = normalize(raw)
        assert any(re.match(form, text) for form, _ in IDEMPOTENT_FORMS), text
        if text.startswith("merge "):
            # defaults only: an upgrade never overwrites a consumer's setting
            assert "when matched" not in text, text


# ---- objects and roles (app-contract) -------------------------------------------------

PROCEDURES = {
    "code.ingest_amplitude(varchar, varchar, boolean)",
    "code.amplitude_load()",
    "code.amplitude_doctor()",
    "code.amplitude_set_credentials(varchar, varchar)",
    "code.amplitude_start_schedule()",
    "code.amplitude_stop_schedule()",
    "code.amplitude_forget(varchar, varchar)",
    "code.amplitude_apply_retention()",
}


def test_admin_procedures_are_granted_to_app_admin_only() -> None:
    signatures = {p.signature for p in procedures().values()}
    assert signatures >= PROCEDURES
    granted = {(name, role) for _, kind, name, role in grants() if kind == "procedure"}
    for signature in PROCEDURES | {"code.amplitude_set_region(varchar)"}:
        assert (signature, "app_admin") in granted
    assert not any(role == "app_reader" for _, role in granted)


def test_reader_sees_data_history_and_streamlit_and_changes_nothing() -> None:
    reader = {
        (privileges, kind, name)
        for privileges, kind, name, role in grants()
        if role == "app_reader"
    }
    assert {p for p, _, _ in reader} == {"usage", "select"}
    selectable = {name for p, _, name in reader if p == "select"}
    assert selectable == {
        "data.amplitude_events_raw",
        "data.amplitude_pipeline_health",
        "data.amplitude_failures",
        "state.amplitude_ingest_ledger",
        "state.amplitude_run_history",
        "state.amplitude_load_history",
    }
    assert ("usage", "streamlit", manifest()["artifacts"]["default_streamlit"]) in reader
    # settings and the secret are the admin's
    admin = {(privileges, name) for privileges, _, name, role in grants() if role == "app_admin"}
    assert ("select, insert, update", "state.amplitude_ingest_settings") in admin
    texts = [normalize(raw) for raw in statements()]
    assert "grant application role app_reader to application role app_admin" in texts


def test_handlers_live_in_the_native_app_sub_package() -> None:
    python = {n: h for n, h in handlers().items() if procedures()[n].language == "python"}
    assert len(python) == len(PROCEDURES) + 1  # and the callback
    for handler in python.values():
        assert handler.startswith("amplitude_ingest.in_snowflake.native_app."), handler


def runtime_packages() -> list[str]:
    """requirements.txt's package names: the one list of what the shipped package needs."""
    lines = (APP_DIR.parent / "requirements.txt").read_text().splitlines()
    return [re.split(r"[<>=]", line)[0] for line in lines if line and not line.startswith("#")]


@pytest.mark.parametrize("name", sorted(PROCEDURES))
def test_python_procedures_import_the_package_folder(name: str) -> None:
    procedure = procedures()[name.split("(")[0]]
    assert procedure.option("imports") == "('/amplitude_ingest/')"
    assert procedure.option("runtime_version") == "'3.11'"
    packages = procedure.option("packages")
    assert packages is not None
    assert re.findall(r"'([^']*)'", packages) == runtime_packages()


# The app's names for the S3 form's objects the forget's rows procedure touches.
FORGET_NAMES = {
    "<% database %>.raw.amplitude_forget_requests": "state.amplitude_forget_requests",
    "<% database %>.raw.amplitude_stage_rewrites": "state.amplitude_stage_rewrites",
    "<% database %>.raw.amplitude_events_raw": "data.amplitude_events_raw",
}


def without_comments(body: str) -> str:
    return normalize(re.sub(r"--[^\n]*", "", body))


def test_the_forget_rows_procedure_is_sql_55s_over_the_apps_tables() -> None:
    """One forget for both forms: the app's body is sql/55's, only the names changed."""
    s3 = (APP_DIR.parent / "sql" / "55_forget.sql").read_text()
    (s3_body,) = re.findall(
        r"create or replace procedure ingest\.amplitude_forget_rows\(.*?\$\$(.*?)\$\$", s3, re.S
    )
    for old, new in FORGET_NAMES.items():
        s3_body = s3_body.replace(old, new)
    (raw,) = [s for s in statements() if "procedure code.amplitude_forget_rows(" in s]
    (app_body,) = re.findall(r"\$\$(.*?)\$\$", raw, re.S)
    assert without_comments(app_body) == without_comments(s3_body)
    assert procedures()["code.amplitude_forget_rows"].arg_types == ("varchar",) * 3
    assert "code.amplitude_forget_rows" not in {n.split("(")[0] for _, _, n, _ in grants()}
