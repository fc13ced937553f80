"""The Native App's procedures: the export under Snowpark local testing against the local
Amplitude server, writing to the app's internal stage with the app's settings table; then
the load step's COPY semantics over those very files (tests/app_copy_model.py: each file
once, a re-run adds nothing, a re-export's new files load, a failed file fails the step and
is recorded); the run history each call leaves.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from amplitude_ingest.in_snowflake.native_app import ingest_step, load_step, names, run_history
from amplitude_ingest.in_snowflake.session import SessionGate
from amplitude_sample_server.server import FaultPlan, LocalAmplitude
from tests.app_copy_model import CopyModel
from tests.snowpark_local import create_ledger_table, save_settings, stand_in_secret
from tests.support import API_KEY, SECRET_KEY

HOURS = ("2026-01-26T03", "2026-01-26T05")


@pytest.fixture
def app_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """What Snowflake injects for the app's procedure bound to the app's PASSWORD secret."""
    stand_in_secret(monkeypatch)


def app_session(server: LocalAmplitude, **extra: str) -> Any:
    """A local-testing session holding the app's state tables, as the setup script makes
    them, and the app's ingest procedure."""
    from snowflake.snowpark import Session
    from snowflake.snowpark.types import BooleanType, StringType, VariantType

    session = Session.builder.config("local_testing", True).create()
    settings = {
        "stage": names.STAGE,
        "ledger_table": names.LEDGER_TABLE,
        "api_url": server.url,
        "project": "web",
        "concurrency": "1",  # local testing holds the session for the whole call
        "lag_hours": "3",
        "stage_retention_days": "7",
        **extra,
    }
    save_settings(session, settings, names.SETTINGS)
    create_ledger_table(session, names.LEDGER_TABLE)
    session.create_dataframe([], schema=run_history.schema()).write.save_as_table(names.RUN_HISTORY)
    session.sproc.register(
        ingest_step.ingest_amplitude,
        name="INGEST_AMPLITUDE",
        return_type=VariantType(),
        input_types=[StringType(), StringType(), BooleanType()],
        replace=True,
    )
    return session


@pytest.fixture
def start_app(
    app_secret: None, amplitude: Callable[..., LocalAmplitude]
) -> Iterator[Callable[..., tuple[Any, LocalAmplitude]]]:
    sessions: list[Any] = []

    def start(
        faults: FaultPlan | None = None, server_options: dict[str, Any] | None = None, **extra: str
    ) -> tuple[Any, LocalAmplitude]:
        server = amplitude(faults, **(server_options or {}))
        sessions.append(app_session(server, **extra))
        return sessions[-1], server

    yield start
    for session in sessions:
        session.close()


def call(session: Any, *args: object) -> dict[str, Any]:
    result = session.call("INGEST_AMPLITUDE", *args)
    return json.loads(result) if isinstance(result, str) else dict(result)


def staged(session: Any, target: Path) -> dict[str, bytes]:
    """The parts on the app's stage, by key (``events/...``): GET flattens folders, so
    each file is matched to the key the ledger recorded for it."""
    from amplitude_ingest.in_snowflake.session import SessionGate

    # The procedure qualifies the stage with the session's database, as it does in the app.
    stage = SessionGate(session).qualify(names.STAGE, "stage")
    session.file.get(f"@{stage}/{names.EVENTS_FOLDER}", str(target))
    keys = {
        key.rsplit("/", 1)[-1]: key
        for row in session.table(names.LEDGER_TABLE).select("STAGE_KEYS").collect()
        for key in json.loads(row[0] or "[]")
    }
    found = {keys[path.name]: path.read_bytes() for path in target.rglob("*.json")}
    assert all(load_step.stage_key(key) == key for key in found)
    return found


def history(session: Any) -> list[dict[str, Any]]:
    return [r.as_dict() for r in session.table(names.RUN_HISTORY).collect()]


def planted(server: LocalAmplitude) -> Any:
    start, end = (datetime.strptime(h, "%Y-%m-%dT%H").replace(tzinfo=UTC) for h in HOURS)
    return server.manifest(start, end)


