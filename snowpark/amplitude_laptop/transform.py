"""``amplitude-ingest transform``: dbt on the local DuckDB warehouse (or on Snowflake).

dbt runs in this process through its programmatic entry point, with the project's own
``profiles.yml``; the warehouse path and target reach the profile as environment
variables, so nothing is written into the project. dbt's own console output is silenced:
every dbt event goes to the run's log file, and the caller gets one call per finished
model or test (a line each on the terminal), failures with dbt's message in full.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from amplitude_ingest.errors import AmplitudeIngestError

DEFAULT_DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt"
FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})

dbt_logger = logging.getLogger("amplitude_laptop.dbt")
_LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}


class TransformError(AmplitudeIngestError):
    """dbt could not run at all (no project, a broken profile, a compile error)."""


@dataclass(frozen=True)
class NodeResult:
    """One model, test or seed that dbt finished."""

    name: str
    resource_type: str
    status: str
    seconds: float
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES

    @property
    def is_test(self) -> bool:
        return self.resource_type in ("test", "unit_test")

    def one_line(self) -> str:
        line = f"{self.status:<7} {self.resource_type:<10} {self.name} ({self.seconds:.1f} s)"
        return f"{line}: {self.message}" if self.failed and self.message else line


@dataclass
class TransformSummary:
    """What a dbt command did: every node's result, failures first in line."""

    command: str
    target: str
    nodes: list[NodeResult] = field(default_factory=list)
    completed: bool = True
    seconds: float = 0.0

    @property
    def failures(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.failed]

    @property
    def ok(self) -> bool:
        return self.completed and not self.failures

    def one_line(self) -> str:
        tests = sum(n.is_test for n in self.nodes)
        verdict = "passed" if self.ok else f"FAILED ({len(self.failures)} failed)"
        return (
            f"dbt {self.command} on {self.target}: {len(self.nodes) - tests} models, "
            f"{tests} tests, {verdict} | {self.seconds:.1f} s"
        )


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


def _node_result(data: Any) -> NodeResult:
    info = data.node_info
    result = data.run_result
    return NodeResult(
        name=str(info.node_name),
        resource_type=str(info.resource_type),
        status=str(result.status or info.node_status),
        seconds=float(result.execution_time or 0.0),
        message=str(result.message or ""),
    )


def _invoke(
    args: Sequence[str],
    *,
    warehouse: Path,
    target: str,
    project_dir: Path,
    artifacts_dir: Path | None,
    on_node: Callable[[NodeResult], None] | None = None,
) -> Any:
    """The one place dbt is invoked: its project and profile, the warehouse and target
    through the environment, its console silenced and every event in the run's log."""
    from dbt.cli.main import dbtRunner
    from dbt_common.events.base_types import EventMsg

    if not (project_dir / "dbt_project.yml").is_file():
        raise TransformError(f"no dbt project at {project_dir} (see --dbt-project)")

    def on_event(message: EventMsg) -> None:
        dbt_logger.log(
            _LOG_LEVELS.get(message.info.level, logging.INFO),
            "%s",
            getattr(message.info, "msg", ""),  # a protobuf field its stub leaves out
            extra={"file_only": True},  # the terminal gets a line per node instead
        )
        if on_node is not None and message.info.name == "NodeFinished":
            on_node(_node_result(message.data))

    command = [
        *args,
        "--project-dir", str(project_dir),
        "--profiles-dir", str(project_dir),
        "--target", target,
        "--quiet",
    ]  # fmt: skip
    if artifacts_dir is not None:
        command += [
            "--target-path", str(artifacts_dir.resolve() / "target"),
            "--log-path", str(artifacts_dir.resolve() / "logs"),
        ]  # fmt: skip
    environment = {"AMPLITUDE_WAREHOUSE": str(warehouse.resolve()), "DBT_TARGET": target}
    with _environment(environment):
        outcome = dbtRunner(callbacks=[on_event]).invoke(command)
    if outcome.exception is not None:
        raise TransformError(f"dbt {' '.join(args)} could not run: {outcome.exception}") from (
            outcome.exception
        )
    return outcome


def run_dbt(
    args: Sequence[str],
    *,
    warehouse: Path,
    target: str = "local",
    project_dir: Path = DEFAULT_DBT_PROJECT,
    artifacts_dir: Path | None = None,
    on_node: Callable[[NodeResult], None] | None = None,
) -> TransformSummary:
    """Run a dbt command (``["build"]``, ``["docs", "generate"]``) against the project.

    ``artifacts_dir`` receives dbt's ``target/`` and ``logs/`` (default: the project's).
    """
    summary = TransformSummary(" ".join(args), target)

    def record(node: NodeResult) -> None:
        summary.nodes.append(node)
        if on_node is not None:
            on_node(node)

    began = time.monotonic()
    outcome = _invoke(
        args,
        warehouse=warehouse,
        target=target,
        project_dir=project_dir,
        artifacts_dir=artifacts_dir,
        on_node=record,
    )
    summary.seconds = time.monotonic() - began
    summary.completed = bool(outcome.success) or bool(summary.failures)
    return summary


@dataclass(frozen=True)
class SourceFreshness:
    """``dbt source freshness`` for one source table: when its newest row was loaded."""

    source: str
    status: str  # pass, warn, error (dbt's thresholds on load time), or runtime error
    newest_load: datetime | None
    age_seconds: float | None

    @property
    def ok(self) -> bool:
        return self.status in ("pass", "warn")

    def one_line(self) -> str:
        if self.newest_load is None or self.age_seconds is None:
            return f"{self.source}: {self.status} (nothing loaded yet)"
        hours = self.age_seconds / 3600
        return (
            f"{self.source}: newest load {self.newest_load:%Y-%m-%d %H:%M} UTC, "
            f"{hours:.1f} h ago ({self.status})"
        )


def source_freshness(
    *,
    warehouse: Path,
    target: str = "local",
    project_dir: Path = DEFAULT_DBT_PROJECT,
    artifacts_dir: Path | None = None,
) -> list[SourceFreshness]:
    """Run ``dbt source freshness`` (thresholds in the sources' YAML, on load time)."""
    outcome = _invoke(
        ["source", "freshness"],
        warehouse=warehouse,
        target=target,
        project_dir=project_dir,
        artifacts_dir=artifacts_dir,
    )
    found = []
    for result in getattr(outcome.result, "results", None) or []:
        if not hasattr(result.node, "source_name"):
            continue  # the project's on-run-start hooks answer too
        loaded = getattr(result, "max_loaded_at", None)
        found.append(
            SourceFreshness(
                source=f"{result.node.source_name}.{result.node.name}",
                status=str(result.status),
                newest_load=loaded,
                age_seconds=getattr(result, "age", None),
            )
        )
    return found
