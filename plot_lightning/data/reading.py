"""Read one data source into raw python rows, each with its 1-based row number in the file.

Sources: local ``.json`` / ``.jsonl`` / ``.json.gz`` / ``.jsonl.gz`` (parsed line by line so that a
malformed line, a non-string or undecodable bytes are reported with their line number), ``.parquet`` and
``.csv`` (through ``datasets.load_dataset``; CSV cells are read as strings), ``sample:<name>`` for a file
committed in ``plot_lightning/data/samples/``, or a hub dataset ``org/name[:split]`` when online (a name that looks like a
local path, :func:`looks_local`, never goes to the hub).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plot_lightning.data.errors import (
    DataFormatError,
    DataSourceError,
    DataValidationError,
    MissingDataError,
    RowProblem,
)
from plot_lightning.data.validation import BadRowLog

SAMPLES_DIR = Path(__file__).parent / "samples"
JSON_SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")
DATA_SUFFIXES = (*JSON_SUFFIXES, ".parquet", ".csv")


@dataclass
class RawTable:
    """Rows of one source as python dicts; ``row_numbers[i]`` is row i's 1-based number in the file."""

    source: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)
    columns: set[str] = field(default_factory=set)


# A hub dataset is "name" or "org/name", optionally ":split"; anything else is a local path.
_HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?(:[\w.-]+)?")


def looks_local(text: str) -> bool:
    """Whether ``text`` names a local file, never a hub dataset: it has a data suffix, starts with ``.``, ``/``
    or ``~``, has a shape no hub name has (more than ``org/name``, a space, a backslash), or its first part
    exists here (``data/pairs`` with a local ``data`` folder)."""
    return (
        text.endswith(DATA_SUFFIXES)
        or text.startswith((".", "/", "~"))
        or not _HUB_NAME.fullmatch(text)
        or Path(text.split("/")[0]).exists()
    )


def resolve_source(spec: str | os.PathLike) -> Path | str:
    """Return a local Path for files and ``sample:`` names, or the hub spec string; raise when missing."""
    text = str(spec)
    if text.startswith("sample:"):
        name = text.removeprefix("sample:")
        path = SAMPLES_DIR / (name if name.endswith(DATA_SUFFIXES) else f"{name}.jsonl")
        if not path.is_file():
            available = sorted(p.name for p in SAMPLES_DIR.glob("*.jsonl"))
            raise MissingDataError(f"{text}: no committed sample {path.name}; available: {available}")
        return path
    path = Path(text).expanduser()
    if path.is_dir():
        raise DataSourceError(
            f"{text}: a directory, not a data file; give the file(s) in it ({path.resolve()})"
        )
    if path.is_file():
        return path
    if looks_local(text):
        raise MissingDataError(f"{text}: no such data file ({path.resolve()})")
    if os.environ.get("HF_DATASETS_OFFLINE") == "1" or os.environ.get("HF_HUB_OFFLINE") == "1":
        raise MissingDataError(f"{text}: not a local file, and hub datasets need HF_DATASETS_OFFLINE unset")
    return text


def _decoded_lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        # "utf-8-sig": a byte order mark is not part of the first row. Invalid UTF-8 bytes become lone
        # surrogates, which the field checks report with the field name.
        text = handle.read().decode("utf-8-sig", errors="surrogateescape")
    # Only "\n" (or "\r\n") ends a JSON line: str.splitlines() would also split at U+2028, U+2029 or U+0085,
    # which JSON strings may hold raw.
    return [line.removesuffix("\r") for line in text.split("\n")]


def _json_array(lines: list[str]) -> list | None:
    """The rows of a file that is one JSON array, or None (it is not one)."""
    try:
        parsed = json.loads("\n".join(lines))
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, list) else None


