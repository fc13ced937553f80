"""Each fact the Snowflake procedures share has one home in amplitude_ingest.in_snowflake:
a second copy of one, however spelt, fails here, naming the file it came back in.

Read from the source text (AST), so a copy inside a function counts. Every module under
in_snowflake/ is held to it, its native_app/ sub-package included."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import amplitude_ingest.in_snowflake as in_snowflake
from amplitude_ingest.in_snowflake.settings_table import SETTING_NAMES

PACKAGE = Path(in_snowflake.__file__).parent
SCOPE = PACKAGE.rglob


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SCOPE("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text())


def homes(found: Callable[[ast.AST], bool]) -> set[str]:
    """The modules in which some node is `found`."""
    return {name for name, tree in modules() if any(found(node) for node in ast.walk(tree))}


def text_holding(*fragments: str) -> Callable[[ast.AST], bool]:
    def found(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and any(fragment in node.value for fragment in fragments)
        )

    return found


@pytest.mark.parametrize(
    ("fact", "fragments", "home"),
    [
        # Snowflake's unquoted identifier, in any of the spellings it had.
        ("the identifier pattern", ("[A-Za-z_][A-Za-z0-9_$]",), "names.py"),
        ("the settings table's default", ("AMPLITUDE_INGEST_SETTINGS",), "settings_table.py"),
        ("the secret alias", ("amplitude_credentials",), "names.py"),
        ("the mark of a cut text", ("…",), "text.py"),
        # Whether a task runs this call: the export's hand-on and the app's run record.
        ("the current task's query", ("system$current_user_task_name",), "task_return_value.py"),
    ],
)
def test_a_shared_text_is_written_in_one_module(
    fact: str, fragments: tuple[str, ...], home: str
) -> None:
    assert homes(text_holding(*fragments)) == {home}, fact


def test_text_is_cut_by_one_function() -> None:
    def cutter(node: ast.AST) -> bool:
        return isinstance(node, ast.FunctionDef) and node.name.lstrip("_") == "cut"

    assert homes(cutter) == {"text.py"}


def test_only_the_session_gate_collects_the_rows_of_a_statement() -> None:
    """`session.sql(...).collect()` is SessionGate.rows/records' job; the handlers pass
    `gate.rows` (a Queries callable) to their logic."""

    def sql_collect(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "collect"
            and isinstance(node.func.value, ast.Call)
            and isinstance(node.func.value.func, ast.Attribute)
            and node.func.value.func.attr == "sql"
        )

    assert homes(sql_collect) == {"session.py"}


@pytest.mark.parametrize(
    ("name", "home"),
    [
        ("Queries", "session.py"),
        ("SETTINGS_TABLE", "settings_table.py"),
        ("SECRET_ALIAS", "names.py"),
        ("IDENTIFIER", "names.py"),
    ],
)
def test_a_shared_name_is_assigned_in_one_module(name: str, home: str) -> None:
    def assigned(node: ast.AST) -> bool:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        return any(isinstance(t, ast.Name) and t.id == name for t in targets)

    assert homes(assigned) == {home}


def test_no_module_keeps_its_own_list_of_setting_names() -> None:
    """A setting is declared once, as a field of a view in settings_table.py: a tuple, list
    or set of two or more setting names elsewhere is a hand-kept copy (as the doctor's
    REQUIRED_SETTINGS and the wait step's SETTINGS were)."""

    def names_listed(node: ast.AST) -> bool:
        if not isinstance(node, ast.Tuple | ast.List | ast.Set) or len(node.elts) < 2:
            return False
        return all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) and e.value in SETTING_NAMES
            for e in node.elts
        )

    assert homes(names_listed) == set()
