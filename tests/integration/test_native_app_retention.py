"""Retention on the app's stage: only loaded files past the setting are removed, the
setting stays below COPY's 64-day load metadata, and no order of exports, loads,
retention runs, re-exports and weeks passing loads a file twice (the load step's COPY
modelled by tests/app_copy_model.py). The hypothesis seed is printed; replay one with
AMPLITUDE_PROPERTY_SEED=<seed>."""

from __future__ import annotations

import json
import os
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.in_snowflake.native_app import load_step, retention
from amplitude_ingest.stage_keys import content_fingerprint
from tests.app_copy_model import CopyModel

SEED = int(os.environ.get("AMPLITUDE_PROPERTY_SEED", "1712"))
START = datetime(2026, 1, 1, tzinfo=UTC)


def part(hour: int, version: int) -> tuple[str, bytes]:
    """A content-named part, as the export names them: new content, new name."""
    lines = [
        json.dumps({"uuid": f"{hour}-{version}-{n}", "hour": hour}) for n in range(version + 1)
    ]
    data = ("\n".join(lines) + "\n").encode()
    fingerprint = content_fingerprint(zlib.crc32(data), len(data), ".json")
    return f"events/web/2026/01/01/{hour:02d}/web_{hour:02d}_{fingerprint}.json", data


@pytest.mark.parametrize(
    ("value", "days"), [(None, 7), ("", 7), (" 30 ", 30), ("1", 1), ("56", 56)]
)
def test_the_retention_setting_defaults_to_a_week(value: str | None, days: int) -> None:
    assert retention.retention_days(value) == days


@pytest.mark.parametrize(("value", "says"), [("0", "1 to 56"), ("57", "64-day"), ("x", "whole")])
def test_a_retention_at_or_past_load_metadata_is_refused(value: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        retention.retention_days(value)


def test_only_loaded_files_past_the_setting_are_removed(tmp_path: Path) -> None:
    now = [START]
    model = CopyModel(tmp_path, lambda: now[0])
    old_loaded, old_data = part(1, 0)
    model.put(old_loaded, old_data)
    load_step.load(model, "first").raise_if_failed()
    now[0] += timedelta(days=10)
    young_loaded, young_data = part(2, 0)
    model.put(young_loaded, young_data)
    load_step.load(model, "second").raise_if_failed()
    broken = "events/web/2026/01/01/03/web_03_ffffffffffffffff.json"
    model.put(broken, b"{not json\n")
    now[0] = START - timedelta(days=1)  # the broken file is older than everything
    model.modified[broken] = now[0]
    now[0] = START + timedelta(days=12)
    outcome = load_step.load(model, "third")
    assert outcome.summary["files_failed"] == 1

    staged = retention.staged_files(model.listing())
    loaded = retention.loaded_keys(model.history())
    assert retention.files_to_remove(staged, loaded, now[0], 7) == [old_loaded]
    assert retention.files_to_remove(staged, loaded, now[0], 1) == sorted(
        [old_loaded, young_loaded]
    )
    assert retention.files_to_remove(staged, loaded, now[0], 56) == []
    assert retention.stranded(staged, loaded, now[0]) == []
    assert retention.stranded(staged, loaded, START + timedelta(days=64)) == [broken]


def test_a_loaded_file_still_staged_after_load_metadata_expired_is_not_loaded_again(
    tmp_path: Path,
) -> None:
    """Retention did not run for months: COPY's metadata for the file is gone, but its
    LAST_MODIFIED is older than 64 days, so COPY skips it (LOAD_UNCERTAIN_FILES = FALSE)."""
    now = [START]
    model = CopyModel(tmp_path, lambda: now[0])
    key, data = part(1, 2)
    model.put(key, data)
    assert load_step.load(model, "first").summary["rows_loaded"] == 3
    now[0] += timedelta(days=200)
    assert load_step.load(model, "later").loads == ()
    assert model.raw_rows_per_file() == {f"events_stage/{key}": 3}


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("export"), st.integers(0, 3), st.integers(0, 2)),
        st.tuples(st.just("load")),
        st.tuples(st.just("retention"), st.integers(1, retention.MAX_DAYS)),
        st.tuples(st.just("wait"), st.integers(0, 80)),
    ),
    max_size=25,
)


@seed(SEED)
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_no_order_of_exports_loads_and_retention_loads_a_file_twice_or_removes_one_unloaded(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[object, ...]]
) -> None:
    print(f"hypothesis seed {SEED}: replay with AMPLITUDE_PROPERTY_SEED={SEED}")
    now = [START]
    model = CopyModel(tmp_path_factory.mktemp("stage"), lambda: now[0])
    exported: dict[str, datetime] = {}
    lines: dict[str, int] = {}
    for op in ops:
        if op[0] == "export":
            key, data = part(int(op[1]), int(op[2]))  # type: ignore[call-overload]
            if key in exported:
                continue  # the ledger has the hour done: only new content is exported
            exported[key], lines[key] = now[0], data.count(b"\n")
            model.put(key, data)
        elif op[0] == "load":
            load_step.load(model, "run").raise_if_failed()
        elif op[0] == "retention":
            staged = retention.staged_files(model.listing())
            loaded = retention.loaded_keys(model.history())
            remove = retention.files_to_remove(staged, loaded, now[0], int(op[1]))  # type: ignore[call-overload]
            assert set(remove) <= loaded
            model.remove(remove)
        else:
            now[0] += timedelta(days=int(op[1]))  # type: ignore[call-overload]
        assert model.duplicated_rows() == 0
        loads = [name for name, status in model.history() if status == "LOADED"]
        assert len(loads) == len(set(loads))

    load_step.load(model, "last").raise_if_failed()
    loaded = retention.loaded_keys(model.history())
    staged = retention.staged_files(model.listing())
    stranded = set(retention.stranded(staged, loaded, now[0]))
    rows = model.raw_rows_per_file()
    for key, at in exported.items():
        if key in loaded:
            assert rows[f"events_stage/{key}"] == lines[key]
        else:
            # Never loaded: exported more than 64 days before the first load after it.
            assert key in stranded
            assert now[0] - at > timedelta(days=retention.LOAD_METADATA_DAYS)
