"""One run at a time per state folder (``amplitude_laptop.run_lock``), between real
processes: a second run is refused and told who holds the folder; a holder killed with
SIGKILL (no clean-up runs) leaves no lock behind, only a stale note that is overwritten.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from amplitude_laptop.run_lock import LOCK_FILE, RunLockedError, run_lock

HOLDER = """
import sys, time
from pathlib import Path
from amplitude_laptop.run_lock import run_lock
with run_lock(Path(sys.argv[1]), "load"):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the state folder's lock for `amplitude-ingest load`."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(10)


@pytest.mark.timeout(60)
def test_a_second_run_is_refused_and_told_who_holds_the_folder(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    with pytest.raises(RunLockedError) as refused, run_lock(tmp_path, "extract"):
        pytest.fail("the lock was taken twice")
    message = str(refused.value)
    assert f"pid {holder.pid} on " in message
    assert "`amplitude-ingest load` started " in message
    assert "give this run its own --state" in message


@pytest.mark.timeout(60)
def test_a_holder_killed_with_sigkill_leaves_no_lock_behind(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    holder.send_signal(signal.SIGKILL)
    assert holder.wait(10) == -signal.SIGKILL
    stale = json.loads((tmp_path / LOCK_FILE).read_text())
    assert stale["pid"] == holder.pid  # its note is still there: nothing cleaned up
    with run_lock(tmp_path, "extract"):
        note = json.loads((tmp_path / LOCK_FILE).read_text())
        assert (note["pid"], note["command"]) == (os.getpid(), "extract")
    assert (tmp_path / LOCK_FILE).read_text() == ""


def test_the_lock_is_free_again_after_a_run_ends_even_by_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="boom"), run_lock(tmp_path, "extract"):
        raise ValueError("boom")
    with run_lock(tmp_path, "transform"):
        pass


def test_two_runs_in_one_process_are_refused_too(tmp_path: Path) -> None:
    with (
        run_lock(tmp_path, "extract"),
        pytest.raises(RunLockedError, match=r"`amplitude-ingest extract`"),
        run_lock(tmp_path, "load"),
    ):
        pytest.fail("the lock was taken twice")


def test_an_unreadable_note_still_refuses_and_says_another_process(tmp_path: Path) -> None:
    with (tmp_path / LOCK_FILE).open("a+") as handle:
        handle.write("not json")
        handle.flush()
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with (
            pytest.raises(RunLockedError, match=r"in use by another run \(another process\)"),
            run_lock(tmp_path, "extract"),
        ):
            pytest.fail("the lock was taken twice")