def _read_json(path: Path, source: str, bad_rows: BadRowLog) -> RawTable:
    table = RawTable(source)
    lines = _decoded_lines(path)
    array = next((line.lstrip() for line in lines if line.strip()), "").startswith("[")
    one_document = path.name.endswith((".json", ".json.gz"))
    if array and not one_document and _json_array(lines) is not None:
        raise DataFormatError(
            f"{source}: a JSON array, not JSON lines (one object per line): name the file .json, or write one "
            "object per line"
        )
    if array and one_document:  # one JSON array of rows
        try:
            items = list(enumerate(json.loads("\n".join(lines)), start=1))
        except json.JSONDecodeError as error:
            raise DataValidationError(
                source, error.lineno, "(json)", f"malformed JSON: {error.msg}"
            ) from None
    else:
        items = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                items.append((number, json.loads(line)))
            except json.JSONDecodeError as error:
                bad_rows.seen += 1
                bad_rows.bad(
                    source,
                    number,
                    RowProblem("(json)", f"malformed JSON line: {error.msg} (column {error.colno})"),
                )
    for number, item in items:
        if not isinstance(item, dict):
            bad_rows.seen += 1
            bad_rows.bad(
                source, number, RowProblem("(json)", f"expected a JSON object, got {type(item).__name__}")
            )
            continue
        table.rows.append(item)
        table.row_numbers.append(number)
        table.columns.update(item)
    return table


def _csv_record_lines(path: Path) -> tuple[list[str], list[int]]:
    """Return the CSV header and the line on which each non-blank record starts (header = line 1)."""
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])
    starts, previous_end = [], reader.line_num
    for record in reader:
        if record:
            starts.append(previous_end + 1)
        previous_end = reader.line_num
    return header, starts


def _first_undecodable_line(path: Path) -> int:
    for number, line in enumerate(path.read_bytes().split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return number
    return 1


def _numbered_table(source: str, dataset) -> RawTable:
    """A ``datasets.Dataset`` as a :class:`RawTable` numbered from 1."""
    return RawTable(source, dataset.to_list(), list(range(1, len(dataset) + 1)), set(dataset.column_names))


def _read_with_datasets(path: Path | str, source: str) -> RawTable:
    import datasets

    if isinstance(path, str):  # hub dataset "org/name[:split]"
        name, _, split = path.partition(":")
        try:
            dataset = datasets.load_dataset(name, split=split or "train")
        except Exception as error:  # offline, no such dataset or split: the user's input, said in one line
            reason = (str(error).splitlines() or [""])[0]
            raise MissingDataError(
                f"{source}: not a local file, and the Hugging Face Hub has no such dataset or cannot be "
                f"reached ({type(error).__name__}: {reason})"
            ) from None
        return _numbered_table(source, dataset)
    if path.suffix == ".parquet":
        return _numbered_table(source, datasets.load_dataset("parquet", data_files=str(path), split="train"))
    try:
        header, starts = _csv_record_lines(path)
        if not starts:  # a header alone: datasets refuses it ("corresponds to no data"); no rows to read
            return RawTable(source, columns=set(header))
        features = datasets.Features({column: datasets.Value("string") for column in header})
        dataset = datasets.load_dataset(
            "csv", data_files=str(path), split="train", features=features, keep_default_na=False
        )
    except (UnicodeDecodeError, datasets.exceptions.DatasetGenerationError) as error:
        if isinstance(error, UnicodeDecodeError) or isinstance(error.__cause__, UnicodeDecodeError):
            line = _first_undecodable_line(path)
            raise DataValidationError(
                source, line, "(csv)", "undecodable text: the line is not valid UTF-8"
            ) from None
        raise
    if len(starts) != len(dataset):  # a record the csv module and pandas split differently: count records
        starts = list(range(2, len(dataset) + 2))
    return RawTable(source, dataset.to_list(), starts, set(dataset.column_names))


def read_table(spec: str | os.PathLike, bad_rows: BadRowLog) -> RawTable:
    """Read ``spec`` (see module docstring) into a :class:`RawTable`; malformed JSON lines go to ``bad_rows``."""
    path = resolve_source(spec)
    source = str(spec)
    if isinstance(path, Path) and path.stat().st_size == 0:
        return RawTable(source)  # no rows: the caller names the empty file
    if isinstance(path, Path) and path.name.endswith(JSON_SUFFIXES):
        return _read_json(path, source, bad_rows)
    if isinstance(path, Path) and not path.name.endswith(DATA_SUFFIXES):
        raise DataSourceError(f"{source}: unsupported file type; expected one of {DATA_SUFFIXES}")
    return _read_with_datasets(path, source)
