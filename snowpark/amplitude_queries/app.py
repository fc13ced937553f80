"""The Native App's relations under the names the dashboard's queries read.

The health page's queries (:mod:`amplitude_queries.sql`) read ``ingest.<relation>``; inside
the app the same facts live in the app's own schemas, written by its procedures (the
export's ledger, the load step's load history, every call's run history). Like
:mod:`amplitude_queries.laptop` on the laptop, this module offers stand-ins with the S3
form's names and columns, so the page's SQL runs unchanged: :class:`AppBackend` puts each
stand-in in place of the name it stands for, then runs the text on the app's session.

Relations the app does not have (dbt's marts: the consumer builds them in their own
account) raise :class:`~amplitude_queries.backends.NotBuilt` with what to do.

Also here: the app's own questions (setup status, run history, load history, settings),
each one SQL text with qmark parameters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from amplitude_ingest.in_snowflake.native_app import names, run_history
from amplitude_queries.backends import NotBuilt, SnowparkSession, normalize

if TYPE_CHECKING:
    import pandas as pd

_STATUS_OF_RUN = f"case when status = '{run_history.OK}' then 'SUCCEEDED' else 'FAILED' end"

# The S3 form's relation -> the app's table, view or a subquery with the same columns.
RELATIONS: dict[str, str] = {
    "ingest.amplitude_ingest_ledger": names.LEDGER_TABLE,
    # sql/85's backlog figures need the schedule's lag and pace, which the app's health view
    # does not compute: "unknown" on the page, rather than a guess.
    "ingest.amplitude_pipeline_health": """(
    select
        cast(null as number) as hours_behind,
        cast(null as timestamp_ntz) as current_at_present_pace
)""",
    # Files the export wrote (the ledger's keys) that no COPY has loaded: failed ones with
    # COPY's first error, the rest not tried yet. The load step's record stands in for the
    # S3 form's comparison of the ledger with COPY_HISTORY.
    "ingest.amplitude_files_not_loaded": f"""(
    select
        l.hour as hour,
        cast(k.value as varchar) as stage_key,
        l.updated_at as written_at,
        coalesce(max(h.status), 'NOT_LOADED_YET') as load_status,
        max(h.first_error) as first_error_message
    from {names.LEDGER_TABLE} as l,
        lateral flatten(input => parse_json(l.stage_keys)) as k
    left join {names.LOAD_HISTORY} as h
        on endswith(h.file_name, cast(k.value as varchar))
    where l.status = 'done'
    group by l.hour, cast(k.value as varchar), l.updated_at
    having sum(case when h.status = 'LOADED' then 1 else 0 end) = 0
)""",
    # One run per call of the graph's steps, shaped like sql/85's task-graph runs.
    "ingest.amplitude_pipeline_runs": f"""(
    select
        run_id as run_group_id,
        ended_at as finished_at,
        status = '{run_history.OK}' as succeeded,
        array_construct(
            object_construct('task', step, 'state', {_STATUS_OF_RUN}, 'error', first_error)
        ) as tasks
    from {names.RUN_HISTORY}
    where step in ('ingest', 'load', 'retention')
)""",
}
_NAME = re.compile(r"\b(?:ingest|analytics)\.[a-z_]+\b")
NO_MARTS = (
    "The app does not build the marts: dbt runs in your account on the app's raw table "
    "(README, Native App: dbt stays with you)."
)

SETUP_STATUS = f"""
select
    step,
    status,
    ended_at
from {names.RUN_HISTORY}
where step in ('specification', 'set_credentials', 'schedule')
order by ended_at
"""
RUN_HISTORY = f"""
select
    run_id,
    step,
    status,
    started_at,
    ended_at,
    first_error
from {names.RUN_HISTORY}
order by started_at desc
limit 50
"""
LOAD_HISTORY = f"""
select
    file_name,
    status,
    rows_loaded,
    first_error,
    loaded_at
from {names.LOAD_HISTORY}
order by loaded_at desc, file_name
limit 50
"""
SETTINGS = f"""
select
    name,
    value
from {names.SETTINGS}
order by name
"""
SET_SETTING = f"update {names.SETTINGS} set value = ? where lower(name) = lower(?)"


def in_app(sql: str) -> str:
    """The dashboard's SQL with the app's stand-ins in place; a mart is NotBuilt."""

    def swap(match: re.Match[str]) -> str:
        name = match.group(0)
        if name in RELATIONS:
            return RELATIONS[name]
        raise NotBuilt(NO_MARTS if name.startswith("analytics.") else f"{name}: {NO_MARTS}")

    return _NAME.sub(swap, sql)


@dataclass
class AppBackend:
    """The app's Streamlit session (``get_active_session()``: the app's own rights)."""

    session: SnowparkSession
    source: str = "this app's tables"

    @property
    def label(self) -> str:
        return self.source

    def version(self) -> str:
        return f"app:{id(self.session)}"

    def query(self, sql: str, params: Sequence[object] = ()) -> pd.DataFrame:
        frame = self.session.sql(in_app(sql), params=list(params)).to_pandas()
        return normalize(frame)
