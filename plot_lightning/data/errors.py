"""Errors raised for bad data rows: each names the file, the 1-based row as in the file, and the field."""

from __future__ import annotations


class RowProblem(ValueError):
    """A problem with one field of one row, before the file and row number are known.

    Raised by the row-level checks (formats, validation, tokenisation); the loader catches it and turns it
    into a :class:`DataValidationError` (or counts the row as skipped).
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"field '{field}': {reason}")
        self.field = field
        self.reason = reason


class DataValidationError(ValueError):
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
