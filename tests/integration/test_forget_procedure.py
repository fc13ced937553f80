"""``CALL amplitude_forget()`` offline: its stage work under Snowpark local testing, its SQL
on fakesnow.

The stage is the procedure's own ``SnowflakeStage`` on a local-testing session: parts are
written with ``put_stream`` (by a real extract from the local Amplitude server, then by
the forget's rewrite) and read back with ``SnowflakeFile``. Local testing runs no SQL, so
LIST and REMOVE, the two statements the stage sends, are the one thing the test keeps as
bookkeeping (``ListedStage``). Every query of the procedure runs on fakesnow against the
tables sql/55_forget.sql creates; its CALL of ``amplitude_forget_rows()``, a SQL procedure
fakesnow cannot create, runs that procedure's own statements read from sql/55 with the
call's values. The pipe is played by inserting each line of a file with its name.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import fakesnow
import pytest
import snowflake.connector

from amplitude_ingest.assembly import extraction, inline_workers
from amplitude_ingest.config import ExtractConfig
from amplitude_ingest.forget import Forgotten, IdKind, id_sha256, request_id
from amplitude_ingest.hours import parse_bounds
from amplitude_ingest.in_snowflake.forget_procedure import (
    ExportRunningError,
    forget,
    requests_query,
)
from amplitude_ingest.in_snowflake.session import SessionGate
from amplitude_ingest.in_snowflake.settings_table import ForgetSettings
from amplitude_ingest.in_snowflake.stage import SnowflakeStage
from amplitude_ingest.stage_keys import EVENTS_FOLDER
from amplitude_laptop.sqlite_ledger import SqliteLedger
from amplitude_sample_server.server import FaultPlan, LocalAmplitude
from tests.integration.test_sql_on_fakesnow import run_scripts
from tests.support import CREDENTIALS
from tests.unit.test_forget_privileges import procedure_body_statements

STAGE = "AMPLITUDE.INGEST.AMPLITUDE_STAGE"
START, END = "2026-01-26T00", "2026-01-26T03"


class ListedStage(SnowflakeStage):
    """The procedure's stage, with LIST and REMOVE (SQL, which local testing cannot run)
    answered from what was put and removed."""

    def __init__(self, gate: SessionGate) -> None:
        super().__init__(gate, STAGE)
        self.keys: set[str] = set()
        self.removed: list[str] = []

    def _upload(self, spooled: IO[bytes], key: str, crc32: int) -> None:
        super()._upload(spooled, key, crc32)
        self.keys.add(key)

    def list_keys(self, prefix: str) -> list[str]:
        return sorted(k for k in self.keys if k.startswith(prefix))

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.keys.discard(key)
            self.removed.append(key)

    def lines(self, key: str) -> list[dict[str, Any]]:
        with self.read(key) as chunks:
            data = b"".join(chunks)
        return [json.loads(line) for line in data.splitlines() if line.strip()]


class Fakesnow:
    """run_sql over fakesnow; the CALL of amplitude_forget_rows() runs its own statements."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def __call__(self, query: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        if query.startswith("call "):
            request, kind, digest = params
            return [(self._rows_procedure(request, kind, digest),)]
        self.cursor.execute(query, list(params) or None)
        return list(self.cursor.fetchall())

    def _rows_procedure(self, request: str, kind: str, digest: str) -> str:
        binds: dict[str, str | int] = {"request_id": request, "id_kind": kind, "id_sha256": digest}
        counts: list[int] = []
        for step in range(5):
            statement = procedure_body_statements(binds)[step]
            self.cursor.execute(statement)
            rows = self.cursor.fetchall()
            if step in (1, 2):  # the two deletes: SQLROWCOUNT
                counts.append(int(rows[0][0]))
                binds.update(zip(("deleted", "replaced"), counts, strict=False))
        return str(rows[0][0])


def pipe(cursor: Any, stage: ListedStage, keys: Iterable[str]) -> None:
    for key in keys:
        for number, event in enumerate(stage.lines(key), start=1):
            cursor.execute(
                "insert into amplitude.raw.amplitude_events_raw "
                "select parse_json(?), ?, ?, sysdate()",
                [json.dumps(event), f"amplitude/{key}", number],
            )


def raw(cursor: Any) -> list[tuple[str, str]]:
    cursor.execute(
        "select raw_json:uuid::varchar, raw_json:user_id::varchar "
        "from amplitude.raw.amplitude_events_raw"
    )
    return [(str(u), str(user)) for u, user in cursor.fetchall()]


@pytest.fixture
def cursor(tmp_path: Path) -> Iterator[Any]:
    (tmp_path / "fakesnow").mkdir()
    with fakesnow.patch(db_path=str(tmp_path / "fakesnow")):
        connection = snowflake.connector.connect(
            database="AMPLITUDE", schema="INGEST", paramstyle="qmark"
        )
        cur = connection.cursor()
        cur.execute("create schema if not exists amplitude.raw")
        run_scripts(
            cur, ["40_raw_table_and_pipe.sql", "50_ledger_and_settings.sql", "55_forget.sql"]
        )
        yield cur


