"""``amplitude-ingest``: the command line. Parses flags, builds the pipeline, reports.

Exit status: 0 when every hour is done or empty, 1 when any hour failed (the ledger keeps
it for the next run), 2 for a usage, configuration or credential error.
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
from amplitude_ingest.windows import HourWindow, parse_hour
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
EXIT_OK, EXIT_HOURS_FAILED, EXIT_USAGE = 0, 1, 2


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
    parser.add_argument("--env-file", type=Path, default=Path(".env"))
    parser.add_argument("-v", "--verbose", action="store_true")


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
    start = parse_hour(args.start) if args.start else None
    end = parse_hour(args.end, end_of_day=True) if args.end else None
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    env = _environment(args.env_file)
    secrets = [env.get("AMP_API_KEY", ""), env.get("AMP_SECRET_KEY", "")]
    log_file = logs.configure(args.state / "logs", args.command, secrets, args.verbose)
    try:
        summary = run_extract(args, env)
    except AmplitudeIngestError as exc:  # configuration, credentials, a bad range
        logger.error("%s", exc)
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logger.info("summary: %s", summary.one_line())
    print(summary.one_line())
    for hour, message in sorted(summary.failures.items()):
        print(f"  failed {hour}: {message}", file=sys.stderr)
    print(f"log: {log_file}", file=sys.stderr)
    return EXIT_OK if summary.ok else EXIT_HOURS_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
