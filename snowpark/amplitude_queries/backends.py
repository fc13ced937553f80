"""Where the queries run: the DuckDB warehouse on a laptop, or a Snowpark session.

A backend runs one SQL text with its bound parameters and returns a pandas DataFrame with
lower-case column names and numeric columns as numbers, so the code that draws the
results never asks where they came from. The differences between the two, all here:

* Snowflake returns upper-case column names and NUMBER with a scale as ``Decimal``;
  :func:`normalize` lower-cases the names and turns decimals into floats (integral ones
  into integers).
* On the laptop the ``ingest`` relations do not exist in the DuckDB file: the ledger and
  the run records are a SQLite file and there is no task graph. :mod:`amplitude_queries.laptop`
  builds stand-ins with the Snowflake tables' names and columns in an in-memory ``ingest``
  catalog, from the laptop's records (:mod:`amplitude_queries.laptop_records`).
* The DuckDB file is opened read-only for each query and closed at once, so a run that
  writes the warehouse (``amplitude-ingest load``, ``make demo``) is never locked out for
  longer than a query; results are cached by the caller.

Errors a person can act on are :class:`DataUnavailable` with a message that says what to
do; anything else propagates.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from amplitude_queries.sql import QUERIES, Params

if TYPE_CHECKING:
    import pandas as pd


class DataUnavailable(Exception):
    """The data cannot be read for a reason the person looking can act on."""


class NoWarehouse(DataUnavailable):
    """There is no warehouse yet."""


class NotBuilt(DataUnavailable):
    """A relation the query reads does not exist (yet), or the role cannot see it."""


class WarehouseBusy(DataUnavailable):
    """Another process holds the DuckDB file for writing."""


class Backend(Protocol):
    """Runs one SQL text with positional (qmark) parameters."""

    @property
    def label(self) -> str:
        """Where the data comes from, for a person."""
        ...

    def query(self, sql: str, params: Sequence[object] = ()) -> pd.DataFrame: ...

    def version(self) -> str:
        """Changes when the data may have changed: part of the cache key."""
        ...


def run(backend: Backend, name: str, params: Sequence[object] = ()) -> pd.DataFrame:
    """Run the named query of :data:`amplitude_queries.sql.QUERIES`."""
    query = QUERIES[name]
    expected = {Params.NONE: 0, Params.FILTERS: 5, Params.GROUP: 1}[query.params]
    if len(params) != expected:
        raise ValueError(f"{name} binds {expected} parameters, got {len(params)}")
    return backend.query(query.sql, params)


def normalize(frame: pd.DataFrame) -> pd.DataFrame:
    """Lower-case column names; Decimal columns as float, or as int when all integral."""
    import pandas as pd

    frame = frame.rename(columns=str.lower)
    for column in frame.columns:
        series = frame[column]
        if series.dtype != object:
            continue
        values = series.dropna()
        if len(values) and all(isinstance(v, decimal.Decimal) for v in values):
            numbers = pd.to_numeric(series.astype(float))
            if all(v == v.to_integral_value() for v in values) and not series.isna().any():
                numbers = numbers.astype("int64")
            frame[column] = numbers
    return frame


# ---- DuckDB ---------------------------------------------------------------------------------


@dataclass
class DuckDBBackend:
    """The laptop's warehouse file, plus the state folder (the SQLite ledger: hours, runs).

    With ``connection``, queries run on that open connection instead (the demo's report,
    in the process where dbt-duckdb holds the file open): only the marts are there then.
    """

    warehouse: Path
    state_dir: Path | None = None
    connection: Any = None
    lag_hours: int | None = None  # the extract's, to say how far behind the ledger is

    @property
    def label(self) -> str:
        return f"DuckDB warehouse {self.warehouse}"

    def version(self) -> str:
        version = f"duckdb:{self.warehouse}:{_mtime(self.warehouse)}"
        if self.state_dir is not None:
            from amplitude_queries.laptop_records import state_version

            version += f":{state_version(self.state_dir)}"
        return version

    def query(self, sql: str, params: Sequence[object] = ()) -> pd.DataFrame:
        import duckdb

        if self.connection is not None:
            return self._run(self.connection, sql, params)
        if not self.warehouse.exists():
            raise NoWarehouse(
                f"No warehouse at {self.warehouse} yet: run `make demo`, or "
                "`amplitude-ingest run`, then reload this page."
            )
        try:
            db = duckdb.connect(":memory:")
        except duckdb.Error as exc:  # pragma: no cover - an in-memory database always opens
            raise DataUnavailable(str(exc)) from exc
        try:
            try:
                db.execute(f"attach '{_quoted(self.warehouse)}' as warehouse (read_only)")
            except duckdb.IOException as exc:
                if "lock" in str(exc).lower():
                    raise WarehouseBusy(
                        f"The warehouse {self.warehouse} is being written by another run "
                        "(load or dbt): reload in a moment."
                    ) from exc
                raise DataUnavailable(f"Cannot open {self.warehouse}: {_first_line(exc)}") from exc
            db.execute("use warehouse")
            if "ingest." in sql:
                from amplitude_queries.laptop import attach_ingest

                attach_ingest(db, self.state_dir, lag_hours=self.lag_hours)
            return self._run(db, sql, params)
        finally:
            db.close()

    def _run(self, db: Any, sql: str, params: Sequence[object]) -> pd.DataFrame:
        import duckdb

        try:
            frame = db.execute(sql, list(params)).df()
        except duckdb.CatalogException as exc:
            raise NotBuilt(
                f"{_first_line(exc)}. The marts are built by `amplitude-ingest transform` "
                "(or `make demo`)."
            ) from exc
        return normalize(frame)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# ---- Snowflake --------------------------------------------------------------------------------


class SnowparkSession(Protocol):
    """The part of ``snowflake.snowpark.Session`` used here."""

    def sql(self, query: str, params: Sequence[Any] | None = None) -> Any: ...


@dataclass
class SnowparkBackend:
    """The app's own Snowpark session (Streamlit in Snowflake: ``get_active_session()``)."""

    session: SnowparkSession
    source: str = "Snowflake"

    @property
    def label(self) -> str:
        return self.source

    def version(self) -> str:
        # One session per viewer in Snowflake; in tests, one per emulated account.
        return f"snowflake:{id(self.session)}"

    def query(self, sql: str, params: Sequence[object] = ()) -> pd.DataFrame:
        try:
            frame = self.session.sql(sql, params=list(params)).to_pandas()
        except Exception as exc:
            # The Snowpark exception classes are not imported: this module must import
            # without snowflake-snowpark-python on the laptop's report path.
            text = str(exc)
            if "does not exist or not authorized" in text:
                raise NotBuilt(
                    f"{_first_line(exc)}. The app reads the marts (ANALYTICS, built by the "
                    "task graph's dbt step) and INGEST's ledger, run history and "
                    "AMPLITUDE_FILES_NOT_LOADED as its owner role: run `make deploy`, and "
                    "let the task graph run once."
                ) from exc
            raise
        return normalize(frame)
