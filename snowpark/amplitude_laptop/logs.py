"""Logging set-up for the CLI: a file per run, and secrets scrubbed everywhere."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from amplitude_ingest.redact import RedactSecrets

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
NOISY_LOGGERS = ("urllib3", "botocore", "boto3", "s3transfer")


def _not_file_only(record: logging.LogRecord) -> bool:
    """Records logged with ``extra={"file_only": True}`` stay out of the terminal: the
    command prints its own line for them (an error, dbt's progress)."""
    return not getattr(record, "file_only", False)


@contextmanager
def run_log(
    log_dir: Path, command: str, secrets: Iterable[str], verbose: bool = False
) -> Iterator[Path]:
    """For the block, log to ``{log_dir}/{command}_{UTC timestamp}_{pid}.log`` and to
    stderr (warnings only, unless ``verbose``), secrets scrubbed; yields the file's path.

    The process id keeps two runs started in the same second apart. The root logger is
    given back as it was on exit, so an in-process caller (the demo, a test) keeps its own
    handlers.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%S")
    path = log_dir / f"{command}_{stamp}_{os.getpid()}.log"
    redact = RedactSecrets(secrets)
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setLevel(logging.DEBUG if verbose else logging.INFO)
    console = logging.StreamHandler()
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console.addFilter(_not_file_only)
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    for handler in saved_handlers:
        root.removeHandler(handler)
    for handler in (file_handler, console):
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler.addFilter(redact)
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield path
    finally:
        for handler in (file_handler, console):
            root.removeHandler(handler)
            handler.close()
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
        for name, level in noisy.items():
            logging.getLogger(name).setLevel(level)
