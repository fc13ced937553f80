"""What several test modules share: the test key pair, a fixed clock, and a wired extract.

Imported by conftest.py and by test modules alike (tests never import conftest).
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

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
