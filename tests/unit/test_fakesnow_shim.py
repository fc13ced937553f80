"""The fakesnow shim (``tools/fakesnow_shim.py``): its rewrites of Snowflake SQL for fakesnow,
and its home as a build step of ``make lint``."""

import importlib.util
import re
from pathlib import Path

from tools.fakesnow_shim import rewrite

ROOT = Path(__file__).resolve().parents[2]


def upper(part: str) -> str:
    return part.upper()


def test_strings_are_left_alone_and_code_is_inlined() -> None:
    assert rewrite("select 'a$b' from t", upper) == "SELECT 'a$b' FROM T"


def test_comments_are_dropped_even_with_quotes_inside() -> None:
    sql = "select 1 -- it's var('x') and $insert_id\nfrom t /* $y 'z' */ where a = 'q'"
    assert rewrite(sql, upper) == "SELECT 1 \nFROM T  WHERE A = 'q'"


def test_dollar_bracket_keys_become_quoted_json_paths() -> None:
    sql = "select raw_json['$insert_id']::varchar, raw_json['event_type'] from t"
    assert rewrite(sql, lambda p: p) == (
        """select raw_json['$."$insert_id"']::varchar, raw_json['event_type'] from t"""
    )


def test_temporary_objects_become_ordinary() -> None:
    sql = "create or replace  temporary view db.s.x__dbt_tmp as select 1"
    assert rewrite(sql, lambda p: p) == "create or replace view db.s.x__dbt_tmp as select 1"


def test_merge_insert_values_are_qualified_with_the_source() -> None:
    sql = (
        "merge into t as DBT_INTERNAL_DEST using s as DBT_INTERNAL_SOURCE on (x) "
        'when not matched then insert ("A", "B") values ("A", "B")'
    )
    assert rewrite(sql, lambda p: p).endswith(
        'insert ("A", "B") values (DBT_INTERNAL_SOURCE."A", DBT_INTERNAL_SOURCE."B")'
    )


def test_make_lint_runs_the_shim_from_tools_as_a_module() -> None:
    makefile = (ROOT / "Makefile").read_text()
    lint = makefile[makefile.index("\nlint:") : makefile.index("\ntypecheck:")]
    modules = re.findall(r"python -m (\S*fakesnow_shim)\b", lint)
    assert modules == ["tools.fakesnow_shim"]
    spec = importlib.util.find_spec(modules[0])
    assert spec is not None
    assert spec.origin == str(ROOT / "tools" / "fakesnow_shim.py")
    assert not (ROOT / "tests" / "fakesnow_shim.py").exists()  # one home
