"""The laptop's forget against real parts: a local Amplitude server, a folder or moto's S3 as
the stage, the DuckDB warehouse.

* killed (SIGKILL) at each step of a forget, then run again (with or without a load in
  between), it ends in the state of a forget never interrupted;
* in any order of extracts, loads and forgets, no forgotten user is in the raw table, on
  the stage or in the quarantine, and after a last extract and load every other event is
  loaded exactly once (property-based, seeds printed);
* on S3 the stage is rewritten the same way.
"""

from __future__ import annotations

import gzip
import json
import multiprocessing
import os
import shutil
import signal
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from amplitude_ingest.forget import IdKind
from amplitude_laptop import forget as forget_module
from amplitude_laptop import steps
from amplitude_laptop.forget import forget
from amplitude_laptop.loader import Loader
from amplitude_laptop.settings import LaptopSettings
from amplitude_laptop.stages import LocalStage, S3Stage
from amplitude_sample_server.generator import generate_hour
from amplitude_sample_server.server import FaultPlan, LocalAmplitude
from tests.support import API_KEY, SECRET_KEY

HOURS = [datetime(2026, 1, 26, h, tzinfo=UTC) for h in range(4)]
SESSIONS = 30
SEED = 7  # the server's default


def _hour_text(hour: datetime) -> str:
    return hour.strftime("%Y-%m-%dT%H")


def _settings(root: Path, url: str) -> LaptopSettings:
    return LaptopSettings.load(
        {
            "api_key": API_KEY,
            "secret_key": SECRET_KEY,
            "api_url": url,
            "stage": str(root / "stage"),
            "state_dir": root / "state",
            "warehouse": root / "warehouse.duckdb",
            "workers": "thread",
            "concurrency": 2,
        },
        env_file=None,
    )


def _busiest(kind: IdKind, count: int) -> list[str]:
    """The ids of ``kind`` with the most events in the hours used here."""
    seen: Counter[str] = Counter()
    for hour in HOURS:
        events, _ = generate_hour(SEED, hour, SESSIONS)
        seen.update(str(e[kind.value]) for e in events if e[kind.value] is not None)
    return [value for value, _ in seen.most_common(count)]


def _in_quarantine_and_on_stage() -> str:
    """A user_id with events in the quarantined hour (02) and in another one."""
    by_hour = [
        {str(e["user_id"]) for e in generate_hour(SEED, hour, SESSIONS)[0] if e["user_id"]}
        for hour in HOURS
    ]
    others = set().union(*(users for n, users in enumerate(by_hour) if n != 2))
    return min(by_hour[2] & others)


def _lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.name.endswith(".gz") else data).splitlines()


def s3_files(bucket: str, prefix: str) -> dict[str, bytes]:
    import boto3

    client = boto3.client("s3")
    files = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            files[item["Key"].removeprefix(prefix)] = body
    return files