@pytest.fixture
def stage() -> Iterator[ListedStage]:
    from snowflake.snowpark import Session

    session = Session.builder.config("local_testing", True).create()
    yield ListedStage(SessionGate(session))
    session.close()


def export(
    server: LocalAmplitude, stage: ListedStage, root: Path, forgotten: Callable[[], Forgotten]
) -> Any:
    class Port:
        def forgotten(self) -> Forgotten:
            return forgotten()

    config = ExtractConfig.model_validate({"api_url": server.url, "concurrency": 1})
    ledger = SqliteLedger(root)
    try:
        with extraction(
            config,
            CREDENTIALS,
            stage=lambda: stage,
            ledger=ledger,
            workers=inline_workers,
            spool_dir=root,
            forgotten=Port(),
        ) as extractor:
            return extractor.run(extractor.plan(*parse_bounds(START, END), force=True))
    finally:
        ledger.close()


def test_the_procedure_forgets_a_user_and_a_reexport_brings_nothing_back(
    amplitude: Callable[..., LocalAmplitude], cursor: Any, stage: ListedStage, tmp_path: Path
) -> None:
    server = amplitude(FaultPlan(entry_names={"20260126T02": "not-amplitude.json.gz"}))
    export(server, stage, tmp_path / "state", Forgotten)
    written = stage.list_keys(f"{EVENTS_FOLDER}/")
    pipe(cursor, stage, written)
    before = raw(cursor)
    quarantined = [
        json.loads(str(r["line"])) for k in stage.list_keys("_quarantine/") for r in stage.lines(k)
    ]
    # A user in the quarantine and on the stage.
    users = {str(e["user_id"]) for e in quarantined if e["user_id"]}
    user = min(u for u in users if any(v == u for _, v in before))
    theirs = sum(v == user for _, v in before)
    theirs_quarantined = sum(e["user_id"] == user for e in quarantined)

    run_sql = Fakesnow(cursor)
    settings = dict(
        run_sql("select name, value from amplitude.ingest.amplitude_ingest_settings", [])
    )
    names = ForgetSettings.from_rows({**settings, "stage": STAGE})
    digest = id_sha256(user)
    # An export is running (it holds an hour's lease): the request is recorded and the raw
    # rows go, but the call fails, asking to be run again; nothing on the stage moved.
    cursor.execute(
        f"insert into {names.ledger_table} (hour, status, files, events, bytes, "
        "rejected_lines, attempts, updated_at, lease_owner, lease_expires_at) "
        "select '2026-01-26 05:00:00'::timestamp_ntz, 'pending', 0, 0, 0, 0, 0, sysdate(), "
        "'another-run', dateadd(minute, 30, sysdate())"
    )
    with pytest.raises(ExportRunningError, match="exporting 1 hour"):
        forget(run_sql, stage, names, IdKind.USER_ID, digest)
    assert all(v != user for _, v in raw(cursor))
    assert not stage.removed
    cursor.execute(f"delete from {names.ledger_table}")
    result = forget(run_sql, stage, names, IdKind.USER_ID, digest)
    assert result["raw_rows_deleted"] == theirs
    assert result["stage_lines_removed"] == theirs
    assert result["quarantine_lines_removed"] == theirs_quarantined
    assert result["request_id"] == request_id(IdKind.USER_ID, digest)

    # The user is gone from the raw table; what else the rewritten files held is gone too,
    # until the pipe loads their replacements (new paths): then everyone else is back, once.
    rewritten = set(stage.removed) & set(written)
    remaining = raw(cursor)
    assert all(v != user for _, v in remaining)
    pipe(cursor, stage, sorted(set(stage.list_keys(f"{EVENTS_FOLDER}/")) - set(written)))
    after = raw(cursor)
    assert sorted(after) == sorted(r for r in before if r[1] != user)
    assert rewritten
    assert not rewritten & stage.keys
    for key in stage.keys:
        lines = stage.lines(key)
        if key.startswith("_quarantine/"):
            lines = [json.loads(str(r["line"])) for r in lines]
        assert all(e["user_id"] != user for e in lines)
    cursor.execute(
        "select id_kind, id_sha256, raw_rows_deleted, stage_files_rewritten, "
        "quarantine_lines_removed from amplitude.raw.amplitude_forget_requests"
    )
    assert cursor.fetchall() == [("user_id", digest, theirs, len(rewritten), theirs_quarantined)]

    # Again: nothing changes (one request, the same counts).
    keys = set(stage.keys)
    again = forget(run_sql, stage, names, IdKind.USER_ID, digest)
    assert again["raw_rows_deleted_now"] == 0
    assert again["raw_rows_deleted"] == theirs
    assert stage.keys == keys

    # A forced re-export through the requests table drops their lines, counted, and writes
    # exactly the parts the forget wrote.
    table = names.forget_requests_table
    summary = export(
        server,
        stage,
        tmp_path / "state",
        lambda: Forgotten.of((str(k), str(d)) for k, d in run_sql(requests_query(table), [])),
    )
    assert summary.lines_forgotten == theirs + theirs_quarantined
    assert stage.keys == keys
