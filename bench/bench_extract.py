"""Extract benchmark: throughput (MB/s of JSON) and peak memory, beside the machine's limits.

Generates an export of about ``--megabytes`` of JSON with the bundled generator, serves it
from the local Amplitude server, and measures in one run:

* the machine's own limits on the same zip: ``unzip -p export.zip | zcat > /dev/null``
  and a plain Python streaming gunzip (zipfile + gzip, 1 MiB reads);
* ``amplitude-ingest extract`` to a local folder stage and to S3 (moto's server), each in
  its own process so its peak RSS is its own;
* the seed project's approach to S3: download whole into memory, write the zip, extract to
  disk, gunzip each member to a file, upload each file with boto3.

Runs at two export sizes by default (1 GB and 4 GB of JSON) so that the way memory grows
with the export shows in one table. Not a test: numbers depend on the machine. Run with
``make bench`` (``BENCH_MB="1000"`` for one size only).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
BIN = Path(sys.executable).parent
API_KEY, SECRET_KEY = "bench-api-key", "bench-secret-key"
FIRST_HOUR = datetime(2026, 1, 20, 0, tzinfo=UTC)
HOURS = 8
SEED = 11
BYTES_PER_SESSION = 17_000  # measured from the generator; refined below


@dataclass
class Result:
    name: str
    seconds: float
    json_bytes: int
    peak_rss_mb: float | None = None

    @property
    def mb_per_s(self) -> float:
        return self.json_bytes / 1e6 / self.seconds


def _generate_hour(args: tuple[int, int, str, int]) -> None:
    from amplitude_sample_server.server import ExportData

    seed, sessions, cache, hour_offset = args
    ExportData(seed, sessions, Path(cache)).members(FIRST_HOUR + timedelta(hours=hour_offset))


def _tree_pss_kb(root: int) -> int:
    """Proportional set size of a process and all its descendants, in KB.

    PSS shares each page among the processes mapping it, so forked workers are not
    counted once per process for the interpreter they share with their parent.
    """
    pids, total = [root], 0
    while pids:
        pid = pids.pop()
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{pid}/task").iterdir():
                pids += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def _run_measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak memory in MB: the PSS of the whole process tree, sampled."""
    began = time.perf_counter()
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_pss_kb(process.pid))
        time.sleep(0.02)
    seconds = time.perf_counter() - began
    out = process.stdout.read().decode() if process.stdout else ""
    err = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed:\n{out}\n{err}")
    return seconds, peak / 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return process, f"http://127.0.0.1:{port}"


def seed_approach(url: str, bucket: str, workdir: str) -> None:
    """What the seed project did, end to end (run in its own process for its peak RSS)."""
    import boto3
    import requests

    work = Path(workdir)
    start, end = FIRST_HOUR, FIRST_HOUR + timedelta(hours=HOURS - 1)
    response = requests.get(
        url + "/api/2/export",
        params={"start": start.strftime("%Y%m%dT%H"), "end": end.strftime("%Y%m%dT%H")},
        auth=(API_KEY, SECRET_KEY),
        timeout=600,
    )
    response.raise_for_status()
    zip_path = work / "export.zip"
    zip_path.write_bytes(response.content)  # the whole export held in memory
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(work / "gzip_files")
    zip_path.unlink()
    s3 = boto3.client("s3")
    for gz in sorted((work / "gzip_files").rglob("*.gz")):
        target = work / "json_data" / gz.name.removesuffix(".gz")
        target.parent.mkdir(exist_ok=True)
        with gzip.open(gz) as source, target.open("wb") as sink:
            shutil.copyfileobj(source, sink)
        gz.unlink()
        s3.upload_file(str(target), bucket, f"seed/{target.name}")
        target.unlink()


def empty_bucket() -> None:
    """Free moto's memory between runs (it keeps objects in RAM)."""
    import boto3

    s3 = boto3.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="bench"):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket="bench", Delete={"Objects": keys})


