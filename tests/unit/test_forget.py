"""amplitude_ingest.forget and the key reading it relies on: plain values, and DuckDB as the
judge of what "the same hash" means (the laptop deletes raw rows with DuckDB's
``sha256(json_extract_string(...))``, the extract and the stage rewrite with Python's)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.forget import (
    Forgotten,
    IdKind,
    drop_forgotten,
    id_sha256,
    id_text,
    rewrite_part,
)
from amplitude_ingest.lines import LineValidator
from amplitude_ingest.parts import GzipPart
from amplitude_ingest.stage_keys import (
    content_fingerprint,
    parse_part_key,
    part_key,
    quarantine_key,
)
from amplitude_laptop.stages import LocalStage

hours = st.integers(0, 24 * 365 * 30).map(
    lambda n: datetime(2000, 1, 1, tzinfo=UTC) + timedelta(hours=n)
)
labels = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,20}", fullmatch=True)
fingerprints = st.from_regex(r"[0-9a-f]{16}", fullmatch=True)


@given(labels, hours, st.integers(0, 9999), st.integers(0, 999), fingerprints,
       st.sampled_from([".json", ".json.gz"]))  # fmt: skip
def test_a_key_reads_back_into_what_built_it(
    project: str, hour: datetime, member: int, piece: int, fingerprint: str, extension: str
) -> None:
    data = part_key(project, hour, member, piece, fingerprint, extension)
    name = parse_part_key(data)
    assert name is not None
    assert (name.project, name.hour, name.member, name.piece) == (project, hour, member, piece)
    assert name.key(fingerprint) == data
    assert not name.quarantined
    rejected = quarantine_key(project, hour, member, piece, fingerprint)
    quarantine = parse_part_key(rejected)
    assert quarantine is not None
    assert quarantine.quarantined
    assert quarantine.key("0" * 16) == quarantine_key(project, hour, member, piece, "0" * 16)


@pytest.mark.parametrize(
    "key",
    [
        "events/_doctor/marker.json",
        "events/p/2026/01/26/05/p_20260126T06_0000_000_0123456789abcdef.json",  # hour differs
        "events/p/2026/01/26/05/q_20260126T05_0000_000_0123456789abcdef.json",  # label differs
        "_quarantine/p/2026/01/26/05/p_20260126T05_0000_000_0123456789abcdef.json",
        "events/p/2026/01/26/05/p_20260126T05_0000_000_0123456789abcdef.rejected.jsonl",
        "events/p/2026/01/26/05/p_20260126T05_0000_000_0123456789ABCDEF.json",
        "x/events/p/2026/01/26/05/p_20260126T05_0000_000_0123456789abcdef.json",
    ],
)
def test_names_this_package_never_writes_are_not_read_as_parts(key: str) -> None:
    assert parse_part_key(key) is None


ids = st.one_of(
    st.text(min_size=1, max_size=30),
    st.integers(0, 10**18).map(str),
)


@given(kind=st.sampled_from(list(IdKind)), value=ids, other=ids)
def test_python_and_duckdb_agree_on_whose_event_it_is(kind: IdKind, value: str, other: str) -> None:
    try:
        text = id_text(kind, value)
    except ConfigurationError:  # an amplitude_id that is not a decimal integer: refused
        return
    stored = int(text) if kind is IdKind.AMPLITUDE_ID else text
    event = json.dumps({kind.value: stored, "uuid": "u"})
    forgotten = Forgotten.of([(kind.value, id_sha256(text))])
    with duckdb.connect() as db:
        (matches,) = db.execute(
            "select sha256(json_extract_string(?::json, ?)) = ?",
            [event, f"$.{kind.value}", id_sha256(text)],
        ).fetchone() or (None,)
    assert matches is True
    assert forgotten.matches_line(event.encode())
    # The same id under another kind, or another id, is not theirs.
    others = [k for k in IdKind if k is not kind]
    assert not forgotten.matches_line(json.dumps({others[0].value: stored}).encode())
    # "00" and "0" are one amplitude_id: compare ids as the events hold them.
    other_text = other
    if kind is IdKind.AMPLITUDE_ID and other.isascii() and other.strip().isdigit():
        other_text = str(int(other))
    if other_text != text:
        assert not forgotten.matches_line(json.dumps({kind.value: other}).encode())
    # A broken line (quarantined text) with their id is theirs too.
    assert forgotten.matches_line(event[:-1].encode())


def test_an_amplitude_id_must_be_a_number_and_an_id_not_empty() -> None:
    assert id_text(IdKind.AMPLITUDE_ID, " 0012 ") == "12"
    with pytest.raises(ConfigurationError):
        id_text(IdKind.AMPLITUDE_ID, "12a")
    with pytest.raises(ConfigurationError):
        id_text(IdKind.USER_ID, "")


def _line(user: str, n: int) -> bytes:
    return json.dumps({"user_id": user, "uuid": f"{user}-{n}"}).encode()


@given(st.lists(st.sampled_from(["alice", "bob", "carol"]), max_size=40), st.integers(1, 64))
def test_the_extract_drops_exactly_the_forgotten_lines_and_keeps_the_rest_byte_for_byte(
    users: list[str], chunk_size: int
) -> None:
    body = b"".join(_line(u, n) + b"\n" for n, u in enumerate(users)) + b"[1]\n"
    forgotten = Forgotten.of([("user_id", id_sha256("bob"))])
    validator = LineValidator()
    kept, dropped, rejected = b"", 0, 0
    chunks = [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)]
    for checked in [*(validator.feed(c) for c in chunks), validator.finish()]:
        result, gone = drop_forgotten(checked, forgotten)
        kept += b"".join(bytes(b) for b in result.valid)
        dropped += gone
        rejected += len(result.rejected)
        assert result.valid_lines == sum(bytes(b).count(b"\n") for b in result.valid)
    assert dropped == users.count("bob")
    assert kept == b"".join(_line(u, n) + b"\n" for n, u in enumerate(users) if u != "bob")
    assert rejected == 1  # the bad line still goes to the quarantine


@pytest.mark.parametrize("extension", [".json", ".json.gz"])
def test_a_rewritten_part_gets_the_key_the_extract_gives_its_content(
    tmp_path: Path, extension: str
) -> None:
    stage = LocalStage(tmp_path / "stage")
    hour = datetime(2026, 1, 26, 5, tzinfo=UTC)
    lines = [_line(u, n) + b"\n" for n, u in enumerate(["alice", "bob", "alice", "bob"])]

    def write(content: list[bytes]) -> str:
        from zlib import crc32

        data = b"".join(content)
        fingerprint = content_fingerprint(crc32(data), len(data), extension)
        key = part_key("p", hour, 3, 1, fingerprint, extension)
        part = GzipPart(stage.create()) if extension.endswith(".gz") else stage.create()
        part.write(data)
        part.commit(key)
        return key

    old = write(lines)
    expected = write([line for line in lines if b'"bob"' not in line])
    stage.delete([expected])
    forgotten = Forgotten.of([("user_id", id_sha256("bob"))])
    with stage.read(old) as content:
        rewrite = rewrite_part(stage, old, content, forgotten)
    assert rewrite is not None
    assert (rewrite.new_key, rewrite.lines_removed, rewrite.lines_kept) == (expected, 2, 2)
    data = stage.path(expected).read_bytes()
    assert (gzip.decompress(data) if extension.endswith(".gz") else data).count(b"\n") == 2
    assert stage.path(old).exists()  # the caller removes it
    untouched = Forgotten.of([("user_id", id_sha256("carol"))])
    with stage.read(old) as content:
        assert rewrite_part(stage, old, content, untouched) is None


def test_the_wait_step_follows_a_rewritten_key_to_what_replaced_it() -> None:
    from amplitude_ingest.in_snowflake.wait_step import follow_rewrites

    rewrites: dict[str, str | None] = {"a": "a2", "a2": "a3", "b": None, "c": "c", "d": "e"}
    # a was rewritten twice, b had nothing left, c points at itself (never loops), e is new.
    assert follow_rewrites(["a", "b", "c", "d", "x"], rewrites) == ["a3", "c", "e", "x"]
    assert follow_rewrites(["a", "a2"], rewrites) == ["a3"]


def test_the_procedure_takes_a_kind_and_an_id_or_its_hash() -> None:
    from amplitude_ingest.in_snowflake.forget_procedure import digest_of, parse_kind

    assert parse_kind(" User_ID ") is IdKind.USER_ID
    with pytest.raises(ConfigurationError, match="is not one of amplitude_id, user_id"):
        parse_kind("email")
    digest = id_sha256("user-1234")
    assert digest_of(IdKind.USER_ID, "user-1234") == digest
    assert digest_of(IdKind.USER_ID, f"sha256:{digest.upper()}") == digest
    assert digest_of(IdKind.AMPLITUDE_ID, "007") == id_sha256("7")
    with pytest.raises(ConfigurationError):
        digest_of(IdKind.AMPLITUDE_ID, "sha256:short")
