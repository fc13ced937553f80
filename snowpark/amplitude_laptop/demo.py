"""``make demo``: the whole pipeline on this machine, on generated SAMPLE DATA.

Starts the bundled Amplitude-compatible server (generated events, not a real project),
then runs the same steps as ``amplitude-ingest run``: extract to a local stage folder, load
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

from amplitude_laptop import cli, logs, report, steps
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
        logs_dir = settings.state_dir / "logs"
        with logs.run_log(logs_dir, "demo", settings.secret_values()) as log_file:
            extracted = steps.extract(settings, START, END)
            print(f"extract    {extracted.one_line()}")
            loaded = steps.load(settings)
            print(f"load       {loaded.one_line()}")
            transformed = steps.transform(settings, on_node=cli.print_node)
            print(f"transform  {transformed.one_line()}")
            for source in steps.freshness(settings):
                print(f"freshness  {source.one_line()}")
    print(f"log        {log_file}")
    if not (extracted.ok and loaded.ok and transformed.ok):
        print("the pipeline reported a failure; see the lines above and the log", file=sys.stderr)
        return cli.EXIT_FAILED

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
