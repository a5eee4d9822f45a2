"""Helpers for the data tests: write small data files in the formats the datamodule reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def write_jsonl(tmp_path):
    """``write_jsonl(rows, name="data.jsonl") -> Path``: one JSON object (or raw string line) per line."""

    def write(rows, name: str = "data.jsonl") -> Path:
        path = tmp_path / name
        lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write
