"""``CALL code.amplitude_set_credentials(api_key, secret_key)``: the key pair into the
app's secret, never echoed, never logged.

Where the keys go, and where they remain (each point with its page):
- The CALL: the app's Streamlit sends :func:`call_statement`, whose values are bind
  variables, so the statement's text in query history holds ``?``, not the keys. Bind
  values are kept apart: BIND_VALUES(query_id) returns them for seven days to the user who
  ran the query and to roles with MONITOR or OPERATE on its warehouse, unless the account
  sets ALLOW_BIND_VALUES_ACCESS = FALSE (sql-reference/functions/bind_values). A CALL
  typed in a worksheet with literal keys keeps them in its text: use the Streamlit form.
- ALTER SECRET takes no bind variables, so the procedure's own statement carries the
  keys as literals. Snowflake redacts secrets in the query history of syntactically valid
  statements (release-notes/bcr-bundles/2023_01/bcr-936, which is why a statement that
  fails to parse is shown as <redacted>); whether that covers ALTER SECRET's USERNAME and
  PASSWORD inside an app's procedure is for an account to confirm (README).
- Keys are checked against a strict alphabet before they are spliced, so a value can
  neither break out of its literal nor fail to parse; an error names the field, never
  the value.
"""

from __future__ import annotations

import re

from snowflake.snowpark import Session

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.in_snowflake.native_app import names, run_history
from amplitude_ingest.in_snowflake.session import SessionGate
from amplitude_ingest.redact import scrub

STEP = "set_credentials"
PROCEDURE = "code.amplitude_set_credentials"
# Amplitude's keys are 32 hex characters; allow any plain token of a sane length.
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,256}$")


class CredentialsRejectedError(ConfigurationError):
    """A key is not a plain token; the message says which one, never its value."""


def call_statement() -> str:
    """What the Streamlit form sends, with the keys as bind variables."""
    return f"call {PROCEDURE}(?, ?)"


def checked(field: str, value: str | None) -> str:
    text = (value or "").strip()
    if not text:
        raise CredentialsRejectedError(f"the {field} is empty")
    if not _KEY.match(text):
        raise CredentialsRejectedError(
            f"the {field} is not an Amplitude key: expected 8 to 256 letters, digits, '-' or "
            "'_' (Amplitude: Settings > Projects > your project > General); value not shown"
        )
    return text


def alter_statement(api_key: str, secret_key: str) -> str:
    """ALTER SECRET with the checked keys as literals (it takes no bind variables)."""
    username = checked("API key", api_key)
    password = checked("secret key", secret_key)
    return f"alter secret {names.SECRET} set username = '{username}' password = '{password}'"


def confirmation() -> str:
    return (
        f"Key pair stored in {names.SECRET} (values not shown). Run "
        "code.amplitude_doctor() to check that Amplitude accepts it."
    )


def amplitude_set_credentials(session: Session, api_key: str, secret_key: str) -> str:
    """CALL code.amplitude_set_credentials(api_key, secret_key); see the module docstring."""
    keys = tuple(k for k in (api_key, secret_key) if k)
    with run_history.recorded(session, STEP, secrets=keys) as run:
        statement = alter_statement(api_key, secret_key)
        del api_key, secret_key
        from snowflake.snowpark.exceptions import SnowparkSQLException

        try:
            SessionGate(session).rows(statement)
        except SnowparkSQLException as exc:
            # The server's message may quote the statement: only a masked copy goes on.
            raise CredentialsRejectedError(
                f"ALTER SECRET {names.SECRET} failed: {scrub(str(exc), keys)}"
            ) from None
        run.summary = {"secret": names.SECRET}
    return confirmation()
