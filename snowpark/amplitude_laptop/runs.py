"""Each run's record in the ledger: started, then finished with its exit status and first error.

The record is the contract the dashboard and ``amplitude-ingest status`` read
(:func:`amplitude_queries.laptop_records.read_runs`); the log file is for a person. A run
that raises (any exception, Ctrl-C) is recorded as failed before the exception goes on; a
process killed outright (``kill -9``, a power cut) leaves its record 'running' with its pid,
which readers call 'died' once that pid is gone (see
:data:`~amplitude_queries.laptop_records.RunStatus`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from amplitude_ingest.redact import RedactSecrets
from amplitude_queries.laptop_records import finish_run, open_ledger, start_run

logger = logging.getLogger("amplitude_laptop")

# Exit statuses, as the CLI returns them and the run records keep them: 0 when all went
# well; 1 when an hour failed to export, a file failed to load, a dbt model or test failed,
# or the run was interrupted or crashed; 2 for a usage, configuration or credential error.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class FirstError(logging.Handler):
    """Keeps the first ERROR record's message of the run, scrubbed by the same filter as
    the run's log (a secret inside a third party's exception text never reaches the
    ledger)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__(level=logging.ERROR)
        self.addFilter(RedactSecrets(secrets))
        self.message: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.message is None:
            self.message = record.getMessage()


@dataclass
class RunOutcome:
    """Set by the block: the exit status the command returns."""

    exit_code: int | None = None


@contextmanager
def recorded_run(state_dir: Path, command: str, secrets: Iterable[str]) -> Iterator[RunOutcome]:
    """Record the block as one run of ``command`` in the state folder's ledger.

    The block sets ``exit_code`` on what it yields. On exit: succeeded with exit status 0;
    failed otherwise, with the first error logged during the run, or failing that a line
    saying which status it exited with. An exception (Ctrl-C included) is logged, recorded
    as the run's failure, and raised again.
    """
    capture = FirstError(secrets)
    root = logging.getLogger()
    root.addHandler(capture)
    try:
        with closing(open_ledger(state_dir)) as db:
            run_id = start_run(db, command, datetime.now(UTC))
            outcome = RunOutcome()
            try:
                yield outcome
            except KeyboardInterrupt:
                logger.error("interrupted (Ctrl-C)", extra={"file_only": True})
                finish_run(db, run_id, EXIT_FAILED, capture.message, datetime.now(UTC))
                raise
            except BaseException as exc:
                logger.error(
                    "%s: %s", type(exc).__name__, exc, exc_info=exc, extra={"file_only": True}
                )
                finish_run(db, run_id, EXIT_FAILED, capture.message, datetime.now(UTC))
                raise
            code = outcome.exit_code
            error = capture.message
            if code is None:
                error = f"`{command}` ended without an exit status (a bug: report it)"
            elif code != 0 and error is None:
                error = f"`{command}` exited with status {code} without logging an error"
            finish_run(db, run_id, EXIT_FAILED if code is None else code, error, datetime.now(UTC))
            if code is None:
                raise RuntimeError(error)
    finally:
        root.removeHandler(capture)
