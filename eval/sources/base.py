"""What every prompt-source loader returns, and strict readers for JSONL / CSV data files."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class SourceRowError(ValueError):
    """A data row that cannot be used; message "<file>: <unit> <n>: field '<field>': <reason>".

    `unit` is "row" (the n-th record of a data file) or "line" (a line of a JSONL file read line by line)."""

    def __init__(self, file: str | Path, row: int, field_name: str, reason: str, *, unit: str = "row"):
        self.file, self.row, self.field, self.reason = str(file), row, field_name, reason
        super().__init__(f"{file}: {unit} {row}: field '{field_name}': {reason}")


@dataclass(frozen=True)
class PromptItem:
    """One evaluation prompt.

    `messages` is a chat (list of {"role", "content"}) ending with a user turn; `reference` holds what a
    programmatic judge needs (gold answer, unit tests, entry point) plus metadata such as the category.
    """

    id: str
    messages: tuple[dict[str, str], ...]
    reference: dict[str, Any] = field(default_factory=dict)
    row: int | None = None
    """1-based row of the data file this prompt came from (for error messages), when the loader knows it."""


def user_prompt(item_id: str, text: str, *, row: int | None = None, **reference: Any) -> PromptItem:
    return PromptItem(id=item_id, messages=({"role": "user", "content": text},), reference=reference, row=row)


def open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8", newline="")


def read_parsed(
    path: Path, parse: Callable[[str], Any], fails: type[Exception], what: str, missing: str, error=ValueError
) -> Any:
    """`parse(text)` of text file `path`; FileNotFoundError(`missing`) when there is no such file, and
    `error("<path>: not valid <what> (<err>)")` when `parse` raises `fails`."""
    if not path.is_file():
        raise FileNotFoundError(missing)
    try:
        return parse(path.read_text(encoding="utf-8"))
    except fails as err:
        raise error(f"{path}: not valid {what} ({err})") from err


def read_jsonl(path: Path, unit: str = "row") -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (1-based line number, object) for each non-blank line; bad JSON raises SourceRowError (naming
    the number as a ``unit``, see SourceRowError)."""
    with open_text(path) as handle:
        for row_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise SourceRowError(path, row_no, "<json>", f"invalid JSON ({err.msg})", unit=unit) from err
            if not isinstance(obj, dict):
                raise SourceRowError(path, row_no, "<json>", "expected a JSON object", unit=unit)
            yield row_no, obj


def read_csv(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (1-based data row number, row dict); a missing header column raises SourceRowError."""
    with open_text(path) as handle:
        reader = csv.DictReader(handle)
        missing = [name for name in required if name not in (reader.fieldnames or [])]
        if missing:
            raise SourceRowError(path, 0, missing[0], f"column missing from the header {reader.fieldnames}")
        yield from enumerate(reader, start=1)


_KIND_NAMES = {str: "a string", int: "an integer", list: "a list", (str, int, float): "a string or number"}


def require(path: Path, row_no: int, row: dict[str, Any], name: str, kind: type | tuple = str) -> Any:
    """Return row[name], checking presence, type (a bool is no number) and (for strings) non-emptiness."""
    if name not in row or row[name] is None:
        raise SourceRowError(path, row_no, name, "missing")
    value = row[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        reason = f"expected {_KIND_NAMES.get(kind, kind)}, got {type(value).__name__}"
        raise SourceRowError(path, row_no, name, reason)
    if isinstance(value, str) and not value.strip():
        raise SourceRowError(path, row_no, name, "empty")
    return value
