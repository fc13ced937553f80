"""One run at a time per state folder: an OS file lock with a note of who holds it.

Two ``amplitude-ingest`` runs on the same state would both export every hour (spending the
Amplitude project's request quota twice) and fight over the warehouse file. The second run
stops at once, says which run holds the lock, and exits 2. The lock is the kernel's
(``flock``): it is released when the holder exits, however it exits, so a killed run never
leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from amplitude_ingest.errors import AmplitudeIngestError

LOCK_FILE = "run.lock"


class RunLockedError(AmplitudeIngestError):
    """Another run holds the state folder."""


def _describe(holder: str) -> str:
    try:
        note = json.loads(holder)
        return (
            f"pid {note['pid']} on {note['host']}, `amplitude-ingest {note['command']}` "
            f"started {note['started']}"
        )
    except (ValueError, KeyError, TypeError):
        return "another process"


@contextmanager
def run_lock(state_dir: Path, command: str) -> Iterator[None]:
    """Hold the state folder's lock for the block, or raise :class:`RunLockedError`."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOCK_FILE
    with path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = _describe(handle.read())
            raise RunLockedError(
                f"{state_dir} is in use by another run ({holder}); wait for it to finish, "
                "or give this run its own --state"
            ) from None
        note = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        }
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(note))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
