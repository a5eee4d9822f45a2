"""Errors raised for bad data: each names the file and, for a row, its 1-based row number and the field.

All derive from :class:`DataError`, which the command line reports as one message with exit status 2.
"""

from __future__ import annotations

from collections.abc import Sequence

SHOWN_BAD_ROWS = 20  # rows listed in one BadRowsError; the count covers all of them


class DataError(ValueError):
    """Data that cannot be trained on (a bad file, format or row)."""


class RowProblem(ValueError):
    """A problem with one field of one row, before the file and row number are known.

    Raised by the row-level checks (formats, validation, tokenisation); the loader catches it and turns it
    into a :class:`DataValidationError` (or counts the row as skipped).
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"field '{field}': {reason}")
        self.field = field
        self.reason = reason


class DataValidationError(DataError):
    """A data row that cannot be trained on.

    Message: ``"<file>: row <n>: field '<field>': <reason>"``; ``row`` is 1-based as in the file: the line
    of a JSON-lines file, the line on which a CSV record starts (the header is line 1), the row of a
    Parquet file or hub split.
    """

    def __init__(self, file: str, row: int, field: str, reason: str) -> None:
        super().__init__(f"{file}: row {row}: field '{field}': {reason}")
        self.file = file
        self.row = row
        self.field = field
        self.reason = reason


class BadRowsError(DataValidationError):
    """Every bad row of a load, in one error: the count, then the first :data:`SHOWN_BAD_ROWS` rows.

    ``file``/``row``/``field``/``reason`` are those of the first bad row; ``problems`` holds them all.
    """

    def __init__(self, problems: Sequence[DataValidationError]) -> None:
        first = problems[0]
        shown = "\n".join(f"  {problem}" for problem in problems[:SHOWN_BAD_ROWS])
        more = len(problems) - SHOWN_BAD_ROWS
        tail = f"\n  ... and {more} more" if more > 0 else ""
        header = f"{len(problems)} bad row(s) (on_bad_row='skip' drops them and writes them to a file)"
        ValueError.__init__(self, f"{first}\n{header}:\n{shown}{tail}")
        self.file, self.row, self.field, self.reason = first.file, first.row, first.field, first.reason
        self.problems = list(problems)


class DataFormatError(DataError):
    """A file whose columns fit no format, or not the format the losses need."""


class DataSourceError(DataError):
    """A data source that cannot be read as data: a directory, an empty file, an unknown file type."""


class MissingDataError(DataSourceError, FileNotFoundError):
    """A data source that does not exist (a local path, a committed sample, or a hub dataset offline)."""
