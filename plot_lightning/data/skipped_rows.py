"""The skipped-rows file of a run with ``on_bad_row: skip``: one JSON line per dropped row."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from plot_lightning.checkpointing.atomic_write import atomic_write
from plot_lightning.data.errors import DataValidationError

log = logging.getLogger(__name__)
SKIPPED_ROWS_FILE = "skipped_rows.jsonl"


def write_skipped_rows(folder: str | os.PathLike, rows: Sequence[tuple[str, DataValidationError]]) -> Path:
    """Write ``(split, error)`` rows to ``folder/skipped_rows.jsonl`` atomically; return the path.

    Each line: ``{"split", "file", "row", "field", "reason"}``; ``row`` is 1-based as in the file.
    """
    path = Path(folder) / SKIPPED_ROWS_FILE
    lines = [
        json.dumps(
            {"split": split, "file": e.file, "row": e.row, "field": e.field, "reason": e.reason},
            ensure_ascii=False,
        )
        for split, e in rows
    ]
    text = "".join(f"{line}\n" for line in lines)
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))
    log.warning("skipped %d bad row(s); the list is in %s", len(lines), path)
    return path
