"""``make demo``: the pipeline end to end on this machine, against generated sample data.

Starts the bundled local Amplitude server (SAMPLE DATA, not a real project), then runs
``amplitude-ingest`` against it with the embedded defaults.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from amplitude_ingest import cli
from local_amplitude.server import LocalAmplitude

DEMO_DIR = Path(".local/demo")
API_KEY, SECRET_KEY = "demo-api-key", "demo-secret-key"
START, END = "2026-01-26T00", "2026-01-28T23"


def main() -> int:
    fresh = "--fresh" in sys.argv
    if fresh:
        shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    (DEMO_DIR / ".env").write_text(f"AMP_API_KEY={API_KEY}\nAMP_SECRET_KEY={SECRET_KEY}\n")
    with LocalAmplitude(
        api_key=API_KEY, secret_key=SECRET_KEY, sessions_per_hour=40, cache_dir=DEMO_DIR / "cache"
    ) as server:
        print(f"local Amplitude server with SAMPLE DATA at {server.url}")
        return cli.main(
            [
                "extract",
                "--start", START,
                "--end", END,
                "--api-url", server.url,
                "--stage", str(DEMO_DIR / "stage"),
                "--state", str(DEMO_DIR / "state"),
                "--env-file", str(DEMO_DIR / ".env"),
            ]
        )  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