def moto_ingest(total: int) -> None:
    """How fast moto's server takes ``total`` bytes from 4 concurrent uploaders."""
    import boto3

    s3 = boto3.client("s3")
    body = b"x" * (8 << 20)
    count = total // len(body)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        list(
            pool.map(
                lambda n: s3.put_object(Bucket="bench", Key=f"raw/{n}", Body=body), range(count)
            )
        )


def python_gunzip(zip_path: Path) -> int:
    total = 0
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            with archive.open(info) as raw, gzip.GzipFile(fileobj=raw) as stream:
                while chunk := stream.read(1 << 20):
                    total += len(chunk)
    return total


def measure(megabytes: int, keep: bool) -> tuple[list[Result], int, float]:
    """Every run at one export size: (results, JSON bytes, zip MB)."""
    from amplitude_sample_server.server import LocalAmplitude

    sessions = max(1, megabytes * 1_000_000 // HOURS // BYTES_PER_SESSION)
    cache = OUT / f"cache-{megabytes}"
    cache.mkdir(parents=True, exist_ok=True)
    print(f"\ngenerating ~{megabytes} MB of sample JSON ({HOURS} hours x {sessions} sessions)")
    began = time.perf_counter()
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_generate_hour, [(SEED, sessions, str(cache), h) for h in range(HOURS)]))
    print(f"  generated in {time.perf_counter() - began:.0f} s (cached in {cache})")

    server = LocalAmplitude(
        api_key=API_KEY, secret_key=SECRET_KEY, seed=SEED, sessions_per_hour=sessions,
        cache_dir=cache,
    ).start()  # fmt: skip
    hours = [FIRST_HOUR + timedelta(hours=h) for h in range(HOURS)]
    for hour in hours:
        server.archive_for([hour], None)
    all_zip, _ = server.archive_for(hours, None)
    zip_mb = all_zip.stat().st_size / 1e6

    results: list[Result] = []
    with all_zip.open("rb") as warm:  # every run reads the zip from the page cache
        while warm.read(1 << 24):
            pass
    began = time.perf_counter()
    json_bytes = python_gunzip(all_zip)
    results.append(
        Result("python zipfile+gzip stream (limit)", time.perf_counter() - began, json_bytes)
    )
    began = time.perf_counter()
    subprocess.run(f"unzip -p {all_zip} | zcat > /dev/null", shell=True, check=True)
    results.append(Result("unzip -p | zcat (limit)", time.perf_counter() - began, json_bytes))

    end = hours[-1].strftime("%Y%m%dT%H")
    start = hours[0].strftime("%Y%m%dT%H")
    env = dict(os.environ, AMP_API_KEY=API_KEY, AMP_SECRET_KEY=SECRET_KEY)
    with tempfile.TemporaryDirectory(dir=OUT) as work:
        base = [str(BIN / "amplitude-ingest"), "extract", "--start", start, "--end", end,
                "--api-url", server.url, "--lag-hours", "0", "--env-file", "/dev/null"]  # fmt: skip
        seconds, pss = _run_measured(
            [*base, "--stage", f"{work}/stage", "--state", f"{work}/state"], env
        )
        staged = sum(p.stat().st_size for p in Path(work, "stage").rglob("*.json"))
        assert staged == json_bytes, (staged, json_bytes)
        results.append(Result("amplitude-ingest -> local stage", seconds, json_bytes, pss))
        shutil.rmtree(Path(work, "stage"))
        seconds, pss = _run_measured(
            [*base, "--stage", f"{work}/stage", "--state", f"{work}/state-nofsync", "--no-fsync"],
            env,
        )
        results.append(
            Result("amplitude-ingest -> local stage, --no-fsync", seconds, json_bytes, pss)
        )
        shutil.rmtree(Path(work, "stage"))

        moto, endpoint = _start_moto()
        try:
            s3_env = dict(env, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                          AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=endpoint)  # fmt: skip
            import boto3

            os.environ.update({k: v for k, v in s3_env.items() if k.startswith("AWS_")})
            boto3.client("s3").create_bucket(Bucket="bench")
            seconds, pss = _run_measured(
                [*base, "--stage", "s3://bench/ours", "--state", f"{work}/state-s3"], s3_env
            )
            results.append(Result("amplitude-ingest -> S3 (moto)", seconds, json_bytes, pss))
            empty_bucket()
            seconds, pss = _run_measured(
                [*base, "--stage", "s3://bench/gz", "--state", f"{work}/state-gz",
                 "--compression", "gzip"], s3_env,
            )  # fmt: skip
            results.append(
                Result("amplitude-ingest -> S3 (moto), .json.gz", seconds, json_bytes, pss)
            )
            empty_bucket()
            began = time.perf_counter()
            moto_ingest(json_bytes)
            results.append(
                Result(
                    "moto put_object x4, 8 MB bodies (limit)",
                    time.perf_counter() - began,
                    json_bytes,
                )
            )
            empty_bucket()
            seed_dir = Path(work, "seed")
            seed_dir.mkdir()
            seconds, pss = _run_measured(
                [sys.executable, __file__, "--seed-approach", server.url, "bench", str(seed_dir)],
                s3_env,
            )
            results.append(Result("seed approach -> S3 (moto)", seconds, json_bytes, pss))
        finally:
            moto.terminate()
            moto.wait()
    server.stop()
    if not keep:
        shutil.rmtree(cache, ignore_errors=True)
    return results, json_bytes, zip_mb


