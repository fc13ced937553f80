"""``CALL amplitude_forget(id_kind, id)``: forget one user in Snowflake.

Owned by the pipeline role and run with its rights, like ``ingest_amplitude()``: it hashes
the id (only the hash is used or stored from then on), records the request first (so every
export that starts from then on leaves the user out) and fails, asking to be called again,
while an export that started before holds hours; then it rewrites every stage part and
quarantine part holding the user's lines (LIST, ``get_stream``, ``put_stream`` under the
new content's key, the same code and key naming as the extract:
:func:`amplitude_ingest.forget.forget_on_stage`), records each rewritten key in the stage
rewrites table, then calls the admin's ``amplitude_forget_rows()``, an owner's-rights SQL
procedure (sql/55_forget.sql) that records the request and deletes the user's raw rows and
the raw rows of the parts this request rewrote (the pipeline role has no DELETE on the raw
table). Only then are the old parts removed. Snowpipe loads the new parts, under new paths,
like any other: the raw rows of a rewritten part are replaced, not loaded twice.

A crash at any point leaves a state a re-run completes: new parts are named by content
(written again identically), rewritten keys already recorded are only removed, and the
request id is derived from the id's kind and hash, so the record is one row.

The id given to a CALL is part of the statement's text, which Snowflake keeps in query
history: pass ``sha256:<hex>`` (the SHA-256 of the id, computed outside Snowflake) instead
of the id to keep it out (README, "Forgetting a user").
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from amplitude_ingest.errors import AmplitudeIngestError, ConfigurationError
from amplitude_ingest.forget import (
    Forgotten,
    IdKind,
    PartRewrite,
    forget_on_stage,
    id_sha256,
    id_text,
    parse_digest,
    request_id,
)
from amplitude_ingest.in_snowflake.names import validate_qualified_name
from amplitude_ingest.in_snowflake.session import Queries, SessionGate, text_pairs
from amplitude_ingest.in_snowflake.settings_table import (
    SETTINGS_TABLE,
    ForgetSettings,
    settings_query,
)
from amplitude_ingest.in_snowflake.stage import SnowflakeStage

if TYPE_CHECKING:
    from snowflake.snowpark import Session

logger = logging.getLogger(__name__)

NAMES_IN_MESSAGE = 10


class ForgetIncompleteError(AmplitudeIngestError):
    """A part holds the user's lines under a name this pipeline never writes."""


class ExportRunningError(AmplitudeIngestError):
    """An export that began before the request was recorded is still writing."""


# ---- the queries (values as bind variables; only validated names are spliced in) --------


def recorded_query(settings: ForgetSettings) -> str:
    return f"select file_name from {settings.stage_rewrites_table} where request_id = ?"


def record_rewrite_query(settings: ForgetSettings) -> str:
    return (
        f"insert into {settings.stage_rewrites_table} "
        "(file_name, rewritten_to, request_id, lines_removed, rewritten_at) "
        "select ?, ?, ?, ?, sysdate() "
        f"where not exists (select 1 from {settings.stage_rewrites_table} where file_name = ?)"
    )


def repoint_query(settings: ForgetSettings) -> str:
    """A part rewritten by an earlier request points at what replaced it last."""
    return f"update {settings.stage_rewrites_table} set rewritten_to = ? where rewritten_to = ?"


def rows_call(settings: ForgetSettings) -> str:
    return f"call {settings.forget_rows_procedure}(?, ?, ?)"


def running_exports_query(settings: ForgetSettings) -> str:
    """Hours an ingest_amplitude() call holds right now (its lease has not lapsed)."""
    return (
        f"select count(*) from {settings.ledger_table} "
        "where lease_owner is not null and lease_expires_at > sysdate()"
    )


def requests_query(table: str) -> str:
    return f"select id_kind, id_sha256 from {validate_qualified_name(table)}"


def queries(settings: ForgetSettings, settings_table: str) -> list[str]:
    """Every statement the procedure runs (the privilege replay runs them)."""
    return [
        settings_query(settings_table),
        recorded_query(settings),
        record_rewrite_query(settings),
        repoint_query(settings),
        rows_call(settings),
        running_exports_query(settings),
        requests_query(settings.forget_requests_table),
    ]


# ---- the extract's filter on Snowflake -------------------------------------------------


