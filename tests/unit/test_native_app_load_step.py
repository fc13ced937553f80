"""The load step's pure parts: the COPY it runs matches the S3 form's pipe, and COPY's
result rows become load-history rows and a verdict."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from amplitude_ingest.in_snowflake.native_app import load_step, names

PIPE_SQL = Path(__file__).resolve().parents[2] / "sql" / "40_raw_table_and_pipe.sql"


def _copy_body(sql: str) -> str:
    body = re.search(r"copy into .*?;", sql, re.DOTALL | re.IGNORECASE)
    assert body, "no COPY found"
    return body.group(0)


def test_the_apps_copy_loads_the_same_columns_the_same_way_as_the_pipe() -> None:
    """Same target columns, same transform, same pattern, same file format options (the
    app's format is created with the S3 form's options), from the app's own objects."""
    pipe = _copy_body(PIPE_SQL.read_text())
    app = load_step.copy_statement()
    swap = {
        "raw.amplitude_events_raw": names.RAW_TABLE,
        "@ingest.amplitude_stage": f"@{names.STAGE}/{names.EVENTS_FOLDER}",
        "ingest.amplitude_json": names.FILE_FORMAT,
    }
    for old, new in swap.items():
        assert old in pipe
        pipe = pipe.replace(old, new)
    # The pipe reads the whole stage and picks events/ by pattern; the app copies from
    # the events/ folder, so its pattern is the same one without the folder.
    pipe = pipe.replace("pattern = '.*events/.*[.]json([.]gz)?'", "pattern = '.*[.]json([.]gz)?'")
    assert (
        app + ";"
        == pipe.rstrip(";").replace(
            "file_format = (format_name = 'state.amplitude_json')",
            "file_format = (format_name = 'state.amplitude_json')\non_error = skip_file",
        )
        + ";"
    )


def test_copy_result_rows_become_file_loads_and_nothing_new_is_no_file() -> None:
    rows = [
        {
            "file": "events_stage/events/a.json",
            "status": "LOADED",
            "rows_parsed": 3,
            "rows_loaded": 3,
            "first_error": None,
        },
        {
            "FILE": "events_stage/events/b.json",
            "STATUS": "load_failed",
            "ROWS_PARSED": 2,
            "ROWS_LOADED": 0,
            "FIRST_ERROR": "Error parsing JSON",
        },
        {"status": "Copy executed with 0 files processed."},
    ]
    loads = load_step.file_loads(rows)
    assert loads == [
        load_step.FileLoad("events_stage/events/a.json", "LOADED", 3, 3, None),
        load_step.FileLoad("events_stage/events/b.json", "LOAD_FAILED", 2, 0, "Error parsing JSON"),
    ]
    assert load_step.summary(loads) == {"files_loaded": 1, "files_failed": 1, "rows_loaded": 3}
    message = load_step.failure_message(loads)
    assert message is not None
    assert message.startswith("1 of 2 file(s) did not load into data.amplitude_events_raw")
    assert "events_stage/events/b.json: LOAD_FAILED (Error parsing JSON)" in message
    assert load_step.file_loads([{"status": "Copy executed with 0 files processed."}]) == []
    assert load_step.failure_message([]) is None


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("events_stage/events/web/2026/a.json", "events/web/2026/a.json"),
        ("events/web/a.json", "events/web/a.json"),
        ("_quarantine/web/a.json", None),
    ],
)
def test_a_stage_key_is_the_path_from_the_events_folder(name: str, key: str | None) -> None:
    assert load_step.stage_key(name) == key
