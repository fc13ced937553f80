"""The Snowpipe-like loader on real files, into a real DuckDB file, from a folder and S3."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import duckdb
import pytest

from amplitude_laptop.loader import Loader, connect
from amplitude_laptop.stage_listing import LocalStageListing, S3StageListing

EVENT = {"uuid": "u", "event_type": "x"}


def write(root: Path, key: str, lines: list[str]) -> Path:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return path


def rows(warehouse: Path) -> list[tuple[str, int, str]]:
    with duckdb.connect(str(warehouse)) as db:
        return db.execute(
            "select file_name, file_row_number, raw_json->>'uuid' from raw.amplitude_events_raw "
            "order by file_name, file_row_number"
        ).fetchall()


@pytest.fixture
def stage(tmp_path: Path) -> Path:
    root = tmp_path / "stage"
    write(
        root,
        "events/p/2026/01/26/05/a.json",
        [json.dumps({**EVENT, "uuid": f"a{i}"}) for i in range(3)],
    )
    write(root, "events/p/2026/01/26/06/b.json", [json.dumps({**EVENT, "uuid": "b0"})])
    write(root, "_quarantine/p/2026/01/26/05/a.rejected.jsonl", ['{"reason": "x"}'])
    write(root, "events/p/2026/01/26/06/.b2.json.123.partial", [json.dumps(EVENT)])
    return root


def test_new_files_load_once_with_name_row_number_and_load_time(
    stage: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "w.duckdb"
    with connect(warehouse) as db:
        first = Loader(db).load(LocalStageListing(stage))
        again = Loader(db).load(LocalStageListing(stage))
    assert (first.files_loaded, first.rows_loaded) == (2, 4)
    assert (again.files_loaded, again.files_already_loaded) == (0, 2)
    assert rows(warehouse) == [
        ("events/p/2026/01/26/05/a.json", 1, "a0"),
        ("events/p/2026/01/26/05/a.json", 2, "a1"),
        ("events/p/2026/01/26/05/a.json", 3, "a2"),
        ("events/p/2026/01/26/06/b.json", 1, "b0"),
    ]


def test_a_changed_file_is_loaded_again(stage: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    with connect(warehouse) as db:
        Loader(db).load(LocalStageListing(stage))
        path = stage / "events/p/2026/01/26/06/b.json"
        path.write_text(json.dumps({**EVENT, "uuid": "b1"}) + "\n")
        os.utime(path, ns=(1, 2))  # a new modification time: new content id
        summary = Loader(db).load(LocalStageListing(stage))
    assert summary.files_loaded == 1
    assert [r[2] for r in rows(warehouse)][-2:] == ["b0", "b1"]


def test_a_bad_file_is_recorded_and_the_rest_still_load(stage: Path, tmp_path: Path) -> None:
    write(stage, "events/p/2026/01/26/07/c.json", [json.dumps(EVENT), "not json"])
    warehouse = tmp_path / "w.duckdb"
    with connect(warehouse) as db:
        summary = Loader(db).load(LocalStageListing(stage))
        errors = db.execute("select file_name, error from raw.load_errors").fetchall()
        again = Loader(db).load(LocalStageListing(stage))
    assert (summary.files_loaded, summary.files_failed) == (2, 1)
    assert errors[0][0] == "events/p/2026/01/26/07/c.json"
    assert "Malformed JSON" in errors[0][1]
    assert not [r for r in rows(warehouse) if r[0].endswith("c.json")]  # nothing half-loaded
    assert (again.files_failed, again.files_already_loaded) == (0, 3)  # like SKIP_FILE


def test_loads_from_s3(s3_bucket: str, stage: Path, tmp_path: Path) -> None:
    s3 = boto3.client("s3")
    for path in stage.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), s3_bucket, f"raw/{path.relative_to(stage).as_posix()}")
    warehouse = tmp_path / "w.duckdb"
    with connect(warehouse) as db:
        summary = Loader(db).load(S3StageListing(s3_bucket, "raw"))
        again = Loader(db).load(S3StageListing(s3_bucket, "raw"))
    assert (summary.files_loaded, summary.rows_loaded) == (2, 4)
    assert again.files_already_loaded == 2
    assert rows(warehouse)[0] == ("events/p/2026/01/26/05/a.json", 1, "a0")