def state(root: Path, stage_files: dict[str, bytes] | None = None) -> dict[str, Any]:
    """Everything a forget changes, without load times or content ids (mtimes)."""
    stage = root / "stage"
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as db:
        return {
            "raw": sorted(
                db.execute(
                    "select json_extract_string(raw_json, '$.uuid'), file_name, file_row_number "
                    "from raw.amplitude_events_raw"
                ).fetchall()
            ),
            "history": sorted(
                db.execute("select file_name, rows_loaded from raw.load_history").fetchall()
            ),
            "requests": db.execute(
                "select request_id, id_kind, id_sha256, raw_rows_deleted, "
                "stage_files_rewritten, quarantine_lines_removed "
                "from raw.amplitude_forget_requests order by request_id"
            ).fetchall(),
            "rewrites": sorted(
                db.execute(
                    "select file_name, rewritten_to, request_id, lines_removed "
                    "from raw.stage_rewrites"
                ).fetchall()
            ),
            "stage": stage_files
            if stage_files is not None
            else {
                p.relative_to(stage).as_posix(): p.read_bytes()
                for p in stage.rglob("*")
                if p.is_file() and ".writing" not in p.parts
            },
        }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAmplitude]:
    # One member of one hour is quarantined whole, so the quarantine holds real events.
    faults = FaultPlan(entry_names={"20260126T02": "not-amplitude.json.gz"})
    with LocalAmplitude(
        api_key=API_KEY,
        secret_key=SECRET_KEY,
        sessions_per_hour=SESSIONS,
        cache_dir=tmp_path_factory.mktemp("amplitude-cache"),
        faults=faults,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def loaded(server: LocalAmplitude, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stage and warehouse with four hours extracted and loaded."""
    root = tmp_path_factory.mktemp("loaded")
    prepared = _settings(root, server.url)
    steps.extract(prepared, _hour_text(HOURS[0]), _hour_text(HOURS[-1]))
    assert steps.load(prepared).ok
    return root


# ---- crashes -----------------------------------------------------------------------------


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _crash_at(point: str) -> None:
    """In the child: arrange to be killed at ``point``, the real code running up to it."""
    if point == "before_the_transaction":  # every new part written, nothing recorded
        real_record = forget_module._record

        def record(*args: Any, **kwargs: Any) -> None:
            _die()
            real_record(*args, **kwargs)

        forget_module._record = record  # type: ignore[assignment]
    elif point == "inside_the_transaction":  # rows deleted and one part swapped, no commit
        real_replace = Loader.replace_file

        def replace(self: Loader, *args: Any) -> int:
            real_replace(self, *args)
            _die()
            return 0

        Loader.replace_file = replace  # type: ignore[method-assign]
    elif point == "while_removing_old_parts":  # committed; one old part removed
        for kind in (LocalStage, S3Stage):
            real_delete = kind.delete

            def delete(self: Any, keys: Iterable[str], real: Any = real_delete) -> None:
                real(self, list(keys)[:1])
                _die()

            kind.delete = delete  # type: ignore[method-assign]
    else:
        raise AssertionError(point)


def _forget_killed(settings: LaptopSettings, point: str, kind: IdKind, value: str) -> None:
    _crash_at(point)
    forget(settings, kind, value)


@pytest.mark.parametrize("load_between", [False, True], ids=["rerun", "load-then-rerun"])
@pytest.mark.parametrize(
    "point", ["before_the_transaction", "inside_the_transaction", "while_removing_old_parts"]
)
def test_a_forget_killed_at_any_step_then_rerun_ends_as_one_that_never_crashed(
    server: LocalAmplitude, loaded: Path, tmp_path: Path, point: str, load_between: bool
) -> None:
    user = _in_quarantine_and_on_stage()
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    shutil.copytree(loaded, clean)
    shutil.copytree(loaded, crashed)
    summary = forget(_settings(clean, server.url), IdKind.USER_ID, user)
    assert summary.raw_rows_deleted > 0
    assert summary.quarantine_lines_removed > 0

    child = multiprocessing.get_context("fork").Process(
        target=_forget_killed, args=(_settings(crashed, server.url), point, IdKind.USER_ID, user)
    )
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL
    if load_between:
        assert steps.load(_settings(crashed, server.url)).ok
    forget(_settings(crashed, server.url), IdKind.USER_ID, user)
    assert state(crashed) == state(clean)
    # And the loader, run now, finds nothing to load in either.
    assert steps.load(_settings(crashed, server.url)).files_loaded == 0


# ---- orders ------------------------------------------------------------------------------

USERS = [(IdKind.USER_ID, u) for u in _busiest(IdKind.USER_ID, 2)] + [
    (IdKind.DEVICE_ID, d) for d in _busiest(IdKind.DEVICE_ID, 1)
]
_hour_range = st.tuples(st.integers(0, 3), st.integers(0, 3)).map(sorted)
OPERATION = st.one_of(
    st.tuples(st.just("extract"), _hour_range, st.booleans()),
    st.tuples(st.just("load")),
    st.tuples(st.just("forget"), st.integers(0, len(USERS) - 1)),
)


def _is_theirs(event: dict[str, Any], forgotten: set[tuple[IdKind, str]]) -> bool:
    return any((kind, str(event.get(kind.value))) in forgotten for kind in IdKind)


def _stage_events(stage: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    data = [json.loads(line) for p in (stage / "events").rglob("*.json") for line in _lines(p)]
    quarantined = [
        json.loads(json.loads(line)["line"])
        for p in (stage / "_quarantine").rglob("*.jsonl")
        for line in _lines(p)
    ]
    return data, quarantined


@settings(max_examples=12)
@given(operations=st.lists(OPERATION, min_size=1, max_size=6))
def test_no_order_of_extracts_loads_and_forgets_brings_a_forgotten_user_back(
    server: LocalAmplitude, operations: list[tuple[Any, ...]]
) -> None:
    note(f"operations: {operations}")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        run = _settings(root, server.url)
        forgotten: set[tuple[IdKind, str]] = set()
        extracted: set[datetime] = set()
        for operation in operations:
            if operation[0] == "extract":
                (first, last), force = operation[1], operation[2]
                steps.extract(run, _hour_text(HOURS[first]), _hour_text(HOURS[last]), force=force)
                extracted.update(HOURS[first : last + 1])
            elif operation[0] == "load":
                if (root / "stage").is_dir():  # before any extract, load refuses (exit 2)
                    steps.load(run)
            else:
                kind, value = USERS[operation[1]]
                forget(run, kind, value)
                forgotten.add((kind, value))
            if (root / "warehouse.duckdb").exists():
                with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as db:
                    raw = [json.loads(r) for (r,) in db.execute(
                        "select raw_json from raw.amplitude_events_raw").fetchall()]  # fmt: skip
                assert not any(_is_theirs(e, forgotten) for e in raw)
            if (root / "stage").exists():
                data, quarantined = _stage_events(root / "stage")
                assert not any(_is_theirs(e, forgotten) for e in data + quarantined)
        # Bring everything in: every event of every extracted hour but the forgotten
        # users' is in the raw table, each uuid once (the hours' members are each written
        # once: no re-export has happened since the last forget unless it was forced, and
        # then it overwrote the same keys).
        if not extracted:
            return
        steps.extract(run, _hour_text(min(extracted)), _hour_text(max(extracted)))
        steps.load(run)
        expected = Counter(
            str(e["uuid"])
            for hour in sorted(extracted)
            for e in generate_hour(SEED, hour, SESSIONS)[0]
            if not _is_theirs(e, forgotten)
        )
        data, quarantined = _stage_events(root / "stage")
        assert Counter(str(e["uuid"]) for e in data + quarantined) == expected
        with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as db:
            loaded_uuids = {str(u) for (u,) in db.execute(
                "select json_extract_string(raw_json, '$.uuid') "
                "from raw.amplitude_events_raw").fetchall()}  # fmt: skip
        assert loaded_uuids == {str(e["uuid"]) for e in data}


# ---- S3 ------------------------------------------------------------------------------------


def test_forget_rewrites_an_s3_stage(
    server: LocalAmplitude, s3_bucket: str, tmp_path: Path
) -> None:
    run = _settings(tmp_path, server.url).model_copy(update={"stage": f"s3://{s3_bucket}/amp"})
    steps.extract(run, _hour_text(HOURS[0]), _hour_text(HOURS[-1]))
    assert steps.load(run).ok
    (device,) = _busiest(IdKind.DEVICE_ID, 1)
    with duckdb.connect(str(run.warehouse), read_only=True) as db:
        (theirs,) = db.execute(
            "select count(*) from raw.amplitude_events_raw "
            "where json_extract_string(raw_json, '$.device_id') = ?",
            [device],
        ).fetchone() or (0,)
        (total,) = db.execute("select count(*) from raw.amplitude_events_raw").fetchone() or (0,)
    summary = forget(run, IdKind.DEVICE_ID, device)
    assert summary.raw_rows_deleted == theirs > 0
    assert summary.stage_lines_removed == theirs
    assert steps.load(run).files_loaded == 0
    with duckdb.connect(str(run.warehouse), read_only=True) as db:
        rows = db.execute(
            "select json_extract_string(raw_json, '$.device_id'), count(*) over () "
            "from raw.amplitude_events_raw"
        ).fetchall()
    assert len(rows) == total - theirs
    assert device not in {d for d, _ in rows}
    import boto3

    keys = [
        o["Key"]
        for page in boto3.client("s3")
        .get_paginator("list_objects_v2")
        .paginate(Bucket=s3_bucket, Prefix="amp/events/")
        for o in page.get("Contents", [])
    ]
    with duckdb.connect(str(run.warehouse), read_only=True) as db:
        old = {str(k) for (k,) in db.execute("select file_name from raw.stage_rewrites").fetchall()}
    assert old
    assert not {k.removeprefix("amp/") for k in keys} & old


@pytest.mark.parametrize("point", ["before_the_transaction", "while_removing_old_parts"])
def test_a_forget_killed_on_s3_then_rerun_ends_as_one_that_never_crashed(
    server: LocalAmplitude, s3_bucket: str, tmp_path: Path, point: str
) -> None:
    """The same on moto's S3: two copies of one stage under two prefixes (keys and bytes
    are named by content, so both extracts write the same), one forget killed."""
    user = _in_quarantine_and_on_stage()
    runs = {}
    for name in ("clean", "crashed"):
        run = _settings(tmp_path / name, server.url)
        # The bucket's name is cut from the test's: each parameter gets its own prefixes.
        runs[name] = run.model_copy(update={"stage": f"s3://{s3_bucket}/{point}/{name}"})
        steps.extract(runs[name], _hour_text(HOURS[0]), _hour_text(HOURS[-1]))
        assert steps.load(runs[name]).ok
    forget(runs["clean"], IdKind.USER_ID, user)
    child = multiprocessing.get_context("fork").Process(
        target=_forget_killed, args=(runs["crashed"], point, IdKind.USER_ID, user)
    )
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL
    forget(runs["crashed"], IdKind.USER_ID, user)
    clean = state(tmp_path / "clean", s3_files(s3_bucket, f"{point}/clean/"))
    assert clean["requests"][0][3] > 0  # the user's raw rows were there, and went
    assert any(key.startswith("events/") for key in clean["stage"])
    assert state(tmp_path / "crashed", s3_files(s3_bucket, f"{point}/crashed/")) == clean
