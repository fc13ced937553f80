"""The log filter that scrubs the key pair from every record, whoever logs it
(``amplitude_ingest.redact``), through the two places that install it: the CLI's run log
(``amplitude_laptop.logs.run_log``) and the procedure's ``redacting`` block.

The records are shaped like third parties': urllib3's retry warning built from %-args, a
requests exception whose text holds a URL with the key, a traceback, a secret split over
two arguments. Without the filter each of these reaches the output verbatim.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from amplitude_ingest.redact import RedactSecrets, redacting, scrub
from amplitude_laptop.logs import run_log
from tests.support import API_KEY, SECRET_KEY

SECRETS = [API_KEY, SECRET_KEY]
LEAKY_URL = f"https://{API_KEY}:{SECRET_KEY}@amplitude.com/api/2/export?start=20260126T03"


def third_party(name: str) -> logging.Logger:
    """A logger as urllib3, requests or botocore name theirs, in a namespace of this test's
    own: the real ones carry whatever earlier tests and imported libraries left on them
    (levels, disabled flags, the Snowflake connector's own filter on botocore's), which
    made this test pass or fail by the order tests ran in."""
    logging.getLogger("test_redact").setLevel(logging.DEBUG)  # whatever the root's level
    return logging.getLogger(f"test_redact.{name}")


def log_third_party_records() -> None:
    """What urllib3, requests and botocore could log while a run holds the keys."""
    third_party("urllib3.connectionpool").warning(
        "Retrying (%r) after connection broken by '%r': %s",
        "Retry(total=2)",
        "NewConnectionError()",
        LEAKY_URL,
    )
    try:
        try:
            raise requests.exceptions.ConnectionError(
                f"HTTPSConnectionPool(host='amplitude.com', port=443): Max retries exceeded "
                f"with url: {LEAKY_URL}"
            )
        except requests.exceptions.ConnectionError as exc:
            raise RuntimeError(f"download failed: {exc}") from exc
    except RuntimeError:
        third_party("requests").exception("a request failed")
    # A secret only whole once the arguments are put into the message.
    third_party("botocore.credentials").warning(
        "found %s%s in the environment", SECRET_KEY[:6], SECRET_KEY[6:]
    )
    third_party("third.party").error("mapping args: %(key)s", {"key": API_KEY})


def assert_scrubbed(text: str) -> None:
    assert "Retrying ('Retry(total=2)')" in text  # the records themselves got through
    assert "Max retries exceeded" in text
    assert "Traceback" in text
    assert "found *** in the environment" in text
    assert "mapping args: ***" in text
    assert API_KEY not in text
    assert SECRET_KEY not in text


@pytest.fixture
def quiet_root() -> Iterator[None]:
    """pytest's own capture handler sits on the root logger: take it off for the test, so
    that only the handlers under test see the records."""
    root = logging.getLogger()
    saved = list(root.handlers)
    for handler in saved:
        root.removeHandler(handler)
    yield
    for handler in saved:
        root.addHandler(handler)


def test_the_cli_run_log_scrubs_third_party_records_in_its_file_and_on_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], quiet_root: None
) -> None:
    with run_log(tmp_path, "extract", SECRETS) as path:
        log_third_party_records()
    assert_scrubbed(path.read_text(encoding="utf-8"))
    assert_scrubbed(capfd.readouterr().err)


def test_the_procedures_redacting_block_scrubs_the_handlers_it_finds(quiet_root: None) -> None:
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)  # as Snowflake's handler on the root logger
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with redacting(SECRETS):
            log_third_party_records()
        assert_scrubbed(sink.getvalue())
        # Outside the block the filter is gone again (the handler is Snowflake's).
        assert not handler.filters
    finally:
        root.removeHandler(handler)


def test_a_secret_shorter_than_four_characters_is_not_a_pattern() -> None:
    assert scrub("a key abc in abcdef", ["abc"]) == "a key abc in abcdef"
    assert scrub(f"{SECRET_KEY}!", SECRETS) == "***!"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", ("abc",), None)
    assert RedactSecrets(["abc"]).filter(record)
    assert record.getMessage() == "abc"
