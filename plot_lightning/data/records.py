"""Turn data sources into validated, normalised records, and split off a validation set."""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from typing import Any

from plot_lightning.data.errors import DataError, DataFormatError, DataSourceError, RowProblem
from plot_lightning.data.formats import detect_format, normalise_row
from plot_lightning.data.reading import read_table
from plot_lightning.data.validation import BadRowLog


def as_file_list(files: str | os.PathLike | Sequence[str | os.PathLike] | None) -> list[str]:
    """Accept one path or a list of paths (or None) and return a list of strings."""
    if files is None:
        return []
    if isinstance(files, (str, os.PathLike)):
        return [str(files)]
    return [str(file) for file in files]


def load_records(
    files: list[str], data_format: str, bad_rows: BadRowLog, columns: dict[str, list[str]] | None = None
) -> tuple[list[dict[str, Any]], bool]:
    """Read, validate and normalise every row of ``files``.

    Returns ``(records, has_rejected)``: :func:`plot_lightning.data.formats.normalise_row`'s records plus
    ``"file"`` and ``"row"``; ``has_rejected`` is False for SFT-only files (a mix raises DataFormatError).
    Bad rows and identical pairs go to ``bad_rows``; ``columns``, when given, receives each file's columns.
    """
    records: list[dict[str, Any]] = []
    kinds: dict[str, str] = {}
    for file in files:
        table = read_table(file, bad_rows)
        if not table.rows:  # say so before the columns are read: "no columns" would hide the cause
            raise _no_rows(file, bad_rows)
        if columns is not None:
            columns[file] = sorted(table.columns)
        kind = detect_format(table.columns, data_format, source=file)
        kinds[file] = kind
        for row, number in zip(table.rows, table.row_numbers, strict=True):
            bad_rows.seen += 1
            try:
                record = normalise_row(row, kind)
            except RowProblem as problem:
                bad_rows.bad(file, number, problem)
                continue
            if record["rejected"] is not None and record["rejected"] == record["chosen"]:
                bad_rows.identical_pairs.append((file, number))
            records.append({**record, "file": file, "row": number})
    bad_rows.raise_if_any()
    sft = {file for file, kind in kinds.items() if kind == "sft"}
    if sft and len(sft) != len(kinds):
        raise DataFormatError(
            f"files mix SFT-only data {sorted(sft)} with preference pairs {sorted(set(kinds) - sft)}"
        )
    return records, bool(kinds) and not sft


def _no_rows(file: str, bad_rows: BadRowLog) -> DataError:
    """The error for a file that gave no row: it is empty, or every row is bad (all listed with "error")."""
    problems = [problem for problem in bad_rows.rows if problem.file == file]
    if not problems:
        return DataSourceError(f"{file}: empty: no data rows")
    bad_rows.raise_if_any()
    first = problems[0]
    return DataSourceError(
        f"{file}: no usable row: all {len(problems)} rows are bad (row {first.row}: field '{first.field}': "
        f"{first.reason}; and on_bad_row='skip' skipped them)"
    )


def split_validation(
    records: list[dict[str, Any]], fraction: float, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Hold out ``round(fraction * len(records))`` records chosen with ``seed``; both parts keep file order."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {fraction}")
    count = round(fraction * len(records))
    held_out = set(random.Random(seed).sample(range(len(records)), count))
    train = [record for index, record in enumerate(records) if index not in held_out]
    val = [record for index, record in enumerate(records) if index in held_out]
    return train, val
