"""``amplitude-ingest forget`` as a user runs it, on the demo's sample data: the user is gone
from the raw table, the stage and the quarantine; the other events stay loaded once; a
re-export of the user's hours brings nothing back; the request is recorded by hash only."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import duckdb

from amplitude_queries.laptop import attach_ingest
from amplitude_sample_server.server import FaultPlan, LocalAmplitude
from tests.e2e.test_cli_extract import run_cli
from tests.support import API_KEY, SECRET_KEY

START, END = "2026-01-26T00", "2026-01-26T05"
# The first member of this hour has a name that is not Amplitude's: the extract
# quarantines all of its lines, so the quarantine holds real events of real users.
QUARANTINED_HOUR = "20260126T03"


def _events(path: Path) -> list[dict[str, object]]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def _quarantined(path: Path) -> list[dict[str, object]]:
    return [json.loads(str(r["line"])) for r in _events(path)]


def _stage_state(stage: Path) -> dict[str, bytes]:
    return {
        p.relative_to(stage).as_posix(): p.read_bytes()
        for p in stage.rglob("*")
        if p.is_file() and ".writing" not in p.parts
    }


def _raw_uuids(warehouse: Path) -> Counter[str]:
    with duckdb.connect(str(warehouse), read_only=True) as db:
        rows = db.execute(
            "select json_extract_string(raw_json, '$.uuid') from raw.amplitude_events_raw"
        ).fetchall()
    return Counter(str(u) for (u,) in rows)


def _files_not_loaded(root: Path) -> list[tuple[object, ...]]:
    """What the dashboard lists as written and never loaded."""
    with duckdb.connect(":memory:") as db:
        db.execute(f"attach '{root / '.local/warehouse.duckdb'}' as warehouse (read_only)")
        db.execute("use warehouse")
        attach_ingest(db, root / ".local/state")
        return db.execute("select stage_key from ingest.amplitude_files_not_loaded").fetchall()


def _setup(amplitude: Callable[..., LocalAmplitude], tmp_path: Path) -> LocalAmplitude:
    server = amplitude(FaultPlan(entry_names={QUARANTINED_HOUR: "not-amplitude.json.gz"}))
    (tmp_path / ".env").write_text(f"AMP_API_KEY={API_KEY}\nAMP_SECRET_KEY={SECRET_KEY}\n")
    return server


def test_forget_a_user_everywhere_and_a_reexport_brings_nothing_back(
    amplitude: Callable[..., LocalAmplitude], tmp_path: Path
) -> None:
    server = _setup(amplitude, tmp_path)
    stage, warehouse = tmp_path / ".local/stage", tmp_path / ".local/warehouse.duckdb"
    extract = run_cli(tmp_path, "extract", "--start", START, "--end", END, "--api-url", server.url,
                      "--workers", "thread")  # fmt: skip
    assert extract.returncode == 1, extract.stderr  # the quarantined member fails its hour
    assert run_cli(tmp_path, "load").returncode == 0

    events = {p: _events(p) for p in (stage / "events").rglob("*.json")}
    quarantine = {p: _quarantined(p) for p in (stage / "_quarantine").rglob("*.jsonl")}
    everyone = [e for lines in [*events.values(), *quarantine.values()] for e in lines]
    # The user with the most events who is also in the quarantine.
    in_quarantine = {e["user_id"] for lines in quarantine.values() for e in lines}
    counts = Counter(e["user_id"] for e in everyone if e["user_id"] in in_quarantine)
    user, _total = next((u, n) for u, n in counts.most_common() if u is not None)
    theirs_on_stage = sum(e["user_id"] == user for lines in events.values() for e in lines)
    theirs_quarantined = sum(e["user_id"] == user for lines in quarantine.values() for e in lines)
    touched = {p for p, lines in [*events.items(), *quarantine.items()] if any(
        e["user_id"] == user for e in lines)}  # fmt: skip
    before = _raw_uuids(warehouse)
    theirs_uuids = {str(e["uuid"]) for lines in events.values() for e in lines
                    if e["user_id"] == user}  # fmt: skip
    assert theirs_on_stage > 0
    assert theirs_quarantined > 0
    assert set(before.values()) == {1}

    result = run_cli(tmp_path, "forget", "--user-id", str(user))
    assert result.returncode == 0, result.stderr
    assert f"raw rows deleted: {theirs_on_stage} |" in result.stdout
    data_files = sum(1 for p in touched if "_quarantine" not in p.parts)
    assert f"stage files rewritten: {data_files} ({theirs_on_stage} lines removed)" in result.stdout
    assert f"quarantine lines removed: {theirs_quarantined}" in result.stdout

    # Gone from the raw table; every other event still loaded exactly once.
    after = _raw_uuids(warehouse)
    assert after == Counter({u: 1 for u in before if u not in theirs_uuids})
    # Gone from the stage and the quarantine; the old parts removed.
    remaining = [e for p in (stage / "events").rglob("*.json") for e in _events(p)]
    remaining += [e for p in (stage / "_quarantine").rglob("*.jsonl") for e in _quarantined(p)]
    assert all(e["user_id"] != user for e in remaining)
    assert len(remaining) == len(everyone) - theirs_on_stage - theirs_quarantined
    assert not any(p.exists() for p in touched)
    # Recorded by hash only; the id is in no table and no log.
    digest = hashlib.sha256(str(user).encode()).hexdigest()
    with duckdb.connect(str(warehouse), read_only=True) as db:
        request = db.execute(
            "select id_kind, id_sha256, raw_rows_deleted, stage_files_rewritten, "
            "quarantine_lines_removed from raw.amplitude_forget_requests"
        ).fetchall()
        dump = str(db.execute("from raw.stage_rewrites").fetchall())
    assert request == [("user_id", digest, theirs_on_stage, data_files, theirs_quarantined)]
    assert str(user) not in dump
    for log in (tmp_path / ".local/state/logs").glob("forget_*.log"):
        assert str(user) not in log.read_text()

    assert _files_not_loaded(tmp_path) == []

    # The loader loads nothing again; forgetting again changes nothing.
    reload = run_cli(tmp_path, "load")
    assert "files: 0 loaded" in reload.stdout, reload.stdout
    settled = _stage_state(stage)
    again = run_cli(tmp_path, "forget", "--user-id", str(user))
    assert again.returncode == 0, again.stderr
    assert "raw rows deleted: 0 |" in again.stdout
    assert _stage_state(stage) == settled

    # A re-export of their hours drops their lines (counted) and writes the very parts
    # the forget wrote (same keys, same bytes): nobody comes back. (The local loader keys
    # a file's content by size and mtime, so it loads the rewritten-in-place parts again,
    # as after any --force re-export; dbt deduplicates. Snowpipe skips a path it loaded.)
    redo = run_cli(tmp_path, "extract", "--start", START, "--end", END, "--force",
                   "--api-url", server.url, "--workers", "thread")  # fmt: skip
    forgotten_lines = theirs_on_stage + theirs_quarantined
    assert f"{forgotten_lines} line(s) of forgotten users dropped" in redo.stdout, redo.stdout
    assert _stage_state(stage) == settled
    assert run_cli(tmp_path, "load").returncode == 0
    assert set(_raw_uuids(warehouse)) == set(after)
    for log in (tmp_path / ".local/state/logs").glob("extract_*.log"):
        assert str(user) not in log.read_text()


def test_forget_by_amplitude_id_and_usage_errors(
    amplitude: Callable[..., LocalAmplitude], tmp_path: Path
) -> None:
    server = _setup(amplitude, tmp_path)
    stage, warehouse = tmp_path / ".local/stage", tmp_path / ".local/warehouse.duckdb"
    run_cli(tmp_path, "extract", "--start", START, "--end", "2026-01-26T01",
            "--api-url", server.url, "--workers", "thread")  # fmt: skip
    events = [e for p in (stage / "events").rglob("*.json") for e in _events(p)]
    amplitude_id = Counter(e["amplitude_id"] for e in events).most_common(1)[0][0]
    theirs = sum(e["amplitude_id"] == amplitude_id for e in events)

    none = run_cli(tmp_path, "forget")
    both = run_cli(tmp_path, "forget", "--user-id", "a", "--device-id", "b")
    negative = run_cli(tmp_path, "forget", "--amplitude-id", "-3")
    assert (none.returncode, both.returncode, negative.returncode) == (2, 2, 2)
    assert "exactly one" in none.stderr
    assert "exactly one" in both.stderr

    # Forgotten before the load: nothing in the raw table yet, and the loader then loads
    # the rewritten parts only.
    result = run_cli(tmp_path, "forget", "--amplitude-id", str(amplitude_id))
    assert result.returncode == 0, result.stderr
    assert "raw rows deleted: 0 |" in result.stdout
    assert f"({theirs} lines removed)" in result.stdout
    assert run_cli(tmp_path, "load").returncode == 0
    assert sum(_raw_uuids(warehouse).values()) == len(events) - theirs
    # The ledger still names the old parts: the dashboard follows them to their
    # replacements, loaded, instead of calling them lost.
    assert _files_not_loaded(tmp_path) == []


def test_an_extract_that_cannot_read_who_was_forgotten_stops_before_any_request(
    amplitude: Callable[..., LocalAmplitude], tmp_path: Path
) -> None:
    server = _setup(amplitude, tmp_path)
    (tmp_path / ".local").mkdir()
    (tmp_path / ".local/warehouse.duckdb").write_bytes(b"not a duckdb file" * 100)
    result = run_cli(tmp_path, "extract", "--start", START, "--end", START,
                     "--api-url", server.url)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "cannot read the forgotten users" in result.stderr
    assert server.requests == []
