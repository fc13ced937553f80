"""``amplitude-ingest``: the command line. Reads the settings, runs a step, says what happened.

Every setting is a flag, an ``AMP_*`` variable and a ``.env`` line, in that order of
precedence (:mod:`amplitude_laptop.settings`). The work itself is in
:mod:`amplitude_laptop.steps`; this module only prints.

Exit status: 0 when all went well; 1 when an hour failed to export (the ledger keeps it
for the next run), a file failed to load, or a dbt model or test failed; 2 for a usage,
configuration or credential error.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from amplitude_ingest import __version__
from amplitude_ingest.config import Compression, Region
from amplitude_ingest.domain import ExtractPlan, ExtractSummary, HourStatus
from amplitude_ingest.errors import AmplitudeIngestError, ConfigurationError
from amplitude_ingest.hours import HourWindow
from amplitude_laptop import logs, steps
from amplitude_laptop.settings import (
    LaptopSettings,
    read_env_file,
    spell_env,
    unknown_setting_warnings,
)
from amplitude_laptop.transform import NodeResult, TransformSummary

logger = logging.getLogger("amplitude_laptop")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
FIELDS = LaptopSettings.model_fields


def _setting(name: str, *decls: str, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """A flag for a setting: its help and default come from the settings model, and it is
    None when not given, so the environment and .env can fill it instead."""
    field = FIELDS[name]
    default = options.pop("shown_default", field.default)
    shown = getattr(default, "value", default)
    help_text = f"{field.description} [env {spell_env(name)}; default: {shown}]"
    return click.option(*decls, name, default=None, help=help_text, **options)


def _common(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            _setting("stage", "--stage"),
            _setting("state_dir", "--state", type=click.Path(path_type=Path)),
            _setting("warehouse", "--warehouse", type=click.Path(path_type=Path)),
            click.option(
                "--env-file",
                type=click.Path(path_type=Path),
                default=Path(".env"),
                show_default=True,
                help="file of AMP_* settings, read after the environment",
            ),
            click.option("-v", "--verbose", is_flag=True, help="log debug detail"),
        ]
    ):
        command = option(command)
    return command


def _extract_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--start", help="first hour: 2026-01-26T05, 20260126T05 or 2026-01-26"),
            click.option("--end", help="last hour, inclusive (default: newest exportable)"),
            click.option("--force", is_flag=True, help="re-export hours already done"),
            _setting("region", "--region", type=click.Choice([r.value for r in Region])),
            _setting("api_url", "--api-url", shown_default="the region's"),
            _setting("project", "--project"),
            _setting("concurrency", "--concurrency", type=int),
            _setting("window_hours", "--window-hours", type=int),
            _setting("lag_hours", "--lag-hours", type=int),
            _setting("max_attempts", "--max-attempts", type=int),
            _setting("max_hours", "--max-hours", type=int),
            _setting(
                "compression", "--compression", type=click.Choice([c.value for c in Compression])
            ),
            _setting(
                "fsync",
                "--fsync/--no-fsync",
                shown_default="fsync (a machine crash could otherwise lose parts counted done)",
            ),
            _setting(
                "workers",
                "--workers",
                type=click.Choice(["process", "thread"]),
                shown_default="process on a multi-core machine",
            ),
        ]
    ):
        command = option(command)
    return command


def _transform_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option(
                "--target",
                default="local",
                show_default=True,
                help="dbt target: local (DuckDB), snowflake or snowflake_password",
            ),
            click.option(
                "--dbt-project", type=click.Path(path_type=Path), help="default: the repo's dbt/"
            ),
            click.option("--full-refresh", is_flag=True, help="rebuild incremental models"),
        ]
    ):
        command = option(command)
    return command


class _Progress:
    """A progress bar on a terminal; silent otherwise (CI, cron, pipes)."""

    def __init__(self) -> None:
        self._bar: Any = None

    def start(self, plan: ExtractPlan) -> None:
        if sys.stderr.isatty() and plan.hours:
            from tqdm import tqdm

            self._bar = tqdm(total=len(plan.hours), unit="h", desc="hours", leave=False)

    def __call__(self, window: HourWindow, status: HourStatus) -> None:
        if self._bar is not None:
            self._bar.update(window.size)
            self._bar.set_postfix_str(f"{window.label()} {status.value}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _session(
    command: str,
    options: dict[str, Any],
    body: Callable[[LaptopSettings, dict[str, Any]], int],
) -> int:
    """Load the settings, set up the run's log, run ``body``, turn our errors into exit 2."""
    env_file: Path = options.pop("env_file")
    verbose: bool = options.pop("verbose")
    flags = {name: options.pop(name) for name in list(options) if name in FIELDS}
    try:
        settings = LaptopSettings.load(flags, env_file)
    except AmplitudeIngestError as exc:  # nothing to log to yet: the log folder is a setting
        click.echo(f"error: {exc}", err=True)
        return EXIT_USAGE
    logs_dir = settings.state_dir / "logs"
    with logs.run_log(logs_dir, command, settings.secret_values(), verbose) as log_file:
        for warning in unknown_setting_warnings(os.environ, read_env_file(env_file), env_file):
            logger.warning("%s", warning)
        try:
            status = body(settings, options)
        except AmplitudeIngestError as exc:  # configuration, credentials, a bad range
            logger.error("%s", exc, extra={"file_only": True})
            click.echo(f"error: {exc}", err=True)
            status = EXIT_USAGE
    if command != "status":
        click.echo(f"log: {log_file}", err=True)
    return status


