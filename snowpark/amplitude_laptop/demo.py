"""``make demo``: the whole pipeline on this machine, on generated SAMPLE DATA.

Starts the bundled Amplitude-compatible server (generated events, not a real project),
then runs ``amplitude-ingest run``'s steps through the CLI's own function, recorded in the
ledger as a run of ``demo``: extract to a local stage folder, load
into the DuckDB warehouse like Snowpipe would, and ``dbt build``. Prints a summary, writes
an HTML report and the dbt docs site. Running it again changes nothing: every step is
idempotent.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from amplitude_laptop import cli, report
from amplitude_laptop.runs import EXIT_OK
from amplitude_laptop.settings import LaptopSettings
from amplitude_laptop.transform import run_dbt
from amplitude_sample_server.server import LocalAmplitude

API_KEY, SECRET_KEY = "demo-api-key", "demo-secret-key"
START, END = "2026-01-26T00", "2026-01-28T23"


def _step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=Path(".local/demo"))
    parser.add_argument("--fresh", action="store_true", help="start from an empty folder")
    parser.add_argument("--sessions-per-hour", type=int, default=40)
    parser.add_argument("--no-docs", action="store_true", help="skip the dbt docs site")
    args = parser.parse_args(argv)
    root: Path = args.dir
    if args.fresh:
        shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    warehouse = root / "warehouse.duckdb"
    began = time.monotonic()

    with LocalAmplitude(
        api_key=API_KEY,
        secret_key=SECRET_KEY,
        sessions_per_hour=args.sessions_per_hour,
        cache_dir=root / "amplitude-cache",
    ) as server:
        _step(f"SAMPLE DATA: a local Amplitude-compatible server at {server.url}")
        print(f"   exporting {START} .. {END} (72 hours), then load and dbt build")
        settings = LaptopSettings.load(
            {
                "api_key": API_KEY,
                "secret_key": SECRET_KEY,
                "api_url": server.url,
                "stage": str(root / "stage"),
                "state_dir": root / "state",
                "warehouse": warehouse,
            },
            env_file=None,  # the demo's settings are all here, whatever a .env says
        )
        # The same run as `amplitude-ingest run`, through the CLI's own wrapper: a log
        # file, a run record in the ledger (the dashboard's "Last runs"), exit statuses.
        status = cli.run_command(
            "demo", settings, lambda: cli.run_steps(settings, cli.ExtractArgs(START, END))
        )
    if status != EXIT_OK:
        print("the pipeline reported a failure; see the lines above and the log", file=sys.stderr)
        return status

    _step("What arrived (sample data)")
    summary = report.collect(warehouse)
    print(report.render_text(summary))
    html = report.write_html(summary, root / "report.html", "Amplitude demo (sample data)")
    print(f"\nreport     {html}")
    if not args.no_docs:
        docs = run_dbt(
            ["docs", "generate", "--static"],
            warehouse=warehouse,
            artifacts_dir=root / "state" / "dbt",
        )
        site = root / "state" / "dbt" / "target" / "static_index.html"
        if docs.ok and site.exists():
            shutil.copyfile(site, root / "dbt-docs.html")
            print(f"dbt docs   {root / 'dbt-docs.html'}")
    print(f"\ndone in {time.monotonic() - began:.0f} s; run `make demo` again: nothing changes")
    where = "" if root == Path(".local/demo") else f" DASHBOARD_DIR={root}"
    print(f"dashboard  `make dashboard{where}`, then open http://localhost:8501")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