class SnowflakeForgottenIds:
    """The extract's :class:`~amplitude_ingest.forget.ForgottenIds`: the requests table."""

    def __init__(self, gate: SessionGate, table: str) -> None:
        self._gate = gate
        self.table = validate_qualified_name(table)

    def forgotten(self) -> Forgotten:
        rows = self._gate.rows(requests_query(self.table))
        return Forgotten.of((str(row[0]), str(row[1])) for row in rows)


# ---- the procedure -----------------------------------------------------------------------


def parse_kind(value: str) -> IdKind:
    try:
        return IdKind(value.strip().lower())
    except ValueError:
        kinds = ", ".join(k.value for k in IdKind)
        raise ConfigurationError(f"id_kind {value!r} is not one of {kinds}") from None


def digest_of(kind: IdKind, value: str) -> str:
    """The hash of the id: given as ``sha256:<hex>``, or computed here."""
    return parse_digest(value) or id_sha256(id_text(kind, value))


def record_rewrites(
    run_sql: Queries, settings: ForgetSettings, request: str, rewrites: Sequence[PartRewrite]
) -> None:
    for rewrite in rewrites:
        run_sql(
            record_rewrite_query(settings),
            [rewrite.old_key, rewrite.new_key, request, rewrite.lines_removed, rewrite.old_key],
        )
        if rewrite.new_key is not None:
            run_sql(repoint_query(settings), [rewrite.new_key, rewrite.old_key])


def forget(
    run_sql: Queries,
    stage: SnowflakeStage,
    settings: ForgetSettings,
    kind: IdKind,
    digest: str,
) -> dict[str, Any]:
    """The whole forget over a ``run_sql(query, params) -> rows`` callable and a stage."""
    request = request_id(kind, digest)
    # The request first: an export that starts from now on leaves the user out. One that
    # started before read the requests without it, and may still write their lines.
    run_sql(rows_call(settings), [request, kind.value, digest])
    held = run_sql(running_exports_query(settings), [])
    if held and int(held[0][0]):
        raise ExportRunningError(
            f"request {request} is recorded (every export from now on leaves the user out) "
            f"and their raw rows are deleted, but ingest_amplitude() is exporting "
            f"{int(held[0][0])} hour(s) right now with the requests it read before: CALL "
            "amplitude_forget() again once it has finished (a re-run only completes the work)."
        )
    recorded = {str(row[0]) for row in run_sql(recorded_query(settings), [request])}
    done = forget_on_stage(stage, Forgotten.of([(kind.value, digest)]), recorded)
    record_rewrites(run_sql, settings, request, done.rewrites)
    rows = run_sql(rows_call(settings), [request, kind.value, digest])
    counts = _variant(rows[0][0]) if rows else {}
    stage.delete(done.old_keys)
    result: dict[str, Any] = {
        "request_id": request,
        "id_kind": kind.value,
        **counts,
        "stage_lines_removed": done.data_lines_removed,
        "parts_rewritten_now": len(done.rewrites),
        "parts_not_rewritten": len(done.not_rewritten),
    }
    logger.info("amplitude_forget: %s", result)  # counts only, never the id
    if done.not_rewritten:
        shown = ", ".join(done.not_rewritten[:NAMES_IN_MESSAGE])
        raise ForgetIncompleteError(
            f"request {request}: everything else is forgotten, but {len(done.not_rewritten)} "
            f"file(s) on {stage.describe()} hold the user's lines under names this pipeline "
            f"never writes, so they were left as they are: {shown}. Remove them by hand."
        )
    return result


def _variant(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        parsed = json.loads(value)
        return parsed if isinstance(parsed, dict) else {}
    return dict(value) if isinstance(value, Mapping) else {}


def amplitude_forget(
    session: Session,
    id_kind: str,
    id: str,
    settings_table: str = SETTINGS_TABLE,
) -> dict:  # type: ignore[type-arg]  # Snowpark maps a plain dict to the VARIANT it returns
    """CALL amplitude_forget(id_kind, id [, settings_table]); see the module docstring."""
    kind = parse_kind(id_kind)
    digest = digest_of(kind, id)
    del id  # from here on only the hash exists
    gate = SessionGate(session)
    table = gate.qualify(settings_table, "settings table")
    settings = ForgetSettings.from_rows(text_pairs(gate.rows(settings_query(table))), table)
    stage = SnowflakeStage(gate, gate.qualify(settings.stage, "stage"))
    return forget(gate.rows, stage, settings, kind, digest)
