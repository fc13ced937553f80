"""``amplitude-ingest``: the command line. Reads the settings, runs a step, says what happened.

Every setting is a flag, an ``AMP_*`` variable and a ``.env`` line, in that order of
precedence (:mod:`amplitude_laptop.settings`). The work itself is in
:mod:`amplitude_laptop.steps`; this module only prints.

Exit status: 0 when all went well; 1 when an hour failed to export (the ledger keeps it
for the next run), a file failed to load, or a dbt model or test failed; 2 for a usage,
configuration or credential error (:mod:`amplitude_laptop.runs`). Each command but
``status`` (a look) is recorded in the ledger as a run, through :func:`run_command`, the
function the demo runs through too. Commands take typed, keyword-only parameters, one per
flag, so ``mypy --strict`` checks what each does with them.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from amplitude_ingest import __version__
from amplitude_ingest.config import Compression, Region
from amplitude_ingest.domain import ExtractPlan, ExtractSummary, HourStatus
from amplitude_ingest.errors import AmplitudeIngestError, ConfigurationError
from amplitude_ingest.hours import HourWindow
from amplitude_laptop import logs, steps
from amplitude_laptop.runs import EXIT_FAILED, EXIT_OK, EXIT_USAGE, recorded_run
from amplitude_laptop.settings import (
    LaptopSettings,
    read_env_file,
    spell_env,
    unknown_setting_warnings,
)
from amplitude_laptop.transform import NodeResult, TransformSummary
from amplitude_queries.laptop_records import ledger_path, read_hours, read_runs

if TYPE_CHECKING:
    from amplitude_ingest.forget import IdKind

logger = logging.getLogger("amplitude_laptop")

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


@dataclass(frozen=True)
class ExtractArgs:
    start: str | None = None
    end: str | None = None
    force: bool = False


@dataclass(frozen=True)
class TransformArgs:
    target: str = "local"
    dbt_project: Path | None = None
    full_refresh: bool = False


def run_command(
    command: str,
    settings: LaptopSettings,
    body: Callable[[], int],
    *,
    verbose: bool = False,
    env_file: Path | None = None,
) -> int:
    """Run one command the way every run goes: a log file of its own, secrets scrubbed, a
    record in the ledger from start to end (:mod:`amplitude_laptop.runs`), our errors
    turned into exit 2. The CLI's commands and the demo run through here."""
    logs_dir = settings.state_dir / "logs"
    secrets = settings.secret_values()
    with logs.run_log(logs_dir, command, secrets, verbose) as log_file:
        if env_file is not None:
            for warning in unknown_setting_warnings(os.environ, read_env_file(env_file), env_file):
                logger.warning("%s", warning)
        with recorded_run(settings.state_dir, command, secrets) as outcome:
            try:
                outcome.exit_code = body()
            except AmplitudeIngestError as exc:  # configuration, credentials, a bad range
                logger.error("%s", exc, extra={"file_only": True})
                click.echo(f"error: {exc}", err=True)
                outcome.exit_code = EXIT_USAGE
    click.echo(f"log: {log_file}", err=True)
    return outcome.exit_code


def _settings(flags: dict[str, object], env_file: Path) -> LaptopSettings | None:
    """The settings, or None after saying what is wrong with them (nothing to log to yet:
    the log folder is a setting)."""
    try:
        return LaptopSettings.load(flags, env_file)
    except AmplitudeIngestError as exc:
        click.echo(f"error: {exc}", err=True)
        return None


