"""Data for the real-text tests: the full shared data when present, else the samples committed in eval/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[3]
_ROOTS = [Path(os.environ["PLOT_DATA_ROOT"])] if os.environ.get("PLOT_DATA_ROOT") else []
_ROOTS += [_REPO.parent / "shared" / "data", _REPO / "eval" / "samples"]


@pytest.fixture(scope="session")
def data_file():
    """``data_file("gsm8k/test.jsonl")`` -> the first existing copy under the data roots (skips if none)."""

    def find(relative: str) -> Path:
        for root in _ROOTS:
            if (root / relative).is_file():
                return root / relative
        pytest.skip(f"{relative} not found under {[str(r) for r in _ROOTS]}")

    return find
