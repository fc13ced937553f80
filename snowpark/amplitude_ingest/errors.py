"""Exception types. Each message says what went wrong and what the user can do.

No message ever contains a credential: the client never puts one in a URL, and these
types are built from status codes, hours and short response excerpts only.
"""

from __future__ import annotations

ELLIPSIS = "…"


def shorten(text: str, limit: int) -> str:
    """``text`` when it has at most ``limit`` characters, else its start and an ellipsis,
    ``limit`` characters in all: a message quoting something long stays readable and
    bounded, and says that it was cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + ELLIPSIS


class AmplitudeIngestError(Exception):
    """Base class for every error this package raises on purpose."""


class ConfigurationError(AmplitudeIngestError):
    """A setting is missing or malformed (raised before any request is made)."""


class InvalidWindowError(ConfigurationError):
    """A requested hour range is malformed, backwards or not exportable yet."""


class AmplitudeAuthError(AmplitudeIngestError):
    """401/403: the key pair is wrong, or it belongs to the other data region."""


class AmplitudeRequestError(AmplitudeIngestError):
    """A 4xx answer that retrying cannot fix (other than 400, 401, 403, 404, 429)."""


class SplittableExportError(AmplitudeIngestError):
    """400 or 504 on a window: Amplitude wants a smaller range."""


class ExportTooLargeError(SplittableExportError):
    """400: Amplitude refuses exports over 4 GB (and sometimes smaller ones)."""


class ExportTimeoutError(SplittableExportError):
    """504: Amplitude timed out preparing the export."""


class TransientExportError(AmplitudeIngestError):
    """A failure worth retrying as is: 5xx, 429, a dropped connection, a bad archive."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitedError(TransientExportError):
    """429: too many concurrent requests for this Amplitude project."""


class AmplitudeServerError(TransientExportError):
    """5xx from Amplitude."""


class TruncatedDownloadError(TransientExportError):
    """The connection ended before the whole body arrived."""


class CorruptExportError(TransientExportError):
    """The zip or one of its gzip members failed an integrity check (CRC, length, format)."""


class StageWriteError(AmplitudeIngestError):
    """Writing to the stage (folder, S3, Snowflake stage) failed."""


class HoursFailedError(AmplitudeIngestError):
    """A run in which some hour failed: raised after the ledger is saved and the summary
    handed on, so a task run shows FAILED and a worksheet CALL gets this error."""
