"""The marts' contracts: every column typed in the yml, for both warehouses, and the docs'
table of DuckDB <-> Snowflake types is the one the yml renders for each target.

The types come from dbt's own parse of the project for each target (`dbt parse`, no
connection needed), so the test reads what runs, not a copy of the yml.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from amplitude_laptop.transform import DEFAULT_DBT_PROJECT

MARTS_DOCS = DEFAULT_DBT_PROJECT / "models/marts/amplitude/_amplitude__marts.md"


def _manifest(target: str, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from dbt.cli.main import dbtRunner

    monkeypatch.setenv("AMPLITUDE_WAREHOUSE", str(tmp / "parse.duckdb"))
    outcome = dbtRunner().invoke(
        [
            "parse", "--quiet", "--target", target,
            "--project-dir", str(DEFAULT_DBT_PROJECT),
            "--profiles-dir", str(DEFAULT_DBT_PROJECT),
            "--target-path", str(tmp / target),
            "--log-path", str(tmp / "logs"),
        ]
    )  # fmt: skip
    assert outcome.success, outcome.exception
    manifest: dict[str, Any] = json.loads((tmp / target / "manifest.json").read_text())
    return manifest


def _mart_types(manifest: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {
        (node["name"], column["name"]): column["data_type"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] == "marts"
        for column in node["columns"].values()
    }


def _documented_pairs() -> set[tuple[str, str]]:
    """(DuckDB type, Snowflake type) from the docs' table."""
    rows = re.findall(r"^\| ([a-z_]+) \| ([a-z_]+) \|", MARTS_DOCS.read_text(), re.MULTILINE)
    return set(rows)


@pytest.fixture(scope="module")
def manifests(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("contracts")
    with pytest.MonkeyPatch.context() as monkeypatch:
        return {target: _manifest(target, tmp, monkeypatch) for target in ("local", "snowflake")}


def test_every_mart_enforces_a_contract_with_a_type_on_every_column(
    manifests: dict[str, dict[str, Any]],
) -> None:
    marts = [
        node
        for node in manifests["local"]["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] == "marts"
    ]
    assert {node["name"] for node in marts} >= {
        "amplitude__event_enhanced", "amplitude__sessions", "amplitude__user_enhanced",
        "amplitude__daily_performance", "amplitude__repeat_clicks",
    }  # fmt: skip
    for node in marts:
        assert node["config"]["contract"]["enforced"], node["name"]
        # dbt's docs: an incremental model's contract needs on_schema_change fail or
        # append_new_columns (https://docs.getdbt.com/reference/resource-configs/contract).
        assert node["config"]["on_schema_change"] == "fail", node["name"]
        untyped = [c["name"] for c in node["columns"].values() if not c.get("data_type")]
        assert not untyped, f"{node['name']}: no data_type on {untyped}"


def test_the_docs_table_maps_each_duckdb_type_to_the_snowflake_type_the_yml_renders(
    manifests: dict[str, dict[str, Any]],
) -> None:
    local, snowflake = (_mart_types(manifests[t]) for t in ("local", "snowflake"))
    assert local.keys() == snowflake.keys()
    rendered = {(local[column], snowflake[column]) for column in local}
    assert rendered == _documented_pairs()
    # JSON is VARIANT on Snowflake, and timestamps are written without a zone there (plain
    # `timestamp` would follow the account's TIMESTAMP_TYPE_MAPPING).
    assert ("json", "variant") in rendered
    assert ("timestamp", "timestamp_ntz") in rendered
