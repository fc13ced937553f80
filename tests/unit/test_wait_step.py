"""The wait step's pure logic: the run reference, what the run wrote, what was loaded, the
verdict, and the task return value's size."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.in_snowflake.names import validate_qualified_name
from amplitude_ingest.in_snowflake.settings_table import WaitSettings
from amplitude_ingest.in_snowflake.wait_step import (
    LOAD_ERROR_CHARS,
    FilesNotLoadedError,
    check_run,
    decide,
    expected_files,
    is_loaded,
    reconcile,
)

KEY_A = "events/web/2026/01/26/05/web_20260126T05_0000_aaaaaaaaaaaaaaaa.json"
KEY_B = "events/web/2026/01/26/05/web_20260126T05_0001_bbbbbbbbbbbbbbbb.json"
KEY_C = "events/web/2026/01/26/06/web_20260126T06_0000_cccccccccccccccc.json"


# ---- what the run wrote and what was loaded ---------------------------------------------------


def test_expected_files_are_the_events_keys_of_done_hours_only() -> None:
    rows = [
        ("done", json.dumps([KEY_B, KEY_A, "_quarantine/web/x.rejected.jsonl"])),
        ("empty", json.dumps([])),
        ("failed", json.dumps([KEY_C])),  # a failed hour's leftovers are not expected
        ("done", None),
    ]
    assert expected_files(rows) == [KEY_A, KEY_B]


def test_a_corrupt_ledger_row_is_an_error_not_an_empty_run() -> None:
    with pytest.raises(ConfigurationError, match="not JSON"):
        expected_files([("done", "[not json")])


@pytest.mark.parametrize(
    ("file_name", "loaded"),
    [
        (KEY_A, True),  # path relative to the stage
        (f"amplitude/{KEY_A}", True),  # path from the bucket
        (f"s3://bucket/amplitude/{KEY_A}", True),
        (f"amplitude/x{KEY_A}", False),  # not a path boundary
        (KEY_A + ".gz", False),
        (KEY_B, False),
    ],
)
def test_a_key_is_loaded_when_a_file_name_ends_with_it_at_a_path_boundary(
    file_name: str, loaded: bool
) -> None:
    assert is_loaded(KEY_A, file_name) is loaded
    assert (KEY_A in reconcile([KEY_A], [file_name]).loaded) is loaded


@given(
    st.lists(st.sampled_from([KEY_A, KEY_B, KEY_C]), unique=True),
    st.lists(
        st.tuples(
            st.sampled_from(["", "amplitude/", "x/y/", "z"]), st.sampled_from([KEY_A, KEY_B, KEY_C])
        ),
        max_size=6,
    ),
)
def test_reconcile_agrees_with_is_loaded(
    expected: list[str], loaded: list[tuple[str, str]]
) -> None:
    names = [prefix + key for prefix, key in loaded]
    result = reconcile(expected, names)
    assert set(result.loaded) | set(result.missing) == set(expected)
    for key in expected:
        assert (key in result.loaded) == any(is_loaded(key, n) for n in names)


# ---- the verdict ------------------------------------------------------------------------------


def test_done_when_every_file_is_in_the_raw_table() -> None:
    verdict = decide([KEY_A, KEY_B], [f"amplitude/{KEY_A}", KEY_B], {}, 5, 900)
    assert (verdict.state, verdict.expected, verdict.loaded, verdict.missing) == ("done", 2, 2, ())


def test_a_run_that_wrote_nothing_is_done_at_once() -> None:
    assert decide([], [], {}, 0, 900).state == "done"


def test_wait_while_files_are_missing_before_the_timeout() -> None:
    verdict = decide([KEY_A, KEY_B], [KEY_A], {}, 899, 900)
    assert (verdict.state, verdict.missing) == ("wait", (KEY_B,))


def test_fail_at_the_timeout_naming_the_missing_files_and_the_way_out() -> None:
    names = WaitSettings(pipe="AMP.INGEST.AMPLITUDE_EVENTS_PIPE")
    verdict = decide([KEY_A, KEY_B, KEY_C], [KEY_A], {}, 900, 900, names)
    assert verdict.state == "fail"
    assert verdict.missing == (KEY_B, KEY_C)
    assert (
        f"2 of the 3 files this run wrote are not in {names.raw_table}: {KEY_B}, {KEY_C}."
        in verdict.message
    )
    assert (
        "ALTER PIPE AMP.INGEST.AMPLITUDE_EVENTS_PIPE REFRESH PREFIX = 'events/'" in verdict.message
    )
    assert "make doctor" in verdict.message


def test_a_long_list_of_missing_files_is_cut_in_the_message() -> None:
    keys = [f"events/web/2026/01/26/05/part_{i:04d}.json" for i in range(250)]
    verdict = decide(keys, [], {}, 901, 900)
    assert verdict.state == "fail"
    assert len(verdict.missing) == 250
    assert "and 240 more" in verdict.message
    assert len(verdict.message) < 2_500


def test_a_load_error_fails_at_once_without_waiting_for_the_timeout() -> None:
    errors = {f"amplitude/{KEY_B}": "Load failed: Error parsing JSON: incomplete object value"}
    verdict = decide([KEY_A, KEY_B], [KEY_A], errors, 1, 900)
    assert verdict.state == "fail"
    assert verdict.missing == (KEY_B,)
    assert "Snowpipe failed to load 1 of the 2 files" in verdict.message
    assert "Error parsing JSON" in verdict.message


def test_a_load_error_is_quoted_on_one_line_and_cut_to_200_characters() -> None:
    """Pinned: COPY_HISTORY's error is quoted through `text.cut` (one line, LOAD_ERROR_CHARS)."""
    error = "Load failed:\n  Error parsing JSON: " + "y" * 400
    verdict = decide([KEY_A], [], {KEY_A: error}, 1, 900)
    quoted = verdict.message.split(f"{KEY_A}: ", 1)[1].split(")", 1)[0]
    assert quoted.startswith("Load failed: Error parsing JSON: yyy")
    assert len(quoted) == LOAD_ERROR_CHARS == 200
    assert quoted.endswith("…")