def test_the_apps_export_writes_parts_to_its_internal_stage_and_records_the_run(
    start_app: Callable[..., tuple[Any, LocalAmplitude]], tmp_path: Path
) -> None:
    session, server = start_app()
    result = call(session, *HOURS, False)
    parts = staged(session, tmp_path / "stage")
    lines = [line for data in parts.values() for line in data.decode().splitlines()]
    assert (result["hours_done"], result["hours_failed"]) == (3, 0)
    assert result["events"] == len(lines) == planted(server).rows
    assert len(parts) == result["files"] == 3
    (run,) = history(session)
    assert (run["STEP"], run["STATUS"], run["RUN_ID"]) == ("ingest", "SUCCEEDED", result["run_id"])
    summary = json.loads(run["SUMMARY"])
    assert (summary["events"], summary["task"]) == (result["events"], None)
    assert run["FIRST_ERROR"] is None
    assert run["ENDED_AT"] >= run["STARTED_AT"]


def test_a_failed_export_fails_the_call_and_its_run_row_says_why(
    start_app: Callable[..., tuple[Any, LocalAmplitude]],
) -> None:
    session, _ = start_app(FaultPlan(responses={"20260126T04": ["503"]}), max_attempts="1")
    with pytest.raises(Exception, match=r"1 hour\(s\) failed"):
        call(session, *HOURS, False)
    (run,) = history(session)
    assert (run["STEP"], run["STATUS"]) == ("ingest", "FAILED")
    assert "HoursFailedError" in run["FIRST_ERROR"]
    assert "20260126T04" in run["FIRST_ERROR"]
    assert API_KEY not in run["FIRST_ERROR"]
    assert SECRET_KEY not in run["FIRST_ERROR"]


def test_the_load_step_loads_each_exported_file_once_and_a_reexports_new_files(
    start_app: Callable[..., tuple[Any, LocalAmplitude]], tmp_path: Path
) -> None:
    """Export, load, load again (nothing), re-export the same hours with more events
    (new content, new names: they load; the old files are not loaded again)."""
    clock = [datetime(2026, 1, 27, tzinfo=UTC)]
    model = CopyModel(tmp_path / "model-stage", lambda: clock[0])
    first, first_server = start_app()
    call(first, *HOURS, False)
    for key, data in staged(first, tmp_path / "first").items():
        model.put(key, data)

    loaded = load_step.load(model, "load-1")
    assert loaded.summary == {
        "files_loaded": 3,
        "files_failed": 0,
        "rows_loaded": planted(first_server).rows,
    }
    assert sum(model.raw_rows_per_file().values()) == planted(first_server).rows

    again = load_step.load(model, "load-2")
    assert again.loads == ()
    assert again.summary == {"files_loaded": 0, "files_failed": 0, "rows_loaded": 0}

    second, second_server = start_app(server_options={"sessions_per_hour": 9})
    call(second, *HOURS, True)
    new_parts = staged(second, tmp_path / "second")
    assert not set(new_parts) & set(model.keys())  # new content, new names
    for key, data in new_parts.items():
        model.put(key, data)
    clock[0] = datetime(2026, 1, 28, tzinfo=UTC)
    third = load_step.load(model, "load-3")
    assert third.summary["files_loaded"] == 3
    assert third.summary["rows_loaded"] == planted(second_server).rows
    assert sum(model.raw_rows_per_file().values()) == (
        planted(first_server).rows + planted(second_server).rows
    )
    assert model.duplicated_rows() == 0
    assert sorted(s for _, s in model.history()) == ["LOADED"] * 6


def test_a_file_that_does_not_load_fails_the_step_after_it_is_recorded(
    start_app: Callable[..., tuple[Any, LocalAmplitude]], tmp_path: Path
) -> None:
    model = CopyModel(tmp_path / "model-stage", lambda: datetime(2026, 1, 27, tzinfo=UTC))
    session, server = start_app()
    call(session, *HOURS, False)
    parts = staged(session, tmp_path / "stage")
    broken = sorted(parts)[1]
    for key, data in parts.items():
        model.put(key, data + b"{not json\n" if key == broken else data)

    outcome = load_step.load(model, "load-1")
    with pytest.raises(load_step.LoadFailedError, match="1 of 3 file") as failed:
        outcome.raise_if_failed()
    assert broken in str(failed.value)
    assert "Error parsing JSON" in str(failed.value)
    assert sorted(model.history()) == sorted(
        (f"events_stage/{key}", "LOAD_FAILED" if key == broken else "LOADED") for key in parts
    )
    good_rows = sum(len(d.decode().splitlines()) for k, d in parts.items() if k != broken)
    assert outcome.summary == {"files_loaded": 2, "files_failed": 1, "rows_loaded": good_rows}
    assert sum(model.raw_rows_per_file().values()) == good_rows < planted(server).rows

    # The next run tries the failed file again, and fails again: loud until it is fixed.
    with pytest.raises(load_step.LoadFailedError, match="1 of 1 file"):
        load_step.load(model, "load-2").raise_if_failed()


