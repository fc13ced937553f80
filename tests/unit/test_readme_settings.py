"""README's setting names against the models that read them: a name the README gives that
no model knows is a tuning that silently does nothing (issue 16 item 12: step 7 named
`max_hours_per_call`, renamed `max_hours`, and the check table counted four tasks of five)."""

from __future__ import annotations

import re
from pathlib import Path

from amplitude_ingest.in_snowflake.doctor_verdicts import TASKS
from amplitude_ingest.in_snowflake.settings_table import SETTING_NAMES
from amplitude_laptop.settings import LaptopSettings
from tests.sql_scripts import SQL_DIR, render

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
SNOWFLAKE_SETTINGS = SETTING_NAMES


def tuning_step() -> str:
    start = README.index("**7. Tuning.**")
    return README[start : README.index("**8. Teardown.**", start)]


def test_every_setting_step_7_names_is_one_a_procedure_reads_and_the_deploy_inserts() -> None:
    text = tuning_step()
    named = set(re.findall(r"`([a-z][a-z0-9]*(?:_[a-z0-9]+)+|concurrency)`", text))
    named |= set(re.findall(r"where name = '(\w+)'", text))
    assert {"concurrency", "max_hours", "doctor_round_trip_seconds"} <= named
    assert named - SNOWFLAKE_SETTINGS == set()
    inserted = set(
        re.findall(
            r"\('(\w+)', '[^']*'\)", render((SQL_DIR / "50_ledger_and_settings.sql").read_text())
        )
    )
    # Settings the README says take the procedure's default until a row is added.
    defaulted = set(re.findall(r"without a row takes the procedure's default \(`(\w+)`", text))
    assert defaulted.isdisjoint(inserted)
    assert named - inserted - defaulted == set()


def test_every_update_of_the_settings_table_in_the_readme_names_a_known_setting() -> None:
    updated = set(
        re.findall(r"amplitude_ingest_settings set value = '[^']*' where name = '(\w+)'", README)
    )
    assert updated
    assert updated - SNOWFLAKE_SETTINGS == set()


def test_every_amp_variable_in_the_readme_is_a_laptop_setting() -> None:
    variables = set(re.findall(r"`AMP_([A-Z_]+)(?:=[a-z]+)?`", README))
    # The README's own example of a misspelt name, which the CLI reports.
    assert "`AMP_CONCURENCY`) is reported with the closest real one" in README
    variables.discard("CONCURENCY")
    assert {"CONCURRENCY", "MAX_HOURS", "STATE_DIR"} <= variables
    # Read by `make deploy-alerts` from the environment (sql/77), not by the CLI.
    deploy = {"ALERT_WEBHOOK_SECRET"}
    laptop = {v.lower() for v in variables - deploy}
    assert laptop - set(LaptopSettings.model_fields) == set()


def test_the_doctors_task_count_in_the_readme_is_the_graphs() -> None:
    row = next(line for line in README.splitlines() if line.startswith("| `tasks` |"))
    words = {3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}
    assert f"the {words[len(TASKS)]} tasks" in row
