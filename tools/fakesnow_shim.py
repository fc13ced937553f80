"""A small shim that lets fakesnow run this project's Snowflake SQL: a build tool.

``make lint`` runs it (``python -m tools.fakesnow_shim DIR``) to compile the dbt project for
Snowflake before sqlfluff lints that SQL, and the dbt-on-fakesnow tests use its
``patched_fakesnow``. It lives in ``tools/``, with the repository's other build steps: not
in ``tests/`` (a build step is not a test, and ``make lint`` must not depend on the test
tree), not in ``snowpark/`` (that is shipped to Snowflake, and fakesnow must not be).

fakesnow 0.12 emulates Snowflake on DuckDB. Three of its gaps touch our SQL, and each
is a fakesnow limitation, not a Snowflake behaviour, so the shim fixes them on the
fakesnow side rather than bending the models:

1. It treats ``$name`` anywhere in a statement as a session variable, even inside a string
   literal (``raw_json['$insert_id']``) or a comment. The shim only substitutes variables
   outside strings and comments (and drops comments, which do not change a statement).
2. DuckDB reads a bracket key starting with ``$`` as a JSON path, so ``['$insert_id']``
   selects nothing; the shim rewrites it to the equivalent quoted path ``['$."$insert_id"']``.
3. ``TRY_TO_TIMESTAMP_NTZ`` does not exist; the shim defines it as a DuckDB macro with
   the same contract (text to timestamp, null when it does not parse).
4. DuckDB keeps temporary objects in its own ``temp`` catalog, so dbt-snowflake's
   ``create or replace temporary view db.schema.x__dbt_tmp`` (the incremental MERGE's
   source) is refused; the shim creates it as an ordinary view, which dbt drops after.
5. In dbt-snowflake's MERGE, ``when not matched then insert (...) values ("COL", ...)``
   names source columns unqualified, which Snowflake resolves to the source and DuckDB
   calls ambiguous; the shim qualifies them with ``DBT_INTERNAL_SOURCE``.
6. fakesnow's MERGE writes bookkeeping to a second attached database, which DuckDB
   forbids inside an explicit transaction; dbt's ``begin``/``commit`` around the MERGE
   run as no-ops, so each statement commits on its own.

``python -m tools.fakesnow_shim DIR`` compiles the dbt project for Snowflake with no
account (on fakesnow, full-build and incremental variants) for sqlfluff: see
``compile_for_snowflake`` and ``make lint``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_TOKENS = re.compile(r"('(?:[^']|'')*'|--[^\n]*|/\*.*?\*/)", re.S)
_DOLLAR_KEY = re.compile(r"\['\$(\w+)'\]")
_TEMPORARY = re.compile(r"\b(create\s+or\s+replace)\s+temporary\s+", re.I)
_MERGE_VALUES = re.compile(
    r"(when\s+not\s+matched\s+then\s+insert\s*\([^)]*\)\s*values\s*\()([^)]*)(\))", re.I
)

TIMESTAMP_MACRO = (
    "create or replace macro {database}.main.try_to_timestamp_ntz(s) as try_cast(s as timestamp)"
)


def rewrite(sql: str, inline: Callable[[str], str]) -> str:
    """Apply ``inline`` (fakesnow's variable substitution) outside strings and comments."""
    sql = _DOLLAR_KEY.sub(lambda m: f"""['$."${m.group(1)}"']""", sql)
    sql = _TEMPORARY.sub(r"\1 ", sql)
    sql = _MERGE_VALUES.sub(
        lambda m: (
            m.group(1) + re.sub(r'(?<![\w.])"', 'DBT_INTERNAL_SOURCE."', m.group(2)) + m.group(3)
        ),
        sql,
    )
    out = []
    for part in _TOKENS.split(sql):
        if part.startswith("'"):
            out.append(part)
        elif not part.startswith(("--", "/*")):
            out.append(inline(part))
    return "".join(out)


@contextmanager
def patched_fakesnow(db_path: str, database: str) -> Iterator[Any]:
    """``fakesnow.patch`` with the shim applied; yields a connection to ``database``."""
    import fakesnow
    import snowflake.connector
    from fakesnow.variables import Variables

    original = Variables.inline_variables

    def inline_outside_strings(self: Variables, sql: str) -> str:
        return rewrite(sql, lambda part: original(self, part))

    Variables.inline_variables = inline_outside_strings  # type: ignore[method-assign]
    try:
        with fakesnow.patch(db_path=db_path, nop_regexes=[r"^\s*(begin|commit)\s*;?\s*$"]):
            connection = snowflake.connector.connect(database=database, schema="raw")
            connection._duck_conn.execute(TIMESTAMP_MACRO.format(database=database))
            yield connection
    finally:
        Variables.inline_variables = original  # type: ignore[method-assign]


# Two raw events, enough for every model to have rows, so that the second compile takes
# every model's incremental branch.
_SAMPLE_EVENTS = [
    {"uuid": f"u{n}", "$insert_id": f"i{n}", "event_id": n, "event_type": "[Amplitude] Page Viewed",
     "amplitude_id": 1, "device_id": "d1", "session_id": 1769418000000,
     "event_time": f"2026-01-26 10:00:0{n}.000000", "server_upload_time": "2026-01-26 10:00:09",
     "event_properties": {"[Amplitude] Page URL": "https://x/", "[Amplitude] Page Title": "X"}}
    for n in (1, 2)
]  # fmt: skip


def compile_for_snowflake(out: Path) -> list[Path]:
    """The dbt project's models compiled for Snowflake with no account, on fakesnow.

    Compiled twice, into ``out/full`` (every model as a full build compiles it) and
    ``out/incremental`` (after a build, as an incremental run compiles it), one file per
    model or singular test, for sqlfluff to lint in the Snowflake dialect. Returns the
    files written.
    """
    import json
    import shutil
    import tempfile

    from dbt.cli.main import dbtRunner

    project = Path(__file__).resolve().parents[1] / "dbt"
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "db").mkdir()
        (work / "profiles.yml").write_text(FAKESNOW_PROFILE)

        def dbt(*args: str) -> None:
            outcome = dbtRunner().invoke(
                [*args, "--quiet", "--project-dir", str(project), "--profiles-dir", tmp,
                 "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
            )  # fmt: skip
            if not outcome.success:
                log = (work / "logs" / "dbt.log").read_text()[-3000:]
                raise RuntimeError(f"dbt {args[0]} failed on fakesnow:\n{log}")

        with patched_fakesnow(str(work / "db"), "amplitude") as connection:
            cursor = connection.cursor()
            cursor.execute("create schema if not exists amplitude.raw")
            cursor.execute(
                "create or replace table amplitude.raw.amplitude_events_raw (raw_json variant, "
                "file_name varchar, file_row_number number, loaded_at timestamp_ntz)"
            )
            cursor.execute(FORGET_REQUESTS_DDL)
            for line, event in enumerate(_SAMPLE_EVENTS, start=1):
                cursor.execute(
                    "insert into amplitude.raw.amplitude_events_raw select parse_json(%s), "
                    "'events/sample.json', %s, '2026-01-26 13:00:00'::timestamp_ntz",
                    [json.dumps(event), line],
                )
            dbt("build", "--exclude-resource-type", "unit_test")
            # A later load staged but not yet in the marts: every incremental branch, the
            # day spine's included, has something to lay out.
            cursor.execute(
                "insert into amplitude.raw.amplitude_events_raw select parse_json(%s), "
                "'events/later.json', 1, '2026-01-27 13:00:00'::timestamp_ntz",
                [json.dumps(dict(_SAMPLE_EVENTS[0], uuid="u3", **{"$insert_id": "i3"}))],
            )
            dbt("run", "--select", "stg_amplitude__loads", "stg_amplitude__events")
            for variant, flags in (("full", ["--full-refresh"]), ("incremental", [])):
                shutil.rmtree(work / "target" / "compiled", ignore_errors=True)
                dbt("compile", *flags)
                compiled = work / "target" / "compiled" / "amplitude"
                for source in sorted(compiled.rglob("*.sql")):
                    if source.parent.suffix == ".yml":  # generic tests: dbt's SQL, not ours
                        continue
                    target = out / variant / source.name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, target)
                    written.append(target)
    return written


# A dbt profile for the snowflake adapter pointed at fakesnow (tests/dbt_support.py uses it).
# The forget-request record as Snowflake has it (RAW.AMPLITUDE_FORGET_REQUESTS, created by
# the forget SQL script; the laptop's is in amplitude_laptop.loader), for dbt on fakesnow.
FORGET_REQUESTS_DDL = (
    "create table if not exists amplitude.raw.amplitude_forget_requests ("
    "request_id varchar not null primary key, requested_at timestamp_ntz not null, "
    "id_kind varchar not null, id_sha256 varchar not null, raw_rows_deleted number not null, "
    "stage_files_rewritten number not null, quarantine_lines_removed number not null)"
)

FAKESNOW_PROFILE = """
amplitude:
  target: fakesnow
  outputs:
    fakesnow:
      type: snowflake
      account: fakesnow
      user: fakesnow
      password: fakesnow
      role: fakesnow
      warehouse: fakesnow
      database: amplitude
      schema: analytics
      threads: 1
"""


if __name__ == "__main__":
    import sys

    files = compile_for_snowflake(Path(sys.argv[1]))
    print(f"compiled {len(files)} files for Snowflake into {sys.argv[1]}")
