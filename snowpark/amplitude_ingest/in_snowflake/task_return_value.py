"""The task return value: what ``ingest_amplitude()`` hands the next task of the graph, and
how the wait step reads it back.

When a task runs the export, the export sets its return value (SYSTEM$SET_RETURN_VALUE) to
a bounded copy of its summary, with the run id; the wait step reads it with
SYSTEM$GET_PREDECESSOR_RETURN_VALUE and takes the run id from it (a worksheet CALL of the
wait step passes the run id, or the whole summary, instead). Both halves live here so the
writer and the reader cannot drift apart.

SYSTEM$SET_RETURN_VALUE: "The string size must be <= 10 kB (when encoded in UTF8)"
(docs.snowflake.com/en/sql-reference/functions/system_set_return_value):
:func:`bound_summary` keeps the summary under it whatever failed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.in_snowflake.session import SessionGate
from amplitude_ingest.in_snowflake.text import cut

RETURN_VALUE_LIMIT_BYTES = 10_000
# What bound_summary() aims for by default: well under the limit.
DEFAULT_SUMMARY_BYTES = 4_000
MAX_FAILURES_IN_SUMMARY = 5
MAX_MESSAGE_CHARS = 200

# Names the task "when invoked from the statement or stored procedure defined by the task"
# (sql-reference/functions/system_current_user_task_name); outside one it is taken to be
# NULL or empty, which the reference page does not state.
CURRENT_TASK_QUERY = "select system$current_user_task_name()"
SET_RETURN_VALUE = "call system$set_return_value(?)"
# Bound to the root task's name: the wait step's predecessor in the graph.
PREDECESSOR_QUERY = "select system$get_predecessor_return_value(?)"

_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class RunReferenceError(ConfigurationError):
    """No run to check: the return value carries no run id, or it is malformed."""


# ---- the writer: ingest_amplitude() ----------------------------------------------------------


def bound_summary(
    summary: Mapping[str, Any], limit_bytes: int = DEFAULT_SUMMARY_BYTES
) -> dict[str, Any]:
    """A summary that fits in `limit_bytes` of compact UTF-8 JSON, for SYSTEM$SET_RETURN_VALUE.

    Counts and other scalars are kept; `failures` (hour -> message, one per failed hour,
    unbounded) becomes `failures_total` plus the first few, each message cut to
    MAX_MESSAGE_CHARS; `truncated` says whether anything was left out. If that is still too
    big, failures are dropped one by one, then everything but `run_id` and numbers.
    """
    if limit_bytes > RETURN_VALUE_LIMIT_BYTES:
        raise ValueError(f"limit_bytes must be <= {RETURN_VALUE_LIMIT_BYTES}")
    out: dict[str, Any] = {}
    truncated = False
    for key, value in summary.items():
        if key == "failures":
            continue
        if isinstance(value, str) and len(value) > MAX_MESSAGE_CHARS:
            value = cut(value, MAX_MESSAGE_CHARS)
            truncated = True
        elif not isinstance(value, str | int | float | bool) and value is not None:
            value = cut(json.dumps(value, default=str), MAX_MESSAGE_CHARS)
            truncated = True
        out[key] = value
    failures = summary.get("failures") or {}
    items = sorted(failures.items()) if isinstance(failures, Mapping) else []
    out["failures_total"] = len(items)
    shown = items[:MAX_FAILURES_IN_SUMMARY]
    kept = {str(hour): cut(str(message), MAX_MESSAGE_CHARS) for hour, message in shown}
    truncated = (
        truncated
        or len(kept) < len(items)
        or any(len(str(m)) > MAX_MESSAGE_CHARS for _, m in shown)
    )
    out["failures"] = kept
    out["truncated"] = truncated
    while _size(out) > limit_bytes and out["failures"]:
        out["failures"].pop(sorted(out["failures"])[-1])
        out["truncated"] = True
    if _size(out) > limit_bytes:
        essential = {
            k: v
            for k, v in out.items()
            if k == "run_id" or (isinstance(v, int | float) and not isinstance(v, bool))
        }
        essential["failures"] = {}
        essential["truncated"] = True
        out = essential
    if _size(out) > limit_bytes:
        raise ValueError(f"a summary cannot be bounded to {limit_bytes} bytes")
    return out


def _size(value: Mapping[str, Any]) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def return_value_text(summary: Mapping[str, Any]) -> str:
    """The string to hand SYSTEM$SET_RETURN_VALUE (bound the summary first)."""
    text = json.dumps(summary, separators=(",", ":"), ensure_ascii=False)
    if len(text.encode("utf-8")) > RETURN_VALUE_LIMIT_BYTES:
        raise ValueError("the return value is over 10 kB: pass it through bound_summary()")
    return text


def hand_on(gate: SessionGate, summary: Mapping[str, Any]) -> bool:
    """Set the bounded summary as the task's return value when a task is running this call;
    whether one was."""
    try:
        found = gate.rows(CURRENT_TASK_QUERY)
    except NotImplementedError:  # Snowpark local testing runs no SQL, and no task either
        return False
    if not (found and found[0][0]):
        return False
    gate.rows(SET_RETURN_VALUE, [return_value_text(bound_summary(summary))])
    return True


# ---- the reader: the wait step ---------------------------------------------------------------


@dataclass(frozen=True)
class RunReference:
    run_id: str


def parse_run_reference(value: str | None) -> RunReference:
    """The run id in the root task's return value (the summary JSON), or a bare run id."""
    text = (value or "").strip()
    if not text:
        raise RunReferenceError(
            "no run to check: the task graph's root set no return value (did "
            "ingest_amplitude() run?); from a worksheet pass a run id: "
            "CALL amplitude_wait_for_loads('<run_id>')"
        )
    if text.startswith("{"):
        try:
            summary = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RunReferenceError(f"the return value is not JSON: {text[:80]!r}") from exc
        run_id = summary.get("run_id") if isinstance(summary, dict) else None
        if not isinstance(run_id, str):
            raise RunReferenceError(
                "the return value has no run_id: ingest_amplitude() must return one "
                f"(got keys {sorted(summary)[:10] if isinstance(summary, dict) else '?'})"
            )
        text = run_id
    if not _RUN_ID.match(text):
        raise RunReferenceError(f"{text[:80]!r} is not a run id")
    return RunReference(text)
