"""``amplitude-ingest forget``: remove one user's events from the laptop pipeline.

What it removes: the user's rows in the raw table, their lines in every stage part (the
part is rewritten without them under a new key named by its new content, through the
extract's own stage writer and key naming, and the old part removed) and in the
quarantine. It records the request in ``raw.amplitude_forget_requests`` (the id only as
its SHA-256), which dbt reads to drop the user from every model and the extract reads to
drop their lines from every later export.

The load history stays true: for a rewritten part the raw table held, the old part's
remaining rows are replaced by the new part's, loaded in the same transaction that deletes
the user's rows, so the loader never loads those other events a second time; the old key
is recorded in ``raw.stage_rewrites``, so the loader never loads it again and the
dashboard follows it to its replacement instead of calling it lost.

Crash-safe and idempotent. The order is: write the new parts (nothing refers to them yet),
then one warehouse transaction (request, deletions, replacements, rewrites), then remove
the old parts. A crash before the transaction leaves the old parts in charge (a re-run
writes the same new keys again); a crash after it leaves old parts that the loader skips
and a re-run removes. The request id is derived from the id's kind and hash, so a re-run
or a second request for the same id adds to one record. It holds the state folder's run
lock, as an extract or a load does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.forget import (
    Forgotten,
    IdKind,
    PartRewrite,
    forget_on_stage,
    id_sha256,
    id_text,
    request_id,
)
from amplitude_ingest.stage_keys import EVENTS_FOLDER, QUARANTINE_FOLDER
from amplitude_laptop.loader import Loader, connect
from amplitude_laptop.run_lock import run_lock
from amplitude_laptop.settings import LaptopSettings
from amplitude_laptop.stage_listing import EventFile, StageListing, open_stage_listing
from amplitude_laptop.stages import LocalStage, S3Stage, StageLocation
from amplitude_queries.laptop_records import (
    FORGET_REQUESTS_TABLE,
    LOAD_HISTORY_TABLE,
    RAW_SCHEMA,
    RAW_TABLE,
    STAGE_REWRITES_TABLE,
)

logger = logging.getLogger(__name__)

_REQUESTS = f"{RAW_SCHEMA}.{FORGET_REQUESTS_TABLE}"
_REWRITES = f"{RAW_SCHEMA}.{STAGE_REWRITES_TABLE}"
RAW_TABLE_FQ = f"{RAW_SCHEMA}.{RAW_TABLE}"


@dataclass
class ForgetSummary:
    request_id: str
    id_kind: IdKind
    raw_rows_deleted: int = 0
    stage_files_rewritten: int = 0
    stage_lines_removed: int = 0
    quarantine_lines_removed: int = 0
    rows_replaced: int = 0
    # Parts holding the user's lines under a key this package never writes (someone else's
    # file): left in place, named, and the command fails.
    not_rewritten: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.not_rewritten

    def one_line(self) -> str:
        return (
            f"{self.id_kind.value} forgotten (request {self.request_id}) | raw rows deleted: "
            f"{self.raw_rows_deleted} | stage files rewritten: {self.stage_files_rewritten} "
            f"({self.stage_lines_removed} lines removed) | quarantine lines removed: "
            f"{self.quarantine_lines_removed}"
        )


class WarehouseForgottenIds:
    """The extract's :class:`~amplitude_ingest.forget.ForgottenIds`: the requests recorded
    in the laptop warehouse (none when it does not exist yet)."""

    def __init__(self, warehouse: Path) -> None:
        self.warehouse = warehouse

    def forgotten(self) -> Forgotten:
        if not self.warehouse.exists():
            return Forgotten()
        try:
            # Opened as the loader and the report open it: DuckDB refuses a second
            # connection to one file with another configuration (read_only) in a process
            # that still holds one, as a `run` or the demo run twice in a process does.
            with duckdb.connect(str(self.warehouse)) as db:
                tables = db.execute(
                    "select 1 from information_schema.tables where table_schema = ? "
                    "and table_name = ?",
                    [RAW_SCHEMA, FORGET_REQUESTS_TABLE],
                ).fetchall()
                if not tables:
                    return Forgotten()
                rows = db.execute(f"select id_kind, id_sha256 from {_REQUESTS}").fetchall()
        except duckdb.Error as exc:
            # Exporting without knowing who was forgotten could bring them back: stop.
            raise ConfigurationError(
                f"cannot read the forgotten users from {self.warehouse}: {exc}; the extract "
                "needs them to leave their events out (point --warehouse at the run's file)"
            ) from exc
        return Forgotten.of((str(kind), str(digest)) for kind, digest in rows)


def forget(settings: LaptopSettings, kind: IdKind, value: str) -> ForgetSummary:
    """Forget the user whose ``kind`` is ``value`` everywhere on this laptop but dbt's
    models (the next ``transform`` removes them there, driven by the request record)."""
    digest = id_sha256(id_text(kind, value))
    del value  # from here on only the hash exists
    summary = ForgetSummary(request_id(kind, digest), kind)
    spool = settings.state_dir / "spool"
    spool.mkdir(parents=True, exist_ok=True)
    location = StageLocation.parse(settings.stage, spool_dir=spool, fsync=settings.fsync)
    with run_lock(settings.state_dir, "forget"), connect(settings.warehouse) as db:
        stage = location()
        assert isinstance(stage, LocalStage | S3Stage)
        recorded = {
            str(name)
            for (name,) in db.execute(
                f"select file_name from {_REWRITES} where request_id = ?", [summary.request_id]
            ).fetchall()
        }
        done = forget_on_stage(stage, Forgotten.of([(kind.value, digest)]), recorded)
        summary.not_rewritten = done.not_rewritten
        _record(db, location, summary, digest, done.rewrites)
        stage.delete(done.old_keys)
        # Moves the deletes from the write-ahead log into the file and vacuums the rows
        # (DuckDB, "Reclaiming space"); it does not promise to overwrite the freed blocks.
        db.execute("checkpoint")
    summary.stage_lines_removed = done.data_lines_removed
    if summary.not_rewritten:
        logger.error(
            "%d file(s) hold the user's lines under names this pipeline never writes; "
            "remove them by hand: %s",
            len(summary.not_rewritten),
            ", ".join(summary.not_rewritten),
        )
    logger.info("forget: %s", summary.one_line())
    return summary


def _record(
    db: duckdb.DuckDBPyConnection,
    location: StageLocation,
    summary: ForgetSummary,
    digest: str,
    rewrites: list[PartRewrite],
) -> None:
    """The warehouse's side, in one transaction: the request, the user's raw rows, each
    rewritten part swapped in for the old one where the old one was loaded, and the
    rewrites recorded."""
    now = datetime.now(UTC).replace(tzinfo=None)
    listing = open_stage_listing(location)
    on_stage = {f.key: f for f in listing.list()} if rewrites else {}
    loader = Loader(db)
    db.execute("begin transaction")
    try:
        db.execute(
            f"insert into {_REQUESTS} values (?, ?, ?, ?, 0, 0, 0) on conflict do nothing",
            [summary.request_id, now, summary.id_kind.value, digest],
        )
        # The field's JSON path is a bound value too: one statement for the three kinds.
        (deleted,) = db.execute(
            f"delete from {RAW_TABLE_FQ} where sha256(json_extract_string(raw_json, ?)) = ?",
            [f"$.{summary.id_kind.value}", digest],
        ).fetchone() or (0,)
        summary.raw_rows_deleted = int(deleted)
        for rewrite in rewrites:
            if not rewrite.quarantine:
                summary.rows_replaced += _swap(db, loader, listing, on_stage, rewrite)
            db.execute(
                f"insert into {_REWRITES} values (?, ?, ?, ?, ?) on conflict do nothing",
                [rewrite.old_key, rewrite.new_key, summary.request_id, rewrite.lines_removed, now],
            )
            # A part rewritten before now points at what replaced it last.
            db.execute(
                f"update {_REWRITES} set rewritten_to = ? where rewritten_to = ?",
                [rewrite.new_key, rewrite.old_key],
            )
        db.execute(
            f"""
            update {_REQUESTS} set
                raw_rows_deleted = raw_rows_deleted + ?,
                stage_files_rewritten = (
                    select count(*) from {_REWRITES}
                    where request_id = ? and starts_with(file_name, ?)
                ),
                quarantine_lines_removed = (
                    select coalesce(sum(lines_removed), 0) from {_REWRITES}
                    where request_id = ? and starts_with(file_name, ?)
                )
            where request_id = ?
            """,
            [
                summary.raw_rows_deleted,
                summary.request_id,
                f"{EVENTS_FOLDER}/",
                summary.request_id,
                f"{QUARANTINE_FOLDER}/",
                summary.request_id,
            ],
        )
        row = db.execute(
            f"select stage_files_rewritten, quarantine_lines_removed from {_REQUESTS} "
            "where request_id = ?",
            [summary.request_id],
        ).fetchone()
    except BaseException:
        db.execute("rollback")
        raise
    db.execute("commit")
    assert row is not None
    summary.stage_files_rewritten, summary.quarantine_lines_removed = int(row[0]), int(row[1])


def _swap(
    db: duckdb.DuckDBPyConnection,
    loader: Loader,
    listing: StageListing,
    on_stage: dict[str, EventFile],
    rewrite: PartRewrite,
) -> int:
    """Replace the old part's rows by the new part's, if either was loaded; returns the
    rows loaded from the new part. The new part's earlier load (by a loader run between a
    crashed forget and this one) is replaced too, so it ends loaded once, as it is now."""
    keys = [rewrite.old_key] + ([rewrite.new_key] if rewrite.new_key else [])
    loaded = db.execute(
        f"select count(*) from {RAW_SCHEMA}.{LOAD_HISTORY_TABLE} where list_contains(?, file_name)",
        [keys],
    ).fetchone()
    if not loaded or not loaded[0]:
        return 0  # neither is loaded: the loader will load the new part like any other
    db.execute(f"delete from {RAW_TABLE_FQ} where list_contains(?, file_name)", [keys])
    if rewrite.new_key is None:
        return 0
    db.execute(
        f"delete from {RAW_SCHEMA}.{LOAD_HISTORY_TABLE} where file_name = ?", [rewrite.new_key]
    )
    new_file = on_stage[rewrite.new_key]
    return loader.replace_file(listing, new_file)
