"""``amplitude-ingest``: the command line. Parses flags, builds the pipeline, reports.

``extract`` (Amplitude to the stage) ships with the procedure's package; ``load``,
``transform``, ``run`` and ``status`` drive the embedded DuckDB warehouse and import it
only when called.

Exit status: 0 when all went well; 1 when an hour failed to export (the ledger keeps it
for the next run), a file failed to load, or a dbt model or test failed; 2 for a usage,
configuration or credential error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from amplitude_ingest import __version__, logs
from amplitude_ingest.errors import AmplitudeIngestError
from amplitude_ingest.ledger import HourStatus, LocalLedger
from amplitude_ingest.pipeline import Extractor, RunSummary
from amplitude_ingest.settings import (
    DEFAULT_CONCURRENCY,
    DEFAULT_LAG_HOURS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_HOURS_PER_RUN,
    DEFAULT_WINDOW_HOURS,
    Compression,
    Credentials,
    ExtractSettings,
    Region,
    export_url,
)
from amplitude_ingest.stage import open_stage
from amplitude_ingest.windows import HourWindow, parse_bounds
from amplitude_ingest.workers import (
    ExporterRecipe,
    ProcessWorkers,
    ThreadWorkers,
    Workers,
    default_worker_kind,
)

logger = logging.getLogger("amplitude_ingest")

DEFAULT_STAGE = ".local/stage"
DEFAULT_STATE = ".local/state"
DEFAULT_WAREHOUSE = ".local/warehouse.duckdb"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _environment(env_file: Path) -> dict[str, str]:
    """Process environment over the values of ``env_file`` (if it exists)."""
    values: dict[str, str] = {}
    if env_file.is_file():
        from dotenv import dotenv_values

        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ)
    return values


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stage",
        default=os.environ.get("AMP_STAGE", DEFAULT_STAGE),
        help="a folder, or s3://bucket/prefix (default: %(default)s)",
    )
    parser.add_argument(
        "--state",
        type=Path,
        default=Path(os.environ.get("AMP_STATE_DIR", DEFAULT_STATE)),
        help="folder for the ledger, logs and download spool (default: %(default)s)",
    )
    parser.add_argument(
        "--warehouse",
        type=Path,
        default=Path(os.environ.get("AMP_WAREHOUSE", DEFAULT_WAREHOUSE)),
        help="the DuckDB warehouse file (default: %(default)s)",
    )
    parser.add_argument("--env-file", type=Path, default=Path(".env"))
    parser.add_argument("-v", "--verbose", action="store_true")


def _add_transform_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        default="local",
        help="dbt target: local (DuckDB, default), snowflake or snowflake_password",
    )
    parser.add_argument("--dbt-project", type=Path, default=None, help="default: ./dbt")
    parser.add_argument("--full-refresh", action="store_true", help="rebuild incremental models")


def _add_extract_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--start", help="first hour: 2026-01-26T05, 20260126T05 or 2026-01-26")
    parser.add_argument("--end", help="last hour, inclusive (default: newest exportable)")
    parser.add_argument("--region", choices=[r.value for r in Region], default="us")
    parser.add_argument("--api-url", help="base URL instead of the region's, e.g. a proxy")
    parser.add_argument("--project", default=os.environ.get("AMP_PROJECT", "default"))
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--window-hours", type=int, default=DEFAULT_WINDOW_HOURS)
    parser.add_argument("--lag-hours", type=int, default=DEFAULT_LAG_HOURS)
    parser.add_argument("--max-attempts", type=int, default=DEFAULT_MAX_ATTEMPTS)
    parser.add_argument("--max-hours", type=int, default=DEFAULT_MAX_HOURS_PER_RUN)
    parser.add_argument("--compression", choices=[c.value for c in Compression], default="none")
    parser.add_argument("--force", action="store_true", help="re-export hours already done")
    parser.add_argument(
        "--no-fsync",
        dest="fsync",
        action="store_false",
        help="local stage: skip fsync before publishing a part (faster; a machine crash "
        "may then lose parts the ledger counts as done)",
    )
    parser.add_argument(
        "--workers",
        choices=["process", "thread"],
        default=default_worker_kind(),
        help="run windows in processes (every core) or threads (default: %(default)s)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="amplitude-ingest",
        description="Amplitude Export API to a stage, a warehouse and dbt marts.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    extract = commands.add_parser(
        "extract", help="export hours from Amplitude to the stage as NDJSON"
    )
    _add_common(extract)
    _add_extract_flags(extract)
    load = commands.add_parser("load", help="load new stage files into the DuckDB warehouse")
    _add_common(load)
    transform = commands.add_parser("transform", help="dbt build on the warehouse")
    _add_common(transform)
    _add_transform_flags(transform)
    run = commands.add_parser("run", help="extract, load and transform in one")
    _add_common(run)
    _add_extract_flags(run)
    _add_transform_flags(run)
    status = commands.add_parser("status", help="the ledger and load history at a glance")
    _add_common(status)
    return parser


class _Progress:
    """A progress bar on a terminal; silent otherwise (CI, cron, pipes)."""

    def __init__(self, total: int) -> None:
        self._bar = None
        if sys.stderr.isatty() and total:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="h", desc="hours", leave=False)

    def __call__(self, window: HourWindow, status: HourStatus) -> None:
        if self._bar is not None:
            self._bar.update(window.size)
            self._bar.set_postfix_str(f"{window.label()} {status.value}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def run_extract(args: argparse.Namespace, env: dict[str, str]) -> RunSummary:
    settings = ExtractSettings(
        export_url=export_url(Region(args.region), args.api_url),
        project=args.project,
        concurrency=args.concurrency,
        window_hours=args.window_hours,
        lag_hours=args.lag_hours,
        max_attempts=args.max_attempts,
        max_hours_per_run=args.max_hours,
        compression=Compression(args.compression),
    )
    start, end = parse_bounds(args.start, args.end)
    spool = args.state / "spool"
    spool.mkdir(parents=True, exist_ok=True)
    recipe = ExporterRecipe(
        settings=settings,
        credentials=Credentials.from_env(env),
        stage_location=args.stage,
        spool_dir=spool,
        region_hint=args.region,
        fsync=args.fsync,
    )
    destination = open_stage(args.stage).describe()  # fails early on a bad location
    ledger = LocalLedger(args.state)
    workers: Workers
    if args.workers == "process":
        workers = ProcessWorkers(recipe, settings.concurrency)
    else:
        workers = ThreadWorkers(recipe.build(settings.concurrency), settings.concurrency)
    extractor = Extractor(settings, workers, ledger, destination=destination)
    try:
        hours, _ = extractor.plan(start, end, args.force)
        progress = _Progress(len(hours))
        try:
            return extractor.run(start, end, force=args.force, on_progress=progress)
        finally:
            progress.close()
    finally:
        workers.close()
        ledger.close()


def cmd_extract(args: argparse.Namespace, env: dict[str, str]) -> int:
    summary = run_extract(args, env)
    logger.info("extract: %s", summary.one_line())
    print(f"extract    {summary.one_line()}")
    for hour, message in sorted(summary.failures.items()):
        print(f"  failed {hour}: {message}", file=sys.stderr)
    return EXIT_OK if summary.ok else EXIT_FAILED


def cmd_load(args: argparse.Namespace) -> int:
    from amplitude_embedded.loader import Loader, connect
    from amplitude_embedded.stage_files import open_stage_files

    stage = open_stage_files(args.stage, args.state / "spool")
    with connect(args.warehouse) as connection:
        summary = Loader(connection).load(stage)
    logger.info("load: %s", summary.one_line())
    print(f"load       {summary.one_line()}")
    for name, message in summary.errors.items():
        print(f"  failed {name}: {message}", file=sys.stderr)
    return EXIT_OK if not summary.files_failed else EXIT_FAILED


def cmd_transform(args: argparse.Namespace) -> int:
    from amplitude_embedded.transform import DEFAULT_DBT_PROJECT, run_dbt

    build = ["build", *(["--full-refresh"] if args.full_refresh else [])]
    result = run_dbt(
        build,
        warehouse=args.warehouse,
        target=args.target,
        project_dir=args.dbt_project or DEFAULT_DBT_PROJECT,
        artifacts_dir=args.state / "dbt",
    )
    verdict = "passed" if result.succeeded else "FAILED"
    print(f"transform  dbt build on {args.target}: {result.nodes} models and tests, {verdict}")
    for failure in result.failures:
        print(f"  {failure}", file=sys.stderr)
    return EXIT_OK if result.succeeded else EXIT_FAILED


def cmd_run(args: argparse.Namespace, env: dict[str, str]) -> int:
    """Extract, then load and transform what arrived, even when some hour failed."""
    outcomes = [cmd_extract(args, env), cmd_load(args)]
    outcomes.append(cmd_transform(args))
    return max(outcomes)


def cmd_status(args: argparse.Namespace) -> int:
    from amplitude_embedded.status import read_load_stats, render

    ledger = LocalLedger(args.state)
    try:
        records = ledger.all()
    finally:
        ledger.close()
    print(render(records, read_load_stats(args.warehouse), ledger.path, args.warehouse))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    env = _environment(args.env_file)
    secrets = [env.get("AMP_API_KEY", ""), env.get("AMP_SECRET_KEY", "")]
    log_file = logs.configure(args.state / "logs", args.command, secrets, args.verbose)
    try:
        if args.command == "extract":
            status = cmd_extract(args, env)
        elif args.command == "load":
            status = cmd_load(args)
        elif args.command == "transform":
            status = cmd_transform(args)
        elif args.command == "run":
            status = cmd_run(args, env)
        else:
            status = cmd_status(args)
    except AmplitudeIngestError as exc:  # configuration, credentials, a bad range
        logger.error("%s", exc)
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.command != "status":
        print(f"log: {log_file}", file=sys.stderr)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
