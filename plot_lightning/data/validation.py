"""Row-level checks run before training: missing, empty, non-string or undecodable text, bad messages.

Each check raises :class:`~plot_lightning.data.errors.RowProblem` naming the field; the loader adds the
file and the row number. :class:`BadRowLog` decides between raising and skipping (``on_bad_row``) and
writes the one-line summary of what was skipped.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from plot_lightning.data.errors import BadRowsError, DataValidationError, RowProblem

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
    # A U+FFFD character in the text is text: undecodable bytes are detected where the bytes are read (they
    # become lone surrogates, refused just above), not by guessing from the decoded characters.
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
    """Collect the bad rows of a load: :meth:`raise_if_any` reports all of them in one error
    (``on_bad_row="error"``); with ``"skip"`` they are counted per reason and kept in ``rows`` for the
    skipped-rows file."""

    def __init__(self, on_bad_row: str) -> None:
        if on_bad_row not in ON_BAD_ROW:
            raise ValueError(f"on_bad_row must be one of {ON_BAD_ROW}, got {on_bad_row!r}")
        self.on_bad_row = on_bad_row
        self.skipped: Counter[str] = Counter()
        self.rows: list[DataValidationError] = []
        self.identical_pairs: list[tuple[str, int]] = []  # (file, row) of pairs with chosen == rejected
        self.seen = 0

    def bad(self, file: str, row: int, problem: RowProblem) -> None:
        """Record one bad row (raised later, by :meth:`raise_if_any`, or skipped)."""
        error = DataValidationError(file, row, problem.field, problem.reason)
        self.rows.append(error)
        self.skipped[f"field '{problem.field}': {problem.reason.split(':')[0]}"] += 1
        log.debug("bad row: %s", error)

    def raise_if_any(self) -> None:
        """With ``on_bad_row="error"``, raise one :class:`BadRowsError` listing every bad row so far."""
        if self.on_bad_row == "error" and self.rows:
            raise BadRowsError(sorted(self.rows, key=lambda e: (e.file, e.row))) from None

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
        """Log the summary line (a warning when rows were skipped) and warn about identical pairs."""
        if self.total_skipped:
            log.warning(self.summary(what))
        else:
            log.info(self.summary(what))
        if self.identical_pairs:
            shown = ", ".join(f"{file} row {row}" for file, row in self.identical_pairs[:5])
            log.warning(
                "%s: %d pair(s) with chosen == rejected (a preference loss learns nothing from them), e.g. %s",
                what,
                len(self.identical_pairs),
                shown,
            )
