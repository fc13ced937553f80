"""What several test modules share: the test key pair, a fixed clock, and a wired extract.

Imported by conftest.py and by test modules alike (tests never import conftest).
"""

from __future__ import annotations

import threading
from contextlib import ExitStack, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from amplitude_ingest.assembly import extraction
from amplitude_ingest.config import Credentials, ExtractConfig
from amplitude_ingest.domain import ExtractSummary
from amplitude_ingest.ports import Stage
from amplitude_laptop.sqlite_ledger import SqliteLedger
from amplitude_laptop.stages import LocalStage
from amplitude_sample_server.server import LocalAmplitude

API_KEY = "test-api-key-0001"
SECRET_KEY = "test-secret-key-0002"
CREDENTIALS = Credentials.of(API_KEY, SECRET_KEY)
# "now" for every extractor test: hours up to 2026-01-27T21 are exportable (lag 3 h).
FIXED_NOW = datetime(2026, 1, 28, 0, 30, tzinfo=UTC)


class Harness:
    """An extract wired by the product's own composition root to a local server, a stage
    (a folder unless given) and a SQLite ledger, with quick retries and a fixed clock."""

    def __init__(
        self,
        server: LocalAmplitude,
        root: Path,
        stage: Stage | None = None,
        credentials: Credentials = CREDENTIALS,
        **config: object,
    ) -> None:
        self.server = server
        self.stage = stage or LocalStage(root / "stage")
        self.ledger = SqliteLedger(root / "state")
        self.sleeps: list[float] = []
        self.config = ExtractConfig.model_validate(
            {
                "api_url": server.url,
                "retry_wait_initial": 0.01,
                "retry_wait_max": 0.05,
                "connect_timeout": 5,
                "read_timeout": 30,
                **config,
            }
        )
        self._resources = ExitStack()
        self._resources.callback(self.ledger.close)
        self.extractor = self._resources.enter_context(
            extraction(
                self.config,
                credentials,
                stage=lambda: self.stage,
                ledger=self.ledger,
                spool_dir=root,
                clock=lambda: FIXED_NOW,
                sleep=self.sleeps.append,
            )
        )

    def run(
        self, start: datetime | None = None, end: datetime | None = None, force: bool = False
    ) -> ExtractSummary:
        return self.extractor.run(self.extractor.plan(start, end, force))

    def close(self) -> None:
        self._resources.close()


class TcpProxy:
    """A TCP proxy on loopback that can be cut and restored, to take a real server (moto's
    S3) away in the middle of a run without losing what it holds."""

    def __init__(self, target_port: int) -> None:
        import socket

        self._target = ("127.0.0.1", target_port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TcpProxy:
        import socket

        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def cut(self) -> None:
        """Refuse new connections and break every open one."""
        import socket

        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, []
        if listener is not None:
            listener.close()
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def _accept(self, listener: Any) -> None:
        import socket

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: Any, sink: Any) -> None:
        try:
            while data := source.recv(1 << 16):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with suppress(OSError):
                    end.close()
