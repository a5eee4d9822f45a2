"""The full public datasets the recipes read, where this checkout has them."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The full public datasets (../shared/data); skip when this checkout has none."""
    if not (SHARED_DATA / "MANIFEST.md").is_file():
        pytest.skip(f"full datasets not found at {SHARED_DATA} (set up ../shared/data to run recipe counts)")
    return SHARED_DATA