# ---- the whole step over recorded answers -----------------------------------------------------


class Recorded:
    """Answers to the wait step's queries, by query prefix, in the order they come."""

    def __init__(
        self,
        settings: dict[str, str],
        ledger: list[tuple[str, str]],
        looks: list[list[str]],
        predecessor: str | None = None,
        rewrites: dict[str, str | None] | None = None,
    ) -> None:
        self.settings = settings
        self.rewrites = rewrites or {}
        self.ledger = ledger
        self.looks = looks
        self.predecessor = predecessor
        self.calls: list[tuple[str, list[Any]]] = []

    def __call__(self, query: str, params: Any) -> list[Any]:
        self.calls.append((query, list(params)))
        if query.startswith("select name, value from"):
            return list(self.settings.items())
        if "get_predecessor_return_value" in query:
            return [(self.predecessor,)]
        if query.startswith("select status, stage_keys"):
            return self.ledger
        if query.startswith("select distinct file_name"):
            return [
                (name,) for name in (self.looks.pop(0) if len(self.looks) > 1 else self.looks[0])
            ]
        if "copy_history" in query:
            return []
        if query.startswith("select file_name, rewritten_to"):
            return list(self.rewrites.items())
        raise AssertionError(query)


SETTINGS = {
    "raw_table": "AMP.RAW.AMPLITUDE_EVENTS_RAW",
    "ledger_table": "AMP.INGEST.AMPLITUDE_INGEST_LEDGER",
    "pipe": "AMP.INGEST.AMPLITUDE_EVENTS_PIPE",
    "root_task": "AMPLITUDE_PIPELINE_ROOT",
    "wait_timeout_seconds": "60",
    "wait_poll_seconds": "20",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_step_reads_the_roots_return_value_and_waits_until_the_files_arrive() -> None:
    clock = Clock()
    answers = Recorded(
        SETTINGS,
        [("done", json.dumps([KEY_A, KEY_B]))],
        looks=[[], [KEY_A], [KEY_B]],  # the second file arrives on the third look
        predecessor=json.dumps({"run_id": "run42", "hours_done": 1}),
    )
    result = check_run(answers, None, "AMP.INGEST.AMPLITUDE_INGEST_SETTINGS", clock, clock.sleep)
    assert result == {"run_id": "run42", "files_expected": 2, "files_loaded": 2}
    assert clock.now == 1040.0  # two polls of 20 s
    ledger_call = [c for c in answers.calls if c[0].startswith("select status, stage_keys")]
    assert ledger_call == [
        (
            "select status, stage_keys from AMP.INGEST.AMPLITUDE_INGEST_LEDGER where run_id = ?",
            ["run42"],
        )
    ]
    looks = [c[1] for c in answers.calls if c[0].startswith("select distinct file_name")]
    # The first look reaches back 15 days (a key rewritten unchanged was loaded earlier),
    # later ones to the previous look plus an hour.
    assert looks == [[15 * 24 * 3600], [3620], [3620]]
    predecessor = [c for c in answers.calls if "predecessor" in c[0]]
    assert predecessor == [
        ("select system$get_predecessor_return_value(?)", ["AMPLITUDE_PIPELINE_ROOT"])
    ]


def test_the_step_fails_the_task_after_the_timeout() -> None:
    clock = Clock()
    answers = Recorded(SETTINGS, [("done", json.dumps([KEY_A, KEY_B]))], looks=[[KEY_A]])
    with pytest.raises(
        FilesNotLoadedError, match=rf"run run42: after 60 s, 1 of the 2 files .*{KEY_B}"
    ):
        check_run(answers, "run42", "AMP.INGEST.AMPLITUDE_INGEST_SETTINGS", clock, clock.sleep)
    assert clock.now == 1060.0


def test_names_from_settings_are_validated_before_any_query_uses_them() -> None:
    bad = {**SETTINGS, "raw_table": "AMP.RAW.X; drop table y"}
    with pytest.raises(ConfigurationError, match="not a fully qualified name"):
        check_run(Recorded(bad, [], [[]]), "run42", "AMP.INGEST.SETTINGS")
    with pytest.raises(ConfigurationError):
        validate_qualified_name("settings")
