"""An Amplitude-compatible ``GET /api/2/export`` on loopback, with fault injection.

Answers like Amplitude: HTTP Basic auth, ``start``/``end`` hours both inclusive, 200 with a
zip of ``{project}/{project}_{YYYY-MM-DD}_{H}#{n}.json.gz`` members, 404 when the range
has no data, 400 for a range over its size limit, 504 for one over its time limit, 429 with
``Retry-After``. Faults are set per hour in a :class:`FaultPlan`.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import io
import logging
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

from amplitude_sample_server.generator import PROJECT_ID, HourManifest, generate_hour

try:
    import orjson

    def _dumps(event: dict[str, Any]) -> bytes:
        return orjson.dumps(event)

except ImportError:  # pragma: no cover
    import json

    def _dumps(event: dict[str, Any]) -> bytes:
        return json.dumps(event, separators=(",", ":")).encode()


try:
    from isal import igzip as _gzip
except ImportError:  # pragma: no cover
    import gzip as _gzip  # type: ignore[no-redef]

logger = logging.getLogger(__name__)

EXPORT_PATH = "/api/2/export"
BAD_LINES = [b"this is not json", b'{"truncated": ', b"[1, 2, 3]"]


def hour_id(hour: datetime) -> str:
    return hour.strftime("%Y%m%dT%H")


def _parse_api_hour(text: str) -> datetime:
    return datetime.strptime(text, "%Y%m%dT%H").replace(tzinfo=UTC)


@dataclass
class FaultPlan:
    """Faults by hour id (``20260126T05``).

    ``responses`` are consumed one per request whose window contains the hour, in order:
    ``"503"`` (any status), ``"429:2"`` (429 with Retry-After 2), ``"reset"`` (the body
    breaks off halfway), ``"truncate"`` (a zip cut short, with a matching Content-Length),
    ``"badcrc"`` (a gzip member with a flipped byte), ``"echo"`` (a 400 whose body repeats
    the credentials). The other fields change an hour's content for good.
    """

    responses: dict[str, list[str]] = field(default_factory=dict)
    bad_lines: dict[str, int] = field(default_factory=dict)
    corrupt_hours: set[str] = field(default_factory=set)
    traversal_hours: set[str] = field(default_factory=set)
    empty_hours: set[str] = field(default_factory=set)
    too_large_hours: set[str] = field(default_factory=set)
    max_window_hours: int | None = None
    timeout_window_hours: int | None = None
    response_delay_seconds: float = 0.0  # every answer waits this long (a slow Amplitude)
    # How zips are laid out: "seekable" (sizes before the data, stored), "streamed" (deflate
    # with data descriptors, as a writer that cannot seek back makes them), "streamed-zip64"
    # (the same with ZIP64 fields) or "stored-streamed" (stored with data descriptors: a
    # zip that cannot be read before it is complete).
    zip_layout: str = "seekable"
    # Entry names for an hour's first member instead of Amplitude's, by hour id.
    entry_names: dict[str, str] = field(default_factory=dict)
    # The plain (not yet gzipped) bytes of an hour's first member instead of generated
    # events, by hour id: lines exactly as a test wants them, blank or CRLF ones included.
    member_bodies: dict[str, bytes] = field(default_factory=dict)
    # The body of an injected status answer ("503", "418", ...).
    error_body: bytes = b"injected fault"
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def next_response_fault(self, hours: list[datetime]) -> str | None:
        with self._lock:
            for hour in hours:
                queue = self.responses.get(hour_id(hour))
                if queue:
                    return queue.pop(0)
        return None


@dataclass
class RequestRecord:
    start: str
    end: str
    status: int


class ExportData:
    """Generated hours as gzip members, cached on disk so large exports are cheap to serve."""

    def __init__(
        self,
        seed: int,
        sessions_per_hour: int,
        cache_dir: Path,
        events_per_member: int = 20_000,
    ) -> None:
        self.seed = seed
        self.sessions_per_hour = sessions_per_hour
        self.events_per_member = events_per_member
        self.cache_dir = cache_dir / f"seed{seed}-s{sessions_per_hour}-m{events_per_member}"
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def generate(self, hour: datetime) -> tuple[list[dict[str, Any]], HourManifest]:
        return generate_hour(self.seed, hour, self.sessions_per_hour)

    def members(self, hour: datetime) -> list[Path]:
        """The hour's gzip member files, written on first use."""
        folder = self.cache_dir / hour_id(hour)
        done = folder / ".complete"
        with self._lock:
            if not done.exists():
                folder.mkdir(exist_ok=True)
                events, _ = self.generate(hour)
                for n, offset in enumerate(range(0, len(events), self.events_per_member)):
                    body = b"".join(
                        _dumps(e) + b"\n" for e in events[offset : offset + self.events_per_member]
                    )
                    (folder / f"{n:05d}.json.gz").write_bytes(_gzip.compress(body, 1))
                done.touch()
        return sorted(folder.glob("*.json.gz"))


