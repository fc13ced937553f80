"""snowflake.yml through the real Snowflake CLI, offline: `snow snowpark build` must
accept the project definition and package exactly the procedure's code.

The CLI pins its own snowpark and connector, so it lives in .venv-snow (`make test`
creates it). Deploying needs an account and is not run here."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SNOW = ROOT / ".venv-snow" / "bin" / "snow"


def test_snow_snowpark_build_packages_the_procedure(tmp_path: Path) -> None:
    assert SNOW.exists(), "the Snowflake CLI is missing: run `make test`, which installs it"
    project = tmp_path / "project"
    (project / "snowpark").mkdir(parents=True)
    shutil.copy(ROOT / "snowflake.yml", project)
    shutil.copy(ROOT / "requirements.txt", project)
    # The whole snowpark/ folder, laptop application and sample server included: the
    # artifact mapping in snowflake.yml must pick the shipped package alone out of it.
    shutil.copytree(
        ROOT / "snowpark",
        project / "snowpark",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
        dirs_exist_ok=True,
    )
    env = {
        **os.environ,
        "SNOWFLAKE_HOME": str(tmp_path / "snowflake-home"),
        "SNOWFLAKE_CLI_FEATURES_ENABLE_SNOWPARK_GLOB_SUPPORT": "true",
    }
    result = subprocess.run(
        [str(SNOW), "snowpark", "build", "--skip-dependencies"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Build done" in result.stdout
    (bundle,) = (project / "output" / "bundle").rglob("*.zip")
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
    shipped = {
        f"amplitude_ingest/{p.name}" for p in (ROOT / "snowpark/amplitude_ingest").glob("*.py")
    }
    assert "amplitude_ingest/procedure.py" in shipped
    assert {n for n in names if not n.endswith("/")} == shipped  # that package, nothing else
