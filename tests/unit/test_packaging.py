"""What ships into the Snowflake procedure: its dependencies in step everywhere they are
declared, and nothing local-only imported at module level."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "snowpark" / "amplitude_ingest"
# Optional accelerators are imported inside try/except ImportError with a fallback.
RUNTIME = {"snowflake-snowpark-python", "requests", "urllib3", "tenacity", "pydantic"}
IMPORTABLE = {"snowflake", "requests", "urllib3", "tenacity", "pydantic", "amplitude_ingest"}
ACCELERATORS = {"orjson", "isal", "simdjson"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ ;\[]", requirement.strip(), maxsplit=1)[0].lower()


def test_runtime_dependencies_are_the_same_in_every_manifest() -> None:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {_name(d) for d in environment["dependencies"] if not d.startswith("python")}
    assert environment["channels"] == ["https://repo.anaconda.com/pkgs/snowflake", "nodefaults"]

    def listed(path: Path) -> set[str]:
        lines = path.read_text().splitlines()
        return {_name(line) for line in lines if line.strip() and not line.startswith("#")}

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = {_name(d) for d in pyproject["project"]["dependencies"]}
    # Streamlit in Snowflake reads this file too, for the dashboard (snowflake.yml): it adds
    # Streamlit, at the version the laptop's lock pins.
    assert conda == RUNTIME | {"streamlit"}
    (pin,) = [d for d in environment["dependencies"] if _name(d) == "streamlit"]
    lock = (ROOT / "requirements" / "dev.lock").read_text().splitlines()
    assert f"streamlit=={pin.split('=')[-1]}" in lock
    assert listed(ROOT / "requirements.txt") == RUNTIME
    assert declared == RUNTIME


def _module_level_imports(tree: ast.Module) -> list[tuple[str, bool]]:
    """(top-level package, guarded by try/except ImportError) for module-level imports."""
    found: list[tuple[str, bool]] = []

    def visit(nodes: list[ast.stmt], guarded: bool) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.extend((a.name.split(".")[0], guarded) for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((node.module.split(".")[0], guarded))
            elif isinstance(node, ast.Try):
                catches = any(
                    isinstance(h.type, ast.Name) and h.type.id == "ImportError"
                    for h in node.handlers
                )
                visit(node.body, guarded or catches)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue  # typing only
            elif isinstance(node, ast.If):
                visit(node.body, guarded)

    visit(tree.body, False)
    return found


def test_the_procedure_package_imports_only_what_snowflake_provides() -> None:
    stdlib = set(sys.stdlib_module_names)
    for path in sorted(PACKAGE.rglob("*.py")):
        for name, guarded in _module_level_imports(ast.parse(path.read_text())):
            if name in stdlib or name in IMPORTABLE or name == "__future__":
                continue
            message = f"{path.name} imports {name} at module level"
            assert name in ACCELERATORS, message
            assert guarded, message


def test_the_extract_core_never_imports_its_snowflake_side() -> None:
    """Arrows point from amplitude_ingest.in_snowflake to the core, never back: the core
    runs on a laptop with no Snowpark session (imports inside functions count too)."""
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            for module in modules:
                assert not module.startswith("amplitude_ingest.in_snowflake"), (
                    f"{path.name} imports {module}"
                )
