"""Bad input at every door of the CLI: one clear message naming the problem and the fix,
exit status 2, and nothing changed."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from amplitude_queries.laptop_records import LEDGER_FILE, RunStatus, read_hours, read_runs
from amplitude_sample_server.server import LocalAmplitude
from tests.e2e.test_cli_extract import run_cli
from tests.support import API_KEY, SECRET_KEY


def fingerprint(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with a hash of its content, but the run's own log, the
    empty lock file of the state folder and the ledger file (where the run records itself;
    its hours are compared apart): the rest is data, which must not change."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and "logs" not in p.parts
        and p.name != "run.lock"
        and not p.name.startswith(LEDGER_FILE)
    }


@pytest.mark.parametrize(
    ("arguments", "dotenv", "expected"),
    [
        (["extract", "--start", "2026-13-01"], "keys", "not a valid UTC hour"),
        (["extract", "--start", "yesterday"], "keys", "is not an hour"),
        (["extract", "--start", "2026-01-26T05", "--end", "2026-01-26T01"], "", "backwards"),
        (["extract", "--start", "2026-01-26", "--stage", "s3://"], "", "names no bucket"),
        (["extract", "--start", "2026-01-26", "--stage", "ftp://x/y"], "", "unsupported stage"),
        (["extract", "--start", "2026-01-26"], "", "AMP_API_KEY and AMP_SECRET_KEY not set"),
        (["extract", "--concurrency", "9"], "keys", "--concurrency / AMP_CONCURRENCY"),
        (["extract", "--api-url", "https://user:pw@proxy"], "keys", "must not carry credentials"),
        (["load", "--stage", "no-such-folder"], "", "stage folder no-such-folder does not exist"),
        (
            ["load", "--stage", "stage", "--warehouse", "notes.txt"],
            "",
            "cannot open the warehouse notes.txt",
        ),
        (["status"], "unreadable", "cannot read .env"),
        (["extract", "--region", "mars"], "keys", "Invalid value for '--region'"),
    ],
)
def test_bad_input_gets_one_clear_message_and_changes_nothing(
    amplitude: Callable[..., LocalAmplitude],
    tmp_path: Path,
    arguments: list[str],
    dotenv: str,
    expected: str,
) -> None:
    server = amplitude()
    if dotenv == "keys":
        (tmp_path / ".env").write_text(f"AMP_API_KEY={API_KEY}\nAMP_SECRET_KEY={SECRET_KEY}\n")
    elif dotenv == "unreadable":
        (tmp_path / ".env").write_bytes(b"AMP_PROJECT=\xff\xfe\n")
    (tmp_path / "notes.txt").write_text("my notes, not a warehouse\n")
    (tmp_path / "stage").mkdir()
    before = fingerprint(tmp_path)
    pointed = arguments[0] == "extract" and "--api-url" not in arguments
    result = run_cli(tmp_path, *arguments, *(["--api-url", server.url] if pointed else []))
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, result.stderr  # said once, not once per log handler
    assert "Traceback" not in result.stderr
    assert fingerprint(tmp_path) == before
    assert read_hours(tmp_path / ".local/state") == []
    # Recorded as a failed run with that message, once the settings named the state folder
    # (a setting that cannot be read leaves nowhere to record it: the message is all).
    runs = read_runs(tmp_path / ".local/state")
    settings_error = ("--concurrency", "--api-url", "unreadable", "--region")
    if any(a in arguments or a == dotenv for a in settings_error):
        assert runs == []
    else:
        (run,) = runs
        assert (run.command, run.status, run.exit_code) == (arguments[0], RunStatus.FAILED, 2)
        assert expected in (run.first_error or "")
    assert server.requests == []
