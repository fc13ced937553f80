"""The Amplitude Export API client: one window, one request, its body streamed.

It maps every HTTP outcome to a specific result or exception, and nothing else: retries
live in :mod:`amplitude_ingest.retry`, unpacking in :mod:`amplitude_ingest.unpack`.
Credentials travel only in the ``Authorization`` header, never in the URL or a message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests
from requests.adapters import HTTPAdapter

from amplitude_ingest import __version__
from amplitude_ingest.config import Credentials, ExtractConfig
from amplitude_ingest.errors import (
    AmplitudeAuthError,
    AmplitudeRequestError,
    AmplitudeServerError,
    ExportTimeoutError,
    ExportTooLargeError,
    RateLimitedError,
    TruncatedDownloadError,
    shorten,
)
from amplitude_ingest.hours import HourWindow, format_hour
from amplitude_ingest.redact import scrub
from amplitude_ingest.retry import parse_retry_after

DOWNLOAD_CHUNK_SIZE = 1 << 20
MAX_ERROR_EXCERPT = 200


def _excerpt(response: requests.Response, secrets: list[str]) -> str:
    """The start of an error body on one line, for the message, at most
    ``MAX_ERROR_EXCERPT`` characters; a key it echoes back is masked before it is cut, so
    no part of a key survives the cut either."""
    try:
        text = response.text
    except (requests.RequestException, UnicodeDecodeError):
        return ""
    return shorten(" ".join(scrub(text, secrets).split()), MAX_ERROR_EXCERPT)


class ExportClient:
    """Thread-safe for concurrent ``download`` calls (one pooled session)."""

    def __init__(self, config: ExtractConfig, credentials: Credentials, pool_size: int = 5) -> None:
        self._url = config.export_url
        self._timeout = (config.connect_timeout, config.read_timeout)
        self._region = config.region
        self._session = requests.Session()
        self._session.auth = credentials.as_basic_auth()
        self._secrets = [value for value in credentials.values() if value]
        self._session.headers["User-Agent"] = f"amplitude-ingest/{__version__}"
        # No transport-level retries: a retry must restart the whole window (retry.py).
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def close(self) -> None:
        self._session.close()

    @contextmanager
    def open(self, window: HourWindow) -> Iterator[Iterator[bytes] | None]:
        """The window's zip as an iterator of byte chunks while it downloads, or None when
        Amplitude has no data for it (404); raises on any other answer but 200.

        The iterator raises :class:`TruncatedDownloadError` if the body breaks off or ends
        short of its ``Content-Length``. The connection is released when the block ends.
        """
        params = {"start": format_hour(window.start), "end": format_hour(window.end)}
        label = window.label()
        try:
            response = self._session.get(
                self._url, params=params, stream=True, timeout=self._timeout
            )
        except requests.Timeout as exc:
            raise TruncatedDownloadError(f"window {label}: request timed out") from exc
        except requests.RequestException as exc:
            raise TruncatedDownloadError(
                f"window {label}: could not reach Amplitude: {type(exc).__name__}"
            ) from exc
        with response:
            self._raise_for_status(response, label)
            yield None if response.status_code == 404 else self._body(response, label)

    def _body(self, response: requests.Response, label: str) -> Iterator[bytes]:
        received = 0
        try:
            for chunk in response.iter_content(DOWNLOAD_CHUNK_SIZE):
                received += len(chunk)
                yield chunk
        except requests.RequestException as exc:
            raise TruncatedDownloadError(
                f"window {label}: download broke off after {received} bytes ({type(exc).__name__})"
            ) from exc
        expected = response.headers.get("Content-Length")
        encoded = response.headers.get("Content-Encoding", "identity") != "identity"
        complete = expected is None or not expected.isdigit() or received == int(expected)
        if not complete and not encoded:
            raise TruncatedDownloadError(f"window {label}: received {received} of {expected} bytes")

    def _raise_for_status(self, response: requests.Response, label: str) -> None:
        status = response.status_code
        if status in (200, 404):
            return
        if status in (401, 403):
            raise AmplitudeAuthError(
                f"Amplitude refused the credentials ({status}): check AMP_API_KEY and "
                f"AMP_SECRET_KEY, and that the project lives in the region you chose "
                f"(now {self._region.value!r}; EU data residency needs --region eu, or "
                "region = 'eu' in the procedure's settings table)"
            )
        if status == 400:
            raise ExportTooLargeError(
                f"window {label}: Amplitude answered 400, which it uses for exports over "
                f"4 GB: {_excerpt(response, self._secrets)}"
            )
        if status == 504:
            raise ExportTimeoutError(f"window {label}: Amplitude timed out (504)")
        if status == 429:
            raise RateLimitedError(
                f"window {label}: rate limited by Amplitude (429)",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 500:
            raise AmplitudeServerError(
                f"window {label}: Amplitude server error {status}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        excerpt = _excerpt(response, self._secrets)
        raise AmplitudeRequestError(
            f"window {label}: unexpected answer {status} from Amplitude: {excerpt}"
        )
