"""Row-level checks run before training: missing, empty, non-string or undecodable text, bad messages.

Each check raises :class:`~plot_lightning.data.errors.RowProblem` naming the field; the loader adds the
file and the row number. :class:`BadRowLog` decides between raising and skipping (``on_bad_row``) and
writes the one-line summary of what was skipped.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from plot_lightning.data.errors import DataValidationError, RowProblem

log = logging.getLogger(__name__)

ROLES = ("system", "user", "assistant", "tool")
ON_BAD_ROW = ("error", "skip")


def check_text(value: Any, field: str) -> str:
    """Return ``value`` if it is a non-empty, cleanly decoded string; raise RowProblem otherwise."""
    if value is None:
        raise RowProblem(field, "missing (null or absent)")
    if not isinstance(value, str):
        raise RowProblem(field, f"expected a string, got {type(value).__name__}")
    if not value.strip():
        raise RowProblem(field, "empty string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise RowProblem(
            field, f"undecodable text: invalid UTF-8 or lone surrogate at character {error.start}"
        ) from None
    if "\ufffd" in value:
        position = value.index("\ufffd")
        raise RowProblem(
            field, f"undecodable text: U+FFFD replacement character at character {position} (bad decoding)"
        )
    return value


def check_messages(value: Any, field: str) -> list[dict[str, str]]:
    """Validate a list of ``{"role", "content"}`` messages; return plain dicts with just those keys."""
    if value is None:
        raise RowProblem(field, "missing (null or absent)")
    if not isinstance(value, list):
        raise RowProblem(field, f"expected a list of messages, got {type(value).__name__}")
    if not value:
        raise RowProblem(field, "empty list of messages")
    messages = []
    for position, message in enumerate(value):
        name = f"{field}[{position}]"
        if not isinstance(message, dict):
            raise RowProblem(name, f"expected a message dict, got {type(message).__name__}")
        role = message.get("role")
        if role not in ROLES:
            raise RowProblem(f"{name}.role", f"expected one of {ROLES}, got {role!r}")
        messages.append({"role": role, "content": check_text(message.get("content"), f"{name}.content")})
    return messages


def text_or_messages(value: Any, field: str) -> str | list[dict[str, str]]:
    """Accept either a string or a message list (checked), for columns that may hold both."""
    if isinstance(value, list):
        return check_messages(value, field)
    return check_text(value, field)


class BadRowLog:
    """Raise on the first bad row (``on_bad_row="error"``) or count skipped rows per reason (``"skip"``)."""

    def __init__(self, on_bad_row: str) -> None:
        if on_bad_row not in ON_BAD_ROW:
            raise ValueError(f"on_bad_row must be one of {ON_BAD_ROW}, got {on_bad_row!r}")
        self.on_bad_row = on_bad_row
        self.skipped: Counter[str] = Counter()
        self.seen = 0

    def bad(self, file: str, row: int, problem: RowProblem) -> None:
        """Handle one bad row: raise DataValidationError, or count it."""
        error = DataValidationError(file, row, problem.field, problem.reason)
        if self.on_bad_row == "error":
            raise error from None
        self.skipped[f"field '{problem.field}': {problem.reason.split(':')[0]}"] += 1
        log.debug("skipping bad row: %s", error)

    @property
    def total_skipped(self) -> int:
        return sum(self.skipped.values())

    def summary(self, what: str) -> str:
        """One line: how many rows of ``what`` were skipped and why (most common reasons first)."""
        reasons = "; ".join(f"{reason} x{count}" for reason, count in self.skipped.most_common())
        return f"{what}: skipped {self.total_skipped} of {self.seen} rows" + (
            f" ({reasons})" if reasons else ""
        )

    def log_summary(self, what: str) -> None:
        """Log the summary line (a warning when rows were skipped)."""
        if self.total_skipped:
            log.warning(self.summary(what))
        else:
            log.info(self.summary(what))
