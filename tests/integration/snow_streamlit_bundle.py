"""Run by the Snowflake CLI's own Python (.venv-snow): build the Streamlit app's bundle
exactly as `snow streamlit deploy` does before it uploads, and print the files and the
CREATE STREAMLIT statement its versioned deploy runs first. Needs no account.

    python snow_streamlit_bundle.py PROJECT_ROOT DATABASE WAREHOUSE
"""

import json
import sys
from pathlib import Path

from snowflake.cli._plugins.streamlit.streamlit_entity import StreamlitEntity
from snowflake.cli._plugins.workspace.context import WorkspaceContext
from snowflake.cli.api.console.console import CliConsole
from snowflake.cli.api.project.definition import load_project

root, database, warehouse = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
env = {"AMPLITUDE_DATABASE": database, "AMPLITUDE_WAREHOUSE": warehouse}
definition = load_project(
    [root / "snowflake.yml"], context_overrides={"ctx": {"env": env}}
).project_definition
(model,) = [e for e in definition.entities.values() if e.type == "streamlit"]
entity = StreamlitEntity(
    entity_model=model,
    workspace_ctx=WorkspaceContext(
        console=CliConsole(),
        project_root=root,
        get_default_role=lambda: "UNUSED",
        get_default_warehouse=lambda: None,
    ),
)
out = root / "output" / "bundle" / "streamlit"
entity.bundle(out)
files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
print(
    json.dumps(
        {
            "entity": model.entity_id,
            "bundle": str(out),
            "files": files,
            "create": entity.get_deploy_sql(if_not_exists=True),
        }
    )
)