def test_the_doctor_reads_the_apps_tables_and_start_refuses_on_its_verdicts(
    start_app: Callable[..., tuple[Any, LocalAmplitude]],
) -> None:
    """Local testing runs no SQL statement (SHOW, LIST, ALTER): what the doctor asks that
    way is reported as a failure, which is exactly what must keep the schedule stopped;
    what it reads through the DataFrame API is read for real."""
    from amplitude_ingest.in_snowflake.checks import FAIL, OK
    from amplitude_ingest.in_snowflake.native_app import doctor_checks, schedule

    session, _ = start_app()
    run_history.record(session, run_history.RunRecord(step="set_credentials"))
    load_step.SessionLoader(session).record(
        [load_step.FileLoad("events_stage/events/web/a.json", "LOADED", 4, 4, None)], "load-1"
    )
    verdicts = {r.check_name: r for r in doctor_checks.run_checks(session)}
    assert verdicts["key_pair"].status == OK
    assert verdicts["settings"].status == OK
    assert verdicts["copy_from_app_stage"].status == OK
    assert verdicts["specification"].status == FAIL  # SHOW SPECIFICATIONS: no SQL here
    assert verdicts["export_api"].detail.startswith("not tried")

    with pytest.raises(schedule.ScheduleRefusedError, match="specification: SHOW"):
        schedule.start(SessionGate(session).rows, list(verdicts.values()))


def test_storing_a_key_pair_that_fails_records_the_failure_without_the_keys(
    start_app: Callable[..., tuple[Any, LocalAmplitude]],
) -> None:
    from amplitude_ingest.in_snowflake.native_app import credentials

    session, _ = start_app()
    with pytest.raises(NotImplementedError) as failed:  # local testing runs no ALTER SECRET
        credentials.amplitude_set_credentials(session, API_KEY, SECRET_KEY)
    (run,) = history(session)
    assert (run["STEP"], run["STATUS"]) == ("set_credentials", "FAILED")
    for text in (str(failed.value), run["FIRST_ERROR"], run["SUMMARY"] or ""):
        assert API_KEY not in text
        assert SECRET_KEY not in text


def test_retention_reads_its_setting_and_the_loaded_files_from_the_apps_tables(
    start_app: Callable[..., tuple[Any, LocalAmplitude]],
) -> None:
    from amplitude_ingest.in_snowflake.native_app import app_settings, retention

    session, _ = start_app()
    load_step.SessionLoader(session).record(
        [
            load_step.FileLoad("events_stage/events/web/a.json", "LOADED", 4, 4, None),
            load_step.FileLoad("events_stage/events/web/b.json", "LOAD_FAILED", 2, 0, "bad"),
        ],
        "load-1",
    )
    assert retention.read_setting(session, app_settings.RETENTION_DAYS) == "7"
    assert retention.read_setting(session, app_settings.SCHEDULE_CRON) is None
    assert retention.read_loaded(session) == {"events/web/a.json"}


def test_a_refused_start_is_a_failed_schedule_row(
    start_app: Callable[..., tuple[Any, LocalAmplitude]],
) -> None:
    """Local testing cannot CALL the doctor procedure: the start fails before it resumes
    anything, and the run history says so."""
    from amplitude_ingest.in_snowflake.native_app import schedule

    session, _ = start_app()
    with pytest.raises(NotImplementedError):
        schedule.amplitude_start_schedule(session)
    (run,) = history(session)
    assert (run["STEP"], run["STATUS"]) == ("schedule", "FAILED")
    assert run["FIRST_ERROR"].startswith("NotImplementedError")