def _extract(settings: LaptopSettings, options: dict[str, Any]) -> int:
    progress = _Progress()
    try:
        summary: ExtractSummary = steps.extract(
            settings,
            options["start"],
            options["end"],
            force=options["force"],
            on_plan=progress.start,
            on_progress=progress,
        )
    finally:
        progress.close()
    logger.info("extract: %s", summary.one_line())
    click.echo(f"extract    {summary.one_line()}")
    for hour, message in sorted(summary.failures.items()):
        click.echo(f"  failed {hour}: {message}", err=True)
    if summary.hours_failed:
        click.echo(f"extract failed: {summary.failure_message()}", err=True)
    return EXIT_OK if summary.ok else EXIT_FAILED


def _load(settings: LaptopSettings, options: dict[str, Any]) -> int:
    summary = steps.load(settings)
    logger.info("load: %s", summary.one_line())
    click.echo(f"load       {summary.one_line()}")
    for name, message in summary.errors.items():
        click.echo(f"  failed {name}: {message}", err=True)
    return EXIT_OK if summary.ok else EXIT_FAILED


def _forget(settings: LaptopSettings, options: dict[str, Any]) -> int:
    from amplitude_ingest.forget import IdKind
    from amplitude_laptop.forget import forget

    given = {kind: options[kind.value] for kind in IdKind if options[kind.value] is not None}
    if len(given) != 1:
        raise ConfigurationError("give exactly one of --amplitude-id, --user-id, --device-id")
    ((kind, value),) = given.items()
    summary = forget(settings, kind, str(value))
    click.echo(f"forget     {summary.one_line()}")
    click.echo("           next: `amplitude-ingest transform` drops them from the dbt models")
    for key in summary.not_rewritten:
        click.echo(f"  not rewritten (not a name this pipeline writes): {key}", err=True)
    return EXIT_OK if summary.ok else EXIT_FAILED


def print_node(node: NodeResult) -> None:
    """A line per model; tests only when they fail (their count is in the summary line)."""
    if node.failed:
        click.echo(f"  {node.one_line()}", err=True)
    elif not node.is_test:
        click.echo(f"  {node.one_line()}")


def _transform(settings: LaptopSettings, options: dict[str, Any]) -> int:
    summary: TransformSummary = steps.transform(
        settings,
        target=options["target"],
        project_dir=options["dbt_project"],
        full_refresh=options["full_refresh"],
        on_node=print_node,
    )
    logger.info("transform: %s", summary.one_line())
    click.echo(f"transform  {summary.one_line()}")
    return EXIT_OK if summary.ok else EXIT_FAILED


def _freshness(settings: LaptopSettings, target: str, project_dir: Path | None) -> int:
    """A line per source; exit 1 when dbt's error threshold is crossed (data too old)."""
    results = steps.freshness(settings, target=target, project_dir=project_dir)
    for result in results:
        click.echo(f"freshness  {result.one_line()}")
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILED


def _run(settings: LaptopSettings, options: dict[str, Any]) -> int:
    """Extract, then load and transform what arrived, even when some hour failed; then say
    how fresh the raw data is."""
    outcomes = [
        _extract(settings, options),
        _load(settings, options),
        _transform(settings, options),
    ]
    outcomes.append(_freshness(settings, options["target"], options["dbt_project"]))
    return max(outcomes)


def _status(settings: LaptopSettings, options: dict[str, Any]) -> int:
    from amplitude_laptop.sqlite_ledger import SqliteLedger
    from amplitude_laptop.status import read_load_stats, render

    ledger = SqliteLedger(settings.state_dir)
    try:
        records = ledger.all()
    finally:
        ledger.close()
    click.echo(
        render(records, read_load_stats(settings.warehouse), ledger.path, settings.warehouse)
    )
    return _freshness(settings, "local", None)


@click.group(help="Amplitude Export API to a stage, a warehouse and dbt marts.")
@click.version_option(__version__, prog_name="amplitude-ingest")
def cli() -> None:
    pass


@cli.command(help="Export hours from Amplitude to the stage as NDJSON.")
@_common
@_extract_options
def extract(**options: Any) -> int:
    return _session("extract", options, _extract)


@cli.command(help="Load new stage files into the DuckDB warehouse.")
@_common
def load(**options: Any) -> int:
    return _session("load", options, _load)


@cli.command(help="dbt build on the warehouse.")
@_common
@_transform_options
def transform(**options: Any) -> int:
    return _session("transform", options, _transform)


@cli.command(help="Extract, load and transform in one.")
@_common
@_extract_options
@_transform_options
def run(**options: Any) -> int:
    return _session("run", options, _run)


@cli.command(help="The ledger and load history at a glance.")
@_common
def status(**options: Any) -> int:
    return _session("status", options, _status)


@cli.command(
    help=(
        "Forget one user (a privacy request): remove their events from the raw table, "
        "the stage files and the quarantine, and record the request (the id only as its "
        "SHA-256) so that dbt drops them from every model and no later export brings them "
        "back. Give exactly one id."
    ),
    epilog=(
        "Example: amplitude-ingest forget --user-id 'user-1234', then "
        "amplitude-ingest transform. What cannot be forgotten (backups, logs, dbt's "
        "artefacts): README, Forgetting a user."
    ),
)
@_common
@click.option(
    "--amplitude-id", "amplitude_id", type=click.IntRange(min=0), help="Amplitude's own user id"
)
@click.option("--user-id", "user_id", type=str, help="your user id, as sent to Amplitude")
@click.option("--device-id", "device_id", type=str, help="the device id, as sent to Amplitude")
def forget(**options: Any) -> int:
    return _session("forget", options, _forget)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        result = cli.main(args=argv, prog_name="amplitude-ingest", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return EXIT_FAILED
    return result if isinstance(result, int) else EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
