"""`make deploy-setup` against a stand-in `snow` that answers recorded rows: a re-deploy
with another S3_URL or S3_ROLE_ARN stops before any script runs (issue 16 item 9). The
stand-in answers SHOW INTEGRATIONS, DESC INTEGRATION and SHOW STAGES as their reference
pages document the columns, and records every call, so the test sees what ran."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_deploy_check import ARN, DESCRIBED, STAGES, URL

ROOT = Path(__file__).resolve().parents[2]

FAKE_SNOW = """#!{python}
import json, sys
log, answers = sys.argv[0] + ".log", json.load(open(sys.argv[0] + ".json"))
with open(log, "a") as out:
    out.write(json.dumps(sys.argv[1:]) + "\\n")
query = sys.argv[sys.argv.index("-q") + 1] if "-q" in sys.argv else ""
for prefix, rows in answers.items():
    if query.startswith(prefix):
        print(json.dumps(rows))
        break
else:
    print("[]")
"""


def deploy_setup(
    tmp_path: Path, answers: dict[str, object], s3_url: str, arn: str
) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    snow = tmp_path / "snow"
    snow.write_text(FAKE_SNOW.format(python=sys.executable))
    snow.chmod(0o755)
    (tmp_path / "snow.json").write_text(json.dumps(answers))
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-o",
            ".venv-snow/.installed",
            "deploy-setup",
            f"SNOW={snow}",
            f"S3_URL={s3_url}",
            f"S3_ROLE_ARN={arn}",
        ],
        cwd=ROOT,
        env={**os.environ, "AMP_API_KEY": "k", "AMP_SECRET_KEY": "s"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    log = tmp_path / "snow.log"
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


DEPLOYED = {
    "show integrations like 'AMPLITUDE_S3'": [{"name": "AMPLITUDE_S3", "type": "EXTERNAL_STAGE"}],
    "describe integration AMPLITUDE_S3": DESCRIBED,
    "show stages like 'AMPLITUDE_STAGE' in account": STAGES,
}


@pytest.mark.parametrize(
    ("s3_url", "arn", "named"),
    [
        (
            "s3://new-bucket/amplitude/",
            ARN,
            "this deploy asks for S3_URL=s3://new-bucket/amplitude/",
        ),
        (URL, "arn:aws:iam::123456789012:role/new", "this deploy asks for S3_ROLE_ARN="),
    ],
    ids=["another-bucket", "another-role"],
)
def test_a_redeploy_with_another_bucket_or_role_stops_before_any_script(
    tmp_path: Path, s3_url: str, arn: str, named: str
) -> None:
    result, calls = deploy_setup(tmp_path, DEPLOYED, s3_url, arn)
    assert result.returncode != 0
    assert "make deploy stopped before changing anything" in result.stderr
    assert named in result.stderr
    assert "alter storage integration amplitude_s3 set" in result.stderr
    assert [c for c in calls if "-f" in c] == [], "no set-up script may run"


def test_the_same_values_and_a_new_account_go_on_to_the_scripts(tmp_path: Path) -> None:
    for answers in (DEPLOYED, {}):
        result, calls = deploy_setup(tmp_path, answers, URL, ARN)
        assert result.returncode == 0, result.stderr
        scripts = [c[c.index("-f") + 1] for c in calls if "-f" in c]
        assert scripts[0] == "sql/00_roles.sql"
        (tmp_path / "snow.log").unlink()
