"""The Native App's Streamlit: the connector's face for the consumer.

Setup first (is the external access approved, is a key pair set, is the schedule
started), then the forms that change it (the key pair, settings, start and stop), then the
pipeline's health from the app's own ledger, load history and run history: the shared
health page (:func:`amplitude_dashboard.pages.health`) over
:class:`amplitude_queries.app.AppBackend`, and the run and load histories.

The key pair goes to ``code.amplitude_set_credentials`` as bind variables (never in the
statement's text), from password inputs the form clears, and nothing on the page ever
shows it, even in an error. Alerts: an app is not documented to create a notification
integration, so the page points at ``data.amplitude_failures`` for the consumer's own
ALERT (README, Native App).
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

# The app's MAIN_FILE: Streamlit puts this file's folder on sys.path; the packages sit
# beside it or one level up (snowpark/ here, the Streamlit folder of the app's bundle).
for _folder in (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent):
    if str(_folder) not in sys.path:
        sys.path.append(str(_folder))

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from amplitude_dashboard import pages  # noqa: E402
from amplitude_dashboard.app import CachedData, snowflake_session  # noqa: E402
from amplitude_ingest.in_snowflake.native_app import (  # noqa: E402
    credentials,
    doctor_checks,
    names,
    run_history,
    schedule,
)
from amplitude_ingest.redact import scrub  # noqa: E402
from amplitude_queries import app as app_queries  # noqa: E402
from amplitude_queries.backends import DataUnavailable  # noqa: E402
from amplitude_queries.sql import Filters  # noqa: E402

logger = logging.getLogger(__name__)

ALERT_EXAMPLE = f"""create alert amplitude_failures_alert
    warehouse = my_wh
    schedule = '60 minute'
    if (exists (select 1 from <app>.{names.FAILURES_VIEW}))
    then call system$send_email('my_email_int', 'me@example.com',
        'Amplitude connector', 'See <app>.{names.FAILURES_VIEW}');"""


def latest(status: pd.DataFrame) -> dict[str, str]:
    """The newest status of each setup step (specification, set_credentials, schedule)."""
    found: dict[str, str] = {}
    for row in status.itertuples(index=False):
        found[str(row.step)] = str(row.status)
    return found


def setup(found: dict[str, str]) -> None:
    st.subheader("Setup")
    spec = found.get("specification")
    if spec == "APPROVED":
        st.success("External access to Amplitude: approved.")
    else:
        st.warning(
            "External access to Amplitude is not approved"
            + (f" ({spec.lower()})" if spec else "")
            + ": approve the app's request in Snowsight (the app's page). Nothing calls "
            "Amplitude until then."
        )
    if found.get("set_credentials") == run_history.OK:
        st.success("Key pair: set (not shown).")
    else:
        st.warning("No key pair set yet: enter the project's API key and secret key below.")
    if found.get("schedule") == schedule.STARTED:
        st.success("Schedule: started.")
    else:
        st.info("Schedule: not started. Start it below once the two steps above are done.")


def doctor(session: Any) -> None:
    """The live checks (approval, key pair, Amplitude through the app's integration, ...)
    on demand: the doctor calls Amplitude, so it does not run on every page view."""
    if st.button("Run the doctor", key="doctor"):
        try:
            checks = session.sql(names.DOCTOR).to_pandas()
        except Exception as exc:  # noqa: BLE001 - shown in place of the checks
            st.error(f"The doctor could not run: {str(exc).strip().splitlines()[0]}")
        else:
            st.dataframe(checks.rename(columns=str.lower), hide_index=True, width="stretch")


def credentials_form(session: Any) -> None:
    st.subheader("Key pair")
    with st.form("credentials", clear_on_submit=True):
        api_key = st.text_input("API key", type="password", key="api_key")
        secret_key = st.text_input("Secret key", type="password", key="secret_key")
        sent = st.form_submit_button("Store the key pair")
    if not sent:
        return
    keys = tuple(k for k in (api_key, secret_key) if k)
    try:
        frame = session.sql(credentials.call_statement(), params=[api_key, secret_key])
        answer = frame.to_pandas()
    except Exception as exc:  # noqa: BLE001 - shown masked; a key never reaches the page
        st.error(f"The key pair was not stored: {scrub(str(exc), keys)}")
        return
    finally:
        del api_key, secret_key
    st.success(str(answer.iloc[0, 0]) if not answer.empty else credentials.confirmation())
    st.cache_data.clear()


def schedule_controls(session: Any) -> None:
    st.subheader("Schedule")
    start, stop = st.columns(2)
    for column, label, statement in (
        (start, "Start the schedule", names.START_SCHEDULE),
        (stop, "Stop the schedule", names.STOP_SCHEDULE),
    ):
        if column.button(label, key=label):
            try:
                answer = session.sql(statement).to_pandas()
            except Exception as exc:  # noqa: BLE001 - the refusal says what to do first
                st.error(str(exc))
            else:
                st.success(str(answer.iloc[0, 0]))
                st.cache_data.clear()


def settings_section(backend: app_queries.AppBackend, session: Any) -> None:
    st.subheader("Settings")
    try:
        settings = backend.query(app_queries.SETTINGS)
    except DataUnavailable as exc:
        st.info(str(exc))
        return
    st.dataframe(settings, hide_index=True, width="stretch")
    with st.form("setting"):
        name = st.selectbox("Setting", [str(n) for n in settings.get("name", [])], key="name")
        value = st.text_input("New value", key="value")
        sent = st.form_submit_button("Save")
    if sent and name:
        rows = {
            str(r.name): None if r.value is None else str(r.value)
            for r in settings.itertuples(index=False)
        }
        problem = doctor_checks.settings_problem({**rows, name: value})
        if problem:
            st.error(f"Not saved: {problem}")
            return
        session.sql(app_queries.SET_SETTING, params=[value, name]).to_pandas()
        st.success(f"{name} saved.")
        st.cache_data.clear()


def alerts_note() -> None:
    st.subheader("Alerts")
    st.info(
        "An app is not documented to create a notification integration, so this app sends "
        f"no alert itself. Watch {names.FAILURES_VIEW} with an alert of your own:"
    )
    st.code(ALERT_EXAMPLE, language="sql")


def histories(backend: app_queries.AppBackend) -> None:
    shown = (("Run history", app_queries.RUN_HISTORY), ("Load history", app_queries.LOAD_HISTORY))
    for title, sql in shown:
        with pages.section(title):
            frame = backend.query(sql)
            if frame.empty:
                st.info("Nothing recorded yet.")
            else:
                st.dataframe(frame, hide_index=True, width="stretch")


def health_filters(data: CachedData, today: date) -> Filters:
    try:
        bounds = data.get("ledger_bounds").iloc[0]
        first, last = pd.Timestamp(bounds["first_day"]), pd.Timestamp(bounds["last_day"])
        if not pd.isna(first) and not pd.isna(last):
            return Filters(start=first.date(), end=last.date())
    except DataUnavailable as exc:
        logger.debug("no ledger bounds: %s", exc)
    return Filters(start=today - timedelta(days=6), end=today)


def main(backend: app_queries.AppBackend | None = None, now: datetime | None = None) -> None:
    """Draw the app; ``backend`` and ``now`` are for tests."""
    st.set_page_config(layout="wide")
    if backend is None:
        session = snowflake_session()
        if session is None:
            st.error("This page runs inside the Native App (Streamlit in Snowflake) only.")
            return
        backend = app_queries.AppBackend(session)
    now = now or datetime.now(UTC).replace(tzinfo=None)
    st.title("Amplitude connector")
    try:
        found = latest(backend.query(app_queries.SETUP_STATUS))
    except DataUnavailable as exc:
        st.error(str(exc))
        found = {}
    setup(found)
    doctor(backend.session)
    credentials_form(backend.session)
    schedule_controls(backend.session)
    settings_section(backend, backend.session)
    alerts_note()
    data = CachedData(backend)
    pages.health(data, health_filters(data, now.date()), now)
    histories(backend)


if __name__ == "__main__":  # Streamlit runs the main file as __main__
    main()