def report(megabytes: int, results: list[Result], json_bytes: int, zip_mb: float) -> None:
    print(f"\nexport: {json_bytes / 1e6:.0f} MB of JSON in a {zip_mb:.0f} MB zip, "
          f"{HOURS} hourly windows; {os.cpu_count()} cores")  # fmt: skip
    print(f"{'run':<44}{'seconds':>9}{'MB/s JSON':>11}{'peak MB (PSS)':>15}")
    for r in results:
        pss = f"{r.peak_rss_mb:.0f}" if r.peak_rss_mb is not None else "-"
        print(f"{r.name:<44}{r.seconds:>9.1f}{r.mb_per_s:>11.0f}{pss:>15}")
    by_name = {r.name: r for r in results}
    unzip = by_name["unzip -p | zcat (limit)"].mb_per_s
    local = by_name["amplitude-ingest -> local stage"].mb_per_s
    s3 = by_name["amplitude-ingest -> S3 (moto)"].mb_per_s
    seed = by_name["seed approach -> S3 (moto)"].mb_per_s
    print(
        f"local stage vs unzip|zcat: {local / unzip:.2f}x   S3 vs seed approach: {s3 / seed:.2f}x"
    )
    OUT.mkdir(exist_ok=True)
    (OUT / f"results-{megabytes}mb.json").write_text(
        json.dumps([{**r.__dict__, "mb_per_s": r.mb_per_s} for r in results], indent=2)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--megabytes", type=int, nargs="+", default=[1000, 4000], help="export sizes to run"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated exports")
    parser.add_argument("--seed-approach", nargs=3, metavar=("URL", "BUCKET", "WORKDIR"))
    args = parser.parse_args()
    if args.seed_approach:
        seed_approach(*args.seed_approach)
        return
    runs = {size: measure(size, args.keep) for size in args.megabytes}
    for size, (results, json_bytes, zip_mb) in runs.items():
        report(size, results, json_bytes, zip_mb)
    if len(runs) > 1:
        print("\npeak memory (PSS of the process tree, MB) by export size:")
        sizes = list(runs)
        print(f"{'run':<44}" + "".join(f"{f'{s} MB':>12}" for s in sizes))
        for name in [r.name for r in runs[sizes[0]][0] if r.peak_rss_mb is not None]:
            peaks = [next(r for r in runs[s][0] if r.name == name).peak_rss_mb for s in sizes]
            print(f"{name:<44}" + "".join(f"{p:>12.0f}" for p in peaks if p is not None))


if __name__ == "__main__":
    main()
