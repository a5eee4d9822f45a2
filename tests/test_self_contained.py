"""The repository explains itself: no source, doc or config points at notes kept outside it or at a path of
one machine (docs/testing.md)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("plot_lightning", "eval", "experiments", "tests", "docs", "configs", "benchmarks")
SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".txt"}
# Split so that this file does not match itself.
OUTSIDE = re.compile(
    "|".join(
        [
            r"\bCONTRACTS\b",  # a contracts file some docstrings once cited
            "PLOT" + "-NOTES",
            "STACK" + "-NOTES",
            r"shared/" + "STYLE",
            r"(?<![\w.])/" + r"work/",
        ]
    )
)


def _files() -> list[Path]:
    files = [ROOT / "README.md"]
    for folder in SCANNED:
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in SUFFIXES and ".venv" not in p.parts]
    return sorted(files)


def test_nothing_points_outside_the_repository():
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _files()
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert found == []


def test_the_pattern_catches_each_kind():
    for text in (
        "see CONTR" + "ACTS.md",
        "../shared/" + "PLOT" + "-NOTES.md",
        "(" + "STACK" + "-NOTES)",
        "/" + "work/x",
    ):
        assert OUTSIDE.search(text), text
    assert not OUTSIDE.search("CONTRACT_NAMES = {") and not OUTSIDE.search(
        "shared/data beside the repository"
    )