def _extract(settings: LaptopSettings, args: ExtractArgs) -> int:
    progress = _Progress()
    try:
        summary: ExtractSummary = steps.extract(
            settings,
            args.start,
            args.end,
            force=args.force,
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
        logger.error("extract failed: %s", summary.failure_message(), extra={"file_only": True})
        click.echo(f"extract failed: {summary.failure_message()}", err=True)
    return EXIT_OK if summary.ok else EXIT_FAILED


def _load(settings: LaptopSettings) -> int:
    summary = steps.load(settings)
    logger.info("load: %s", summary.one_line())
    click.echo(f"load       {summary.one_line()}")
    for name, message in summary.errors.items():
        click.echo(f"  failed {name}: {message}", err=True)
    return EXIT_OK if summary.ok else EXIT_FAILED


def _forget(settings: LaptopSettings, given: dict[IdKind, str]) -> int:
    from amplitude_laptop.forget import forget

    if len(given) != 1:
        raise ConfigurationError("give exactly one of --amplitude-id, --user-id, --device-id")
    ((kind, value),) = given.items()
    summary = forget(settings, kind, value)
    click.echo(f"forget     {summary.one_line()}")
    click.echo("           next: `amplitude-ingest transform` drops them from the dbt models")
    for key in summary.not_rewritten:
        logger.error(
            "not rewritten (not a name this pipeline writes): %s", key, extra={"file_only": True}
        )
        click.echo(f"  not rewritten (not a name this pipeline writes): {key}", err=True)
    return EXIT_OK if summary.ok else EXIT_FAILED


def print_node(node: NodeResult) -> None:
    """A line per model; tests only when they fail (their count is in the summary line)."""
    if node.failed:
        click.echo(f"  {node.one_line()}", err=True)
    elif not node.is_test:
        click.echo(f"  {node.one_line()}")


def _transform(settings: LaptopSettings, args: TransformArgs) -> int:
    summary: TransformSummary = steps.transform(
        settings,
        target=args.target,
        project_dir=args.dbt_project,
        full_refresh=args.full_refresh,
        on_node=print_node,
    )
    logger.info("transform: %s", summary.one_line())
    click.echo(f"transform  {summary.one_line()}")
    if not summary.ok:
        logger.error("transform failed: %s", summary.one_line(), extra={"file_only": True})
    return EXIT_OK if summary.ok else EXIT_FAILED


def _freshness(settings: LaptopSettings, target: str, project_dir: Path | None) -> int:
    """A line per source; exit 1 when dbt's error threshold is crossed (data too old)."""
    results = steps.freshness(settings, target=target, project_dir=project_dir)
    for result in results:
        click.echo(f"freshness  {result.one_line()}")
        if not result.ok:
            logger.error("freshness: %s", result.one_line(), extra={"file_only": True})
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILED


def run_steps(
    settings: LaptopSettings,
    extract: ExtractArgs = ExtractArgs(),
    transform: TransformArgs = TransformArgs(),
) -> int:
    """``amplitude-ingest run``: extract, then load and transform what arrived, even when
    some hour failed; then say how fresh the raw data is. The worst exit status wins."""
    outcomes = [
        _extract(settings, extract),
        _load(settings),
        _transform(settings, transform),
    ]
    outcomes.append(_freshness(settings, transform.target, transform.dbt_project))
    return max(outcomes)


def _status(settings: LaptopSettings) -> int:
    from amplitude_laptop.status import read_load_stats, render

    click.echo(
        render(
            read_hours(settings.state_dir),
            read_load_stats(settings.warehouse),
            ledger_path(settings.state_dir),
            settings.warehouse,
            read_runs(settings.state_dir, limit=5),
        )
    )
    return _freshness(settings, "local", None)


@click.group(help="Amplitude Export API to a stage, a warehouse and dbt marts.")
@click.version_option(__version__, prog_name="amplitude-ingest")
def cli() -> None:
    pass


def _example(*lines: str) -> str:
    """A command's ``--help`` epilog: each line shown as written (``\\b``: no rewrap)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def _setting_flags(**values: object) -> dict[str, object]:
    """The flags that are settings, by their setting's name (None: not given)."""
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise TypeError(f"not settings: {sorted(unknown)}")
    return values


def _in_session(
    command: str,
    flags: dict[str, object],
    env_file: Path,
    verbose: bool,
    body: Callable[[LaptopSettings], int],
) -> int:
    settings = _settings(flags, env_file)
    if settings is None:
        return EXIT_USAGE
    return run_command(
        command, settings, lambda: body(settings), verbose=verbose, env_file=env_file
    )


@cli.command(
    help="Export hours from Amplitude to the stage as NDJSON.",
    epilog=_example(
        "amplitude-ingest extract --start 2026-01-26 --end 2026-01-26T23",
        "amplitude-ingest extract   # resume: the hours after the ledger's newest",
    ),
)
@_common
@_extract_options
def extract(
    *,
    stage: str | None,
    state_dir: Path | None,
    warehouse: Path | None,
    env_file: Path,
    verbose: bool,
    start: str | None,
    end: str | None,
    force: bool,
    region: str | None,
    api_url: str | None,
    project: str | None,
    concurrency: int | None,
    window_hours: int | None,
    lag_hours: int | None,
    max_attempts: int | None,
    max_hours: int | None,
    compression: str | None,
    fsync: bool | None,
    workers: str | None,
) -> int:
    flags = _setting_flags(
        stage=stage,
        state_dir=state_dir,
        warehouse=warehouse,
        region=region,
        api_url=api_url,
        project=project,
        concurrency=concurrency,
        window_hours=window_hours,
        lag_hours=lag_hours,
        max_attempts=max_attempts,
        max_hours=max_hours,
        compression=compression,
        fsync=fsync,
        workers=workers,
    )
    args = ExtractArgs(start, end, force)
    return _in_session("extract", flags, env_file, verbose, lambda s: _extract(s, args))


@cli.command(
    help="Load new stage files into the DuckDB warehouse.",
    epilog=_example(
        "amplitude-ingest load --stage .local/stage --warehouse .local/warehouse.duckdb"
    ),
)
@_common
def load(
    *,
    stage: str | None,
    state_dir: Path | None,
    warehouse: Path | None,
    env_file: Path,
    verbose: bool,
) -> int:
    flags = _setting_flags(stage=stage, state_dir=state_dir, warehouse=warehouse)
    return _in_session("load", flags, env_file, verbose, _load)


@cli.command(
    help="dbt build on the warehouse.",
    epilog=_example(
        "amplitude-ingest transform",
        "amplitude-ingest transform --full-refresh --target snowflake",
    ),
)
@_common
@_transform_options
def transform(
    *,
    stage: str | None,
    state_dir: Path | None,
    warehouse: Path | None,
    env_file: Path,
    verbose: bool,
    target: str,
    dbt_project: Path | None,
    full_refresh: bool,
) -> int:
    flags = _setting_flags(stage=stage, state_dir=state_dir, warehouse=warehouse)
    args = TransformArgs(target, dbt_project, full_refresh)
    return _in_session("transform", flags, env_file, verbose, lambda s: _transform(s, args))


@cli.command(
    help="Extract, load and transform in one.",
    epilog=_example(
        "amplitude-ingest run --start 2026-01-26   # the first time",
        "amplitude-ingest run                      # then every hour, from cron",
    ),
)
@_common
@_extract_options
@_transform_options
def run(
    *,
    stage: str | None,
    state_dir: Path | None,
    warehouse: Path | None,
    env_file: Path,
    verbose: bool,
    start: str | None,
    end: str | None,
    force: bool,
    region: str | None,
    api_url: str | None,
    project: str | None,
    concurrency: int | None,
    window_hours: int | None,
    lag_hours: int | None,
    max_attempts: int | None,
    max_hours: int | None,
    compression: str | None,
    fsync: bool | None,
    workers: str | None,
    target: str,
    dbt_project: Path | None,
    full_refresh: bool,
) -> int:
    flags = _setting_flags(
        stage=stage,
        state_dir=state_dir,
        warehouse=warehouse,
        region=region,
        api_url=api_url,
        project=project,
        concurrency=concurrency,
        window_hours=window_hours,
        lag_hours=lag_hours,
        max_attempts=max_attempts,
        max_hours=max_hours,
        compression=compression,
        fsync=fsync,
        workers=workers,
    )
    extract_args = ExtractArgs(start, end, force)
    transform_args = TransformArgs(target, dbt_project, full_refresh)
    return _in_session(
        "run", flags, env_file, verbose, lambda s: run_steps(s, extract_args, transform_args)
    )


@cli.command(
    help=(
        "The ledger, the load history and the last runs at a glance (read only: a look is "
        "not recorded as a run)."
    ),
    epilog=_example("amplitude-ingest status --state .local/state"),
)
@_common
def status(
    *,
    stage: str | None,
    state_dir: Path | None,
    warehouse: Path | None,
    env_file: Path,
    verbose: bool,
) -> int:
    del verbose  # nothing is logged: a look writes nothing
    settings = _settings(
        _setting_flags(stage=stage, state_dir=state_dir, warehouse=warehouse), env_file
    )
    if settings is None:
        return EXIT_USAGE
    try:
        return _status(settings)
    except AmplitudeIngestError as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_USAGE


@cli.command(
    help=(
        "Forget one user (a privacy request): remove their events from the raw table, "
        "the stage files and the quarantine, and record the request (the id only as its "
        "SHA-256) so that dbt drops them from every model and no later export brings them "
        "back. Give exactly one id. Then `amplitude-ingest transform`. What cannot be "
        "forgotten (backups, logs, dbt's artefacts): README, Forgetting a user."
    ),
    epilog=_example(
        "amplitude-ingest forget --user-id 'user-1234'",
        "amplitude-ingest transform",
    ),
)
@_common
@click.option(
    "--amplitude-id", "amplitude_id", type=click.IntRange(min=0), help="Amplitude's own user id"
)
@click.option("--user-id", "user_id", type=str, help="your user id, as sent to Amplitude")
@click.option("--device-id", "device_id", type=str, help="the device id, as sent to Amplitude")
def forget(
    *,
    stage: str | None,
    state_dir: Path | None,
    warehouse: Path | None,
    env_file: Path,
    verbose: bool,
    amplitude_id: int | None,
    user_id: str | None,
    device_id: str | None,
) -> int:
    from amplitude_ingest.forget import IdKind

    ids = {
        IdKind.AMPLITUDE_ID: amplitude_id,
        IdKind.USER_ID: user_id,
        IdKind.DEVICE_ID: device_id,
    }
    given = {kind: str(value) for kind, value in ids.items() if value is not None}
    flags = _setting_flags(stage=stage, state_dir=state_dir, warehouse=warehouse)
    return _in_session("forget", flags, env_file, verbose, lambda s: _forget(s, given))


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
