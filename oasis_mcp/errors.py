"""Exceptions raised by the data and query layers.

Every expected failure is an :class:`OasisError` whose message is meant to be shown to a user as is:
it says what was wrong, what is accepted and, for lookups, the closest matches.
"""

from __future__ import annotations

from collections.abc import Sequence


class OasisError(Exception):
    """Base class of all expected, user-facing errors."""


class DataFileError(OasisError):
    """A source file is malformed: names the file, the line (header = line 1) and the problem."""

    def __init__(self, file: str, message: str, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.problem = message
        where = f"{file}, line {line}" if line is not None else file
        super().__init__(f"{where}: {message}")


class DataNotFoundError(OasisError):
    """No usable data files were found. The message says how to get them."""


class DownloadError(OasisError):
    """Fetching or installing new data failed; the previous files are untouched.

    ``exit_code`` is what ``oasis-mcp data update`` exits with (see its ``--help``)."""

    exit_code: int = 1


class ArtifactsError(OasisError):
    """Training artifacts are missing or unreadable. The message says how to train."""


class LookupFailed(OasisError, ValueError):
    """A name (area, indicator, ...) could not be resolved to exactly one thing."""

    def __init__(
        self, message: str, query: str, kind: str, suggestions: Sequence[str] = ()
    ) -> None:
        self.query = query
        self.kind = kind
        self.suggestions = list(suggestions)
        super().__init__(message)


class UnknownNameError(LookupFailed):
    """Nothing matches the query."""


class AmbiguousNameError(LookupFailed):
    """Several things match the query equally well."""
