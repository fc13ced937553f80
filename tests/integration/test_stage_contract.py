"""One Stage contract, run against every stage the pipeline writes to: the folder (laptop),
S3 (moto's server over HTTP) and the Snowflake stage (Snowpark local testing).

The contract (``amplitude_ingest.ports.Stage`` and ``forget.ReadableStage``), as the
exporter and the forget rely on it:

* a committed part is listed under its folder with its key exactly as put, and reads back
  byte for byte; an aborted part leaves nothing;
* putting the same key again replaces it (one key, the new bytes): a re-run overwrites;
* ``list_keys(folder)`` lists every key under the folder and no other, not a sibling
  folder whose name starts the same (``events/web2/`` is not under ``events/web/``), and
  not because the stage's own location happens to contain the folder's name;
* ``delete`` removes exactly the keys given (not a longer key that begins with one), and
  deleting a key that is gone is no error.

Snowpark local testing has no ``Session.sql``, so the Snowflake stage's LIST and REMOVE are
answered here as Snowflake documents them for an external stage (LIST: files whose path
begins with the given path, each named by the stage's URL and its path; REMOVE: the same
files removed), over the very folder local testing's ``put_stream`` wrote to. That the
names of an account's LIST look like this is the documented behaviour, not observed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

import pytest

from amplitude_ingest.ports import PendingPart


class ContractStage(Protocol):
    def create(self) -> PendingPart: ...

    def list_keys(self, prefix: str) -> list[str]: ...

    def delete(self, keys: list[str]) -> None: ...

    def read(self, key: str) -> AbstractContextManager[Iterator[bytes]]: ...


STAGE_NAME = "AMPLITUDE.INGEST.AMPLITUDE_STAGE"
HOUR_03 = "events/web/2026/01/26/03/"
KEY = HOUR_03 + "web_20260126T03_0_0_0123456789abcdef.json"
OTHER_HOUR = "events/web/2026/01/26/04/web_20260126T04_0_0_1111111111111111.json"
SIBLING = "events/web2/2026/01/26/03/web2_20260126T03_0_0_2222222222222222.json"
QUARANTINED = "_quarantine/web/2026/01/26/03/web_20260126T03_0_0_3333333333333333.rejected.jsonl"
# An external stage's location may well contain a folder's name (a bucket called
# "acme-events", a path ending in events/): what LIST prints starts with that location.
LOCATIONS = {
    "snowflake": "s3://amplitude-stage/raw/",
    "snowflake-bucket-named-acme-events": "s3://acme-events/amplitude/",
    "snowflake-location-ending-in-events": "s3://lake/events/",
}
# SnowflakeStage.list_keys cuts each name LIST prints where "/<folder>/" starts: a bucket
# named acme-events no longer misleads it, but a location whose path ends in the listed
# folder's name (s3://lake/events/, listing events/) still does; only the stage's location
# (GET_STAGE_LOCATION for an external stage, the stage's name for an internal one) would
# tell them apart. Keep the stage's URL free of the names events/ and quarantine/.
CUT_INSIDE_THE_LOCATION = {
    "snowflake-location-ending-in-events": (
        "list_keys finds '/events/' in the stage's URL path s3://lake/events/"
    ),
}


# REMOVE @stage/<key> removes every file whose name begins with the key (REMOVE: the path
# is a prefix). Harmless for this pipeline's keys: none begins another, since a key ends
# in a fingerprint that differs with the extension (stage_keys.content_fingerprint).
REMOVE_BY_PREFIX = "SnowflakeStage.delete runs REMOVE @stage/<key>, which matches by prefix"


class _Rows:
    def __init__(self, rows: list[tuple[str, int]]) -> None:
        self._rows = rows

    def collect(self) -> list[tuple[str, int]]:
        return self._rows


class LocalTestingWithStageCommands:
    """A local-testing session that also answers LIST and REMOVE on one external stage.

    LIST @stage/path: every file whose path begins with ``path`` (LIST: "files have names
    that begin with a common string"), named ``<stage URL><path of the file>`` as LIST
    names an external stage's files; REMOVE @stage/path removes those files (REMOVE);
    ``select get_stage_location(@stage)``: the stage's URL (GET_STAGE_LOCATION), so that a
    fix reading the location can be tried here. Pages:
    https://docs.snowflake.com/en/sql-reference/sql/list,
    https://docs.snowflake.com/en/sql-reference/sql/remove,
    https://docs.snowflake.com/en/sql-reference/functions/get_stage_location.
    """

    _COMMAND = re.compile(r"^(list|remove) @([A-Za-z0-9_.]+)/(\S*)$")
    _LOCATION = re.compile(r"^select get_stage_location\(@([A-Za-z0-9_.]+)\)$")

    def __init__(self, session: Any, location: str) -> None:
        self._session = session
        self._location = location

    @property
    def file(self) -> Any:
        return self._session.file

    def _files(self) -> Path | None:
        registry = self._session._conn.stage_registry._stage_registry
        entity = registry.get(STAGE_NAME)
        return None if entity is None else Path(entity._working_directory)

    def sql(self, text: str, params: list[Any] | None = None) -> _Rows:
        assert not params, "LIST, REMOVE and GET_STAGE_LOCATION take no bind variables"
        asked = self._LOCATION.match(text.strip())
        if asked is not None:  # GET_STAGE_LOCATION: "URL of the cloud storage location"
            assert asked[1] == STAGE_NAME, text
            return _Rows([(self._location, 0)])
        match = self._COMMAND.match(text.strip())
        assert match is not None, text
        assert match[2] == STAGE_NAME, text
        root = self._files()
        found = (
            []
            if root is None
            else sorted(
                path
                for path in root.rglob("*")
                if path.is_file() and path.relative_to(root).as_posix().startswith(match[3])
            )
        )
        if match[1] == "remove":
            for path in found:
                path.unlink()
            return _Rows([])
        return _Rows(
            [(self._location + p.relative_to(root).as_posix(), p.stat().st_size) for p in found]  # type: ignore[arg-type]
        )


def _snowflake_stage(location: str, spool: Path) -> Iterator[ContractStage]:
    from snowflake.snowpark import Session

    from amplitude_ingest.in_snowflake.session import SessionGate
    from amplitude_ingest.in_snowflake.stage import SnowflakeStage

    session = Session.builder.config("local_testing", True).create()
    commands = LocalTestingWithStageCommands(session, location)
    try:
        yield SnowflakeStage(SessionGate(commands), STAGE_NAME, spool_dir=spool)  # type: ignore[arg-type]
    finally:
        session.close()


@pytest.fixture(params=["folder", "s3", *LOCATIONS])
def stage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ContractStage]:
    from amplitude_laptop.stages import LocalStage, S3Stage

    if request.param == "folder":
        yield LocalStage(tmp_path / "stage")
    elif request.param == "s3":
        import boto3

        request.getfixturevalue("s3_endpoint")
        bucket = "contract-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:50].strip("-")
        boto3.client("s3").create_bucket(Bucket=bucket)
        yield S3Stage(bucket, "amplitude/raw", spool_dir=tmp_path)
    else:
        yield from _snowflake_stage(LOCATIONS[request.param], tmp_path)


def put(stage: ContractStage, key: str, data: bytes) -> None:
    part = stage.create()
    part.write(data[:3])
    part.write(memoryview(data)[3:])
    part.commit(key)


def read(stage: ContractStage, key: str) -> bytes:
    with stage.read(key) as chunks:
        return b"".join(chunks)


def test_a_committed_part_is_listed_as_put_and_reads_back(stage: ContractStage) -> None:
    data = b'{"uuid": "a"}\n{"uuid": "b"}\n'
    put(stage, KEY, data)
    assert stage.list_keys(HOUR_03) == [KEY]
    assert read(stage, KEY) == data


def test_an_aborted_part_leaves_nothing(stage: ContractStage) -> None:
    part = stage.create()
    part.write(b'{"uuid": "a"}\n')
    part.abort()
    assert stage.list_keys(HOUR_03) == []
    assert stage.list_keys("events/") == []


def test_putting_the_same_key_again_replaces_it(stage: ContractStage) -> None:
    put(stage, KEY, b'{"uuid": "first"}\n')
    put(stage, KEY, b'{"uuid": "second"}\n')
    assert stage.list_keys(HOUR_03) == [KEY]
    assert read(stage, KEY) == b'{"uuid": "second"}\n'


def test_only_keys_under_the_folder_are_listed(
    stage: ContractStage, request: pytest.FixtureRequest
) -> None:
    reason = CUT_INSIDE_THE_LOCATION.get(request.node.callspec.id)
    if reason is not None:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
    for key in (KEY, OTHER_HOUR, SIBLING, QUARANTINED):
        put(stage, key, b'{"uuid": "x"}\n')
    assert stage.list_keys(HOUR_03) == [KEY]
    assert stage.list_keys("events/web/") == [KEY, OTHER_HOUR]
    assert stage.list_keys("_quarantine/") == [QUARANTINED]
    assert stage.list_keys("events/") == [KEY, OTHER_HOUR, SIBLING]  # what forget lists


def test_delete_removes_exactly_the_keys_given_and_twice_is_no_error(
    stage: ContractStage,
) -> None:
    for key in (KEY, OTHER_HOUR):
        put(stage, key, b'{"uuid": "x"}\n')
    stage.delete([KEY])
    assert stage.list_keys("events/web/") == [OTHER_HOUR]
    stage.delete([KEY])
    stage.delete([])
    assert stage.list_keys("events/web/") == [OTHER_HOUR]
    assert read(stage, OTHER_HOUR) == b'{"uuid": "x"}\n'


def test_delete_leaves_a_key_that_only_begins_with_the_deleted_one(
    stage: ContractStage, request: pytest.FixtureRequest
) -> None:
    if request.node.callspec.id.startswith("snowflake"):
        request.applymarker(pytest.mark.xfail(strict=True, reason=REMOVE_BY_PREFIX))
    longer = KEY + ".gz"
    for key in (KEY, longer):
        put(stage, key, b'{"uuid": "x"}\n')
    stage.delete([KEY])
    assert stage.list_keys(HOUR_03) == [longer]


def test_a_folder_with_nothing_in_it_lists_nothing(stage: ContractStage) -> None:
    assert stage.list_keys("events/nothing/2026/01/26/03/") == []
