"""``amplitude-ingest transform``: dbt on the local DuckDB warehouse (or on Snowflake).

dbt runs in this process through its programmatic entry point, with the project's own
``profiles.yml``; the warehouse path and target reach the profile as environment
variables, so nothing is written into the project.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from amplitude_ingest.errors import AmplitudeIngestError

DEFAULT_DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt"


class TransformError(AmplitudeIngestError):
    """dbt reported a failed model or test, or could not run at all."""


@dataclass(frozen=True)
class TransformResult:
    succeeded: bool
    nodes: int
    failures: list[str]


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_dbt(
    args: Sequence[str],
    *,
    warehouse: Path,
    target: str = "local",
    project_dir: Path = DEFAULT_DBT_PROJECT,
    artifacts_dir: Path | None = None,
) -> TransformResult:
    """Run a dbt command (``["build"]``, ``["docs", "generate"]``) against the project.

    ``artifacts_dir`` receives dbt's ``target/`` and ``logs/`` (default: the project's).
    """
    from dbt.cli.main import dbtRunner

    if not (project_dir / "dbt_project.yml").is_file():
        raise TransformError(f"no dbt project at {project_dir} (see --dbt-project)")
    environment = {"AMPLITUDE_WAREHOUSE": str(warehouse.resolve()), "DBT_TARGET": target}
    command = [
        *args,
        "--project-dir", str(project_dir),
        "--profiles-dir", str(project_dir),
        "--target", target,
    ]  # fmt: skip
    if artifacts_dir is not None:
        command += [
            "--target-path", str(artifacts_dir.resolve() / "target"),
            "--log-path", str(artifacts_dir.resolve() / "logs"),
        ]  # fmt: skip
    with _environment(environment):
        outcome = dbtRunner().invoke(command)
    if outcome.exception is not None:
        raise TransformError(f"dbt {' '.join(args)} could not run: {outcome.exception}") from (
            outcome.exception
        )
    results = list(getattr(outcome.result, "results", None) or [])
    failures = [
        f"{r.node.name}: {r.status}"
        for r in results
        if str(r.status) in ("error", "fail", "runtime error")
    ]
    return TransformResult(bool(outcome.success), len(results), failures)