def _member_name(hour: datetime, n: int) -> str:
    return f"{PROJECT_ID}/{PROJECT_ID}_{hour:%Y-%m-%d}_{hour.hour}#{n}.json.gz"


def _corrupt(gz: bytes) -> bytes:
    """Flip a byte inside the deflate stream: the gzip CRC check fails on read."""
    data = bytearray(gz)
    data[len(data) // 2] ^= 0xFF
    return bytes(data)


class _Unseekable(io.RawIOBase):
    """A file that cannot seek: zipfile then writes data descriptors after each member."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return self._target.write(data)


def build_zip(
    data: ExportData, hours: list[datetime], faults: FaultPlan, transient: str | None
) -> Path:
    """Write the export zip for ``hours`` to a temporary file and return its path."""
    layout = faults.zip_layout
    if layout not in ("seekable", "streamed", "streamed-zip64", "stored-streamed"):
        raise ValueError(f"unknown zip layout {layout!r}")
    method = zipfile.ZIP_DEFLATED if layout.startswith("streamed") else zipfile.ZIP_STORED
    zip64 = layout == "streamed-zip64"
    with tempfile.NamedTemporaryFile(suffix=".zip", delete=False, dir=data.cache_dir) as handle:
        sink: Any = handle if layout == "seekable" else _Unseekable(handle)
        with zipfile.ZipFile(sink, "w", method, allowZip64=True, compresslevel=1) as archive:
            _write_members(archive, data, hours, faults, transient, zip64)
    return Path(handle.name)


def _write_members(
    archive: zipfile.ZipFile,
    data: ExportData,
    hours: list[datetime],
    faults: FaultPlan,
    transient: str | None,
    zip64: bool,
) -> None:
    def put(name: str, member: Path | None, gz: bytes | None) -> None:
        with archive.open(name, "w", force_zip64=zip64) as out:
            if gz is not None:
                out.write(gz)
                return
            assert member is not None
            with member.open("rb") as source:
                shutil.copyfileobj(source, out, 1 << 20)

    for hour in hours:
        hid = hour_id(hour)
        if hid in faults.empty_hours:
            continue
        for n, member in enumerate(data.members(hour)):
            name = _member_name(hour, n)
            if n == 0 and hid in faults.traversal_hours:
                name = "../../evil.json.gz"
            if n == 0 and hid in faults.entry_names:
                name = faults.entry_names[hid]
            needs_bytes = (
                (n == 0 and (hid in faults.bad_lines or hid in faults.member_bodies))
                or hid in faults.corrupt_hours
                or transient == "badcrc"
            )
            if not needs_bytes:
                put(name, member, None)
                continue
            gz = member.read_bytes()
            if n == 0 and hid in faults.member_bodies:
                gz = _gzip.compress(faults.member_bodies[hid], 1)
            if n == 0 and hid in faults.bad_lines:
                plain: bytes = _gzip.decompress(gz)  # type: ignore[no-untyped-call]
                lines = plain.split(b"\n")
                for i in range(faults.bad_lines[hid]):
                    lines.insert(1 + 2 * i, BAD_LINES[i % len(BAD_LINES)])
                gz = _gzip.compress(b"\n".join(lines), 1)
            if hid in faults.corrupt_hours or transient == "badcrc":
                gz = _corrupt(gz)
            put(name, None, gz)


class LocalAmplitude:
    """The server. Start with ``start()`` (a background thread) or ``serve_forever()``."""

    def __init__(
        self,
        *,
        api_key: str,
        secret_key: str,
        seed: int = 7,
        sessions_per_hour: int = 40,
        cache_dir: Path | None = None,
        faults: FaultPlan | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        events_per_member: int = 20_000,
    ) -> None:
        self._expected_auth = (
            "Basic " + base64.b64encode(f"{api_key}:{secret_key}".encode()).decode()
        )
        self._own_cache = cache_dir is None
        cache = cache_dir or Path(tempfile.mkdtemp(prefix="local-amplitude-"))
        self.data = ExportData(seed, sessions_per_hour, cache, events_per_member)
        self.faults = faults or FaultPlan()
        self.requests: list[RequestRecord] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._zip_lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalAmplitude:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._own_cache:
            shutil.rmtree(self.data.cache_dir.parent, ignore_errors=True)

    def __enter__(self) -> LocalAmplitude:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def manifest(self, start: datetime, end: datetime) -> HourManifest:
        """What the hours from ``start`` to ``end`` hold, for exact assertions."""
        total = HourManifest()
        hour = start
        while hour <= end:
            if hour_id(hour) not in self.faults.empty_hours:
                total.add(self.data.generate(hour)[1])
            hour += timedelta(hours=1)
        return total

    # -- HTTP -------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug("local amplitude: " + format, *args)

            def do_GET(self) -> None:
                with server._lock:
                    server._in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server._in_flight)
                try:
                    server._answer(self)
                except (BrokenPipeError, ConnectionResetError):
                    logger.debug("the client went away mid-answer")  # killed, or gave up
                finally:
                    with server._lock:
                        server._in_flight -= 1

        return Handler

    def _send(
        self, handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", **headers: str
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.end_headers()
        handler.wfile.write(body)

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        if self.faults.response_delay_seconds:
            time.sleep(self.faults.response_delay_seconds)
        url = urlsplit(handler.path)
        query = parse_qs(url.query)
        start_text = query.get("start", [""])[0]
        end_text = query.get("end", [""])[0]

        def record(status: int) -> None:
            with self._lock:
                self.requests.append(RequestRecord(start_text, end_text, status))

        if url.path != EXPORT_PATH:
            record(404)
            return self._send(handler, 404, b"not found")
        supplied = handler.headers.get("Authorization", "")
        if not hmac.compare_digest(supplied.encode(), self._expected_auth.encode()):
            record(401)
            return self._send(handler, 401, b"Invalid API key")
        try:
            start, end = _parse_api_hour(start_text), _parse_api_hour(end_text)
        except ValueError:
            record(400)
            return self._send(handler, 400, b"start and end must be YYYYMMDDTHH")
        hours = list(_hours(start, end))
        if not hours:
            record(400)
            return self._send(handler, 400, b"end is before start")
        limit = self.faults.max_window_hours
        if (limit is not None and len(hours) > limit) or any(
            hour_id(h) in self.faults.too_large_hours for h in hours
        ):
            record(400)
            return self._send(handler, 400, b"Raw data files were too large to export (over 4GB)")
        timeout = self.faults.timeout_window_hours
        if timeout is not None and len(hours) > timeout:
            record(504)
            return self._send(handler, 504, b"Gateway Timeout")
        fault = self.faults.next_response_fault(hours)
        if fault == "echo":  # a careless server that repeats the credentials in an error
            record(400)
            decoded = base64.b64decode(supplied.removeprefix("Basic ")).decode()
            return self._send(handler, 400, f"bad request from {decoded}".encode())
        if fault is not None and fault.split(":")[0].isdigit():
            status_text, _, retry_after = fault.partition(":")
            status = int(status_text)
            record(status)
            extra = {"Retry_After": retry_after} if retry_after else {}
            return self._send(handler, status, self.faults.error_body, **extra)
        if all(hour_id(h) in self.faults.empty_hours for h in hours):
            record(404)
            return self._send(handler, 404, b"No data available for the range")
        archive, reusable = self.archive_for(hours, fault)
        try:
            size = archive.stat().st_size
            record(200)
            handler.send_response(200)
            handler.send_header("Content-Type", "application/zip")
            handler.send_header("Content-Length", str(size))
            handler.end_headers()
            with archive.open("rb") as body:
                if fault == "reset":
                    handler.wfile.write(body.read(size // 2))
                    handler.close_connection = True
                    handler.wfile.flush()
                    handler.connection.shutdown(2)
                    return None
                if fault == "truncate":
                    # Content-Length promises the whole zip; only its first part is sent.
                    handler.wfile.write(body.read(size // 2))
                    handler.wfile.flush()
                    handler.close_connection = True
                    handler.connection.shutdown(2)
                    return None
                handler.wfile.flush()
                handler.connection.sendfile(body)
        finally:
            if not reusable:
                archive.unlink(missing_ok=True)
        return None

    def archive_for(self, hours: list[datetime], fault: str | None) -> tuple[Path, bool]:
        """The zip for ``hours``; kept and reused when no fault touches it (benchmarks)."""
        faulty = (
            fault is not None
            or any(
                hour_id(h) in hour_set
                for h in hours
                for hour_set in (
                    self.faults.bad_lines.keys(),
                    self.faults.corrupt_hours,
                    self.faults.traversal_hours,
                    self.faults.empty_hours,
                    self.faults.entry_names.keys(),
                    self.faults.member_bodies.keys(),
                )
            )
            or self.faults.zip_layout != "seekable"
        )
        if faulty:
            return build_zip(self.data, hours, self.faults, fault), False
        cached = self.data.cache_dir / f"export-{hour_id(hours[0])}-{hour_id(hours[-1])}.zip"
        with self._zip_lock:
            if not cached.exists():
                build_zip(self.data, hours, self.faults, None).replace(cached)
        return cached, True


def _hours(start: datetime, end: datetime) -> Iterator[datetime]:
    hour = start
    while hour <= end:
        yield hour
        hour += timedelta(hours=1)


def main(argv: list[str] | None = None) -> None:
    """``local-amplitude``: serve generated sample data until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sessions-per-hour", type=int, default=40)
    parser.add_argument("--api-key", default="local-api-key")
    parser.add_argument("--secret-key", default="local-secret-key")
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    server = LocalAmplitude(
        api_key=args.api_key,
        secret_key=args.secret_key,
        seed=args.seed,
        sessions_per_hour=args.sessions_per_hour,
        cache_dir=args.cache_dir,
        host=args.host,
        port=args.port,
    )
    print(f"local Amplitude (sample data) at {server.url}{EXPORT_PATH}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()
