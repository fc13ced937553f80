"""Shared fixtures: real local stand-ins, never mocks of the world.

* ``amplitude`` starts the bundled Amplitude-compatible server on loopback.
* ``s3_endpoint`` starts moto's S3 server as a separate process on loopback.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from amplitude_ingest.ports import Stage
from amplitude_sample_server.server import FaultPlan, LocalAmplitude
from tests.support import API_KEY, SECRET_KEY, Harness

# Property tests check correctness, not speed: no per-example deadline on a busy CI box.
settings.register_profile("project", deadline=None, print_blob=True)
settings.load_profile("project")


@pytest.fixture(scope="session")
def amplitude_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated hours are cached across tests: generation is the slow part."""
    return tmp_path_factory.mktemp("amplitude-cache")


@pytest.fixture
def amplitude(amplitude_cache: Path) -> Iterator[Callable[..., LocalAmplitude]]:
    servers: list[LocalAmplitude] = []

    def start(faults: FaultPlan | None = None, **options: object) -> LocalAmplitude:
        server = LocalAmplitude(
            api_key=API_KEY,
            secret_key=SECRET_KEY,
            faults=faults,
            cache_dir=amplitude_cache,
            **options,  # type: ignore[arg-type]
        )
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def harness(
    amplitude: Callable[..., LocalAmplitude], tmp_path: Path
) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def build(
        faults: FaultPlan | None = None,
        stage: Stage | None = None,
        server: LocalAmplitude | None = None,
        **config: object,
    ) -> Harness:
        made.append(Harness(server or amplitude(faults), tmp_path, stage, **config))
        return made[-1]

    yield build
    for item in made:
        item.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3-compatible server in its own process, on loopback."""
    port = _free_port()
    moto = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("moto_server did not start")
    saved = {k: os.environ.get(k) for k in _S3_ENV}
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
        }
    )
    yield endpoint
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    process.terminate()
    process.wait(10)


_S3_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")


@pytest.fixture
def s3_bucket(s3_endpoint: str, request: pytest.FixtureRequest) -> str:
    import boto3

    name = "stage-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    boto3.client("s3").create_bucket(Bucket=name)
    return name
