"""Reading the Native App's files (app/) as Snowflake and the Snowflake CLI read them.

The setup script is split with the Snowflake connector's own splitter (the one `snow
sql` uses; quotes and $$ bodies respected) and read statement by statement; the
manifest with a YAML parser. The tests of the app (tests/unit/test_native_app_setup_script.py,
tests/integration/test_native_app_bundle.py) take every name from here, so a statement
added to the script is checked without an edit to them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.sql_scripts import split_statements

ROOT = Path(__file__).resolve().parents[1]
APP_DIR = ROOT / "app"
MANIFEST = APP_DIR / "manifest.yml"


def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
    return data


def setup_script() -> Path:
    return APP_DIR / str(manifest()["artifacts"]["setup_script"])


def normalize(text: str) -> str:
    """Whitespace collapsed, lowercased, trailing `;` dropped (comments are gone already)."""
    return " ".join(text.split()).rstrip(";").strip().lower()


def statements(path: Path | None = None) -> list[str]:
    """The setup script's statements, as written (comments removed by the splitter)."""
    return split_statements((path or setup_script()).read_text())


@dataclass(frozen=True)
class Procedure:
    name: str  # schema.name, lowercase
    arg_types: tuple[str, ...]
    language: str
    text: str  # the whole statement, normalized

    @property
    def signature(self) -> str:
        return f"{self.name}({', '.join(self.arg_types)})"

    def option(self, name: str) -> str | None:
        """A `name = value` option of the statement outside its $$ body."""
        head = self.text.split("$$", 1)[0]
        match = re.search(rf"\b{name}\s*=\s*('[^']*'|\([^)]*\)|\w+)", head)
        return match.group(1) if match else None

    @property
    def body(self) -> str | None:
        match = re.search(r"\$\$(.*)\$\$", self.text, re.S)
        return match.group(1) if match else None


_PROCEDURE = re.compile(
    r"^create or replace procedure ([\w.]+)\s*\((.*?)\)\s*returns .*?\blanguage (\w+)", re.S
)


def _arg_types(arguments: str) -> tuple[str, ...]:
    types = []
    for argument in filter(None, (a.strip() for a in arguments.split(","))):
        types.append(argument.split()[1])
    return tuple(types)


def procedures(path: Path | None = None) -> dict[str, Procedure]:
    """Every CREATE PROCEDURE of the script by schema.name."""
    out: dict[str, Procedure] = {}
    for raw in statements(path):
        text = normalize(raw)
        match = _PROCEDURE.match(text)
        if match:
            name, arguments, language = match.groups()
            out[name] = Procedure(name, _arg_types(arguments), language, text)
    return out


def imports(path: Path | None = None) -> set[str]:
    """Every path named in an IMPORTS clause, as written ('/amplitude_ingest/')."""
    out: set[str] = set()
    for procedure in procedures(path).values():
        clause = procedure.option("imports")
        if clause:
            out.update(re.findall(r"'([^']*)'", clause))
    return out


def handlers(path: Path | None = None) -> dict[str, str]:
    """procedure schema.name -> its Python handler (module path and function)."""
    out = {}
    for name, procedure in procedures(path).items():
        handler = procedure.option("handler")
        if handler:
            out[name] = handler.strip("'")
    return out


@dataclass(frozen=True)
class Streamlit:
    name: str
    source: str  # the FROM folder, '/streamlit'
    main_file: str


def streamlits(path: Path | None = None) -> dict[str, Streamlit]:
    out = {}
    for raw in statements(path):
        match = re.match(
            r"^create or replace streamlit ([\w.]+) from '([^']+)' main_file = '([^']+)'",
            normalize(raw),
        )
        if match:
            name, source, main_file = match.groups()
            out[name] = Streamlit(name, source, main_file)
    return out


def grants(path: Path | None = None) -> list[tuple[str, str, str, str]]:
    """(privileges, object kind, object name, application role) of every GRANT ... TO
    APPLICATION ROLE; privileges as written, names lowercase."""
    out = []
    for raw in statements(path):
        match = re.match(
            r"^grant (.+?) on (table|view|schema|procedure|streamlit) ([\w.]+(?:\([^)]*\))?) "
            r"to application role (\w+)$",
            normalize(raw),
        )
        if match:
            privileges, kind, name, role = match.groups()
            out.append((privileges, kind, name, role))
    return out
